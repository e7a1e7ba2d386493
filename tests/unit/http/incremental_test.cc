// The incremental property of the head parsers: every prefix of a message gives NeedMore or the
// result of the whole message, and once a prefix gives a result every longer prefix keeps it.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "http/parser.h"
#include "unit/http/http_test_util.h"

namespace gh::http {
namespace {

using namespace std::string_view_literals;

bool same(const ParseResult& a, const ParseResult& b) {
  return a.status == b.status && a.error == b.error && a.consumed == b.consumed;
}

std::string show(const ParseResult& r) {
  switch (r.status) {
    case ParseStatus::Complete:
      return "Complete/" + std::to_string(r.consumed);
    case ParseStatus::NeedMore:
      return "NeedMore";
    case ParseStatus::Error:
      return "Error/" + std::string(describe(r.error));
  }
  return "?";
}

template <class Parse>
void check_prefixes(std::string_view msg, Parse parse) {
  const ParseResult full = parse(msg);
  bool decided = false;
  for (std::size_t k = 0; k <= msg.size(); ++k) {
    const ParseResult r = parse(msg.substr(0, k));
    if (r.status == ParseStatus::NeedMore) {
      ASSERT_FALSE(decided) << "NeedMore after a decided prefix at " << k << " in "
                            << testing::printable(msg);
      continue;
    }
    decided = true;
    ASSERT_TRUE(same(r, full)) << "prefix " << k << ": " << show(r) << " vs whole: " << show(full)
                               << " in " << testing::printable(msg);
  }
}

void check_request(std::string_view msg, const HeadLimits& limits = {}) {
  check_prefixes(msg, [&limits](std::string_view b) {
    RequestHead h;
    const ParseResult r = parse_request(b, limits, h);
    if (r.status == ParseStatus::Complete) {
      testing::expect_views_inside(b, h);
    }
    return r;
  });
}

void check_response(std::string_view msg, Method method = Method::Get,
                    const HeadLimits& limits = {}) {
  check_prefixes(msg, [&limits, method](std::string_view b) {
    ResponseHead h;
    const ParseResult r = parse_response(b, limits, method, h);
    if (r.status == ParseStatus::Complete) {
      testing::expect_views_inside(b, h);
    }
    return r;
  });
}

const std::string_view kRequests[] = {
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "\r\n\r\nGET /x?y HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n",
    "POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "GET http://a.example/p HTTP/1.1\r\nHost: a.example\r\n\r\n",
    "CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
    "OPTIONS * HTTP/1.0\r\n\r\n",
    "GE(T / HTTP/1.1\r\n\r\n",
    "GET  / HTTP/1.1\r\n\r\n",
    "GET / HTTP/1.1 \r\n\r\n",
    "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
    "GET / HTTP/1.1\rX",
    "GET / HTTP/1.1\n",
    "GET /a\rb HTTP/1.1\r\n",
    "GET /\r\n\r\n",
    "GET /a#b HTTP/1.1\r\n\r\n",
    "GET * HTTP/1.1\r\nHost: a\r\n\r\n",
    "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\n\rX",
    "GET / HTTP/1.1\r\nHost: a\r\n\n",
    "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
    "GET / HTTP/1.1\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
    "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
    "GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n",
    "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n",
};

TEST(IncrementalRequest, EveryPrefixIsNeedMoreOrTheFinalResult) {
  for (std::string_view msg : kRequests) {
    check_request(msg);
  }
}

TEST(IncrementalRequest, LimitErrorsAreDecidedAtTheSameByte) {
  HeadLimits limits;
  limits.max_target_bytes = 12;
  limits.max_head_bytes = 48;
  limits.max_fields = 2;
  for (std::string_view msg : {"GET /0123456789abcdef HTTP/1.1\r\nHost: a\r\n\r\n"sv,
                               "GET /0123456789a HTTP/1.1\r\nHost: a\r\n\r\n"sv,
                               "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: 0123456789012345678\r\n\r\n"sv,
                               "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: 01234567890123\r\n\r\n"sv,
                               "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n"sv}) {
    check_request(msg, limits);
  }
}

const std::string_view kResponses[] = {
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "HTTP/1.1 204\r\n\r\n",
    "HTTP/1.1 204 \r\n\r\n",
    "HTTP/1.0 200 OK\r\n\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "HTTP/1.1 2000 OK\r\n\r\n",
    "HTTP/1.1 099 OK\r\n\r\n",
    "HTTP/2.0 200 OK\r\n\r\n",
    "HTTP/1.1 200 OK\n\r\n",
    "HTTP/1.1 200 O\rK\r\n\r\n",
    "HTTP/1.1\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
};

TEST(IncrementalResponse, EveryPrefixIsNeedMoreOrTheFinalResult) {
  for (std::string_view msg : kResponses) {
    check_response(msg);
    check_response(msg, Method::Head);
  }
}

// Random byte mutations of valid messages: whatever the verdict, it must not depend on how much
// of the message had arrived.
TEST(IncrementalRequest, MutatedMessages) {
  std::mt19937 rng(12345);
  static constexpr char kInteresting[] = {'\r', '\n',   ' ',    '\t', ':', ',', ';',
                                          '\0', '\x7f', '\x80', 'H',  '/', '?', '0',
                                          '9',  'a',    '[',    ']',  '#'};
  HeadLimits limits;
  limits.max_head_bytes = 120;
  limits.max_target_bytes = 24;
  limits.max_fields = 4;
  for (int iter = 0; iter < 400; ++iter) {
    std::string msg(kRequests[rng() % std::size(kRequests)]);
    const int edits = static_cast<int>(rng() % 3) + 1;
    for (int e = 0; e < edits && !msg.empty(); ++e) {
      const std::size_t at = rng() % msg.size();
      const char c = (rng() % 2) != 0u ? kInteresting[rng() % sizeof kInteresting]
                                       : static_cast<char>(rng() & 0xFF);
      switch (rng() % 3) {
        case 0:
          msg[at] = c;
          break;
        case 1:
          msg.insert(msg.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
        default:
          msg.erase(at, 1);
          break;
      }
    }
    check_request(msg, limits);
    check_request(msg);
    check_response(msg);
    if (::testing::Test::HasFatalFailure()) {
      return;
    }
  }
}

}  // namespace
}  // namespace gh::http
