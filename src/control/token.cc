#include "control/token.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace gh::control {

namespace {

std::array<unsigned char, 32> sha256(std::string_view data) {
  std::array<unsigned char, 32> out{};
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// Reads at most kMaxTokenFileBytes of a regular file. With `private_only`, refuses a file that
// group or others may read or write.
std::optional<std::string> read_small_file(const std::string& path, bool private_only,
                                           std::string* error) {
  const std::string what = "admin token file " + path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    if (error) *error = what + ": " + std::strerror(errno);
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    if (error) *error = what + ": not a regular file";
    return std::nullopt;
  }
  if (private_only && (st.st_mode & 077) != 0) {
    ::close(fd);
    if (error) {
      *error = what + " is accessible to group or others (mode " + mode_text(st.st_mode) +
               "); make it private: chmod 600 " + path;
    }
    return std::nullopt;
  }
  if (st.st_size > static_cast<off_t>(kMaxTokenFileBytes)) {
    ::close(fd);
    if (error) *error = what + ": larger than 4 KiB; it should hold just the token";
    return std::nullopt;
  }
  std::string text(kMaxTokenFileBytes + 1, '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      if (error) *error = what + ": " + std::strerror(e);
      return std::nullopt;
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (got > kMaxTokenFileBytes) {
    if (error) *error = what + ": larger than 4 KiB; it should hold just the token";
    return std::nullopt;
  }
  text.resize(got);
  std::string_view token = trim(text);
  if (token.empty()) {
    if (error) {
      *error = what +
               " is empty; put a random token in it, e.g. (umask 077; openssl rand -hex 32 > " +
               path + ")";
    }
    return std::nullopt;
  }
  for (char c : token) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e) {
      if (error) *error = what + ": the token must be one word of printable ASCII (no spaces)";
      return std::nullopt;
    }
  }
  return std::string(token);
}

}  // namespace

std::optional<BearerToken> BearerToken::load(const std::string& path, std::string* error) {
  auto token = read_small_file(path, true, error);
  if (!token) return std::nullopt;
  BearerToken t = from_string(*token);
  // Overwrite our copy: only the digest stays in memory.
  OPENSSL_cleanse(token->data(), token->size());
  return t;
}

BearerToken BearerToken::from_string(std::string_view token) {
  BearerToken t;
  t.digest_ = sha256(token);
  return t;
}

bool BearerToken::matches(std::string_view presented) const {
  if (presented.empty()) return false;
  const auto d = sha256(presented);
  return CRYPTO_memcmp(d.data(), digest_.data(), d.size()) == 0;
}

std::optional<std::string_view> bearer_token(std::string_view value) {
  value = trim(value);
  constexpr std::string_view kScheme = "bearer";
  if (value.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    char c = value[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return std::nullopt;
  }
  if (value[kScheme.size()] != ' ') return std::nullopt;
  std::string_view token = trim(value.substr(kScheme.size()));
  if (token.empty()) return std::nullopt;
  for (char c : token) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e) return std::nullopt;
  }
  return token;
}

std::optional<std::string> read_token_file(const std::string& path, std::string* error) {
  return read_small_file(path, false, error);
}

}  // namespace gh::control
