#include "observe/events.h"

#include <algorithm>
#include <chrono>
#include <limits>

namespace gh::observe {

using nlohmann::json;

namespace {
std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Bounds what one event may hold, so a careless caller cannot fill the disk or the memory ring.
void clamp(Event& e) {
  if (e.kind.size() > 64) e.kind.resize(64);
  if (e.route.size() > 128) e.route.resize(128);
  if (e.message.size() > kEventMessageMax) e.message.resize(kEventMessageMax);
  if (!e.data.is_null() && dump_line(e.data).size() > kEventDataMax) {
    e.data = json{{"truncated", true}};
  }
}
}  // namespace

json event_json(const Event& e) {
  json j = {{"at", e.at_ms}, {"time", format_time(e.at_ms)}, {"kind", e.kind}};
  if (!e.route.empty()) j["route"] = e.route;
  j["message"] = e.message;
  if (!e.data.is_null()) j["data"] = e.data;
  return j;
}

std::optional<Event> event_from_json(const json& j) {
  auto at = get_int(j, "at");
  auto kind = get_string(j, "kind");
  if (!at || !kind) return std::nullopt;
  Event e;
  e.at_ms = *at;
  e.kind = std::move(*kind);
  e.route = get_string(j, "route").value_or("");
  e.message = get_string(j, "message").value_or("");
  if (const json* d = get_object(j, "data")) e.data = *d;
  clamp(e);
  return e;
}

EventLog::EventLog(EventLogOptions options) : options_(options) {
  if (options_.memory == 0) options_.memory = 1;
}

std::unique_ptr<EventLog> EventLog::open(const std::string& state_dir, EventLogOptions options,
                                         std::string* error) {
  if (!make_dirs(state_dir, error)) return nullptr;
  auto log = std::make_unique<EventLog>(options);
  const std::string path = state_dir + "/" + kEventsFile;
  read_json_lines(path, [&](const json& j) {
    auto e = event_from_json(j);
    if (!e) return false;
    log->memory_.push_back(std::move(*e));
    if (log->memory_.size() > log->options_.memory) log->memory_.pop_front();
    return true;
  });
  log->file_ = std::make_unique<JsonlFile>(path, options.files);
  if (!log->file_->open()) {
    if (error != nullptr) *error = log->file_->last_error();
    return nullptr;
  }
  return log;
}

bool EventLog::append(Event event) {
  if (event.at_ms == 0) event.at_ms = wall_ms();
  clamp(event);
  const std::string line = file_ ? dump_line(event_json(event)) + "\n" : std::string();
  std::lock_guard lock(mu_);
  bool ok = true;
  if (file_ && !file_->append(line)) {
    ++write_errors_;
    ok = false;
  }
  memory_.push_back(std::move(event));
  if (memory_.size() > options_.memory) memory_.pop_front();
  return ok;
}

std::vector<Event> EventLog::recent(std::size_t n) const {
  std::lock_guard lock(mu_);
  n = std::min(n, memory_.size());
  return std::vector<Event>(memory_.end() - static_cast<std::ptrdiff_t>(n), memory_.end());
}

std::uint64_t EventLog::write_errors() const {
  std::lock_guard lock(mu_);
  return write_errors_;
}

std::string EventLog::last_error() const {
  std::lock_guard lock(mu_);
  return file_ ? file_->last_error() : std::string();
}

std::vector<Event> EventLog::read_range(const std::string& dir, std::int64_t since_ms,
                                        std::int64_t until_ms, ReadStats* stats) {
  std::vector<Event> out;
  const ReadStats s = read_json_lines(dir + "/" + kEventsFile, [&](const json& j) {
    auto e = event_from_json(j);
    if (!e) return false;
    if (e->at_ms >= since_ms && e->at_ms < until_ms) out.push_back(std::move(*e));
    return true;
  });
  if (stats != nullptr) *stats = s;
  // Clocks can step back; the timeline is by time, ties in file order.
  std::stable_sort(out.begin(), out.end(),
                   [](const Event& a, const Event& b) { return a.at_ms < b.at_ms; });
  return out;
}

}  // namespace gh::observe
