// List files: parsing text into a PrefixSetBuilder, with file:line errors.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "client/address.h"
#include "stages/lists/prefix_set.h"

namespace gh::lists {
namespace {

constexpr std::size_t kQuoteMax = 60;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// The token as it can be shown in one log line: cut to about kQuoteMax characters once
// unprintable bytes are escaped.
std::string quote(std::string_view s) {
  std::string out = "\"";
  std::size_t i = 0;
  for (; i < s.size() && out.size() < kQuoteMax; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out += i < s.size() ? "\"..." : "\"";
  return out;
}

// Says which half of "address/length" is wrong, for a token parse_cidr refused.
std::string diagnose(std::string_view token) {
  const std::size_t slash = token.find('/');
  if (slash == std::string_view::npos) return "not an IP address: " + quote(token);
  const std::string_view addr = token.substr(0, slash);
  if (!client::parse_ip(addr)) return "not an IP address: " + quote(addr);
  const bool v6 = addr.find(':') != std::string_view::npos;
  return "bad prefix length " + quote(token.substr(slash)) +
         (v6 ? " (IPv6: /0 to /128)" : " (IPv4: /0 to /32)");
}

}  // namespace

std::size_t PrefixSetBuilder::add_text(std::string_view text, std::string_view name, Entry entry) {
  std::size_t added = 0;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    std::size_t end = 0;
    while (end < line.size() && !is_space(line[end])) ++end;
    const std::string_view token = line.substr(0, end);
    if (end < line.size()) {
      error(name, line_no, "unexpected text after the prefix: " + quote(trim(line.substr(end))));
      continue;
    }
    const auto cidr = client::parse_cidr(token);
    if (!cidr) {
      error(name, line_no, diagnose(token));
      continue;
    }
    if (add(*cidr, entry)) ++added;
  }
  return added;
}

std::size_t PrefixSetBuilder::add_file(const std::string& path, Entry entry) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error(path, 0, std::string("cannot open: ") + std::generic_category().message(errno));
    return 0;
  }
  std::string text;
  struct stat st {};
  if (fstat(fd, &st) == 0 && st.st_size > 0) text.reserve(static_cast<std::size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      text.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno != EINTR) {
      error(path, 0, std::string("cannot read: ") + std::generic_category().message(errno));
      ::close(fd);
      return 0;
    }
  }
  ::close(fd);
  return add_text(text, path, entry);
}

}  // namespace gh::lists
