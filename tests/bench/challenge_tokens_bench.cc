// Costs on the challenge path: token encode and decode (Challenge and Clearance), pow_valid on a
// real token, SpentSet::claim with fresh ids, and the binding hash of a typical user agent.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "client/address.h"
#include "stages/challenge/binding.h"
#include "stages/challenge/pow.h"
#include "stages/challenge/spent_set.h"
#include "stages/challenge/token.h"

namespace gh::challenge {
namespace {

constexpr std::int64_t kNow = 1'700'000'000'000;
constexpr std::string_view kUa =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36";

const TokenCodec& codec() {
  static const TokenCodec c = *TokenCodec::create(std::vector<std::uint8_t>(32, 9));
  return c;
}

Token token(TokenKind kind) {
  Token t = *new_token(kind, kNow, 300'000);
  t.binding = 0x1234;
  t.bits = 18;
  t.level = 1;
  return t;
}

void BM_Encode(benchmark::State& state, TokenKind kind) {
  const Token t = token(kind);
  char buf[kTokenTextSize];
  for (auto _ : state) {
    benchmark::DoNotOptimize(codec().encode(t, buf));
    benchmark::ClobberMemory();
  }
}

void BM_Decode(benchmark::State& state, TokenKind kind) {
  const std::string text = codec().encode(token(kind));
  Token out;
  for (auto _ : state) {
    benchmark::DoNotOptimize(codec().decode(text, kind, kNow, 0x1234, out));
    benchmark::ClobberMemory();
  }
}

void BM_EncodeDecode(benchmark::State& state, TokenKind kind) {
  const Token t = token(kind);
  char buf[kTokenTextSize];
  Token out;
  for (auto _ : state) {
    codec().encode(t, buf);
    benchmark::DoNotOptimize(
        codec().decode(std::string_view(buf, sizeof(buf)), kind, kNow, 0x1234, out));
  }
}

BENCHMARK_CAPTURE(BM_Encode, challenge, TokenKind::Challenge);
BENCHMARK_CAPTURE(BM_Decode, challenge, TokenKind::Challenge);
BENCHMARK_CAPTURE(BM_EncodeDecode, challenge, TokenKind::Challenge);
BENCHMARK_CAPTURE(BM_Encode, clearance, TokenKind::Clearance);
BENCHMARK_CAPTURE(BM_Decode, clearance, TokenKind::Clearance);
BENCHMARK_CAPTURE(BM_EncodeDecode, clearance, TokenKind::Clearance);

void BM_PowValid(benchmark::State& state) {
  const std::string text = codec().encode(token(TokenKind::Challenge));
  const std::string nonce = "12345678901";
  for (auto _ : state) benchmark::DoNotOptimize(pow_valid(text, nonce, 18));
}
BENCHMARK(BM_PowValid);

// Tries per second of the native solver (what a bot pays per try; the browser script is slower).
void BM_PowSolveTry(benchmark::State& state) {
  const std::string text = codec().encode(token(TokenKind::Challenge));
  for (auto _ : state) benchmark::DoNotOptimize(pow_solve(text, 255, 1024));
  state.SetItemsProcessed(state.iterations() * 1024);
}
BENCHMARK(BM_PowSolveTry);

// Fresh ids into a big set whose entries expire as fast as they come, so it never fills: the
// steady state of a busy node.
void BM_SpentClaim(benchmark::State& state) {
  // The counter is also the virtual clock (1 ms per claim), shared by the threads and by the
  // library's repeated runs so that expiries keep coming; ~20 000 ids are live at any time, from
  // 4096 /24s (about 5 each, under the default quota of 64).
  static SpentSet set(100'000);
  static std::atomic<std::uint64_t> counter{0};
  for (auto _ : state) {
    const std::uint64_t n = counter.fetch_add(1, std::memory_order_relaxed);
    const std::int64_t now = kNow + static_cast<std::int64_t>(n);
    TokenId id;
    const std::uint64_t a = n * 0x9e3779b97f4a7c15ULL;
    std::memcpy(id.data(), &a, 8);
    std::memcpy(id.data() + 8, &n, 8);
    const client::Cidr net =
        client::prefix_of(client::make_ipv4(10, static_cast<std::uint8_t>((n >> 8) & 15),
                                            static_cast<std::uint8_t>(n), 1),
                          24, 64);
    benchmark::DoNotOptimize(set.claim(id, net, 64, now + 20'000, now));
  }
}
BENCHMARK(BM_SpentClaim)->Threads(1)->Threads(2);

void BM_BindingOf(benchmark::State& state) {
  const client::Cidr prefix = *client::parse_cidr("203.0.113.0/24");
  for (auto _ : state) benchmark::DoNotOptimize(binding_of(prefix, kUa));
}
BENCHMARK(BM_BindingOf);

}  // namespace
}  // namespace gh::challenge
