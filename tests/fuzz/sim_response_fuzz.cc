// Fuzzes the simulator's own response reader (sim/response.h), its Set-Cookie parser and cookie
// jar, the body decoders (gzip, deflate, br), and the readers that act on what a target answers:
// challenge and queue (JSON and the HTML pages), an API login's token, HTML attributes. Byte 0: bit
// 0 = answer to HEAD, the rest picks where the buffer is cut in two; the rest is the buffer.
// Invariants: a response read in one piece, in two, or byte by byte reads the same; what is
// consumed never exceeds what was given; a complete response is within the parser's bounds; no
// cookie can carry CR or LF into the requests the simulator sends back.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "sim/engine.h"
#include "sim/response.h"

namespace {

using gh::fuzz::check;
using gh::sim::ResponseParser;

struct Outcome {
  ResponseParser::State state = ResponseParser::State::NeedMore;
  std::size_t used = 0;  // bytes consumed in all
};

// Feeds buf cut at `cut_points` (ascending ends of pieces) until the parser stops needing more;
// then the peer "closes".
template <typename Cuts>
Outcome run(ResponseParser& p, std::string_view buf, const Cuts& cut_points) {
  Outcome o;
  std::size_t from = 0;
  for (std::size_t to : cut_points) {
    if (to < from) continue;
    while (from < to && o.state == ResponseParser::State::NeedMore) {
      std::size_t used = 0;
      o.state = p.feed(buf.substr(from, to - from), &used);
      check(used <= to - from, "used within the piece");
      o.used += used;
      from += used;
      if (used == 0 && o.state == ResponseParser::State::NeedMore) {
        check(false, "need-more without consuming");
      }
    }
    if (o.state != ResponseParser::State::NeedMore) break;
  }
  if (o.state == ResponseParser::State::NeedMore) o.state = p.finish();
  return o;
}

bool same_response(const ResponseParser& a, const ResponseParser& b) {
  const auto& x = a.response();
  const auto& y = b.response();
  if (x.status != y.status || x.body != y.body || x.keep_alive != y.keep_alive ||
      x.headers != y.headers || x.cookies.size() != y.cookies.size()) {
    return false;
  }
  for (std::size_t i = 0; i < x.cookies.size(); ++i) {
    if (x.cookies[i].name != y.cookies[i].name || x.cookies[i].value != y.cookies[i].value ||
        x.cookies[i].expired != y.cookies[i].expired) {
      return false;
    }
  }
  return true;
}

bool has_crlf(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool head = (data[0] & 1) != 0;
  const std::string_view buf(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t cut = buf.empty() ? 0 : (data[0] >> 1) * buf.size() / 127;

  ResponseParser whole;
  whole.reset(head);
  const std::size_t all[] = {buf.size()};
  const Outcome w = run(whole, buf, all);
  check(w.used <= buf.size(), "consumed within the buffer");

  ResponseParser two;
  two.reset(head);
  const std::size_t halves[] = {cut, buf.size()};
  const Outcome t = run(two, buf, halves);
  check(t.state == w.state, "two pieces: same state");
  if (w.state == ResponseParser::State::Complete)
    check(t.used == w.used, "two pieces: same bytes consumed");

  if (buf.size() <= 2048) {
    ResponseParser bytes;
    bytes.reset(head);
    std::vector<std::size_t> every(buf.size());
    for (std::size_t i = 0; i < every.size(); ++i) every[i] = i + 1;
    const Outcome b = run(bytes, buf, every);
    check(b.state == w.state, "byte by byte: same state");
    if (w.state == ResponseParser::State::Complete)
      check(b.used == w.used, "byte by byte: same bytes consumed");
    if (b.state == ResponseParser::State::Complete) {
      check(same_response(bytes, whole), "byte by byte: same response");
    }
  }

  if (w.state == ResponseParser::State::Complete) {
    check(same_response(two, whole), "two pieces: same response");
    const auto& r = whole.response();
    check(r.status >= 200 && r.status <= 999, "final status range");
    check(r.body.size() <= ResponseParser::kMaxBody, "body within its bound");
    check(!head || r.body.empty(), "no body for HEAD");
    for (const auto& [name, value] : r.headers) {
      check(!name.empty() && !has_crlf(name) && !has_crlf(value), "header fields are clean");
      for (char c : name) check(!(c >= 'A' && c <= 'Z'), "header names lowercased");
    }
    // What the simulator sends back must not be able to split its own requests.
    gh::sim::CookieJar jar;
    jar.update(r.cookies);
    jar.update(r.cookies);
    check(jar.size() <= gh::sim::CookieJar::kMax, "jar bounded");
    check(!has_crlf(jar.header()), "cookie header is clean");
    for (const auto& c : r.cookies) check(!c.name.empty(), "cookie names are not empty");

    gh::sim::Challenge ch;
    if (gh::sim::parse_challenge(r, &ch)) {
      check(ch.wait || !ch.token.empty(), "a proof-of-work challenge has a token");
    }
    double retry = 0;
    (void)gh::sim::parse_queued(r, &retry);
    if (auto token = gh::sim::parse_token(r)) {
      check(!has_crlf(*token), "a bearer token cannot split the requests it goes into");
    }
    if (auto body = gh::sim::decoded_body(r)) {
      check(body->size() <= ResponseParser::kMaxBody, "a decoded body within its bound");
    }
  }

  // An HTML tag on its own: any bytes.
  if (auto v = gh::sim::html_attribute(buf, "data-bits")) {
    check(v->size() <= buf.size(), "an attribute within its tag");
  }

  // Set-Cookie on its own: any bytes.
  if (auto c = gh::sim::parse_set_cookie(buf)) {
    check(!c->name.empty(), "parsed cookie has a name");
    check(c->name.size() + c->value.size() <= buf.size(), "cookie within its input");
  }
  return 0;
}
