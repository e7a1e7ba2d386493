#include "policy/route_table.h"

#include <re2/re2.h>

#include <algorithm>

namespace gh::policy {
namespace {

RE2::Options regex_options() {
  RE2::Options options;
  options.set_log_errors(false);  // errors are reported through the loader, not stderr
  return options;
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals_lower(std::string_view request, std::string_view lowered) {
  if (request.size() != lowered.size()) {
    return false;
  }
  for (std::size_t i = 0; i < request.size(); ++i) {
    if (lower(request[i]) != lowered[i]) {
      return false;
    }
  }
  return true;
}

std::uint16_t method_bit(http::Method m) {
  return m == http::Method::Other ? 0 : static_cast<std::uint16_t>(1u << static_cast<unsigned>(m));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

bool unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// Cheap pre-scan: no escape, no empty segment and no segment starting with '.'.
bool needs_normalizing(std::string_view path) {
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '%') {
      return true;
    }
    if (path[i] == '/' && i + 1 < path.size() && (path[i + 1] == '/' || path[i + 1] == '.')) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string_view normalize_path(std::string_view path, char* scratch, std::size_t cap) noexcept {
  if (path.empty() || path.front() != '/' || !needs_normalizing(path)) {
    return path;
  }
  // scratch[0, n) holds "/seg" for each kept segment; each input segment is decoded after its
  // '/', then kept, dropped (empty, ".") or dropped with its predecessor ("..").
  std::size_t n = 0;
  std::size_t i = 1;
  for (;;) {
    std::size_t end = path.find('/', i);
    const bool last = end == std::string_view::npos;
    if (last) {
      end = path.size();
    }
    const std::size_t start = n;
    if (n >= cap) {
      return path;
    }
    scratch[n++] = '/';
    // A '%' that starts no escape is kept; an escape right after it is kept too when it would
    // decode to a hex digit, or the output could spell an escape a second pass would decode.
    // stray: 1 = the last byte out is such a '%', 2 = it is followed by one hex digit.
    int stray = 0;
    std::size_t k = i;
    while (k < end) {
      char c = path[k];
      std::size_t used = 1;
      int hi = -1;
      int lo = -1;
      if (c == '%' && k + 2 < end) {
        hi = hex_value(path[k + 1]);
        lo = hex_value(path[k + 2]);
      }
      if (c == '%' && hi >= 0 && lo >= 0) {
        used = 3;
        const char decoded = static_cast<char>(hi * 16 + lo);
        if (unreserved(decoded) && !(stray != 0 && hex_value(decoded) >= 0)) {
          c = decoded;
          used = 0;  // one byte out, below
        }
      }
      if (used == 3) {  // an escape kept as sent
        if (cap - n < 3) {
          return path;
        }
        scratch[n++] = path[k];
        scratch[n++] = path[k + 1];
        scratch[n++] = path[k + 2];
        stray = 0;
        k += 3;
        continue;
      }
      if (n >= cap) {
        return path;
      }
      scratch[n++] = c;
      if (used == 0) {
        k += 3;
        stray = (stray == 1 && hex_value(c) >= 0) ? 2 : 0;
      } else {
        k += 1;
        if (c == '%') {
          stray = 1;
        } else {
          stray = (stray == 1 && hex_value(c) >= 0) ? 2 : 0;
        }
      }
    }
    const std::string_view segment(scratch + start + 1, n - start - 1);
    bool dropped = false;
    if (segment.empty() || segment == ".") {
      n = start;
      dropped = true;
    } else if (segment == "..") {
      n = start;
      if (n > 0) {  // drop the previous segment too; scratch[0] is always '/'
        std::size_t p = n - 1;
        while (scratch[p] != '/') {
          --p;
        }
        n = p;
      }
      dropped = true;
    }
    if (last) {
      // "/a/", "/a/." and "/a/b/.." keep the trailing slash (RFC 3986 remove_dot_segments).
      if (dropped) {
        if (n >= cap) {
          return path;
        }
        scratch[n++] = '/';
      }
      break;
    }
    i = end + 1;
  }
  const std::string_view out(scratch, n);
  return out == path ? path : out;
}

std::string_view route_host(std::string_view host) noexcept {
  if (!host.empty() && host.front() == '[') {
    std::size_t close = host.find(']');
    if (close != std::string_view::npos) {
      return host.substr(0, close + 1);
    }
    return host;
  }
  std::size_t colon = host.find(':');
  if (colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (!host.empty() && host.back() == '.') {
    host.remove_suffix(1);
  }
  return host;
}

std::optional<std::string> check_path_regex(std::string_view pattern) {
  RE2 re(re2::StringPiece(pattern.data(), pattern.size()), regex_options());
  if (re.ok()) {
    return std::nullopt;
  }
  return re.error();
}

RouteTable::RouteTable() = default;
RouteTable::~RouteTable() = default;
RouteTable::RouteTable(RouteTable&&) noexcept = default;
RouteTable& RouteTable::operator=(RouteTable&&) noexcept = default;

RouteTable::RouteTable(std::vector<RouteConfig> routes) : routes_(std::move(routes)) {
  order_.reserve(routes_.size());
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    RouteConfig& r = routes_[i];
    for (char& c : r.match.host) {
      c = lower(c);
    }
    Entry e;
    e.index = static_cast<std::uint32_t>(i);
    e.has_host = !r.match.host.empty();
    for (http::Method m : r.match.methods) {
      e.method_mask |= method_bit(m);
    }
    if (!r.match.methods.empty() && e.method_mask == 0) {
      e.method_mask = 0x8000;  // only Other: never
    }
    if (!r.match.path.empty()) {
      e.kind = PathKind::Exact;
    } else if (!r.match.path_prefix.empty()) {
      e.kind = PathKind::Prefix;
    } else if (!r.match.path_regex.empty()) {
      e.kind = PathKind::Regex;
      e.regex = std::make_unique<RE2>(r.match.path_regex, regex_options());
    } else {
      e.kind = PathKind::Any;
    }
    order_.push_back(std::move(e));
  }
  std::stable_sort(order_.begin(), order_.end(), [this](const Entry& a, const Entry& b) {
    if (a.has_host != b.has_host) {
      return a.has_host;
    }
    if (a.kind != b.kind) {
      return a.kind < b.kind;
    }
    if (a.kind == PathKind::Prefix) {
      std::size_t la = routes_[a.index].match.path_prefix.size();
      std::size_t lb = routes_[b.index].match.path_prefix.size();
      if (la != lb) {
        return la > lb;
      }
    }
    bool ma = a.method_mask != 0;
    bool mb = b.method_mask != 0;
    if (ma != mb) {
      return ma;
    }
    return a.index < b.index;
  });
}

const RouteConfig* RouteTable::match(std::string_view host, http::Method method,
                                     std::string_view path) const noexcept {
  const std::string_view h = route_host(host);
  const std::uint16_t bit = method_bit(method);
  for (const Entry& e : order_) {
    const RouteConfig& r = routes_[e.index];
    if (e.has_host && !iequals_lower(h, r.match.host)) {
      continue;
    }
    if (e.method_mask != 0 && (e.method_mask & bit) == 0) {
      continue;
    }
    switch (e.kind) {
      case PathKind::Exact:
        if (path != r.match.path) {
          continue;
        }
        break;
      case PathKind::Prefix:
        if (!path.starts_with(r.match.path_prefix)) {
          continue;
        }
        break;
      case PathKind::Regex:
        if (!e.regex->ok() ||
            !RE2::FullMatch(re2::StringPiece(path.data(), path.size()), *e.regex)) {
          continue;
        }
        break;
      case PathKind::Any:
        break;
    }
    return &r;
  }
  return nullptr;
}

}  // namespace gh::policy
