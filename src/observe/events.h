// The event log: what the operator needs on a timeline (mode changes, bans, reloads, ...). Kept in
// memory (the last N, for GET /v1/events) and appended to <state_dir>/events.jsonl, rotated by
// size, so a report can be written after a restart.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "observe/jsonl.h"
#include "observe/observe-t.h"

namespace gh::observe {

inline constexpr const char* kEventsFile = "events.jsonl";
inline constexpr std::size_t kEventMessageMax = 1024;  // bytes; longer messages are cut
inline constexpr std::size_t kEventDataMax = 8192;     // bytes of data JSON; larger is replaced

struct EventLogOptions {
  std::size_t memory = 1000;  // events kept in memory
  RotateOptions files{8 << 20, 4};
};

// {"at": ms, "time": "...Z", "kind", "route"?, "message", "data"?}
nlohmann::json event_json(const Event& e);
// Nullopt unless the object has an integer "at" and a string "kind".
std::optional<Event> event_from_json(const nlohmann::json& j);

class EventLog {
 public:
  // Memory only (no state_dir).
  explicit EventLog(EventLogOptions options = {});
  // Creates `state_dir` when missing, loads the last `memory` events from its files and appends
  // to them. Nullptr when the directory or file cannot be created (`error` says why).
  static std::unique_ptr<EventLog> open(const std::string& state_dir, EventLogOptions options,
                                        std::string* error);

  // Thread-safe. at_ms == 0 is stamped with the wall clock. Long texts are cut (kEventMessageMax,
  // kEventDataMax). Returns false when the disk write failed (the event is still kept in memory).
  bool append(Event event);

  // The last `n` events, oldest first.
  std::vector<Event> recent(std::size_t n) const;
  std::uint64_t write_errors() const;
  std::string last_error() const;

  // Events with since_ms <= at_ms < until_ms from <dir>/events.jsonl and its rotated files,
  // oldest first. Damaged lines are skipped (`stats` counts them).
  static std::vector<Event> read_range(const std::string& dir, std::int64_t since_ms,
                                       std::int64_t until_ms, ReadStats* stats = nullptr);

 private:
  EventLogOptions options_;
  mutable std::mutex mu_;
  std::deque<Event> memory_;
  std::unique_ptr<JsonlFile> file_;
  std::uint64_t write_errors_ = 0;
};

}  // namespace gh::observe
