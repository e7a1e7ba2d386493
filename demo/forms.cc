#include "demo/forms.h"

#include <cctype>

namespace gh::demo {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 &&
               hex_digit(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
      i += 2;
    } else {
      out += s[i];  // a stray '%' is kept literally, as browsers never send one
    }
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_alnum(char c) {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

}  // namespace

std::map<std::string, std::string> parse_urlencoded(std::string_view body) {
  std::map<std::string, std::string> out;
  while (!body.empty()) {
    auto amp = body.find('&');
    auto pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto key = url_decode(pair.substr(0, eq));
    auto value = eq == std::string_view::npos ? std::string{} : url_decode(pair.substr(eq + 1));
    out.emplace(std::move(key), std::move(value));
  }
  return out;
}

std::string media_type(std::string_view content_type) {
  auto semi = content_type.find(';');
  auto t = trim(content_type.substr(0, semi));
  std::string out(t);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::string> cookie_value(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    auto semi = header.find(';');
    auto part = trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    auto eq = part.find('=');
    if (eq != std::string_view::npos && trim(part.substr(0, eq)) == name) {
      auto v = trim(part.substr(eq + 1));
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return std::string(v);
    }
  }
  return std::nullopt;
}

std::string population_of(const std::string* header) {
  if (header == nullptr) return "direct";
  const auto& h = *header;
  if (h.empty() || h.size() > 32) return "unknown";
  for (char c : h) {
    if (!is_lower_alnum(c) && c != '_' && c != '-') return "unknown";
  }
  return h;
}

std::string check_username(std::string_view s) {
  if (s.size() < 3 || s.size() > 32) return "Username must be 3 to 32 characters long.";
  for (char c : s) {
    if (!is_lower_alnum(c) && c != '_' && c != '.' && c != '-') {
      return "Username may contain only lowercase letters, digits, '_', '.' and '-'.";
    }
  }
  return {};
}

std::string check_email(std::string_view s) {
  static constexpr std::string_view kBad = "Enter a valid email address, like name@example.com.";
  if (s.empty() || s.size() > 254) return std::string(kBad);
  auto at = s.find('@');
  if (at == std::string_view::npos || s.find('@', at + 1) != std::string_view::npos) {
    return std::string(kBad);
  }
  auto local = s.substr(0, at), domain = s.substr(at + 1);
  if (local.empty() || local.size() > 64 || local.front() == '.' || local.back() == '.' ||
      local.find("..") != std::string_view::npos) {
    return std::string(kBad);
  }
  static constexpr std::string_view kLocalPunct = ".!#$%&'*+/=?^_`{|}~-";
  for (char c : local) {
    if (!is_alnum(c) && kLocalPunct.find(c) == std::string_view::npos) return std::string(kBad);
  }
  // Domain: at least two labels of [A-Za-z0-9-], none empty or starting/ending with '-'.
  if (domain.find('.') == std::string_view::npos) return std::string(kBad);
  while (true) {
    auto dot = domain.find('.');
    auto label = domain.substr(0, dot);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return std::string(kBad);
    }
    for (char c : label) {
      if (!is_alnum(c) && c != '-') return std::string(kBad);
    }
    if (dot == std::string_view::npos) break;
    domain = domain.substr(dot + 1);
  }
  return {};
}

std::string check_password(std::string_view s) {
  if (s.size() < 8) return "Password must be at least 8 characters long.";
  // Bounded so one request cannot buy an unbounded amount of hashing work.
  if (s.size() > 1024) return "Password must be at most 1024 characters long.";
  return {};
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace gh::demo
