#include "control/metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <ctime>
#include <regex>
#include <set>

#include "control/process_stats.h"
#include "gate/stats.h"

namespace gh::control {
namespace {

TEST(Metrics, EveryFamilyIsNamedByTheConventions) {
  std::set<std::string> names;
  const std::regex valid("[a-z_][a-z0-9_]*");
  for (const MetricFamily& f : metric_families()) {
    EXPECT_TRUE(names.insert(f.name).second) << f.name << " declared twice";
    EXPECT_TRUE(std::regex_match(f.name, valid)) << f.name;
    EXPECT_TRUE(f.name.starts_with("gatehouse_") || f.name.starts_with("process_")) << f.name;
    EXPECT_FALSE(f.help.empty()) << f.name;
    const bool total = f.name.ends_with("_total");
    EXPECT_EQ(total, f.type == "counter") << f.name << ": counters, and only they, end in _total";
    EXPECT_EQ(f.name.find("_total_"), std::string::npos) << f.name;
    EXPECT_EQ(f.name.find("millis"), std::string::npos) << f.name << ": base units";
    EXPECT_EQ(f.name.find("_ms"), std::string::npos) << f.name << ": base units";
    if (f.type == "histogram") {
      EXPECT_TRUE(f.name.ends_with("_seconds")) << f.name;
    }
  }
}

// Every per-worker counter has a place; the ones sharing a family differ by its one label.
TEST(Metrics, EveryWorkerCounterIsPlacedInADeclaredFamily) {
  std::size_t stats = 0;
#define GH_COUNT(name, help) ++stats;
  GH_WORKER_STATS(GH_COUNT)
#undef GH_COUNT
  ASSERT_EQ(worker_series().size(), stats);
  // Each is placed in a declared family: none had to be given one of its own.
  std::size_t declared = 0;
#define GH_COUNT(name, type, labels, help) ++declared;
  GH_METRIC_FAMILIES(GH_COUNT)
#undef GH_COUNT
  EXPECT_EQ(metric_families().size(), declared);
  std::set<std::pair<std::string, std::string>> seen;
  for (const WorkerSeries& s : worker_series()) {
    const MetricFamily* f = find_metric_family(s.family);
    ASSERT_NE(f, nullptr) << s.stat;
    EXPECT_EQ(f->type, "counter") << s.stat;
    EXPECT_EQ(f->labels.empty(), s.label_value.empty()) << s.stat;
    EXPECT_EQ(f->labels.find(','), std::string_view::npos) << s.stat;
    EXPECT_TRUE(seen.emplace(std::string(s.family), std::string(s.label_value)).second)
        << s.stat << " shares a series with another counter";
  }
}

TEST(Exposition, HelpAndTypeOncePerFamily) {
  Exposition x;
  EXPECT_TRUE(x.family("gatehouse_bans_live"));
  x.sample(std::uint64_t{3});
  EXPECT_FALSE(x.family("gatehouse_bans_live"));  // a second declaration is refused
  x.sample(std::uint64_t{4});                     // and writes nothing
  EXPECT_FALSE(x.family("gatehouse_no_such_family"));
  x.sample(std::uint64_t{5});
  EXPECT_EQ(x.text(),
            "# HELP gatehouse_bans_live bans held now (expired ones not yet swept included)\n"
            "# TYPE gatehouse_bans_live gauge\n"
            "gatehouse_bans_live 3\n");
}

TEST(Exposition, LabelValuesAreEscaped) {
  Exposition x;
  ASSERT_TRUE(x.family("gatehouse_waitroom_queued"));
  x.sample({{"route", "a\"b\\c\nd"}}, 7);
  x.sample({{"route", "plain"}}, -2);
  x.sample({{"route", "ünïcode"}}, 0.25);
  EXPECT_NE(x.text().find("gatehouse_waitroom_queued{route=\"a\\\"b\\\\c\\nd\"} 7\n"),
            std::string::npos)
      << x.text();
  EXPECT_NE(x.text().find("gatehouse_waitroom_queued{route=\"plain\"} -2\n"), std::string::npos);
  EXPECT_NE(x.text().find("gatehouse_waitroom_queued{route=\"ünïcode\"} 0.25\n"),
            std::string::npos);
}

TEST(Exposition, Values) {
  std::string s;
  append_value(s, 0.005);
  s += ' ';
  append_value(s, 10);
  s += ' ';
  append_value(s, 1e21);
  s += ' ';
  append_value(s, 1.0 / 0.0);
  s += ' ';
  append_value(s, 0.0 / 0.0);
  EXPECT_EQ(s, "0.005 10 1e+21 +Inf NaN");
}

TEST(Exposition, HistogramBucketsAreCumulativeInSeconds) {
  Exposition x;
  ASSERT_TRUE(x.family("gatehouse_upstream_latency_seconds"));
  const std::array<double, 2> bounds = {0.001, 0.5};
  const std::array<std::uint64_t, 3> counts = {2, 3, 1};
  x.histogram({}, bounds, counts, 1.75);
  EXPECT_EQ(x.text(),
            "# HELP gatehouse_upstream_latency_seconds upstream: request sent to response head\n"
            "# TYPE gatehouse_upstream_latency_seconds histogram\n"
            "gatehouse_upstream_latency_seconds_bucket{le=\"0.001\"} 2\n"
            "gatehouse_upstream_latency_seconds_bucket{le=\"0.5\"} 5\n"
            "gatehouse_upstream_latency_seconds_bucket{le=\"+Inf\"} 6\n"
            "gatehouse_upstream_latency_seconds_sum 1.75\n"
            "gatehouse_upstream_latency_seconds_count 6\n");
}

TEST(ProcessStats, ParsesProcStatWithAnAwkwardCommandName) {
  // Fields 14, 15 (utime, stime), 22 (starttime), 23 (vsize), 24 (rss); the name holds ") (".
  const std::string line =
      "4242 (a) (b c) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 9 0 123456 "
      "987654321 2048 18446744073709551615 1 1 0 0 0 0 0 4096 17922 0 0 0 17 1 0 0 0 0 0\n";
  const auto s = parse_proc_stat(line);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->utime_ticks, 250u);
  EXPECT_EQ(s->stime_ticks, 50u);
  EXPECT_EQ(s->start_ticks, 123456u);
  EXPECT_EQ(s->vsize_bytes, 987654321u);
  EXPECT_EQ(s->rss_pages, 2048u);
  EXPECT_FALSE(parse_proc_stat("4242 (cut) S 1 2 3"));
  EXPECT_FALSE(parse_proc_stat("no parenthesis at all"));
  EXPECT_FALSE(parse_proc_stat(""));
}

TEST(ProcessStats, ParsesBootTime) {
  EXPECT_EQ(parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n"), 1700000000u);
  EXPECT_FALSE(parse_boot_time("cpu 1\n"));
  EXPECT_FALSE(parse_boot_time("btime x\n"));
}

TEST(ProcessStats, ReadsThisProcess) {
  const auto p = read_process_stats();
  ASSERT_TRUE(p);
  EXPECT_GT(p->resident_bytes, 1u << 20);
  EXPECT_GE(p->virtual_bytes, p->resident_bytes);
  EXPECT_GE(p->open_fds, 3u);  // at least stdin, stdout, stderr
  EXPECT_GE(p->max_fds, p->open_fds);
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(p->start_time_seconds, now + 1);
  EXPECT_GT(p->start_time_seconds, now - 3600);  // this test program started moments ago
  // Burn a little CPU: the figure moves.
  volatile double sink = 0;
  for (int i = 0; i < 50'000'000; ++i) sink = sink + i * 0.5;
  const auto q = read_process_stats();
  ASSERT_TRUE(q);
  EXPECT_GT(q->cpu_seconds, 0.0);
  EXPECT_GE(q->cpu_seconds, p->cpu_seconds);
}

}  // namespace
}  // namespace gh::control
