// Per-minute aggregates on disk: one JSON object per minute in <state_dir>/minutes.jsonl, rotated
// by size, so that an incident report can be written about the past, after a restart too.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "observe/jsonl.h"
#include "observe/observe-t.h"

namespace gh::observe {

inline constexpr const char* kMinutesFile = "minutes.jsonl";
inline constexpr std::size_t kMinuteRoutesMax = 256;  // routes / modes kept per minute
inline constexpr std::size_t kMinuteTopMax = 32;      // items per top list kept per minute
inline constexpr std::size_t kTopKeyMax = 128;        // bytes of a top-list key

// {"t": ms, "time", "verdicts": {"passed": n, ...}, "classes": {"resident": {"requests", "served"},
// ...}, "latency_ms": {"p50", "p99"}, "peak_rps", "newcomers_admitted", "queue_max",
// "login": {"requests", "failed", "limited"}, "head_timeouts", "distinct_prefixes",
// "routes": {name: n}, "modes": {route: mode}, "top": {"prefixes": [{"key","count","error"}], ...}}
void to_json(nlohmann::json& j, const Minute& m);
// Lenient and never throws: absent or mistyped fields keep their defaults; lists are capped.
void from_json(const nlohmann::json& j, Minute& m);
// Nullopt unless `j` is an object with an integer "t".
std::optional<Minute> minute_from_json(const nlohmann::json& j);

nlohmann::json figures_json(const Figures& f);
void figures_from_json(const nlohmann::json& j, Figures& f);
nlohmann::json offenders_json(const Offenders& o);
void offenders_from_json(const nlohmann::json& j, Offenders& o);

class MinuteStore {
 public:
  // Creates `state_dir` when missing; nullptr when it or the file cannot be opened.
  static std::unique_ptr<MinuteStore> open(const std::string& state_dir, RotateOptions files,
                                           std::string* error);
  // Thread-safe; one write per minute.
  bool append(const Minute& minute);
  std::string last_error() const;

  // Minutes with since_ms <= at_ms < until_ms, oldest first; damaged lines skipped.
  static std::vector<Minute> read_range(const std::string& dir, std::int64_t since_ms,
                                        std::int64_t until_ms, ReadStats* stats = nullptr);

 private:
  explicit MinuteStore(std::unique_ptr<JsonlFile> file) : file_(std::move(file)) {}
  mutable std::mutex mu_;
  std::unique_ptr<JsonlFile> file_;
};

}  // namespace gh::observe
