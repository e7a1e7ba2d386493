// Compiled route matcher: picks the most specific route for a request without allocating.
//
// Order (first applicable rule decides, see docs/CONFIG.md):
//   1. a route whose host matches beats a route without a host;
//   2. exact `path` beats `path_prefix` (the longest prefix first) beats `path_regex` beats no
//   path;
//   3. a route that lists methods beats one that does not;
//   4. the route declared first wins.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message-t.h"
#include "http/path.h"
#include "policy/config-t.h"

namespace re2 {
class RE2;
}

namespace gh::policy {

class RouteTable {
 public:
  RouteTable();
  // Regexes are compiled here, never at match time. A route whose regex does not compile never
  // matches (the loader refuses such configs before this point).
  explicit RouteTable(std::vector<RouteConfig> routes, RoutingConfig routing = {});
  ~RouteTable();
  RouteTable(RouteTable&&) noexcept;
  RouteTable& operator=(RouteTable&&) noexcept;

  // `host` is the request's Host (any case; a ":port" suffix and one trailing dot are ignored);
  // `path` the canonical path (http::canonical_path with path_options(), so `/%73ignup`,
  // `/LOGIN` and `/x/..;/signup` meet the routes their applications give them; the path sent
  // upstream is not changed). An exact `path` also matches with one trailing slash added or
  // removed, as Express, Flask and Spring route `/login/` to `/login`. nullptr when nothing matches
  // (the proxy answers 404). Allocation-free in our code; RE2 may grow its lazy DFA cache within
  // its own memory budget.
  const RouteConfig* match(std::string_view host, http::Method method,
                           std::string_view path) const noexcept;

  // In declaration order.
  const std::vector<RouteConfig>& routes() const noexcept { return routes_; }
  std::size_t size() const noexcept { return routes_.size(); }

 private:
  enum class PathKind : std::uint8_t { Exact, Prefix, Regex, Any };
  struct Entry {
    std::uint32_t index = 0;        // into routes_
    std::uint16_t method_mask = 0;  // bit per http::Method; 0 = any
    PathKind kind = PathKind::Any;
    bool has_host = false;
    std::unique_ptr<re2::RE2> regex;
  };

  std::vector<RouteConfig> routes_;
  std::vector<Entry> order_;  // most specific first
  RoutingConfig routing_;
};

// nullopt when `pattern` compiles with the options the table uses, else RE2's error text.
std::optional<std::string> check_path_regex(std::string_view pattern);

// The Host value reduced to what routes compare: no ":port", no trailing dot (case is kept).
std::string_view route_host(std::string_view host) noexcept;

// How requests' paths are read (http::canonical_path) under `routing`.
http::PathOptions path_options(const RoutingConfig& routing) noexcept;

}  // namespace gh::policy
