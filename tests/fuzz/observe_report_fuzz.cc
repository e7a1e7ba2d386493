// Damaged state files and operator-typed times. The bytes are read as events.jsonl and as
// minutes.jsonl (files on disk that a crash or an editor may have mangled) and the first line as a
// --since TIME. Nothing may crash or throw; what is read re-encodes and reads back the same;
// a report is written from it; a parsed absolute time prints and parses back to itself.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "observe/events.h"
#include "observe/jsonl.h"
#include "observe/minutes.h"
#include "observe/report.h"

using namespace gh::observe;
using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  const std::string_view first = bytes.substr(0, std::min(bytes.find('\n'), bytes.size()));
  constexpr std::int64_t kNow = 1'795'514'400'000;
  if (auto t = parse_time(first, kNow)) {
    if (first.size() >= 10 && first[4] == '-' && *t >= 0 && *t < 253'402'300'800'000) {
      // Absolute and in years 1970..9999: the canonical spelling reads back the same.
      FUZZ_CHECK(parse_time(format_time(*t), kNow) == t);
    }
  }

  ReportInput in;
  in.since_ms = 0;
  in.until_ms = INT64_MAX;
  in.generated_at_ms = kNow;
  read_json_lines_from(bytes, [&](const json& j) {
    if (auto e = event_from_json(j)) {
      const auto again = event_from_json(json::parse(dump_line(event_json(*e)), nullptr, false));
      FUZZ_CHECK(again.has_value());
      FUZZ_CHECK(again->at_ms == e->at_ms && again->kind == e->kind && again->route == e->route);
      if (in.events.size() < 200) in.events.push_back(std::move(*e));
    }
    if (auto m = minute_from_json(j)) {
      const json once = *m;
      const auto again = minute_from_json(json::parse(dump_line(once), nullptr, false));
      FUZZ_CHECK(again.has_value());
      FUZZ_CHECK(json(*again) == once);
      if (in.minutes.size() < 200) in.minutes.push_back(std::move(*m));
    }
    return true;
  });
  const std::string md = write_report(in);
  FUZZ_CHECK(md.rfind("# Incident report", 0) == 0);
  return 0;
}
