// The simulator's own small, strict HTTP/1.1 response reader and a browser-like cookie jar. It
// shares nothing with the shield's parser on purpose: a framing mistake of the shield must not be
// read the same wrong way by the tool that measures it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gh::sim {

struct SetCookie {
  std::string name;
  std::string value;
  bool expired = false;  // Max-Age <= 0: delete it
};

struct Response {
  int status = 0;
  int minor_version = 1;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;
  std::vector<SetCookie> cookies;
  bool keep_alive = true;
  const std::string* header(std::string_view lower_name) const;
};

// The body as the application wrote it: a Content-Encoding of gzip, x-gzip, deflate or br undone
// (at most ResponseParser::kMaxBody bytes out), the body itself without one. nullopt for an
// encoding it does not know, a broken stream, or more than the cap.
std::optional<std::string> decoded_body(const Response& r);

// Parses "name=value; Attr; Max-Age=0..." (RFC 6265 section 5.2, attributes other than Max-Age
// and a past Expires ignored). nullopt for a header without a name=value pair.
std::optional<SetCookie> parse_set_cookie(std::string_view value);

class ResponseParser {
 public:
  static constexpr std::size_t kMaxHead = 32 * 1024;
  static constexpr std::size_t kMaxBody = 1024 * 1024;
  enum class State { NeedMore, Complete, Error };

  // Prepares for the next response; `head_request` = answer to HEAD (no body).
  void reset(bool head_request = false);
  // Consumes bytes of `in` (stores how many in *used; bytes after a complete response belong to
  // the next one). Call again with more bytes while NeedMore.
  State feed(std::string_view in, std::size_t* used);
  // The peer closed: completes a body delimited by the close; anything else is an Error.
  State finish();
  const Response& response() const { return res_; }
  Response& response() { return res_; }
  const std::string& error() const { return error_; }
  bool started() const { return phase_ != Phase::Head || !head_.empty(); }

 private:
  enum class Phase { Head, Fixed, ChunkSize, ChunkData, ChunkDataEnd, Trailer, UntilClose, Done };
  State fail(std::string why);
  State parse_head();
  bool line(std::string_view in, std::size_t& pos, std::string& into, bool& complete);

  Phase phase_ = Phase::Head;
  bool head_request_ = false;
  std::string head_;
  std::string line_;
  std::uint64_t remaining_ = 0;
  Response res_;
  std::string error_;
};

// Cookies by name, as a browser keeps them for one site (paths and domains are not modelled:
// the sim talks to one origin). Bounded: beyond kMax names new cookies are ignored.
class CookieJar {
 public:
  static constexpr std::size_t kMax = 32;
  static constexpr std::size_t kMaxValue = 4096;
  void update(const std::vector<SetCookie>& cookies);
  std::string header() const;  // "a=1; b=2", empty when none
  const std::string* get(std::string_view name) const;
  std::size_t size() const { return cookies_.size(); }
  void clear() { cookies_.clear(); }

 private:
  std::vector<std::pair<std::string, std::string>> cookies_;
};

}  // namespace gh::sim
