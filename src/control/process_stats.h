// The process's own figures for /metrics (process_cpu_seconds_total, process_resident_memory_bytes,
// ...), read from /proc/self as Prometheus's client libraries do, so dashboards built for them
// work.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace gh::control {

struct ProcessStats {
  double cpu_seconds = 0;         // user + system
  double start_time_seconds = 0;  // since the Unix epoch
  std::uint64_t resident_bytes = 0;
  std::uint64_t virtual_bytes = 0;
  std::uint64_t open_fds = 0;
  std::uint64_t max_fds = 0;  // RLIMIT_NOFILE (soft)
};

// The fields of /proc/self/stat that matter here. The command name (field 2) is in parentheses
// and may hold spaces and parentheses itself: the fields are counted from the last ')'.
struct ProcStat {
  std::uint64_t utime_ticks = 0;
  std::uint64_t stime_ticks = 0;
  std::uint64_t start_ticks = 0;  // since boot
  std::uint64_t vsize_bytes = 0;
  std::uint64_t rss_pages = 0;
};
std::optional<ProcStat> parse_proc_stat(std::string_view text);

// The "btime" line of /proc/stat: boot time in seconds since the Unix epoch.
std::optional<std::uint64_t> parse_boot_time(std::string_view proc_stat_text);

// Reads /proc/self/stat, /proc/stat, /proc/self/fd and the file limit. Nullopt when /proc
// cannot be read (the families are then left out of the exposition, as a client library does).
std::optional<ProcessStats> read_process_stats();

class Exposition;
// The process_* families (control/metrics.h), when /proc can be read.
void write_process_metrics(Exposition& x);

}  // namespace gh::control
