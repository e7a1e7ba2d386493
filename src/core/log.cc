#include "core/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace gh::core {

namespace {

thread_local const LogFields* t_fields = nullptr;
std::atomic<LogFormat> g_format{LogFormat::Text};
std::atomic<LogLevel> g_level{LogLevel::Info};

constexpr std::string_view kLevelNames[] = {"trace", "debug", "info", "warn", "error"};

std::string_view spd_level_name(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace:
      return "trace";
    case spdlog::level::debug:
      return "debug";
    case spdlog::level::info:
      return "info";
    case spdlog::level::warn:
      return "warn";
    case spdlog::level::err:
      return "error";
    case spdlog::level::critical:
      return "critical";
    default:
      return "info";
  }
}

spdlog::level::level_enum to_spd(LogLevel l) {
  switch (l) {
    case LogLevel::Trace:
      return spdlog::level::trace;
    case LogLevel::Debug:
      return spdlog::level::debug;
    case LogLevel::Info:
      return spdlog::level::info;
    case LogLevel::Warn:
      return spdlog::level::warn;
    case LogLevel::Error:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

// "2026-11-24T10:14:40.127Z"
void append_time(std::string& out, std::int64_t at_ms) {
  std::int64_t s = at_ms / 1000;
  int ms = static_cast<int>(at_ms % 1000);
  if (ms < 0) {
    ms += 1000;
    --s;
  }
  const std::time_t t = static_cast<std::time_t>(s);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[96];  // room for any int the format could print: the compiler checks it
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  out += buf;
}

// A text field's value: as is when it is one plain word, else as a JSON string (quoted, escaped).
void append_text_value(std::string& out, const nlohmann::ordered_json& v) {
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    bool plain = !s.empty();
    for (unsigned char c : s) plain = plain && c > ' ' && c != '"' && c != '=' && c < 0x7f;
    if (plain) {
      out += s;
      return;
    }
  }
  out += v.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

class LineFormatter final : public spdlog::formatter {
 public:
  explicit LineFormatter(LogFormat format) : format_(format) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto at_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()).count();
    const std::string line =
        format_log_line(format_, at_ms, msg.level,
                        std::string_view(msg.payload.data(), msg.payload.size()), t_fields);
    dest.append(line.data(), line.data() + line.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<LineFormatter>(format_);
  }

 private:
  LogFormat format_;
};

}  // namespace

std::optional<LogFormat> parse_log_format(std::string_view text) {
  if (text == "text") return LogFormat::Text;
  if (text == "json") return LogFormat::Json;
  return std::nullopt;
}

std::optional<LogLevel> parse_log_level(std::string_view text) {
  for (std::size_t i = 0; i < std::size(kLevelNames); ++i) {
    if (text == kLevelNames[i]) return static_cast<LogLevel>(i);
  }
  return std::nullopt;
}

std::string_view log_format_name(LogFormat f) {
  return f == LogFormat::Json ? "json" : "text";
}

std::string_view log_level_name(LogLevel l) {
  const auto i = static_cast<std::size_t>(l);
  return i < std::size(kLevelNames) ? kLevelNames[i] : "info";
}

void detail::set_thread_fields(const LogFields* fields) {
  t_fields = fields;
}

std::string format_log_line(LogFormat format, std::int64_t at_ms, spdlog::level::level_enum level,
                            std::string_view message, const LogFields* fields) {
  std::string out;
  if (format == LogFormat::Json) {
    nlohmann::ordered_json j;
    std::string ts;
    append_time(ts, at_ms);
    j["ts"] = ts;
    j["level"] = spd_level_name(level);
    j["msg"] = message;
    if (fields != nullptr && fields->is_object()) {
      for (const auto& [k, v] : fields->items()) {
        if (k != "ts" && k != "level" && k != "msg") j[k] = v;
      }
    }
    return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  }
  append_time(out, at_ms);
  out += ' ';
  out += spd_level_name(level);
  out += ' ';
  out += message;
  if (fields != nullptr && fields->is_object()) {
    for (const auto& [k, v] : fields->items()) {
      out += ' ';
      out += k;
      out += '=';
      append_text_value(out, v);
    }
  }
  return out;
}

void configure_logging(LogFormat format, LogLevel level) {
  // The logger is made once, before any thread: spdlog::info() and friends use the default
  // logger through a raw pointer, so a reload changes its formatter and level, never the logger.
  static std::once_flag once;
  std::call_once(once, [] {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("gatehouse", std::move(sink)));
  });
  spdlog::logger* logger = spdlog::default_logger_raw();
  logger->set_formatter(std::make_unique<LineFormatter>(format));  // under the sink's lock
  logger->set_level(to_spd(level));
  // Each line reaches the file or the journal at once: a crash loses nothing logged before it.
  logger->flush_on(spdlog::level::trace);
  g_format.store(format);
  g_level.store(level);
}

LogFormat log_format() {
  return g_format.load();
}

LogLevel log_level() {
  return g_level.load();
}

}  // namespace gh::core
