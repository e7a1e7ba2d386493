#include "stages/ratelimit/keys.h"

#include <cstdint>
#include <cstring>

#include "stages/ratelimit/fields.h"
#include "stages/ratelimit/keyhash.h"

namespace gh::ratelimit {

namespace {

using fields::Found;
using fields::ValueSink;
using policy::KeyPartKind;

constexpr std::size_t kPartHeader = 3;  // kind byte + 16-bit big-endian length
constexpr std::size_t kPartMax = kPartHeader + kMaxPartBytes;
constexpr std::uint8_t kChained = 0xff;  // never a KeyPartKind, so a chained tuple is distinct
// Kind byte of an unknown part (kUnknownPart | kind, zero length): never a real part's kind byte.
constexpr std::uint8_t kUnknownPart = 0x80;
static_assert(static_cast<std::uint8_t>(KeyPartKind::TlsJa4) < kUnknownPart &&
              (kUnknownPart | static_cast<std::uint8_t>(KeyPartKind::TlsJa4)) != kChained);
constexpr std::size_t kChainBytes = 1 + 16;
constexpr std::size_t kTupleBytes = kChainBytes + 4 * kPartMax;
static_assert(kMaxPartBytes <= 0xffff);

// The framed tuple, on the stack. Parts are self-delimiting, so the framing is unambiguous. When
// the next part might not fit, the bytes so far are folded into their digest (behind a marker
// byte) and framing goes on, so any number of parts fits in fixed scratch.
class Tuple {
 public:
  explicit Tuple(const HashSeed& seed) : seed_(seed) {}

  // Room for one part's value, at most kMaxPartBytes.
  std::uint8_t* begin_part() {
    if (kTupleBytes - len_ < kPartMax) fold();
    return buf_ + len_ + kPartHeader;
  }
  void end_part(KeyPartKind kind, std::size_t n) { frame(static_cast<std::uint8_t>(kind), n); }
  // The sentinel in place of the part begun: whatever was written of its value is dropped.
  void end_unknown_part(KeyPartKind kind) {
    frame(static_cast<std::uint8_t>(kUnknownPart | static_cast<std::uint8_t>(kind)), 0);
  }
  Key digest() const { return digest_key(seed_, {buf_, len_}); }

 private:
  void frame(std::uint8_t kind_byte, std::size_t n) {
    buf_[len_] = kind_byte;
    buf_[len_ + 1] = static_cast<std::uint8_t>(n >> 8);
    buf_[len_ + 2] = static_cast<std::uint8_t>(n);
    len_ += kPartHeader + n;
  }

  void fold() {
    const Key k = digest();
    buf_[0] = kChained;
    for (int b = 0; b < 8; ++b) {
      buf_[1 + b] = static_cast<std::uint8_t>(k.lo >> (8 * b));
      buf_[9 + b] = static_cast<std::uint8_t>(k.hi >> (8 * b));
    }
    len_ = kChainBytes;
  }

  const HashSeed& seed_;
  std::size_t len_ = 0;
  std::uint8_t buf_[kTupleBytes];
};

ValueSink::Mode mode_of(KeyPartKind kind) {
  switch (kind) {
    case KeyPartKind::BodyField:
    case KeyPartKind::Email:  // then canonical_email()
      return ValueSink::Mode::Folded;
    case KeyPartKind::EmailDomain:
      return ValueSink::Mode::Domain;
    default:
      return ValueSink::Mode::Exact;
  }
}

bool whole_body(const KeyInputs& in) {
  if (in.body_complete) return true;
  return in.head != nullptr && in.head->body == http::BodyKind::ContentLength &&
         in.body.size() >= in.head->content_length;
}

void put_address(ValueSink& sink, const client::IpAddress& ip) {
  for (const std::uint8_t b : ip.bytes) sink.put(b);
}

// Feeds the part's value into `sink`.
Found read_part(const policy::KeyPart& part, const KeyInputs& in, ValueSink& sink) {
  switch (part.kind) {
    case KeyPartKind::ClientIp:
      put_address(sink, in.client);
      return Found::Value;
    case KeyPartKind::ClientPrefix:
      put_address(sink, in.client_prefix.address);
      sink.put(in.client_prefix.prefix_len);
      return Found::Value;
    case KeyPartKind::Route:
      sink.put(in.route_name);
      return Found::Value;
    case KeyPartKind::Method:
      if (in.head == nullptr) return Found::Absent;
      sink.put(in.head->method_text);
      return Found::Value;
    case KeyPartKind::Clearance:
      if (in.clearance.empty()) return Found::Absent;
      sink.put(in.clearance);
      return Found::Value;
    case KeyPartKind::DeviceId:
      if (in.device.empty()) return Found::Absent;
      sink.put(in.device);
      return Found::Value;
    case KeyPartKind::TlsJa4:
      if (in.ja4.empty()) return Found::Absent;
      sink.put(in.ja4);
      return Found::Value;
    case KeyPartKind::H2Fingerprint:
      if (in.h2_fingerprint.empty()) return Found::Absent;
      sink.put(in.h2_fingerprint);
      return Found::Value;
    default:
      break;
  }
  // The remaining kinds are named; an empty name names nothing.
  if (in.head == nullptr || part.name.empty()) return Found::Absent;
  const http::RequestHead& head = *in.head;
  switch (part.kind) {
    case KeyPartKind::Header:
      return fields::find_header(head, part.name, sink);
    case KeyPartKind::Cookie:
      return fields::find_cookie(head, part.name, sink);
    case KeyPartKind::Query:
      return fields::find_param(head.query, part.name, sink);
    case KeyPartKind::BodyField:
    case KeyPartKind::EmailDomain:
    case KeyPartKind::Email: {
      if (in.body_unseen) return Found::Unknown;
      const bool complete = whole_body(in);
      // No body at all (known empty, or none announced): nothing to key on.
      if (in.body.empty() && (complete || head.body == http::BodyKind::None)) {
        return Found::Absent;
      }
      // An encoded body (gzip, ...) is read by the application decoded: never key on its bytes,
      // and never call the field absent (that would skip the limit).
      if (fields::body_encoded(head)) return Found::Unknown;
      switch (fields::body_type(head)) {
        case fields::BodyType::Form:
          return fields::find_form_field(in.body, complete, part.name, sink);
        case fields::BodyType::Json:
          return fields::find_json_member(in.body, part.name, sink);
        case fields::BodyType::Other:
          break;
      }
      return Found::Unknown;  // a body we cannot read (text/plain, multipart, ...)
    }
    default:
      return Found::Absent;  // a kind this build does not know: never key on a guess
  }
}

}  // namespace

std::size_t canonical_email(std::uint8_t* p, std::size_t n) {
  std::size_t at = n;
  for (std::size_t i = n; i-- > 0;) {
    if (p[i] == '@') {
      at = i;
      break;
    }
  }
  if (at == n) return n;  // not an address: keyed as it is (the application will refuse it)
  std::string_view domain(reinterpret_cast<const char*>(p + at + 1), n - at - 1);
  if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);
  // Google ignores dots in the local part and answers for googlemail.com as for gmail.com.
  const bool gmail = domain == "gmail.com" || domain == "googlemail.com";
  std::size_t out = 0;
  for (std::size_t i = 0; i < at; ++i) {
    if (p[i] == '+') break;  // sub-addressing: "alice+x" is alice's mailbox (RFC 5233)
    if (gmail && p[i] == '.') continue;
    p[out++] = p[i];
  }
  p[out++] = '@';
  if (gmail) domain = "gmail.com";
  std::memmove(p + out, domain.data(), domain.size());
  return out + domain.size();
}

KeyBuild build_key(std::span<const policy::KeyPart> parts, const KeyInputs& in,
                   const HashSeed& seed, Key& out, bool* unknown) {
  if (unknown != nullptr) *unknown = false;
  Tuple tuple(seed);
  bool any_unknown = false;
  for (const policy::KeyPart& part : parts) {
    ValueSink sink(mode_of(part.kind), tuple.begin_part());
    std::size_t len = 0;
    switch (read_part(part, in, sink)) {
      case Found::Value:
        if (!sink.finish(len)) return KeyBuild::Missing;
        if (part.kind == KeyPartKind::Email) len = canonical_email(sink.data(), len);
        tuple.end_part(part.kind, len);
        break;
      case Found::Absent:
        return KeyBuild::Missing;
      case Found::Unknown:
        tuple.end_unknown_part(part.kind);
        any_unknown = true;
        break;
    }
  }
  out = tuple.digest();  // no parts: the empty tuple, one constant key
  if (unknown != nullptr) *unknown = any_unknown;
  return KeyBuild::Ok;
}

bool part_value(const policy::KeyPart& part, const KeyInputs& in,
                std::array<std::uint8_t, kMaxPartBytes + 1>& buf, std::string_view& out) {
  ValueSink sink(mode_of(part.kind), buf.data());
  std::size_t len = 0;
  if (read_part(part, in, sink) != Found::Value || !sink.finish(len) || len == 0) return false;
  if (part.kind == KeyPartKind::Email) len = canonical_email(buf.data(), len);
  out = {reinterpret_cast<const char*>(buf.data()), len};
  return true;
}

bool needs_body(std::span<const policy::KeyPart> parts) {
  for (const policy::KeyPart& part : parts) {
    if (policy::body_part(part.kind)) return true;
  }
  return false;
}

}  // namespace gh::ratelimit
