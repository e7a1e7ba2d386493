#include "sim/response.h"

#include <brotli/decode.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace gh::sim {
namespace {

constexpr std::size_t kMaxLine = 4096;  // chunk-size and trailer lines

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Comma-separated list contains `token` (case-insensitive).
bool has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    auto comma = list.find(',');
    if (iequals(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

namespace {

std::optional<std::string> inflate_body(std::string_view in, int window_bits) {
  z_stream z{};
  if (inflateInit2(&z, window_bits) != Z_OK) return std::nullopt;
  std::string out;
  char buf[16384];
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    out.append(buf, sizeof buf - z.avail_out);
    if (out.size() > ResponseParser::kMaxBody) rc = Z_MEM_ERROR;
    if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) rc = Z_BUF_ERROR;  // cut short
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) return std::nullopt;
  return out;
}

std::optional<std::string> unbrotli(std::string_view in) {
  BrotliDecoderState* st = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
  if (st == nullptr) return std::nullopt;
  std::string out;
  std::size_t avail_in = in.size();
  const auto* next_in = reinterpret_cast<const std::uint8_t*>(in.data());
  BrotliDecoderResult rc = BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT;
  std::uint8_t buf[16384];
  while (rc == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT) {
    std::size_t avail_out = sizeof buf;
    std::uint8_t* next_out = buf;
    rc = BrotliDecoderDecompressStream(st, &avail_in, &next_in, &avail_out, &next_out, nullptr);
    out.append(reinterpret_cast<char*>(buf), sizeof buf - avail_out);
    if (out.size() > ResponseParser::kMaxBody) break;
  }
  BrotliDecoderDestroyInstance(st);
  if (rc != BROTLI_DECODER_RESULT_SUCCESS || out.size() > ResponseParser::kMaxBody) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::optional<std::string> decoded_body(const Response& r) {
  const std::string* enc = r.header("content-encoding");
  if (enc == nullptr) return r.body;
  std::string e;
  for (char c : *enc) {
    if (c != ' ' && c != '\t') e += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (e.empty() || e == "identity") return r.body;
  if (e == "gzip" || e == "x-gzip") return inflate_body(r.body, 15 + 16);
  if (e == "deflate") {
    // The spec's deflate is zlib-wrapped; some servers send it raw.
    if (auto z = inflate_body(r.body, 15)) return z;
    return inflate_body(r.body, -15);
  }
  if (e == "br") return unbrotli(r.body);
  return std::nullopt;
}

const std::string* Response::header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return &v;
  }
  return nullptr;
}

std::optional<SetCookie> parse_set_cookie(std::string_view value) {
  auto semi = value.find(';');
  auto pair = trim(value.substr(0, semi));
  auto eq = pair.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  SetCookie c;
  auto name = trim(pair.substr(0, eq));
  if (name.empty()) return std::nullopt;
  for (char ch : name) {
    if (!is_tchar(ch)) return std::nullopt;
  }
  c.name = std::string(name);
  auto v = trim(pair.substr(eq + 1));
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  c.value = std::string(v);
  auto attrs = semi == std::string_view::npos ? std::string_view{} : value.substr(semi + 1);
  while (!attrs.empty()) {
    auto s = attrs.find(';');
    auto a = trim(attrs.substr(0, s));
    attrs = s == std::string_view::npos ? std::string_view{} : attrs.substr(s + 1);
    auto e = a.find('=');
    auto key = trim(a.substr(0, e));
    if (iequals(key, "max-age") && e != std::string_view::npos) {
      auto n = trim(a.substr(e + 1));
      // A leading '-' or "0" means already expired; anything unreadable is ignored (RFC 6265).
      if (!n.empty() && (n.front() == '-' || n.find_first_not_of('0') == std::string_view::npos)) {
        c.expired = true;
      }
    }
  }
  return c;
}

void ResponseParser::reset(bool head_request) {
  phase_ = Phase::Head;
  head_request_ = head_request;
  head_.clear();
  line_.clear();
  remaining_ = 0;
  res_ = Response{};
  error_.clear();
}

ResponseParser::State ResponseParser::fail(std::string why) {
  error_ = std::move(why);
  phase_ = Phase::Done;
  return State::Error;
}

// Accumulates one CRLF-terminated line into `into` (without the CRLF).
bool ResponseParser::line(std::string_view in, std::size_t& pos, std::string& into,
                          bool& complete) {
  complete = false;
  while (pos < in.size()) {
    char c = in[pos++];
    if (c == '\n') {
      if (into.empty() || into.back() != '\r') return false;
      into.pop_back();
      complete = true;
      return true;
    }
    if (into.size() >= kMaxLine) return false;
    into.push_back(c);
  }
  return true;
}

ResponseParser::State ResponseParser::parse_head() {
  std::string_view h(head_);
  h.remove_suffix(4);  // the blank line's CRLFCRLF
  // Status line: HTTP/1.x SP 3DIGIT [SP reason]
  auto eol = h.find("\r\n");
  auto status_line = h.substr(0, eol);
  if (status_line.find_first_of("\r\n") != std::string_view::npos)
    return fail("bare CR or LF in head");
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." ||
      (status_line[7] != '0' && status_line[7] != '1') || status_line[8] != ' ') {
    return fail("bad status line");
  }
  res_.minor_version = status_line[7] - '0';
  int code = 0;
  for (int i = 9; i < 12; ++i) {
    char c = status_line[static_cast<std::size_t>(i)];
    if (c < '0' || c > '9') return fail("bad status code");
    code = code * 10 + (c - '0');
  }
  if (code < 100 || (status_line.size() > 12 && status_line[12] != ' ')) {
    return fail("bad status code");
  }
  res_.status = code;
  std::string_view rest = eol == std::string_view::npos ? std::string_view{} : h.substr(eol + 2);
  std::optional<std::uint64_t> length;
  bool chunked = false, close = res_.minor_version == 0, keep = false;
  while (!rest.empty()) {
    auto e = rest.find("\r\n");
    auto field = rest.substr(0, e);
    rest = e == std::string_view::npos ? std::string_view{} : rest.substr(e + 2);
    if (field.find('\n') != std::string_view::npos || field.find('\r') != std::string_view::npos) {
      return fail("bare CR or LF in head");
    }
    if (!field.empty() && (field[0] == ' ' || field[0] == '\t'))
      return fail("obsolete line folding");
    auto colon = field.find(':');
    if (colon == 0 || colon == std::string_view::npos) return fail("header field without a name");
    std::string name(field.substr(0, colon));
    for (auto& c : name) {
      if (!is_tchar(c)) return fail("bad header field name");
      c = lower(c);
    }
    auto value = trim(field.substr(colon + 1));
    if (name == "content-length") {
      std::uint64_t n = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc{} || p != value.data() + value.size()) {
        return fail("bad Content-Length");
      }
      if (length && *length != n) return fail("conflicting Content-Length");
      length = n;
    } else if (name == "transfer-encoding") {
      if (!iequals(value, "chunked") || chunked) return fail("unsupported Transfer-Encoding");
      chunked = true;
    } else if (name == "connection") {
      close = close || has_token(value, "close");
      keep = keep || has_token(value, "keep-alive");
    } else if (name == "set-cookie") {
      if (auto c = parse_set_cookie(value)) res_.cookies.push_back(std::move(*c));
    }
    res_.headers.emplace_back(std::move(name), std::string(value));
  }
  if (chunked && length) return fail("both Content-Length and Transfer-Encoding");
  res_.keep_alive = res_.minor_version == 0 ? keep && !close : !close;
  if (code < 200) {  // interim (100 Continue): skip it, the real answer follows
    if (code == 101) return fail("unexpected protocol switch");
    head_.clear();
    res_ = Response{};
    return State::NeedMore;
  }
  if (head_request_ || code == 204 || code == 304) {
    phase_ = Phase::Done;
    return State::Complete;
  }
  if (chunked) {
    phase_ = Phase::ChunkSize;
  } else if (length) {
    if (*length > kMaxBody) return fail("body too large");
    remaining_ = *length;
    phase_ = remaining_ == 0 ? Phase::Done : Phase::Fixed;
    if (remaining_ == 0) return State::Complete;
  } else {
    res_.keep_alive = false;
    phase_ = Phase::UntilClose;
  }
  return State::NeedMore;
}

ResponseParser::State ResponseParser::feed(std::string_view in, std::size_t* used) {
  std::size_t pos = 0;
  auto done = [&](State s) {
    *used = pos;
    return s;
  };
  while (pos < in.size()) {
    switch (phase_) {
      case Phase::Head: {
        // Append up to the end of the blank line, scanning only the new bytes.
        std::size_t from = head_.size() >= 3 ? head_.size() - 3 : 0;
        std::size_t take = std::min(in.size() - pos, kMaxHead + 1 - head_.size());
        head_.append(in.substr(pos, take));
        auto end = head_.find("\r\n\r\n", from);
        if (end == std::string::npos) {
          pos += take;
          if (head_.size() > kMaxHead) return done(fail("response head too large"));
          break;
        }
        const std::size_t keep = end + 4;
        pos += take - (head_.size() - keep);
        head_.resize(keep);
        if (head_.size() >= 2 && head_[0] == '\r' && head_[1] == '\n') {
          return done(fail("empty line before status line"));
        }
        auto s = parse_head();
        if (s != State::NeedMore) return done(s);
        break;
      }
      case Phase::Fixed:
      case Phase::ChunkData: {
        auto n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, in.size() - pos));
        res_.body.append(in.substr(pos, n));
        pos += n;
        remaining_ -= n;
        if (remaining_ == 0) {
          if (phase_ == Phase::Fixed) {
            phase_ = Phase::Done;
            return done(State::Complete);
          }
          phase_ = Phase::ChunkDataEnd;
        }
        break;
      }
      case Phase::ChunkSize:
      case Phase::ChunkDataEnd:
      case Phase::Trailer: {
        bool complete = false;
        if (!line(in, pos, line_, complete)) return done(fail("bad line in chunked body"));
        if (!complete) break;
        std::string l = std::move(line_);
        line_.clear();
        if (phase_ == Phase::ChunkDataEnd) {
          if (!l.empty()) return done(fail("chunk data longer than its size"));
          phase_ = Phase::ChunkSize;
        } else if (phase_ == Phase::ChunkSize) {
          std::string_view sv(l);
          auto semi = sv.find(';');  // extensions are ignored
          auto hex = sv.substr(0, semi);
          std::uint64_t n = 0;
          auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), n, 16);
          if (hex.empty() || ec != std::errc{} || p != hex.data() + hex.size()) {
            return done(fail("bad chunk size"));
          }
          if (n > kMaxBody || res_.body.size() + n > kMaxBody) return done(fail("body too large"));
          if (n == 0) {
            phase_ = Phase::Trailer;
          } else {
            remaining_ = n;
            phase_ = Phase::ChunkData;
          }
        } else if (l.empty()) {  // end of trailers
          phase_ = Phase::Done;
          return done(State::Complete);
        }
        break;
      }
      case Phase::UntilClose: {
        if (res_.body.size() + (in.size() - pos) > kMaxBody) return done(fail("body too large"));
        res_.body.append(in.substr(pos));
        pos = in.size();
        break;
      }
      case Phase::Done:
        return done(error_.empty() ? State::Complete : State::Error);
    }
  }
  if (phase_ == Phase::Done) return done(error_.empty() ? State::Complete : State::Error);
  return done(State::NeedMore);
}

ResponseParser::State ResponseParser::finish() {
  if (phase_ == Phase::UntilClose) {
    phase_ = Phase::Done;
    return State::Complete;
  }
  if (phase_ == Phase::Done) return error_.empty() ? State::Complete : State::Error;
  return fail(head_.empty() && phase_ == Phase::Head ? "connection closed before a response"
                                                     : "connection closed mid-response");
}

void CookieJar::update(const std::vector<SetCookie>& cookies) {
  for (const auto& c : cookies) {
    auto it = std::find_if(cookies_.begin(), cookies_.end(),
                           [&](const auto& p) { return p.first == c.name; });
    if (c.expired) {
      if (it != cookies_.end()) cookies_.erase(it);
    } else if (c.value.size() > kMaxValue) {
      continue;
    } else if (it != cookies_.end()) {
      it->second = c.value;
    } else if (cookies_.size() < kMax) {
      cookies_.emplace_back(c.name, c.value);
    }
  }
}

std::string CookieJar::header() const {
  std::string out;
  for (const auto& [k, v] : cookies_) {
    if (!out.empty()) out += "; ";
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

const std::string* CookieJar::get(std::string_view name) const {
  for (const auto& [k, v] : cookies_) {
    if (k == name) return &v;
  }
  return nullptr;
}

}  // namespace gh::sim
