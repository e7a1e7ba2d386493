// Micro-benchmarks of the HTTP/1.x head parsers and the chunked decoder.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "http/parser.h"

namespace {

using namespace gh::http;

// A typical desktop browser navigation (~500 bytes).
constexpr std::string_view kBrowserGet =
    "GET /account/login?next=%2Fdashboard&lang=en HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "Connection: keep-alive\r\n"
    "sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n"
    "sec-ch-ua-mobile: ?0\r\n"
    "sec-ch-ua-platform: \"Linux\"\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36\r\n"
    "Accept: "
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Referer: https://www.example.com/\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Cookie: session=8f3a1c2b9d; theme=dark\r\n"
    "\r\n";

constexpr std::string_view kSmallPost =
    "POST /api/signup HTTP/1.1\r\n"
    "Host: app.example.com\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 64\r\n"
    "\r\n";

constexpr std::string_view kResponseHead =
    "HTTP/1.1 200 OK\r\n"
    "Date: Tue, 11 Jun 2024 10:00:00 GMT\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Length: 15320\r\n"
    "Cache-Control: no-store\r\n"
    "Set-Cookie: session=8f3a1c2b9d; Path=/; HttpOnly; Secure; SameSite=Lax\r\n"
    "Strict-Transport-Security: max-age=31536000\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "\r\n";

void parse_request_loop(benchmark::State& state, std::string_view buf) {
  RequestHead head;
  const HeadLimits limits;
  for (auto _ : state) {
    const ParseResult r = parse_request(buf, limits, head);
    if (r.status != ParseStatus::Complete) {
      state.SkipWithError("request did not parse");
      break;
    }
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(head);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * buf.size()));
}

void BM_ParseBrowserGet(benchmark::State& state) {
  parse_request_loop(state, kBrowserGet);
}
BENCHMARK(BM_ParseBrowserGet);

void BM_ParseSmallPost(benchmark::State& state) {
  parse_request_loop(state, kSmallPost);
}
BENCHMARK(BM_ParseSmallPost);

void BM_ParseResponseHead(benchmark::State& state) {
  ResponseHead head;
  const HeadLimits limits;
  for (auto _ : state) {
    const ParseResult r = parse_response(kResponseHead, limits, Method::Get, head);
    if (r.status != ParseStatus::Complete) {
      state.SkipWithError("response did not parse");
      break;
    }
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(head);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kResponseHead.size()));
}
BENCHMARK(BM_ParseResponseHead);

// 64 KiB of payload in 4 KiB chunks, decoded from one contiguous buffer.
void BM_ChunkedDecode64K(benchmark::State& state) {
  constexpr std::size_t kChunk = 4096;
  constexpr std::size_t kTotal = 64 * 1024;
  std::string wire;
  for (std::size_t sent = 0; sent < kTotal; sent += kChunk) {
    char size[16];
    std::snprintf(size, sizeof size, "%zx\r\n", kChunk);
    wire += size;
    wire.append(kChunk, 'x');
    wire += "\r\n";
  }
  wire += "0\r\n\r\n";
  for (auto _ : state) {
    ChunkedDecoder d;
    std::string_view rest = wire;
    std::size_t payload = 0;
    ChunkedDecoder::Step s;
    do {
      s = d.step(rest);
      payload += s.data.size();
      benchmark::DoNotOptimize(s.data.data());
      rest.remove_prefix(s.consumed);
    } while (s.status == ParseStatus::NeedMore && !rest.empty());
    if (s.status != ParseStatus::Complete || payload != kTotal) {
      state.SkipWithError("chunked body did not decode");
      break;
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * wire.size()));
}
BENCHMARK(BM_ChunkedDecode64K);

}  // namespace
