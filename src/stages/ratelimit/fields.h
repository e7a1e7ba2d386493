// Private helpers of keys.cc: finding one value in a request (header, cookie, query or form
// parameter, JSON member) and canonicalising it byte by byte into a caller-provided buffer of
// kMaxPartBytes. No allocation; every loop advances through its input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/message-t.h"
#include "stages/ratelimit/keys.h"

namespace gh::ratelimit::fields {

// Nesting followed while skipping JSON values, the top-level object included; deeper is Unknown.
inline constexpr std::size_t kMaxJsonDepth = 10000;

// What a lookup found.
enum class Found : std::uint8_t {
  Value,    // a value, fed to the sink
  Absent,   // no such field (for a body: known whole and well-formed, and without it)
  Unknown,  // cannot tell what the application sees (cut, malformed, conflicting duplicates, ...)
};

// Receives a decoded value one byte at a time and keeps its canonical form, cut at kMaxPartBytes.
class ValueSink {
 public:
  enum class Mode : std::uint8_t {
    Exact,   // bytes as they are
    Folded,  // ASCII whitespace trimmed, ASCII lowercased (usernames, emails)
    Domain,  // Folded, then the part after the last '@' (trimmed), one trailing '.' dropped
  };

  ValueSink(Mode mode, std::uint8_t* buf) : buf_(buf), mode_(mode) {}

  void put(std::uint8_t c);
  void put(std::string_view s);

  // Length of the canonical value in the buffer; false when there is none (Domain without '@' or
  // with an empty domain).
  bool finish(std::size_t& len) const;

  // Same canonical value (or both none) as `other`, which has the same mode.
  bool same_value(const ValueSink& other) const;

  Mode mode() const { return mode_; }
  std::uint8_t* data() const { return buf_; }

 private:
  std::uint8_t* buf_;
  std::size_t pos_ = 0;    // logical length so far (after leading trim); may exceed kMaxPartBytes
  std::size_t end_ = 0;    // logical end of the value without trailing whitespace
  std::uint8_t last_ = 0;  // last non-whitespace byte (Domain)
  bool seen_at_ = false;
  Mode mode_;
};

// Field `name` (ASCII case-insensitive), byte-exact. Every field so named is an occurrence; all
// must have the same value, else Unknown (an application may read any one of them).
Found find_header(const http::RequestHead& head, std::string_view name, ValueSink& sink);

// Cookie `name` (case-sensitive) from every Cookie field, surrounding double quotes stripped.
// Every pair so named, in any Cookie field, is an occurrence; all must have the same value
// (byte-exact, after the quotes are stripped), else Unknown.
Found find_cookie(const http::RequestHead& head, std::string_view name, ValueSink& sink);

enum class BodyType : std::uint8_t { Other, Form, Json };

// From the Content-Type fields: urlencoded form, JSON (application/json or any +json), other.
// Several fields that disagree are Other (an application may read the last one), and so is a
// charset other than UTF-8 / US-ASCII (the application would decode other characters).
BodyType body_type(const http::RequestHead& head);

// A Content-Encoding other than identity (gzip, deflate, br, ...): the application reads the
// decoded body, which the bytes we hold do not spell. Body-keyed parts are then Unknown.
bool body_encoded(const http::RequestHead& head);

// `name=value` of an `&`-separated list (the query) whose percent- and '+'-decoded name is `name`
// (case-sensitive); the value is decoded likewise. A parameter without '=' has an empty value.
// Every parameter so named is an occurrence; all must have the same decoded value (whole, not
// cut), else Unknown.
Found find_param(std::string_view text, std::string_view name, ValueSink& sink);

// Field `name` of a urlencoded body, decoded as find_param does. Every parameter whose name equals
// `name` up to case (as for JSON below; some frameworks match names so) is an occurrence; all
// occurrences must have one canonical value, else Unknown. A body not known whole (`complete`
// false) is Unknown: a later parameter could add the field or override it.
Found find_form_field(std::string_view text, bool complete, std::string_view name, ValueSink& sink);

// Member `name` (compared after unescaping) of a top-level JSON object. Every member whose name
// equals `name` up to case (ASCII, plus the Kelvin sign for 'k' and the long s for 's', as Go's
// encoding/json folds) is an occurrence; each must be a string, all with one canonical value.
// The whole object is read, up to its closing brace (what follows it is ignored), so a cut text is
// Unknown unless that brace is in it. Unknown also for a bad escape, a malformed object, a
// non-string occurrence, or nesting beyond kMaxJsonDepth. A top-level value that is not an object
// has no members (Absent), unless it is malformed or cut inside an array or string (Unknown).
Found find_json_member(std::string_view text, std::string_view name, ValueSink& sink);

}  // namespace gh::ratelimit::fields
