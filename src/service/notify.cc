#include "service/notify.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

namespace gh::service {

namespace {
std::string with_status(std::string_view head, std::string_view status) {
  std::string s(head);
  if (!status.empty()) {
    s += "\nSTATUS=";
    // One line: a newline would start another assignment.
    for (char c : status) s += c == '\n' ? ' ' : c;
  }
  return s;
}
}  // namespace

bool supervised() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  return socket != nullptr && socket[0] != '\0';
}

bool notify(std::string_view state) {
  if (!supervised()) return false;
  const std::string text(state);
  const int r = sd_notify(0, text.c_str());
  if (r > 0) return true;
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true)) {
    spdlog::warn("cannot notify the service manager ({}): {}", std::getenv("NOTIFY_SOCKET"),
                 r < 0 ? std::strerror(-r) : "not sent");
  }
  return false;
}

void ready(std::string_view s) {
  notify(with_status("READY=1", s));
}

void reloading(std::string_view s) {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const long long usec = static_cast<long long>(now.tv_sec) * 1'000'000 + now.tv_nsec / 1'000;
  notify(with_status("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec), s));
}

void stopping(std::string_view s) {
  notify(with_status("STOPPING=1", s));
}

void status(std::string_view s) {
  if (s.empty()) return;
  notify(with_status("", s).substr(1));  // without the leading newline
}

std::optional<std::chrono::microseconds> watchdog_interval() {
  std::uint64_t usec = 0;
  // > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID, if set, names this process.
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec);
}

}  // namespace gh::service
