// The process log (spdlog, on stderr): one line per message, in text or as JSON lines, time in
// UTC (RFC 3339, milliseconds, "Z"). A call site with structured fields passes them to log();
// text lines show them as key=value after the message, JSON lines as keys of their own beside
// "ts", "level" and "msg". Plain spdlog::info(...) calls keep working, without fields.
#pragma once

#include <spdlog/spdlog.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <utility>

#include "core/log-t.h"

namespace gh::core {

std::optional<LogFormat> parse_log_format(std::string_view text);  // "text", "json"
std::optional<LogLevel> parse_log_level(std::string_view text);    // "trace" .. "error"
std::string_view log_format_name(LogFormat f);
std::string_view log_level_name(LogLevel l);

// Replaces the default logger's sink and format (stderr), and sets the level. Thread-safe with
// respect to logging threads (spdlog's registry lock), so a reload may call it.
void configure_logging(LogFormat format, LogLevel level);
LogFormat log_format();
LogLevel log_level();

// Structured fields: a JSON object whose members follow the message.
using LogFields = nlohmann::ordered_json;

namespace detail {
// The fields of the message being logged on this thread (spdlog formats on the calling thread).
void set_thread_fields(const LogFields* fields);
}  // namespace detail

template <typename... Args>
void log(spdlog::level::level_enum level, const LogFields& fields,
         spdlog::format_string_t<Args...> format, Args&&... args) {
  detail::set_thread_fields(&fields);
  spdlog::log(level, format, std::forward<Args>(args)...);
  detail::set_thread_fields(nullptr);
}

// The line as written, without the newline (tests, and the formatter itself).
std::string format_log_line(LogFormat format, std::int64_t at_ms, spdlog::level::level_enum level,
                            std::string_view message, const LogFields* fields);

}  // namespace gh::core
