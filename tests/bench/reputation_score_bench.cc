// Scorer::score for a browser, a matching tool and a scanner against 50 plain rules (headers,
// paths, methods, prefixes, refusals) plus 500 user-agent rules matched in one RE2::Set pass; the
// cost of building that scorer; RefusalTracker note and recent on a 1M-slot table, one and two
// threads.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "client/address.h"
#include "http/parser.h"
#include "stages/reputation/refusals.h"
#include "stages/reputation/scorer.h"

namespace gh::reputation {
namespace {

using policy::ReputationAction;
using policy::ReputationRule;

constexpr int kPlainRules = 50;
constexpr int kUaRules = 500;

// `browser_rule`: one more UA rule that every browser matches ("Mozilla/" without
// Accept-Language), so browsers take the path where RE2 reports which patterns matched.
policy::ReputationConfig make_config(bool browser_rule) {
  policy::ReputationConfig c;
  c.suspect_score = 30;
  std::mt19937 rng(1);
  for (int i = 0; i < kPlainRules; ++i) {
    ReputationRule r;
    r.name = "plain" + std::to_string(i);
    r.weight = 1 + i % 7;
    switch (i % 5) {
      case 0:
        r.headers_missing = {"x-missing-" + std::to_string(i)};
        r.path_prefix = "/api/" + std::to_string(i);
        break;
      case 1:
        r.headers_present = {"x-present-" + std::to_string(i)};
        break;
      case 2:
        r.methods = {http::Method::Put, http::Method::Delete};
        break;
      case 3:
        for (int k = 0; k < 20; ++k) {
          client::Cidr cidr;
          cidr.address = client::make_ipv4(static_cast<std::uint8_t>(rng()), rng() & 0xff, 0, 0);
          cidr.prefix_len = 16;
          r.cidrs.push_back(cidr);
        }
        break;
      default:
        r.recent_refusals = 10 + static_cast<std::uint32_t>(i);
        break;
    }
    c.rules.push_back(r);
  }
  const char* kinds[] = {"(?i)\\b%sbot\\b", "^%s-crawler/[0-9.]+", "(?i)compatible; %sspider",
                         "%s-fetch(er)?/", "(?i)^%s$"};
  for (int i = 0; i < kUaRules; ++i) {
    std::string name;
    for (int k = 0; k < 6; ++k) name += static_cast<char>('a' + rng() % 26);
    std::string pattern = kinds[i % 5];
    pattern.replace(pattern.find("%s"), 2, name);
    ReputationRule r;
    r.name = "ua" + std::to_string(i);
    r.user_agent = pattern;
    r.weight = 10;
    c.rules.push_back(r);
  }
  ReputationRule curl;
  curl.name = "curl-like";
  curl.user_agent = "(?i)^(curl|wget|python-requests|go-http-client)";
  curl.weight = 40;
  c.rules.push_back(curl);
  if (browser_rule) {
    ReputationRule b;
    b.name = "browser-without-accept-language";
    b.user_agent = "Mozilla/";
    b.headers_missing = {"accept-language"};
    b.weight = 30;
    c.rules.push_back(b);
  }
  c.thresholds = {{80, ReputationAction::Deny, 0},
                  {40, ReputationAction::Challenge, 2},
                  {20, ReputationAction::Challenge, 0}};
  return c;
}

struct Head {
  std::string buffer;
  http::RequestHead head;
};

std::unique_ptr<Head> parse(const char* text) {
  auto h = std::make_unique<Head>();
  h->buffer = text;
  http::parse_request(h->buffer, http::HeadLimits{}, h->head);
  return h;
}

const char* kBrowser =
    "GET /signup HTTP/1.1\r\nHost: example.com\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; "
    "Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: en-GB,en;q=0.9\r\nAccept-Encoding: gzip, deflate, br\r\n"
    "Cookie: session=abc\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-Site: none\r\n"
    "Upgrade-Insecure-Requests: 1\r\n\r\n";
const char* kCurl =
    "POST /signup HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n"
    "Content-Length: 0\r\n\r\n";

void BM_Score(benchmark::State& state, const char* text, bool browser_rule) {
  std::string error;
  const auto scorer = Scorer::build(make_config(browser_rule), error);
  if (!scorer) {
    state.SkipWithError(error.c_str());
    return;
  }
  const auto head = parse(text);
  const Request r{&head->head, client::make_ipv4(203, 0, 113, 7), head->head.path};
  std::int64_t total = 0;
  for (auto _ : state) {
    const Score s = scorer->score(r, 3);
    total += s.total;
    benchmark::DoNotOptimize(total);
  }
  state.counters["rules"] = static_cast<double>(scorer->rule_count());
  state.counters["ua_patterns"] = static_cast<double>(scorer->ua_pattern_count());
  state.counters["score"] =
      static_cast<double>(total / std::max<std::int64_t>(1, state.iterations()));
}
BENCHMARK_CAPTURE(BM_Score, browser_no_ua_match, kBrowser, false);
BENCHMARK_CAPTURE(BM_Score, browser_ua_match, kBrowser, true);
BENCHMARK_CAPTURE(BM_Score, curl, kCurl, true);
BENCHMARK_CAPTURE(BM_Score, browser_no_ua_match_2threads, kBrowser, false)->Threads(2);

void BM_Build(benchmark::State& state) {
  const auto config = make_config(true);
  for (auto _ : state) {
    std::string error;
    auto s = Scorer::build(config, error);
    benchmark::DoNotOptimize(s.get());
  }
}
BENCHMARK(BM_Build)->Unit(benchmark::kMillisecond);

constexpr std::size_t kSlots = 1 << 20;
constexpr std::size_t kPool = 1 << 16;

const std::vector<client::Cidr>& prefix_pool() {
  static const std::vector<client::Cidr> pool = [] {
    std::mt19937_64 rng(9);
    std::vector<client::Cidr> v;
    for (std::size_t i = 0; i < kPool; ++i) {
      client::Cidr c;
      for (std::size_t k = 0; k < 8; ++k) c.address.bytes[k] = static_cast<std::uint8_t>(rng());
      c.prefix_len = 64;
      v.push_back(c);
    }
    return v;
  }();
  return pool;
}

RefusalTracker& tracker() {
  static RefusalTracker t(kSlots, 60'000);
  return t;
}

void BM_RefusalNote(benchmark::State& state) {
  const auto& pool = prefix_pool();
  RefusalTracker& t = tracker();
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7919;
  std::int64_t now = 0;
  for (auto _ : state) {
    t.note(pool[i++ & (kPool - 1)], now++ >> 4);
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    state.counters["dropped"] = static_cast<double>(t.stats().dropped);
    state.counters["MB"] = static_cast<double>(t.memory_bytes()) / 1e6;
  }
}
BENCHMARK(BM_RefusalNote);
BENCHMARK(BM_RefusalNote)->Threads(2);

// The same prefix from both threads: the worst case for the CAS.
void BM_RefusalNoteSamePrefix(benchmark::State& state) {
  RefusalTracker& t = tracker();
  const client::Cidr p = prefix_pool()[0];
  for (auto _ : state) t.note(p, 1000);
  if (state.thread_index() == 0) {
    state.counters["dropped"] = static_cast<double>(t.stats().dropped);
  }
}
BENCHMARK(BM_RefusalNoteSamePrefix)->Threads(2);

void BM_RefusalRecent(benchmark::State& state) {
  const auto& pool = prefix_pool();
  RefusalTracker& t = tracker();
  for (std::size_t k = 0; k < kPool; k += 2) t.note(pool[k], 0);  // half the pool tracked
  std::size_t i = 0;
  std::uint64_t sum = 0;
  for (auto _ : state) {
    sum += t.recent(pool[i++ & (kPool - 1)], 100);
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RefusalRecent);

}  // namespace
}  // namespace gh::reputation
