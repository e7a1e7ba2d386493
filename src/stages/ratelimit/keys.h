// Builds a limit's key from a request: the tuple of parts the config names (client.ip,
// header.X, body.username, ...), canonicalised so that one client cannot dodge its bucket by
// re-encoding a value, then hashed into a 16-byte Key. Pure functions; no allocation.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string_view>

#include "client/address-t.h"
#include "http/message-t.h"
#include "stages/client_class-t.h"
#include "stages/ratelimit/config-t.h"
#include "stages/ratelimit/ratelimit-t.h"

namespace gh::ratelimit {

struct KeyInputs {
  client::IpAddress client;    // resolved client address
  client::Cidr client_prefix;  // its configured prefix
  const http::RequestHead* head = nullptr;
  std::string_view route_name;
  std::string_view body;  // leading body bytes (already de-chunked), possibly truncated
  // `body` is the whole body (e.g. a chunked body read to its end). Also inferred when `body` holds
  // head->content_length bytes. A body not known whole cannot show that a field is absent, nor
  // that no later duplicate overrides it: see build_key.
  bool body_complete = false;
  // The body exists but was never seen (a decision service is not sent it): body parts are
  // unknown, never absent.
  bool body_unseen = false;
  policy::ClientClass client_class = policy::ClientClass::Anonymous;
  std::string_view clearance;  // id of a valid clearance the request holds; empty = none
  std::string_view device;     // a resident's device id; empty = not a resident
  std::string_view ja4;        // the connection's JA4 (tls/ja4.h); empty = not TLS
  std::string_view h2_fingerprint;  // the HTTP/2 connection's fingerprint; empty = HTTP/1.1
};

enum class KeyBuild : std::uint8_t {
  Ok,       // also when a part is unknown (see build_key)
  Missing,  // a part is absent (no such header, field, ...): the limit does not apply
};

// Longest canonical value of one part that is kept; longer values are cut (and hashed as cut).
inline constexpr std::size_t kMaxPartBytes = 256;

// Frames each part as kind byte, 16-bit big-endian length, value, and digests the tuple with
// `seed` (no parts: one constant key). Values: client.ip the 16 address bytes; client.prefix those
// plus the length byte; header.X byte-exact; cookie.X byte-exact, quotes stripped; query.X percent-
// and '+'-decoded; body.X (urlencoded or JSON string) decoded, trimmed and ASCII-lowercased;
// email_domain.X the text after the last '@' of body.X, one trailing '.' dropped.
//
// "Cannot tell" is never "not limited". A header, cookie or query part is unknown when its name
// occurs more than once with different values (applications differ on which one they read):
// header.X every field named X up to case, values byte-exact; cookie.X every pair named X in every
// Cookie field, values byte-exact after the quotes are stripped; query.X every parameter whose
// decoded name is X, values compared decoded. Equal duplicates are that value. Whole values are
// compared, though only kMaxPartBytes of one are kept. A body part is unknown when the
// application may see a value we cannot: the body is not known whole and the field is not
// settled by what we have (a cut urlencoded body is always unknown, as a later parameter may add
// or override the field; a cut JSON body unless its top-level object closes within it); a value
// is cut; occurrences of the name (matched up to case) have different canonical values, or one is
// not a JSON string; the body is malformed (bad escape, broken structure, nesting beyond 10,000
// levels); or the body is not empty and not urlencoded or JSON (text/plain, multipart, no or
// conflicting Content-Type).
// An unknown part is framed as kind byte 0x80 | kind with no value, so every such request of a
// limit shares one bucket (per value of its other parts), never a real value's bucket; the result
// is Ok and `*unknown`, when given, is set true (false otherwise).
// Missing only when a part is really absent: no such header/cookie/parameter, no body (empty and
// whole, or none announced), a whole well-formed body (or a closed top-level JSON object, or a
// top-level JSON value that is no object) without the field, an email without a domain.
KeyBuild build_key(std::span<const policy::KeyPart> parts, const KeyInputs& in,
                   const HashSeed& seed, Key& out, bool* unknown = nullptr);

// True when any part needs the request body (body.*, email_domain.*).
// The canonical value of one part (an account name from a login form), when it has exactly one;
// false when absent, unknown or empty. `out` points into `buf`.
bool part_value(const policy::KeyPart& part, const KeyInputs& in,
                std::array<std::uint8_t, kMaxPartBytes + 1>& buf, std::string_view& out);

bool needs_body(std::span<const policy::KeyPart> parts);

// The mailbox an address names, rewritten in place over its folded (lowercased, trimmed) bytes:
// "+tag" dropped from the local part, and for Gmail (gmail.com, googlemail.com) its dots too and
// the domain spelled gmail.com; one trailing '.' of the domain dropped. A value without '@' is
// left as it is. Returns the new length (never longer).
std::size_t canonical_email(std::uint8_t* p, std::size_t n);

}  // namespace gh::ratelimit
