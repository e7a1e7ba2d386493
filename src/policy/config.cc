#include "policy/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <sstream>
#include <system_error>
#include <unordered_set>

#include "client/address.h"
#include "policy/route_table.h"

namespace gh::policy {
namespace {

constexpr std::uint64_t kKiB = 1024;
constexpr std::uint64_t kMiB = 1024 * kKiB;
constexpr std::uint64_t kGiB = 1024 * kMiB;
constexpr std::uint64_t kSecond = 1000;
constexpr std::uint64_t kMinute = 60 * kSecond;
constexpr std::uint64_t kHour = 60 * kMinute;
constexpr std::uint64_t kMaxTimeout = 24 * kHour;

constexpr std::size_t kMaxListeners = 64;
constexpr std::size_t kMaxTrustedProxies = 1024;
constexpr std::size_t kMaxUpstreams = 256;
constexpr std::size_t kMaxServers = 256;
constexpr std::size_t kMaxRoutes = 1024;
constexpr std::size_t kMaxRegexBytes = 1024;

constexpr std::string_view kTopKeys[] = {"server", "listen",    "admin", "clients",
                                         "limits", "upstreams", "routes"};
constexpr std::string_view kServerKeys[] = {"workers"};
constexpr std::string_view kListenKeys[] = {"address", "proxy_protocol"};
constexpr std::string_view kAdminKeys[] = {"address", "token_file", "enabled"};
constexpr std::string_view kClientsKeys[] = {"trusted_proxies", "ipv4_prefix", "ipv6_prefix"};
constexpr std::string_view kLimitsKeys[] = {
    "max_head_size",   "max_header_fields",          "max_target_size",   "max_body_size",
    "head_timeout",    "body_idle_timeout",          "keepalive_timeout", "send_timeout",
    "max_connections", "max_connections_per_client", "shutdown_grace"};
constexpr std::string_view kUpstreamKeys[] = {
    "servers",          "max_connections",    "max_idle_connections",
    "connect_timeout",  "first_byte_timeout", "idle_timeout",
    "keepalive_timeout"};
constexpr std::string_view kRouteKeys[] = {"name", "match", "class", "upstream", "max_body_size"};
constexpr std::string_view kMatchKeys[] = {"host", "methods", "path", "path_prefix", "path_regex"};
constexpr std::string_view kClassNames[] = {"login", "signup", "api", "static", "other"};
constexpr RouteClass kClasses[] = {RouteClass::Login, RouteClass::Signup, RouteClass::Api,
                                   RouteClass::Static, RouteClass::Other};
constexpr std::string_view kMethodNames[] = {"GET",     "HEAD",  "POST",  "PUT",    "DELETE",
                                             "OPTIONS", "PATCH", "TRACE", "CONNECT"};
constexpr http::Method kMethods[] = {
    http::Method::Get,   http::Method::Head,   http::Method::Post,
    http::Method::Put,   http::Method::Delete, http::Method::Options,
    http::Method::Patch, http::Method::Trace,  http::Method::Connect};

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  if (a.size() > 64 || b.size() > 64) {
    return std::numeric_limits<std::size_t>::max();
  }
  std::size_t row[65] = {};
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + cost});
      diag = up;
    }
  }
  return row[b.size()];
}

// " (did you mean 'x'?)" for the closest candidate within a couple of edits, else "".
std::string suggest(std::string_view word, std::span<const std::string_view> candidates) {
  std::string_view best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (std::string_view c : candidates) {
    std::size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  std::size_t allowed = best.size() <= 4 ? 1 : 2;
  if (best.empty() || best_distance > allowed) {
    return "";
  }
  return " (did you mean '" + std::string(best) + "'?)";
}

std::string quote(std::string_view s) {
  constexpr std::size_t kMax = 80;  // keep messages one line even for pasted junk
  std::string out = "'";
  for (char c : s.substr(0, kMax)) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
  if (s.size() > kMax) {
    out += "...";
  }
  out += "'";
  return out;
}

std::string format_size(std::uint64_t n) {
  if (n != 0 && n % kGiB == 0) {
    return std::to_string(n / kGiB) + "GiB";
  }
  if (n != 0 && n % kMiB == 0) {
    return std::to_string(n / kMiB) + "MiB";
  }
  if (n != 0 && n % kKiB == 0) {
    return std::to_string(n / kKiB) + "KiB";
  }
  return std::to_string(n) + "B";
}

std::string format_duration(std::uint64_t ms) {
  if (ms != 0 && ms % kHour == 0) {
    return std::to_string(ms / kHour) + "h";
  }
  if (ms != 0 && ms % kMinute == 0) {
    return std::to_string(ms / kMinute) + "m";
  }
  if (ms != 0 && ms % kSecond == 0) {
    return std::to_string(ms / kSecond) + "s";
  }
  return std::to_string(ms) + "ms";
}

// Leading decimal digits of `s` as a number; nullopt on no digits or overflow.
std::optional<std::uint64_t> leading_number(std::string_view s, std::size_t& digits) {
  digits = 0;
  std::uint64_t value = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') {
    unsigned d = unsigned(s[digits] - '0');
    if (value > (std::numeric_limits<std::uint64_t>::max() - d) / 10) {
      return std::nullopt;
    }
    value = value * 10 + d;
    ++digits;
  }
  if (digits == 0) {
    return std::nullopt;
  }
  return value;
}

std::optional<std::uint64_t> parse_integer(std::string_view s) {
  std::size_t digits = 0;
  auto v = leading_number(s, digits);
  if (!v || digits != s.size()) {
    return std::nullopt;
  }
  return v;
}

std::optional<std::uint64_t> parse_size(std::string_view text, std::string& why) {
  std::size_t digits = 0;
  auto n = leading_number(text, digits);
  std::string_view unit = text.substr(digits);
  while (!unit.empty() && unit.front() == ' ') {
    unit.remove_prefix(1);
  }
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "B") {
    scale = 1;
  } else if (unit == "KiB") {
    scale = kKiB;
  } else if (unit == "MiB") {
    scale = kMiB;
  } else if (unit == "GiB") {
    scale = kGiB;
  }
  if (digits == 0 || scale == 0) {
    why = "invalid size " + quote(text) +
          ": use bytes or a whole number with B, KiB, MiB or GiB (1KiB = 1024 bytes)";
    // Decimal and shorthand units are refused rather than guessed: name the IEC one meant.
    std::string u;
    for (char c : unit) {
      u += lower(c);
    }
    if (digits > 0 && (u == "k" || u == "kb" || u == "kib")) {
      why += " (did you mean 'KiB'?)";
    }
    if (digits > 0 && (u == "m" || u == "mb" || u == "mib")) {
      why += " (did you mean 'MiB'?)";
    }
    if (digits > 0 && (u == "g" || u == "gb" || u == "gib")) {
      why += " (did you mean 'GiB'?)";
    }
    return std::nullopt;
  }
  if (!n || *n > std::numeric_limits<std::uint64_t>::max() / scale) {
    why = "size " + quote(text) + " is too large";
    return std::nullopt;
  }
  return *n * scale;
}

std::optional<std::uint64_t> parse_duration(std::string_view text, std::string& why) {
  std::size_t digits = 0;
  auto n = leading_number(text, digits);
  std::string_view unit = text.substr(digits);
  std::uint64_t scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = kSecond;
  } else if (unit == "m") {
    scale = kMinute;
  } else if (unit == "h") {
    scale = kHour;
  }
  if (digits > 0 && unit.empty()) {
    why = "invalid duration " + quote(text) + ": add a unit (ms, s, m, h)";
    return std::nullopt;
  }
  if (digits == 0 || scale == 0) {
    why = "invalid duration " + quote(text) +
          ": use a whole number with ms, s, m or h (e.g. 500ms, 10s, 2m)";
    return std::nullopt;
  }
  if (!n || *n > std::numeric_limits<std::uint64_t>::max() / scale) {
    why = "duration " + quote(text) + " is too large";
    return std::nullopt;
  }
  return *n * scale;
}

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64) {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

// A Host to match: a DNS name (letters, digits, '-', '_', '.') or a bracketed IPv6 literal, no
// port.
bool valid_host(std::string_view host) {
  if (host.empty() || host.size() > 253) {
    return false;
  }
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 4) {
      return false;
    }
    std::string_view inner = host.substr(1, host.size() - 2);
    return inner.find(':') != std::string_view::npos && client::parse_ip(inner).has_value();
  }
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return host.front() != '.' && host.find("..") == std::string_view::npos;
}

// Printable ASCII without space, '?' or '#': a path as the parser hands it to the router.
bool valid_path(std::string_view path) {
  if (path.empty() || path.front() != '/') {
    return false;
  }
  for (char c : path) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '?' || c == '#') {
      return false;
    }
  }
  return true;
}

const char* type_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "nothing";
    default:
      return "a value";
  }
}

// YAML::Node's operator= writes into the document instead of rebinding, so Fields are never
// assigned (no sorting or partitioning of them).
struct Field {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;

  Field(std::string k, const YAML::Node& kn, const YAML::Node& v)
      : key(std::move(k)), key_node(kn), value(v) {}
  Field(const Field&) = default;
  Field& operator=(const Field&) = delete;
};

// Counts documents without building them. yaml-cpp 0.7 never consumes a stray flow token at the
// document level ("," or "[a],"): LoadAll() then loops forever, each pass starting a new empty
// document at the same position. Such a repeat is reported as a syntax error instead.
struct DocumentScan {
  int documents = 0;
  bool stuck = false;
  YAML::Mark second;  // where the second document (or the stuck token) starts
};

class DocumentCounter : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

DocumentScan scan_documents(const std::string& text) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentCounter counter;
  while (counter.starts.size() < 3 && parser.HandleNextDocument(counter)) {
  }
  DocumentScan scan;
  scan.documents = static_cast<int>(counter.starts.size());
  if (scan.documents >= 2) {
    scan.second = counter.starts[1];
    for (std::size_t i = 1; i < counter.starts.size(); ++i) {
      if (counter.starts[i].pos == counter.starts[i - 1].pos) {
        scan.stuck = true;
        scan.second = counter.starts[i];
        break;
      }
    }
  }
  return scan;
}

class Loader {
 public:
  Loader(std::string file, std::string source_path) : file_(std::move(file)) {
    config_.source_path = std::move(source_path);
  }

  LoadResult run(std::string_view yaml);

 private:
  SourceMark mark(const YAML::Mark& m) const {
    if (m.line < 0) {
      return SourceMark{file_, 1, 1};  // yaml-cpp's null mark: an empty document
    }
    return SourceMark{file_, m.line + 1, m.column + 1};
  }
  SourceMark key_mark(const Field& f) const { return mark(f.key_node.Mark()); }
  // An empty value ("key:") carries the position of whatever follows it: point at the key.
  SourceMark value_mark(const Field& f) const {
    return f.value.IsNull() ? key_mark(f) : mark(f.value.Mark());
  }

  SourceMark mark_of(const std::string& path, const SourceMark& fallback) const {
    auto it = marks_.find(path);
    return it != marks_.end() ? it->second : fallback;
  }

  void error(const SourceMark& at, std::string message) {
    if (errors_.size() == kMaxConfigErrors) {
      errors_.push_back(ConfigError{at, "too many errors; stopping here"});
    }
    if (errors_.size() > kMaxConfigErrors) {
      return;
    }
    errors_.push_back(ConfigError{at, std::move(message)});
  }

  std::vector<Field> fields(const YAML::Node& map, std::span<const std::string_view> known,
                            const std::string& section);
  // A section that must be a map; a null value counts as an empty map.
  bool section_map(const Field& f, const std::string& path);
  std::optional<std::string> scalar(const Field& f, const std::string& path);
  std::optional<std::string> scalar_node(const YAML::Node& n, const SourceMark& at,
                                         const std::string& path);

  void read_bool(const Field& f, const std::string& path, bool& out);
  template <class T>
  void read_uint(const Field& f, const std::string& path, std::uint64_t lo, std::uint64_t hi,
                 T& out);
  template <class T>
  void read_size(const Field& f, const std::string& path, std::uint64_t lo, std::uint64_t hi,
                 T& out);
  void read_duration(const Field& f, const std::string& path, std::uint64_t lo, std::uint64_t hi,
                     Millis& out);
  bool read_socket_address(const YAML::Node& n, const SourceMark& at, const std::string& path,
                           bool allow_port0, client::SocketAddress& out);

  void load_root(const YAML::Node& root);
  void load_server(const Field& f);
  void load_listen(const Field& f);
  void load_admin(const Field& f);
  void load_clients(const Field& f);
  void load_limits(const Field& f);
  void load_upstreams(const Field& f);
  void load_upstream(const std::string& name, const YAML::Node& node, const SourceMark& at);
  void load_routes(const Field& f);
  void load_route(const YAML::Node& node, std::size_t i);
  void load_match(const Field& f, const std::string& path, RouteConfig& route);
  void finish(const SourceMark& root_mark, bool routes_given);

  std::string file_;
  Config config_;
  std::vector<ConfigError> errors_;
  std::map<std::string, SourceMark> marks_;  // value position by path, for cross-field checks
  std::vector<SourceMark> route_upstream_marks_;
  SourceMark upstreams_mark_;
};

std::vector<Field> Loader::fields(const YAML::Node& map, std::span<const std::string_view> known,
                                  const std::string& section) {
  std::vector<Field> out;
  std::unordered_set<std::string> seen;  // a hostile file may hold thousands of keys
  const std::string where = section.empty() ? "at top level" : "in " + section;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node k = it->first;
    if (!k.IsScalar()) {
      error(mark(k.Mark()), "keys must be plain names " + where);
      continue;
    }
    std::string key = k.Scalar();
    if (!seen.insert(key).second) {
      error(mark(k.Mark()), "duplicate key " + quote(key) + " " + where);
      continue;
    }
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      error(mark(k.Mark()), "unknown key " + quote(key) + " " + where + suggest(key, known));
      continue;
    }
    const YAML::Node v = it->second;
    out.push_back(Field{std::move(key), k, v});
  }
  return out;
}

bool Loader::section_map(const Field& f, const std::string& path) {
  if (f.value.IsNull()) {
    return false;
  }
  if (!f.value.IsMap()) {
    error(value_mark(f), path + ": expected a map, got " + type_name(f.value));
    return false;
  }
  return true;
}

std::optional<std::string> Loader::scalar_node(const YAML::Node& n, const SourceMark& at,
                                               const std::string& path) {
  if (n.IsNull()) {
    error(at, path + ": missing value");
    return std::nullopt;
  }
  if (!n.IsScalar()) {
    error(at, path + ": expected a single value, got " + type_name(n));
    return std::nullopt;
  }
  marks_[path] = at;
  return n.Scalar();
}

std::optional<std::string> Loader::scalar(const Field& f, const std::string& path) {
  return scalar_node(f.value, value_mark(f), path);
}

void Loader::read_bool(const Field& f, const std::string& path, bool& out) {
  auto text = scalar(f, path);
  if (!text) {
    return;
  }
  if (*text == "true" || *text == "True" || *text == "TRUE") {
    out = true;
  } else if (*text == "false" || *text == "False" || *text == "FALSE") {
    out = false;
  } else {
    error(value_mark(f), path + ": expected true or false, got " + quote(*text));
  }
}

template <class T>
void Loader::read_uint(const Field& f, const std::string& path, std::uint64_t lo, std::uint64_t hi,
                       T& out) {
  auto text = scalar(f, path);
  if (!text) {
    return;
  }
  auto n = parse_integer(*text);
  if (!n) {
    error(value_mark(f), path + ": expected a whole number, got " + quote(*text));
  } else if (*n < lo || *n > hi) {
    error(value_mark(f), path + ": must be between " + std::to_string(lo) + " and " +
                             std::to_string(hi) + ", got " + *text);
  } else {
    out = static_cast<T>(*n);
  }
}

template <class T>
void Loader::read_size(const Field& f, const std::string& path, std::uint64_t lo, std::uint64_t hi,
                       T& out) {
  auto text = scalar(f, path);
  if (!text) {
    return;
  }
  std::string why;
  auto n = parse_size(*text, why);
  if (!n) {
    error(value_mark(f), path + ": " + why);
  } else if (*n < lo || *n > hi) {
    error(value_mark(f), path + ": must be between " + format_size(lo) + " and " + format_size(hi) +
                             ", got " + *text);
  } else {
    out = static_cast<T>(*n);
  }
}

void Loader::read_duration(const Field& f, const std::string& path, std::uint64_t lo,
                           std::uint64_t hi, Millis& out) {
  auto text = scalar(f, path);
  if (!text) {
    return;
  }
  std::string why;
  auto n = parse_duration(*text, why);
  if (!n) {
    error(value_mark(f), path + ": " + why);
  } else if (*n < lo || *n > hi) {
    error(value_mark(f), path + ": must be between " + format_duration(lo) + " and " +
                             format_duration(hi) + ", got " + *text);
  } else {
    out = static_cast<Millis>(*n);
  }
}

bool Loader::read_socket_address(const YAML::Node& n, const SourceMark& at, const std::string& path,
                                 bool allow_port0, client::SocketAddress& out) {
  auto text = scalar_node(n, at, path);
  if (!text) {
    return false;
  }
  auto addr = client::parse_socket_address(*text);
  if (!addr) {
    error(at, path + ": invalid address " + quote(*text) +
                  ": expected IPv4:port, [IPv6]:port or localhost:port");
    return false;
  }
  if (!allow_port0 && addr->port == 0) {
    error(at, path + ": port 0 is not allowed here");
    return false;
  }
  out = *addr;
  return true;
}

void Loader::load_server(const Field& f) {
  if (!section_map(f, "server")) {
    return;
  }
  for (const Field& e : fields(f.value, kServerKeys, "server")) {
    if (e.key == "workers") {
      read_uint(e, "server.workers", 0, 256, config_.server.workers);
    }
  }
}

void Loader::load_listen(const Field& f) {
  if (f.value.IsNull() || (f.value.IsSequence() && f.value.size() == 0)) {
    error(key_mark(f), "listen: at least one listener is required");
    return;
  }
  if (!f.value.IsSequence()) {
    error(value_mark(f),
          std::string("listen: expected a list of listeners, got ") + type_name(f.value));
    return;
  }
  if (f.value.size() > kMaxListeners) {
    error(value_mark(f), "listen: at most " + std::to_string(kMaxListeners) + " listeners");
    return;
  }
  std::size_t i = 0;
  for (const YAML::Node& item : f.value) {
    const std::string path = "listen[" + std::to_string(i++) + "]";
    const SourceMark at = mark(item.Mark());
    if (!item.IsMap()) {
      error(at, path + ": expected a map with 'address', got " + type_name(item));
      continue;
    }
    ListenConfig listen;
    listen.mark = at;
    bool has_address = false;
    bool address_ok = false;
    SourceMark address_mark = at;
    for (const Field& e : fields(item, kListenKeys, path)) {
      if (e.key == "address") {
        has_address = true;
        address_mark = value_mark(e);
        address_ok =
            read_socket_address(e.value, address_mark, path + ".address", true, listen.address);
      } else if (e.key == "proxy_protocol") {
        read_bool(e, path + ".proxy_protocol", listen.proxy_protocol);
      }
    }
    if (!has_address) {
      error(at, path + ": missing required key 'address'");
    }
    if (address_ok) {
      for (std::size_t j = 0; j < config_.listen.size(); ++j) {
        if (config_.listen[j].address == listen.address && config_.listen[j].address.port != 0) {
          error(address_mark, path + ".address: " + client::format_socket_address(listen.address) +
                                  " is already used by listen[" + std::to_string(j) + "]");
        }
      }
    }
    config_.listen.push_back(std::move(listen));
  }
}

void Loader::load_admin(const Field& f) {
  if (!section_map(f, "admin")) {
    return;
  }
  for (const Field& e : fields(f.value, kAdminKeys, "admin")) {
    if (e.key == "address") {
      read_socket_address(e.value, value_mark(e), "admin.address", true, config_.admin.address);
    } else if (e.key == "token_file") {
      if (auto text = scalar(e, "admin.token_file")) {
        if (text->empty()) {
          error(value_mark(e),
                "admin.token_file: must not be empty (leave the key out to disable admin changes)");
        } else {
          config_.admin.token_file = *text;
        }
      }
    } else if (e.key == "enabled") {
      read_bool(e, "admin.enabled", config_.admin.enabled);
    }
  }
}

void Loader::load_clients(const Field& f) {
  if (!section_map(f, "clients")) {
    return;
  }
  for (const Field& e : fields(f.value, kClientsKeys, "clients")) {
    if (e.key == "ipv4_prefix") {
      read_uint(e, "clients.ipv4_prefix", 8, 32, config_.clients.ipv4_prefix);
    } else if (e.key == "ipv6_prefix") {
      read_uint(e, "clients.ipv6_prefix", 16, 128, config_.clients.ipv6_prefix);
    } else if (e.key == "trusted_proxies") {
      if (e.value.IsNull()) {
        continue;
      }
      if (!e.value.IsSequence()) {
        error(value_mark(e),
              std::string("clients.trusted_proxies: expected a list of addresses or CIDRs, got ") +
                  type_name(e.value));
        continue;
      }
      if (e.value.size() > kMaxTrustedProxies) {
        error(value_mark(e), "clients.trusted_proxies: at most " +
                                 std::to_string(kMaxTrustedProxies) + " entries");
        continue;
      }
      std::size_t i = 0;
      for (const YAML::Node& item : e.value) {
        const std::string path = "clients.trusted_proxies[" + std::to_string(i++) + "]";
        const SourceMark at = mark(item.Mark());
        auto text = scalar_node(item, at, path);
        if (!text) {
          continue;
        }
        auto cidr = client::parse_cidr(*text);
        if (!cidr) {
          error(at, path + ": invalid address or CIDR " + quote(*text));
          continue;
        }
        config_.clients.trusted_proxies.push_back(*cidr);
      }
    }
  }
}

void Loader::load_limits(const Field& f) {
  if (!section_map(f, "limits")) {
    return;
  }
  LimitsConfig& l = config_.limits;
  for (const Field& e : fields(f.value, kLimitsKeys, "limits")) {
    const std::string path = "limits." + e.key;
    if (e.key == "max_head_size") {
      read_size(e, path, kKiB, kMiB, l.max_head_bytes);
    } else if (e.key == "max_header_fields") {
      read_uint(e, path, 1, http::kMaxHeaderFields, l.max_header_fields);
    } else if (e.key == "max_target_size") {
      read_size(e, path, 64, kMiB, l.max_target_bytes);
    } else if (e.key == "max_body_size") {
      read_size(e, path, 0, 16 * kGiB, l.max_body_bytes);
    } else if (e.key == "head_timeout") {
      read_duration(e, path, 1, kMaxTimeout, l.head_timeout);
    } else if (e.key == "body_idle_timeout") {
      read_duration(e, path, 1, kMaxTimeout, l.body_idle_timeout);
    } else if (e.key == "keepalive_timeout") {
      read_duration(e, path, 1, kMaxTimeout, l.keepalive_timeout);
    } else if (e.key == "send_timeout") {
      read_duration(e, path, 1, kMaxTimeout, l.send_timeout);
    } else if (e.key == "max_connections") {
      read_uint(e, path, 1, 10'000'000, l.max_connections);
    } else if (e.key == "max_connections_per_client") {
      read_uint(e, path, 1, 10'000'000, l.max_connections_per_client);
    } else if (e.key == "shutdown_grace") {
      read_duration(e, path, 0, kMaxTimeout, l.shutdown_grace);
    }
  }
  const SourceMark section = key_mark(f);
  if (l.max_target_bytes > l.max_head_bytes) {
    error(mark_of("limits.max_target_size", mark_of("limits.max_head_size", section)),
          "limits.max_target_size (" + format_size(l.max_target_bytes) +
              ") must not exceed max_head_size (" + format_size(l.max_head_bytes) + ")");
  }
  if (l.max_connections_per_client > l.max_connections) {
    error(mark_of("limits.max_connections_per_client", mark_of("limits.max_connections", section)),
          "limits.max_connections_per_client (" + std::to_string(l.max_connections_per_client) +
              ") must not exceed max_connections (" + std::to_string(l.max_connections) + ")");
  }
}

void Loader::load_upstreams(const Field& f) {
  upstreams_mark_ = key_mark(f);
  if (f.value.IsNull() || (f.value.IsMap() && f.value.size() == 0)) {
    error(key_mark(f), "upstreams: at least one upstream is required");
    return;
  }
  if (!f.value.IsMap()) {
    error(value_mark(f),
          std::string("upstreams: expected a map of name to upstream, got ") + type_name(f.value));
    return;
  }
  if (f.value.size() > kMaxUpstreams) {
    error(value_mark(f), "upstreams: at most " + std::to_string(kMaxUpstreams) + " upstreams");
    return;
  }
  for (auto it = f.value.begin(); it != f.value.end(); ++it) {
    const YAML::Node key = it->first;
    const YAML::Node value = it->second;
    const SourceMark at = mark(key.Mark());
    if (!key.IsScalar()) {
      error(at, "upstreams: names must be plain strings");
      continue;
    }
    const std::string& name = key.Scalar();
    if (!valid_name(name)) {
      error(at, "upstreams: invalid name " + quote(name) +
                    ": use 1-64 letters, digits, '_', '-' or '.'");
      continue;
    }
    bool duplicate = std::any_of(config_.upstreams.begin(), config_.upstreams.end(),
                                 [&](const UpstreamConfig& u) { return u.name == name; });
    if (duplicate) {
      error(at, "upstreams: duplicate upstream " + quote(name));
      continue;
    }
    load_upstream(name, value, at);
  }
}

void Loader::load_upstream(const std::string& name, const YAML::Node& node, const SourceMark& at) {
  const std::string path = "upstreams." + name;
  UpstreamConfig u;
  u.name = name;
  u.mark = at;
  if (!node.IsMap()) {
    error(node.IsNull() ? at : mark(node.Mark()),
          path + ": expected a map with 'servers', got " + type_name(node));
    config_.upstreams.push_back(std::move(u));
    return;
  }
  bool has_servers = false;
  for (const Field& e : fields(node, kUpstreamKeys, path)) {
    const std::string key_path = path + "." + e.key;
    if (e.key == "servers") {
      has_servers = true;
      if (e.value.IsNull() || (e.value.IsSequence() && e.value.size() == 0)) {
        error(value_mark(e), key_path + ": at least one server is required");
        continue;
      }
      if (!e.value.IsSequence()) {
        error(value_mark(e),
              key_path + ": expected a list of addresses, got " + type_name(e.value));
        continue;
      }
      if (e.value.size() > kMaxServers) {
        error(value_mark(e), key_path + ": at most " + std::to_string(kMaxServers) + " servers");
        continue;
      }
      std::size_t i = 0;
      for (const YAML::Node& item : e.value) {
        const std::string item_path = key_path + "[" + std::to_string(i++) + "]";
        const SourceMark item_mark = mark(item.Mark());
        client::SocketAddress addr;
        if (!read_socket_address(item, item_mark, item_path, false, addr)) {
          continue;
        }
        if (std::find(u.servers.begin(), u.servers.end(), addr) != u.servers.end()) {
          error(item_mark, item_path + ": duplicate server " + client::format_socket_address(addr));
          continue;
        }
        u.servers.push_back(addr);
      }
    } else if (e.key == "max_connections") {
      read_uint(e, key_path, 1, 100'000, u.max_connections);
    } else if (e.key == "max_idle_connections") {
      read_uint(e, key_path, 0, 100'000, u.max_idle_connections);
    } else if (e.key == "connect_timeout") {
      read_duration(e, key_path, 1, kMaxTimeout, u.connect_timeout);
    } else if (e.key == "first_byte_timeout") {
      read_duration(e, key_path, 1, kMaxTimeout, u.first_byte_timeout);
    } else if (e.key == "idle_timeout") {
      read_duration(e, key_path, 1, kMaxTimeout, u.idle_timeout);
    } else if (e.key == "keepalive_timeout") {
      read_duration(e, key_path, 1, kMaxTimeout, u.keepalive_timeout);
    }
  }
  if (!has_servers) {
    error(at, path + ": missing required key 'servers'");
  }
  if (u.max_idle_connections > u.max_connections) {
    error(mark_of(path + ".max_idle_connections", mark_of(path + ".max_connections", at)),
          path + ".max_idle_connections (" + std::to_string(u.max_idle_connections) +
              ") must not exceed max_connections (" + std::to_string(u.max_connections) + ")");
  }
  config_.upstreams.push_back(std::move(u));
}

void Loader::load_routes(const Field& f) {
  if (f.value.IsNull()) {
    return;
  }
  if (!f.value.IsSequence()) {
    error(value_mark(f),
          std::string("routes: expected a list of routes, got ") + type_name(f.value));
    return;
  }
  if (f.value.size() > kMaxRoutes) {
    error(value_mark(f), "routes: at most " + std::to_string(kMaxRoutes) + " routes");
    return;
  }
  std::size_t i = 0;
  for (const YAML::Node& item : f.value) {
    load_route(item, i++);
  }
}

void Loader::load_route(const YAML::Node& node, std::size_t i) {
  const std::string path = "routes[" + std::to_string(i) + "]";
  RouteConfig route;
  route.mark = mark(node.Mark());
  SourceMark upstream_mark = route.mark;
  if (!node.IsMap()) {
    error(route.mark, path + ": expected a map with 'name', got " + type_name(node));
    return;
  }
  bool has_name = false;
  for (const Field& e : fields(node, kRouteKeys, path)) {
    const std::string key_path = path + "." + e.key;
    if (e.key == "name") {
      has_name = true;
      auto text = scalar(e, key_path);
      if (!text) {
        continue;
      }
      if (!valid_name(*text)) {
        error(value_mark(e), key_path + ": invalid name " + quote(*text) +
                                 ": use 1-64 letters, digits, '_', '-' or '.'");
        continue;
      }
      for (std::size_t j = 0; j < config_.routes.size(); ++j) {
        if (config_.routes[j].name == *text) {
          error(value_mark(e), key_path + ": duplicate route name " + quote(*text) +
                                   " (first at line " +
                                   std::to_string(config_.routes[j].mark.line) + ")");
        }
      }
      route.name = *text;
    } else if (e.key == "match") {
      load_match(e, key_path, route);
    } else if (e.key == "class") {
      auto text = scalar(e, key_path);
      if (!text) {
        continue;
      }
      auto it = std::find(std::begin(kClassNames), std::end(kClassNames), *text);
      if (it == std::end(kClassNames)) {
        error(value_mark(e), key_path + ": unknown class " + quote(*text) +
                                 ": use login, signup, api, static or other" +
                                 suggest(*text, kClassNames));
        continue;
      }
      route.route_class = kClasses[it - std::begin(kClassNames)];
    } else if (e.key == "upstream") {
      auto text = scalar(e, key_path);
      if (!text) {
        continue;
      }
      route.upstream = *text;
      upstream_mark = value_mark(e);
      if (text->empty()) {
        error(upstream_mark, key_path + ": must not be empty");
      }
    } else if (e.key == "max_body_size") {
      read_size(e, key_path, 1, 16 * kGiB, route.max_body_bytes);
    }
  }
  if (!has_name) {
    error(route.mark, path + ": missing required key 'name'");
  }
  config_.routes.push_back(std::move(route));
  route_upstream_marks_.push_back(upstream_mark);
}

void Loader::load_match(const Field& f, const std::string& path, RouteConfig& route) {
  if (!section_map(f, path)) {
    return;
  }
  RouteMatch& m = route.match;
  int path_kinds = 0;
  for (const Field& e : fields(f.value, kMatchKeys, path)) {
    const std::string key_path = path + "." + e.key;
    if (e.key == "methods") {
      if (!e.value.IsSequence()) {
        error(value_mark(e), key_path + ": expected a list of methods, got " + type_name(e.value));
        continue;
      }
      if (e.value.size() == 0) {
        error(value_mark(e),
              key_path + ": an empty list matches nothing; leave the key out to match any method");
        continue;
      }
      if (e.value.size() > 64) {
        error(value_mark(e), key_path + ": too many methods");
        continue;
      }
      std::size_t i = 0;
      for (const YAML::Node& item : e.value) {
        const std::string item_path = key_path + "[" + std::to_string(i++) + "]";
        const SourceMark at = mark(item.Mark());
        auto text = scalar_node(item, at, item_path);
        if (!text) {
          continue;
        }
        auto it = std::find(std::begin(kMethodNames), std::end(kMethodNames), *text);
        if (it == std::end(kMethodNames)) {
          error(at, item_path + ": unknown method " + quote(*text) + suggest(*text, kMethodNames));
          continue;
        }
        http::Method method = kMethods[it - std::begin(kMethodNames)];
        if (std::find(m.methods.begin(), m.methods.end(), method) != m.methods.end()) {
          error(at, item_path + ": duplicate method " + quote(*text));
          continue;
        }
        m.methods.push_back(method);
      }
      continue;
    }
    auto text = scalar(e, key_path);
    if (!text) {
      continue;
    }
    const SourceMark at = value_mark(e);
    if (e.key == "host") {
      std::string host = *text;
      for (char& c : host) {
        c = lower(c);
      }
      if (!host.empty() && host.front() != '[' && host.back() == '.') {
        host.pop_back();
      }
      if (!valid_host(host)) {
        std::string why = host.find(':') != std::string::npos && host.front() != '['
                              ? ": leave out the port (the request's port is ignored)"
                              : ": expected a host name or [IPv6] literal";
        error(at, key_path + ": invalid host " + quote(*text) + why);
        continue;
      }
      m.host = host;
    } else if (e.key == "path" || e.key == "path_prefix") {
      ++path_kinds;
      if (!valid_path(*text)) {
        error(at, key_path +
                      ": must start with '/' and hold no spaces, control characters, '?' or '#'");
        continue;
      }
      (e.key == "path" ? m.path : m.path_prefix) = *text;
    } else if (e.key == "path_regex") {
      ++path_kinds;
      if (text->empty() || text->size() > kMaxRegexBytes) {
        error(at, key_path + ": must be 1 to " + std::to_string(kMaxRegexBytes) + " characters");
        continue;
      }
      if (auto why = check_path_regex(*text)) {
        error(at, key_path + ": invalid regex: " + *why);
        continue;
      }
      m.path_regex = *text;
    }
  }
  if (path_kinds > 1) {
    error(value_mark(f), path + ": set only one of path, path_prefix, path_regex");
  }
}

void Loader::finish(const SourceMark& root_mark, bool routes_given) {
  const auto& ups = config_.upstreams;
  std::vector<std::string_view> names;
  for (const UpstreamConfig& u : ups) {
    names.push_back(u.name);
  }
  if (!routes_given) {
    if (ups.size() == 1) {
      RouteConfig route;
      route.name = "default";
      route.upstream = ups[0].name;
      route.mark = ups[0].mark;
      config_.routes.push_back(std::move(route));
    } else if (ups.size() > 1) {
      error(upstreams_mark_, "routes: required when there is more than one upstream");
    }
    return;
  }
  for (std::size_t i = 0; i < config_.routes.size() && i < route_upstream_marks_.size(); ++i) {
    RouteConfig& r = config_.routes[i];
    const std::string path = "routes[" + std::to_string(i) + "]";
    if (r.upstream.empty()) {
      if (ups.size() == 1) {
        r.upstream = ups[0].name;
        r.upstream_index = 0;
      } else if (ups.size() > 1) {
        error(r.mark,
              path + ": missing 'upstream' (required when there is more than one upstream)");
      }
      continue;
    }
    auto it = std::find(names.begin(), names.end(), r.upstream);
    if (it == names.end()) {
      if (!ups.empty()) {
        error(route_upstream_marks_[i], path + ".upstream: unknown upstream " + quote(r.upstream) +
                                            suggest(r.upstream, names));
      }
      continue;
    }
    r.upstream_index = static_cast<std::size_t>(it - names.begin());
  }
}

void Loader::load_root(const YAML::Node& root) {
  const SourceMark root_mark = mark(root.Mark());
  if (root.IsNull()) {
    error(root_mark, "empty configuration: 'listen' and 'upstreams' are required");
    return;
  }
  if (!root.IsMap()) {
    error(root_mark,
          std::string("expected a map of sections at top level, got ") + type_name(root));
    return;
  }
  bool has_listen = false;
  bool has_upstreams = false;
  bool routes_given = false;
  // Upstreams first, so routes can name them whatever the order in the file.
  const std::vector<Field> top = fields(root, kTopKeys, "");
  for (const Field& f : top) {
    if (f.key == "upstreams") {
      has_upstreams = true;
      load_upstreams(f);
    }
  }
  for (const Field& f : top) {
    if (f.key == "server") {
      load_server(f);
    } else if (f.key == "listen") {
      has_listen = true;
      load_listen(f);
    } else if (f.key == "admin") {
      load_admin(f);
    } else if (f.key == "clients") {
      load_clients(f);
    } else if (f.key == "limits") {
      load_limits(f);
    } else if (f.key == "routes") {
      routes_given = f.value.IsSequence() && f.value.size() > 0;
      load_routes(f);
    }
  }
  if (!has_listen) {
    error(root_mark, "missing required key 'listen'");
  }
  if (!has_upstreams) {
    error(root_mark, "missing required key 'upstreams'");
  }
  if (config_.admin.enabled) {
    for (std::size_t j = 0; j < config_.listen.size(); ++j) {
      if (config_.listen[j].address == config_.admin.address) {
        error(mark_of("admin.address", root_mark),
              "admin.address: " + client::format_socket_address(config_.admin.address) +
                  " is already used by listen[" + std::to_string(j) + "]");
      }
    }
  }
  finish(root_mark, routes_given);
}

LoadResult Loader::run(std::string_view yaml) {
  LoadResult result;
  if (yaml.size() > kMaxConfigBytes) {
    error(SourceMark{file_, 0, 0}, "configuration is larger than " + format_size(kMaxConfigBytes));
  } else {
    try {
      const std::string text(yaml);
      const DocumentScan scan = scan_documents(text);
      if (scan.stuck) {
        error(mark(scan.second),
              "invalid YAML: unexpected " +
                  quote(text.substr(static_cast<std::size_t>(scan.second.pos), 1)));
      } else if (scan.documents > 1) {
        error(mark(scan.second), "only one YAML document is allowed");
      } else {
        load_root(YAML::Load(text));
      }
    } catch (const YAML::Exception& e) {
      error(mark(e.mark), e.msg.empty() ? std::string("invalid YAML") : "invalid YAML: " + e.msg);
    } catch (const std::exception& e) {
      error(SourceMark{file_, 0, 0}, std::string("cannot load configuration: ") + e.what());
    }
  }
  if (!errors_.empty()) {
    std::stable_sort(
        errors_.begin(), errors_.end(), [](const ConfigError& a, const ConfigError& b) {
          return std::pair(a.mark.line, a.mark.column) < std::pair(b.mark.line, b.mark.column);
        });
    // The "too many errors" note belongs at the end whatever its position.
    auto note = std::find_if(errors_.begin(), errors_.end(), [](const ConfigError& e) {
      return e.message == "too many errors; stopping here";
    });
    if (note != errors_.end()) {
      std::rotate(note, note + 1, errors_.end());
    }
    result.errors = std::move(errors_);
    return result;
  }
  result.snapshot = make_snapshot(std::move(config_));
  return result;
}

}  // namespace

std::string ConfigError::to_string() const {
  std::string out = mark.file.empty() ? std::string("<config>") : mark.file;
  if (mark.line > 0) {
    out += ':';
    out += std::to_string(mark.line);
    out += ':';
    out += std::to_string(mark.column);
  }
  out += ": ";
  out += message;
  return out;
}

LoadResult load_config_string(std::string_view yaml, std::string_view name) {
  Loader loader{std::string(name), ""};
  return loader.run(yaml);
}

LoadResult load_config_file(const std::string& path) {
  auto fail = [&](std::string message) {
    LoadResult r;
    r.errors.push_back(ConfigError{SourceMark{path, 0, 0}, std::move(message)});
    return r;
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return fail("cannot read configuration file: " + std::generic_category().message(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return fail("cannot read configuration file: it is a directory");
  }
  std::string text;
  char buf[16384];
  int read_errno = 0;
  while (text.size() <= kMaxConfigBytes) {  // one byte past the cap is enough to refuse it
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      read_errno = errno;
    }
    if (n <= 0) {
      break;
    }
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (read_errno != 0) {
    return fail("cannot read configuration file: " + std::generic_category().message(read_errno));
  }
  Loader loader{path, path};
  return loader.run(text);
}

}  // namespace gh::policy
