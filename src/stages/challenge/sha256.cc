#include "stages/challenge/sha256.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <bit>
#include <new>

namespace gh::challenge {

namespace {

void check(int ok) {
  if (ok != 1) throw std::bad_alloc();
}

// Fetched once: EVP_sha256() would look the implementation up again on every init.
const EVP_MD* sha256_md() {
  static const EVP_MD* const md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (m == nullptr) throw std::bad_alloc();
    return m;
  }();
  return md;
}

// The thread's working context: every digest is computed in it, so none needs a context of its
// own. Nothing here calls back into this file while it is in use.
EVP_MD_CTX* scratch() {
  struct Ctx {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Ctx t;
  if (t.ctx == nullptr) throw std::bad_alloc();
  return t.ctx;
}

Digest finish(EVP_MD_CTX* ctx) {
  Digest d;
  unsigned size = 0;
  check(EVP_DigestFinal_ex(ctx, d.data(), &size));
  return d;
}

std::string_view text_of(std::span<const std::uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

Digest sha256(std::initializer_list<std::string_view> parts) {
  EVP_MD_CTX* ctx = scratch();
  check(EVP_DigestInit_ex2(ctx, sha256_md(), nullptr));
  for (const std::string_view part : parts) check(EVP_DigestUpdate(ctx, part.data(), part.size()));
  return finish(ctx);
}

void Sha256Prefix::Free::operator()(EVP_MD_CTX* ctx) const {
  EVP_MD_CTX_free(ctx);
}

Sha256Prefix::Sha256Prefix(std::string_view prefix) : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_) throw std::bad_alloc();
  check(EVP_DigestInit_ex2(ctx_.get(), sha256_md(), nullptr));
  check(EVP_DigestUpdate(ctx_.get(), prefix.data(), prefix.size()));
}

Sha256Prefix::Sha256Prefix(std::span<const std::uint8_t> prefix) : Sha256Prefix(text_of(prefix)) {}

Digest Sha256Prefix::digest(std::string_view tail) const {
  EVP_MD_CTX* ctx = scratch();
  check(EVP_MD_CTX_copy_ex(ctx, ctx_.get()));
  check(EVP_DigestUpdate(ctx, tail.data(), tail.size()));
  return finish(ctx);
}

Digest Sha256Prefix::digest(std::span<const std::uint8_t> tail) const {
  return digest(text_of(tail));
}

Sha256Prefix HmacSha256::padded(std::span<const std::uint8_t> key, std::uint8_t pad) {
  std::array<std::uint8_t, 64> block{};  // SHA-256's block size
  Digest hashed{};
  if (key.size() > block.size()) {  // RFC 2104: a key longer than a block is hashed first
    hashed = sha256({text_of(key)});
    key = hashed;
  }
  for (std::size_t i = 0; i < block.size(); ++i) {
    block[i] = static_cast<std::uint8_t>((i < key.size() ? key[i] : 0) ^ pad);
  }
  Sha256Prefix state(block);
  OPENSSL_cleanse(block.data(), block.size());
  OPENSSL_cleanse(hashed.data(), hashed.size());
  return state;
}

HmacSha256::HmacSha256(std::span<const std::uint8_t> key)
    : inner_(padded(key, 0x36)), outer_(padded(key, 0x5c)) {}

Digest HmacSha256::mac(std::span<const std::uint8_t> message) const {
  const Digest inner = inner_.digest(message);
  return outer_.digest(inner);
}

unsigned leading_zero_bits(const Digest& digest) {
  unsigned n = 0;
  for (std::uint8_t b : digest) {
    if (b != 0) return n + static_cast<unsigned>(std::countl_zero(b));
    n += 8;
  }
  return n;
}

}  // namespace gh::challenge
