// The ClientHello reader (src/tls/client_hello.h) and JA4 over whatever a client sends first.
// Invariants: never crash or read outside the input; Complete consumes whole records within
// kMaxHelloBytes and only then; every list within its cap and every byte range within the
// message; a Complete result does not change when more bytes follow, and every shorter prefix
// of it is NeedMore; kMaxHelloBytes of input are never NeedMore; JA4 is 36 characters of the
// right alphabet, and its raw form starts with the same 10.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "fuzz/fuzz_check.h"
#include "tls/client_hello.h"
#include "tls/ja4.h"

using namespace gh::tls;

namespace {

bool in_message(const ClientHello& h, ByteRange r) {
  return std::size_t{r.offset} + r.size <= h.message_size;
}

bool same(const ClientHello& a, const ClientHello& b) {
  auto eq = [](auto x, auto y) {
    return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin());
  };
  return a.legacy_version == b.legacy_version &&
         eq(a.cipher_suites.view(), b.cipher_suites.view()) &&
         eq(a.extensions.view(), b.extensions.view()) && a.host() == b.host() &&
         a.has_server_name == b.has_server_name && a.has_alpn == b.has_alpn &&
         a.alpn.size() == b.alpn.size() &&
         eq(a.signature_algorithms.view(), b.signature_algorithms.view()) &&
         eq(a.supported_groups.view(), b.supported_groups.view()) &&
         eq(a.supported_versions.view(), b.supported_versions.view());
}

bool ja4_alphabet(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using gh::fuzz::check;
  static auto hello = std::make_unique<ClientHello>();
  static auto other = std::make_unique<ClientHello>();
  std::span<const std::uint8_t> in(data, size);
  HelloResult r = parse_client_hello(in, *hello);
  check(r.consumed <= size, "consumed within the input");
  if (r.status == HelloStatus::Error) {
    check(r.error != HelloError::None && !describe(r.error).empty(), "an error says why");
    check(r.consumed == 0, "an error consumes nothing");
    return 0;
  }
  check(r.error == HelloError::None, "no error unless Error");
  if (r.status == HelloStatus::NeedMore) {
    check(r.consumed == 0, "need more consumes nothing");
    check(size < kMaxHelloBytes, "kMaxHelloBytes of input always give an answer");
    return 0;
  }
  check(r.consumed > kRecordHeaderBytes && r.consumed <= kMaxHelloBytes, "bounded hello");
  const ClientHello& h = *hello;
  check(h.message_size >= 4 && h.message_size <= kMaxHelloBytes, "bounded message");
  check(h.message[0] == 1, "a ClientHello");
  check(!h.cipher_suites.empty() && h.cipher_suites.size() <= kMaxCipherSuites, "ciphers");
  check(h.extensions.size() <= kMaxExtensions, "extensions capped");
  check(in_message(h, h.server_name), "host inside the message");
  check(h.has_server_name || h.host().empty(), "a host only with server_name");
  check(h.has_alpn || h.alpn.empty(), "ALPN names only with the extension");
  for (std::size_t i = 0; i < h.alpn.size(); ++i) {
    check(in_message(h, h.alpn[i]) && h.alpn[i].size > 0, "ALPN names inside, never empty");
  }
  // What follows the hello does not change it, and no prefix is complete.
  HelloResult alone = parse_client_hello(in.first(r.consumed), *other);
  check(alone.status == HelloStatus::Complete && alone.consumed == r.consumed, "alone the same");
  check(same(h, *other), "the same hello alone");
  for (std::size_t n = 0; n < r.consumed; n += 1 + n / 64) {
    check(parse_client_hello(in.first(n), *other).status == HelloStatus::NeedMore,
          "a prefix needs more");
  }
  auto f = ja4(h);
  auto o = ja4(h, Ja4Order::Original);
  check(f.has_value() && o.has_value(), "JA4 computed");
  for (char c : f->view()) check(ja4_alphabet(c), "JA4 alphabet");
  check(f->view()[0] == 't' && f->view()[10] == '_' && f->view()[23] == '_', "JA4 shape");
  check(f->view().substr(0, 10) == o->view().substr(0, 10), "a part independent of order");
  std::string raw = ja4_raw(h);
  check(raw.substr(0, 10) == f->view().substr(0, 10), "raw starts with the a part");
  return 0;
}
