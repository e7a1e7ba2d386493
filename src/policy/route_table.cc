#include "policy/route_table.h"

#include <re2/re2.h>

#include <algorithm>

#include "http/parser.h"

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

std::uint16_t method_bit(http::Method m) {
  return m == http::Method::Other ? 0 : static_cast<std::uint16_t>(1u << static_cast<unsigned>(m));
}

// "/login/" and "/login" are one route to most frameworks; "/" stays "/".
std::string_view without_trailing_slash(std::string_view p) {
  return p.size() > 1 && p.back() == '/' ? p.substr(0, p.size() - 1) : p;
}

}  // namespace

http::PathOptions path_options(const RoutingConfig& routing) noexcept {
  http::PathOptions o;
  o.fold_case = !routing.case_sensitive;
  o.keep_encoded_slashes = routing.keep_encoded_slashes;
  return o;
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

RouteTable::RouteTable(std::vector<RouteConfig> routes, RoutingConfig routing)
    : routes_(std::move(routes)), routing_(routing) {
  order_.reserve(routes_.size());
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    RouteConfig& r = routes_[i];
    for (char& c : r.match.host) {
      c = lower(c);
    }
    if (!routing_.case_sensitive) {
      // Requests' paths arrive lowercased (canonical_path), so the patterns are too.
      for (std::string* p : {&r.match.path, &r.match.path_prefix}) {
        for (char& c : *p) c = lower(c);
      }
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
      RE2::Options options = regex_options();
      options.set_case_sensitive(routing_.case_sensitive);
      e.regex = std::make_unique<RE2>(r.match.path_regex, options);
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
    if (e.has_host && !http::iequals(h, r.match.host)) {
      continue;
    }
    if (e.method_mask != 0 && (e.method_mask & bit) == 0) {
      continue;
    }
    switch (e.kind) {
      case PathKind::Exact:
        if (without_trailing_slash(path) != without_trailing_slash(r.match.path)) {
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
