// The mode of one sign-up route (open, challenge, queue, closed): the configured mode, raised by
// triggers while a metric stays high, or set by hand. Workers read mode() (one relaxed load);
// the lead's housekeeping calls tick() once a second; the admin API calls set_manual().
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stages/admission/config-t.h"
#include "stages/admission/mode-t.h"

namespace gh::admission {

// "open", "challenge", "queue", "closed" (the YAML spelling).
std::string_view mode_name(policy::SignupMode mode);
std::optional<policy::SignupMode> parse_mode(std::string_view text);
std::string_view metric_name(policy::TriggerMetric metric);

class ModeController {
 public:
  // Called after every change, outside the state lock but in order (changes are serialised).
  // It may read this controller; it must not call tick() or set_manual() (that would deadlock).
  using Callback = std::function<void(const ModeEvent&)>;

  ModeController(std::string route, const policy::SignupConfig& config, Callback on_event,
                 std::int64_t now_ms = 0);
  ModeController(const ModeController&) = delete;
  ModeController& operator=(const ModeController&) = delete;

  policy::SignupMode mode() const {
    return static_cast<policy::SignupMode>(mode_.load(std::memory_order_relaxed));
  }

  // A mode: hold it, whatever the triggers say, until called again. nullopt: back to automatic
  // (the configured mode raised by whichever triggers are active now). Always produces an event,
  // even when the mode stays: operator actions are worth a line in the log.
  void set_manual(std::optional<policy::SignupMode> mode, std::string reason, std::int64_t now_ms);

  // Once a second. Trigger state advances even under a manual mode, so that going back to
  // automatic lands on what the metrics say at that moment.
  void tick(const Signals& signals, std::int64_t now_ms);

  bool manual() const { return manual_.load(std::memory_order_relaxed); }
  std::int64_t since_ms() const { return since_ms_.load(std::memory_order_relaxed); }
  policy::SignupMode configured_mode() const { return base_; }
  const std::string& route() const { return route_; }
  std::string reason() const;  // of the last change

 private:
  struct Trigger {
    policy::TriggerConfig config;
    bool active = false;
    std::int64_t above_since = -1;  // first tick of the current run above `above`; -1 = none
    std::int64_t below_since = -1;  // first tick of the current run below `below` while active
  };

  policy::SignupMode target() const;  // mu_ held
  void change(policy::SignupMode to, std::string reason, bool manual, std::int64_t now_ms,
              std::optional<ModeEvent>& out);  // mu_ held

  const std::string route_;
  const policy::SignupMode base_;
  const Callback on_event_;
  std::atomic<std::uint8_t> mode_;
  std::atomic<bool> manual_{false};
  std::atomic<std::int64_t> since_ms_;

  std::mutex deliver_mu_;  // taken first: serialises changes with their callbacks
  mutable std::mutex mu_;  // the state below
  std::vector<Trigger> triggers_;
  std::string reason_;
};

}  // namespace gh::admission
