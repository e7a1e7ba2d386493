// systemd's service notifications (sd_notify(3)) through libsystemd: readiness, reloads, stop,
// status text and the watchdog. Every call is a no-op when the process was not started by a
// service manager that listens (no NOTIFY_SOCKET): nothing changes outside systemd.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace gh::service {

// NOTIFY_SOCKET is set: a service manager waits for our notifications.
bool supervised();
// Sends `state` ("READY=1\nSTATUS=...", newline-separated assignments). False when there is no
// manager to tell or the message could not be sent (the reason is logged once).
bool notify(std::string_view state);

// The standard sequences, each with a STATUS= line the manager shows (systemctl status).
void ready(std::string_view status);      // READY=1: every listener bound, the admin API up
void reloading(std::string_view status);  // RELOADING=1 (with MONOTONIC_USEC, as systemd 253+ asks)
void stopping(std::string_view status);   // STOPPING=1
void status(std::string_view status);     // STATUS= alone

// The interval the manager expects WATCHDOG=1 within (WatchdogSec=, passed as WATCHDOG_USEC for
// this process); none when no watchdog is asked for.
std::optional<std::chrono::microseconds> watchdog_interval();

}  // namespace gh::service
