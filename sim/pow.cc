#include "sim/pow.h"

#include <openssl/evp.h>

#include <charconv>
#include <memory>

namespace gh::sim {
namespace {

struct CtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_MD_CTX, CtxFree>;

}  // namespace

int leading_zero_bits(const unsigned char* digest, std::size_t n) {
  int bits = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (digest[i] == 0) {
      bits += 8;
      continue;
    }
    for (unsigned mask = 0x80; mask != 0 && (digest[i] & mask) == 0; mask >>= 1) ++bits;
    break;
  }
  return bits;
}

bool pow_valid(std::string_view token, std::uint64_t nonce, unsigned bits) {
  char num[24];
  auto [end, ec] = std::to_chars(num, num + sizeof num, nonce);
  std::string input(token);
  input.append(num, end);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (EVP_Digest(input.data(), input.size(), md, &len, EVP_sha256(), nullptr) != 1) return false;
  return leading_zero_bits(md, len) >= static_cast<int>(bits);
}

std::optional<PowSolution> solve_pow(std::string_view token, unsigned bits,
                                     std::uint64_t max_hashes, std::uint64_t first_nonce) {
  if (bits > 64) return std::nullopt;
  // The token's prefix state is computed once; each try copies it and hashes only the nonce.
  Ctx prefix(EVP_MD_CTX_new()), work(EVP_MD_CTX_new());
  if (!prefix || !work || EVP_DigestInit_ex(prefix.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(prefix.get(), token.data(), token.size()) != 1) {
    return std::nullopt;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  char num[24];
  for (std::uint64_t i = 0; i < max_hashes; ++i) {
    const std::uint64_t nonce = first_nonce + i;
    auto [end, ec] = std::to_chars(num, num + sizeof num, nonce);
    unsigned len = 0;
    if (EVP_MD_CTX_copy_ex(work.get(), prefix.get()) != 1 ||
        EVP_DigestUpdate(work.get(), num, static_cast<std::size_t>(end - num)) != 1 ||
        EVP_DigestFinal_ex(work.get(), md, &len) != 1) {
      return std::nullopt;
    }
    if (leading_zero_bits(md, len) >= static_cast<int>(bits)) return PowSolution{nonce, i + 1};
  }
  return std::nullopt;
}

}  // namespace gh::sim
