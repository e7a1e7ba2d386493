#include "control/process_stats.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

#include "control/metrics.h"

namespace gh::control {

namespace {

std::optional<std::string> slurp(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool parse_u64(std::string_view t, std::uint64_t* out) {
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), *out);
  return ec == std::errc() && end == t.data() + t.size();
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
  const std::size_t close = text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = text.substr(close + 1);
  // Fields from 3 (state) on, separated by single spaces.
  ProcStat s;
  int field = 2;
  std::size_t got = 0;
  while (!rest.empty()) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\n')) rest.remove_prefix(1);
    if (rest.empty()) break;
    const std::size_t end = rest.find_first_of(" \n");
    const std::string_view word = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
    ++field;
    std::uint64_t* target = nullptr;
    switch (field) {
      case 14:
        target = &s.utime_ticks;
        break;
      case 15:
        target = &s.stime_ticks;
        break;
      case 22:
        target = &s.start_ticks;
        break;
      case 23:
        target = &s.vsize_bytes;
        break;
      case 24:
        target = &s.rss_pages;
        break;
      default:
        break;
    }
    if (target != nullptr) {
      // rss is signed in the kernel's format; a negative one does not occur for a live process.
      if (!parse_u64(word, target)) return std::nullopt;
      ++got;
    }
    if (field == 24) break;
  }
  if (got != 5) return std::nullopt;
  return s;
}

std::optional<std::uint64_t> parse_boot_time(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (line.starts_with("btime ")) {
      std::uint64_t v = 0;
      if (parse_u64(line.substr(6), &v)) return v;
      return std::nullopt;
    }
    pos = end + 1;
  }
  return std::nullopt;
}

std::optional<ProcessStats> read_process_stats() {
  const auto self = slurp("/proc/self/stat");
  const auto all = slurp("/proc/stat");
  if (!self || !all) return std::nullopt;
  const auto st = parse_proc_stat(*self);
  const auto boot = parse_boot_time(*all);
  const long ticks = ::sysconf(_SC_CLK_TCK);
  const long page = ::sysconf(_SC_PAGESIZE);
  if (!st || !boot || ticks <= 0 || page <= 0) return std::nullopt;
  ProcessStats p;
  const auto hz = static_cast<double>(ticks);
  p.cpu_seconds = static_cast<double>(st->utime_ticks + st->stime_ticks) / hz;
  p.start_time_seconds = static_cast<double>(*boot) + static_cast<double>(st->start_ticks) / hz;
  p.resident_bytes = st->rss_pages * static_cast<std::uint64_t>(page);
  p.virtual_bytes = st->vsize_bytes;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    std::uint64_t n = 0;
    while (const dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++n;
    }
    ::closedir(d);
    p.open_fds = n > 0 ? n - 1 : 0;  // less the descriptor of the listing itself
  }
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    p.max_fds = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : static_cast<std::uint64_t>(rl.rlim_cur);
  }
  return p;
}

void write_process_metrics(Exposition& x) {
  const auto p = read_process_stats();
  if (!p) return;
  x.family("process_cpu_seconds_total");
  x.sample(p->cpu_seconds);
  x.family("process_resident_memory_bytes");
  x.sample(p->resident_bytes);
  x.family("process_virtual_memory_bytes");
  x.sample(p->virtual_bytes);
  x.family("process_open_fds");
  x.sample(p->open_fds);
  x.family("process_max_fds");
  x.sample(p->max_fds);
  x.family("process_start_time_seconds");
  x.sample(p->start_time_seconds);
}

}  // namespace gh::control
