#include "stages/challenge/key.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace gh::challenge {

namespace {

constexpr std::size_t kMaxFileBytes = 4096;

std::string errno_text() {
  return std::strerror(errno);
}

int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Hex text when everything before trailing whitespace is hex digits (an even count >= 64).
std::vector<std::uint8_t> interpret(const std::vector<std::uint8_t>& content) {
  std::size_t end = content.size();
  while (end > 0 && (content[end - 1] == '\n' || content[end - 1] == '\r' ||
                     content[end - 1] == ' ' || content[end - 1] == '\t')) {
    --end;
  }
  bool hex = end >= 2 * kMinKeyBytes && end % 2 == 0;
  for (std::size_t i = 0; hex && i < end; ++i) hex = hex_value(content[i]) >= 0;
  if (!hex) return content;
  std::vector<std::uint8_t> key(end / 2);
  for (std::size_t i = 0; i < key.size(); ++i) {
    key[i] =
        static_cast<std::uint8_t>(hex_value(content[2 * i]) << 4 | hex_value(content[2 * i + 1]));
  }
  return key;
}

std::optional<std::vector<std::uint8_t>> read_key(const std::string& path, int fd,
                                                  std::string& error) {
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    error = "key file " + path + ": " + errno_text();
    return std::nullopt;
  }
  if (!S_ISREG(st.st_mode)) {
    error = "key file " + path + " is not a regular file";
    return std::nullopt;
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    error = "key file " + path + " has mode " + mode +
            "; it must be readable by its owner only (chmod 600 " + path + ")";
    return std::nullopt;
  }
  if (st.st_size > static_cast<off_t>(kMaxFileBytes)) {
    error = "key file " + path + " is larger than 4096 bytes; is it the right file?";
    return std::nullopt;
  }
  std::vector<std::uint8_t> content(kMaxFileBytes + 1);
  std::size_t got = 0;
  while (got < content.size()) {
    const ssize_t n = ::read(fd, content.data() + got, content.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = "key file " + path + ": " + errno_text();
      return std::nullopt;
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  content.resize(got);
  std::vector<std::uint8_t> key = interpret(content);
  OPENSSL_cleanse(content.data(), content.size());
  if (key.size() < kMinKeyBytes) {
    error = "key file " + path + " holds " + std::to_string(key.size()) +
            " bytes; at least 32 are needed (e.g. openssl rand -hex 32)";
    return std::nullopt;
  }
  return key;
}

bool make_parents(const std::string& path, std::string& error) {
  for (std::size_t i = 1; i < path.size(); ++i) {
    if (path[i] != '/') continue;
    const std::string dir = path.substr(0, i);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      error = "cannot create directory " + dir + ": " + errno_text();
      return false;
    }
  }
  return true;
}

bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// 0: created; 1: someone else created it first (read theirs); -1: error.
int create_key(const std::string& path, std::string& error) {
  if (!make_parents(path, error)) return -1;
  std::uint8_t key[kMinKeyBytes];
  if (RAND_bytes(key, sizeof(key)) != 1) {
    error = "no randomness for a new key (RAND_bytes failed)";
    return -1;
  }
  char text[2 * kMinKeyBytes + 1];
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < sizeof(key); ++i) {
    text[2 * i] = kHex[key[i] >> 4];
    text[2 * i + 1] = kHex[key[i] & 15];
  }
  text[2 * kMinKeyBytes] = '\n';
  OPENSSL_cleanse(key, sizeof(key));
  std::string tmp = path + ".tmpXXXXXX";
  const int fd = ::mkstemp(tmp.data());  // mode 0600
  if (fd < 0) {
    error = "cannot create key file " + path + ": " + errno_text();
    OPENSSL_cleanse(text, sizeof(text));
    return -1;
  }
  const bool ok = ::fchmod(fd, 0600) == 0 && write_all(fd, text, sizeof(text)) && ::fsync(fd) == 0;
  const int saved = errno;
  OPENSSL_cleanse(text, sizeof(text));
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    error = "cannot write key file " + tmp + ": " + std::strerror(saved);
    return -1;
  }
  // link(2) fails with EEXIST when another process won the race: then its key is the key.
  const int linked = ::link(tmp.c_str(), path.c_str());
  const int link_errno = errno;
  ::unlink(tmp.c_str());
  if (linked == 0) return 0;
  if (link_errno == EEXIST) return 1;
  error = "cannot create key file " + path + ": " + std::strerror(link_errno);
  return -1;
}

}  // namespace

std::optional<std::vector<std::uint8_t>> load_or_create_key(const std::string& path,
                                                            std::string& error) {
  if (path.empty()) {
    error = "no key file configured";
    return std::nullopt;
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      auto key = read_key(path, fd, error);
      ::close(fd);
      return key;
    }
    if (errno != ENOENT) {
      error = "cannot open key file " + path + ": " + errno_text();
      return std::nullopt;
    }
    if (attempt == 1 || create_key(path, error) < 0) break;
  }
  if (error.empty()) error = "cannot open key file " + path;
  return std::nullopt;
}

}  // namespace gh::challenge
