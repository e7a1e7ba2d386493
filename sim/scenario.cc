#include "sim/scenario.h"

#include <arpa/inet.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace gh::sim {
namespace {

constexpr double kMaxRate = 20'000;  // per population, per second
constexpr std::uint32_t kMaxConnectionsCap = 60'000;

struct ParseError {
  std::string message;
};

class Reader {
 public:
  explicit Reader(std::string file) : file_(std::move(file)) {}

  [[noreturn]] void fail(const YAML::Node& at, const std::string& msg) const {
    std::ostringstream o;
    o << file_;
    if (at.IsDefined() && at.Mark().line >= 0) {
      o << ':' << at.Mark().line + 1 << ':' << at.Mark().column + 1;
    }
    o << ": " << msg;
    throw ParseError{o.str()};
  }

  void only_keys(const YAML::Node& map, std::initializer_list<std::string_view> known,
                 const std::string& where) const {
    for (auto it = map.begin(); it != map.end(); ++it) {
      auto key = it->first.as<std::string>();
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        std::string list;
        for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
        fail(it->first, "unknown key '" + key + "' in " + where + " (known: " + list + ")");
      }
    }
  }

  std::string str(const YAML::Node& n, const std::string& what) const {
    if (!n.IsScalar()) fail(n, what + " must be a string");
    return n.Scalar();
  }

  double number(const YAML::Node& n, const std::string& what, double lo, double hi) const {
    if (!n.IsScalar()) fail(n, what + " must be a number");
    const auto& s = n.Scalar();
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || p != s.data() + s.size() || !std::isfinite(v)) {
      fail(n, what + " must be a number, not '" + s + "'");
    }
    if (v < lo || v > hi) {
      std::ostringstream o;
      o.precision(12);  // 4294967295, not 4.29497e+09
      o << what << " must be between " << lo << " and " << hi << ", not " << s;
      fail(n, o.str());
    }
    return v;
  }

  std::uint32_t integer(const YAML::Node& n, const std::string& what, double lo, double hi) const {
    double v = number(n, what, lo, hi);
    if (v != std::floor(v)) fail(n, what + " must be a whole number");
    return static_cast<std::uint32_t>(v);
  }

  bool boolean(const YAML::Node& n, const std::string& what) const {
    auto s = n.IsScalar() ? n.Scalar() : std::string();
    if (s == "true") return true;
    if (s == "false") return false;
    fail(n, what + " must be true or false");
  }

  Nanos duration(const YAML::Node& n, const std::string& what, Nanos max) const {
    auto d = parse_duration(str(n, what));
    if (!d) fail(n, what + " must be a duration like 30s, 500ms or 2m, not '" + n.Scalar() + "'");
    if (*d > max) fail(n, what + " is longer than the cap of " + std::to_string(max / kSec) + "s");
    return *d;
  }

 private:
  std::string file_;
};

Behaviour behaviour_of(const Reader& r, const YAML::Node& n) {
  auto s = r.str(n, "behaviour");
  if (s == "resident") return Behaviour::Resident;
  if (s == "newcomer") return Behaviour::Newcomer;
  if (s == "signup-flood") return Behaviour::SignupFlood;
  if (s == "credential-stuffing") return Behaviour::CredentialStuffing;
  if (s == "slow-client") return Behaviour::SlowClient;
  if (s == "api-resident") return Behaviour::ApiResident;
  r.fail(n, "unknown behaviour '" + s +
                "' (known: resident, api-resident, newcomer, signup-flood, credential-stuffing, "
                "slow-client)");
}

bool is_resident(Behaviour b) {
  return b == Behaviour::Resident || b == Behaviour::ApiResident;
}

bool signs_up(Behaviour b) {
  return b == Behaviour::Newcomer || b == Behaviour::SignupFlood;
}

// "3s..15s" (uniform between) or one duration.
void form_fill(const Reader& r, const YAML::Node& n, PopulationConfig& p) {
  const std::string text = r.str(n, "form_fill");
  const auto dots = text.find("..");
  auto lo = parse_duration(text.substr(0, dots));
  auto hi = dots == std::string::npos ? lo : parse_duration(text.substr(dots + 2));
  if (!lo || !hi) {
    r.fail(n, "form_fill must be a duration or a range like 3s..15s, not '" + text + "'");
  }
  if (*lo > *hi) r.fail(n, "form_fill's range must go from the shorter to the longer: " + text);
  if (*hi > 10 * 60 * kSec) r.fail(n, "form_fill is longer than the cap of 600s");
  p.form_fill_min = *lo;
  p.form_fill_max = *hi;
}

void emails(const Reader& r, const YAML::Node& n, EmailMix& m) {
  if (!n.IsMap()) r.fail(n, "emails must be a mapping (domains, disposable, plus_tags, dots, ...)");
  r.only_keys(n, {"domains", "disposable", "plus_tags", "dots", "mailbox", "disposable_domains"},
              "emails");
  m.given = true;
  if (n["domains"]) {
    const auto d = n["domains"];
    if (!d.IsMap() || d.size() == 0) {
      r.fail(d, "emails.domains must be a mapping of domain to weight, like {gmail.com: 5}");
    }
    if (d.size() > 64) r.fail(d, "emails.domains: at most 64 domains");
    for (auto it = d.begin(); it != d.end(); ++it) {
      const auto name = it->first.as<std::string>();
      if (!plausible_domain(name)) {
        r.fail(it->first, "'" + name + "' is not a lower-case domain like gmail.com");
      }
      const double w = r.number(it->second, "the weight of " + name, 0.001, 1e6);
      m.domains.emplace_back(name, w);
    }
  }
  if (n["disposable"]) m.disposable = r.number(n["disposable"], "emails.disposable", 0, 1);
  if (n["plus_tags"]) m.plus_tags = r.number(n["plus_tags"], "emails.plus_tags", 0, 1);
  if (n["dots"]) m.dots = r.number(n["dots"], "emails.dots", 0, 1);
  if (n["mailbox"]) {
    m.mailbox = r.str(n["mailbox"], "emails.mailbox");
    const auto at = m.mailbox.rfind('@');
    if (at == std::string::npos || at == 0 || !plausible_domain(m.mailbox.substr(at + 1))) {
      r.fail(n["mailbox"], "emails.mailbox must be an address like someone@gmail.com");
    }
    if (n["domains"] || n["disposable"]) {
      r.fail(n["mailbox"], "emails.mailbox reuses one mailbox: it takes no domains or disposable");
    }
  }
  if (n["disposable_domains"]) {
    const auto d = n["disposable_domains"];
    if (!d.IsSequence() || d.size() == 0 || d.size() > 1000) {
      r.fail(d, "emails.disposable_domains must be a list of 1 to 1000 domains");
    }
    m.disposable_domains.clear();
    for (const auto& e : d) {
      const auto name = r.str(e, "a disposable domain");
      if (!plausible_domain(name)) {
        r.fail(e, "'" + name + "' is not a lower-case domain like mailinator.com");
      }
      m.disposable_domains.push_back(name);
    }
  }
  if (m.domains.empty() && m.mailbox.empty() && m.disposable < 1) {
    r.fail(n, "emails needs domains (or a mailbox) unless every address is disposable");
  }
}

bool good_name(const std::string& s) {
  if (s.empty() || s.size() > 24) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

PopulationConfig population(const Reader& r, const YAML::Node& n, std::size_t index) {
  if (!n.IsMap()) r.fail(n, "each population must be a mapping");
  PopulationConfig p;
  if (!n["name"]) r.fail(n, "population " + std::to_string(index + 1) + " has no name");
  p.name = r.str(n["name"], "name");
  if (!good_name(p.name)) {
    r.fail(n["name"], "population name '" + p.name + "' must be 1-24 characters of [a-z0-9_-]");
  }
  const std::string where = "population '" + p.name + "'";
  r.only_keys(n,
              {"name",
               "behaviour",
               "arrival_rate",
               "connections",
               "sources",
               "rotate",
               "spread",
               "max_in_flight",
               "start_after",
               "request_timeout",
               "accounts",
               "accounts_file",
               "pages",
               "prior_login",
               "solve_challenges",
               "wait_in_queue",
               "hashes_per_second",
               "max_bits",
               "max_retry_wait",
               "give_up_after",
               "max_rounds",
               "list_size",
               "known_user_ratio",
               "valid_ratio",
               "slow_mode",
               "trickle_interval",
               "body_bytes",
               "profile",
               "tells",
               "roam",
               "roam_networks",
               "page_view",
               "form_fill",
               "emails",
               "api_login"},
              where);
  if (!n["behaviour"]) r.fail(n, where + " has no behaviour");
  p.behaviour = behaviour_of(r, n["behaviour"]);
  if (n["arrival_rate"])
    p.arrival_rate = r.number(n["arrival_rate"], "arrival_rate", 0.001, kMaxRate);
  if (n["connections"]) {
    p.connections = r.integer(n["connections"], "connections", 1, kMaxConnectionsCap);
  }
  if ((p.arrival_rate > 0) == (p.connections > 0)) {
    r.fail(n,
           where + " needs exactly one of arrival_rate (open loop) or connections (closed loop)");
  }
  if (p.behaviour == Behaviour::SlowClient && p.connections == 0) {
    r.fail(n, where + ": slow-client takes connections, not arrival_rate");
  }
  p.sources = *parse_cidr("127.0.0.1/32");
  if (n["sources"]) {
    auto c = parse_cidr(r.str(n["sources"], "sources"));
    if (!c) {
      r.fail(n["sources"], "sources must be a CIDR with zero host bits, like 127.1.0.0/16, not '" +
                               n["sources"].Scalar() + "'");
    }
    p.sources = *c;
  }
  if (n["rotate"]) p.rotate = r.boolean(n["rotate"], "rotate");
  if (n["spread"]) p.spread = r.boolean(n["spread"], "spread");
  if (n["max_in_flight"])
    p.max_in_flight = r.integer(n["max_in_flight"], "max_in_flight", 1, kMaxConnectionsCap);
  if (n["start_after"]) p.start_after = r.duration(n["start_after"], "start_after", kMaxDuration);
  if (n["request_timeout"]) {
    p.request_timeout = r.duration(n["request_timeout"], "request_timeout", 300 * kSec);
    if (p.request_timeout < 10 * kMs)
      r.fail(n["request_timeout"], "request_timeout must be at least 10ms");
  }
  if (n["accounts"]) p.accounts = r.integer(n["accounts"], "accounts", 1, 100'000);
  if (n["accounts_file"]) p.accounts_file = r.str(n["accounts_file"], "accounts_file");
  if (n["pages"]) p.pages = r.integer(n["pages"], "pages", 0, 100);
  if (n["prior_login"]) {
    p.prior_login = r.boolean(n["prior_login"], "prior_login");
    if (p.prior_login && !is_resident(p.behaviour))
      r.fail(n["prior_login"], where + ": prior_login is for resident populations");
  }
  if (n["solve_challenges"])
    p.solve_challenges = r.boolean(n["solve_challenges"], "solve_challenges");
  if (n["wait_in_queue"]) p.wait_in_queue = r.boolean(n["wait_in_queue"], "wait_in_queue");
  if (n["hashes_per_second"]) {
    p.hashes_per_second = r.number(n["hashes_per_second"], "hashes_per_second", 1000, 1e9);
  }
  if (n["max_bits"])
    p.max_bits = static_cast<std::uint8_t>(r.integer(n["max_bits"], "max_bits", 1, 40));
  if (n["max_retry_wait"])
    p.max_retry_wait = r.duration(n["max_retry_wait"], "max_retry_wait", kMaxDuration);
  if (n["give_up_after"])
    p.give_up_after = r.duration(n["give_up_after"], "give_up_after", kMaxDuration);
  if (n["max_rounds"]) p.max_rounds = r.integer(n["max_rounds"], "max_rounds", 1, 1000);
  if (n["list_size"]) p.list_size = r.integer(n["list_size"], "list_size", 1, 1'000'000);
  if (n["known_user_ratio"])
    p.known_user_ratio = r.number(n["known_user_ratio"], "known_user_ratio", 0, 1);
  if (n["valid_ratio"]) p.valid_ratio = r.number(n["valid_ratio"], "valid_ratio", 0, 1);
  if (n["slow_mode"]) {
    auto m = r.str(n["slow_mode"], "slow_mode");
    if (m == "head") {
      p.slow_mode = SlowMode::Head;
    } else if (m == "body") {
      p.slow_mode = SlowMode::Body;
    } else {
      r.fail(n["slow_mode"], "slow_mode must be head or body, not '" + m + "'");
    }
  }
  if (n["trickle_interval"]) {
    p.trickle_interval = r.duration(n["trickle_interval"], "trickle_interval", 60 * kSec);
    if (p.trickle_interval < kMs)
      r.fail(n["trickle_interval"], "trickle_interval must be at least 1ms");
  }
  if (n["body_bytes"]) p.body_bytes = r.integer(n["body_bytes"], "body_bytes", 1, 1 << 20);
  if (is_resident(p.behaviour) && p.accounts == 0 && p.accounts_file.empty()) {
    r.fail(n, where + ": a resident population needs accounts (created at setup) or accounts_file");
  }
  // An API client keeps no cookies, so it cannot hold a challenge's clearance.
  if (p.behaviour == Behaviour::ApiResident) {
    if (p.pages == 0)
      r.fail(n["pages"], where + ": an api-resident makes at least one call (pages)");
    if (n["solve_challenges"] && p.solve_challenges) {
      r.fail(n["solve_challenges"],
             where + ": an api-resident keeps no cookies, so it cannot use a clearance");
    }
    p.solve_challenges = false;
  }
  if (n["profile"]) {
    const auto name = r.str(n["profile"], "profile");
    auto prof = profile_of(name);
    if (!prof) {
      r.fail(n["profile"], "unknown profile '" + name +
                               "' (known: default, browser, scripted, headless, perfect, app)");
    }
    p.profile = *prof;
  }
  if (n["tells"]) {
    if (p.profile != Profile::Headless)
      r.fail(n["tells"], where + ": tells are for profile headless");
    const auto t = n["tells"];
    if (!t.IsSequence()) r.fail(t, "tells must be a list, like [headless-ua, no-accept-language]");
    p.tells = 0;
    for (const auto& e : t) {
      const auto name = r.str(e, "a tell");
      auto bit = tell_of(name);
      if (!bit) {
        r.fail(e, "unknown tell '" + name +
                      "' (known: headless-ua, no-client-hints, no-accept-language, "
                      "language-early, field-order)");
      }
      p.tells |= *bit;
    }
  }
  if (n["roam"]) {
    if (!is_resident(p.behaviour)) r.fail(n["roam"], where + ": roam is for resident populations");
    const auto m = r.str(n["roam"], "roam");
    if (m == "visit") {
      p.roam = Roam::Visit;
    } else if (m == "connection") {
      p.roam = Roam::Connection;
    } else if (m == "off") {
      p.roam = Roam::Off;
    } else {
      r.fail(n["roam"], "roam must be visit, connection or off, not '" + m + "'");
    }
  }
  if (n["roam_networks"]) {
    p.roam_networks = r.integer(n["roam_networks"], "roam_networks", 2, 64);
  }
  if (p.roam != Roam::Off &&
      (p.sources.v6 || p.sources.prefix > 24 || cidr_size(p.sources) / 256 < p.roam_networks)) {
    r.fail(n["sources"] ? n["sources"] : n,
           where + ": a roaming population needs IPv4 sources with at least roam_networks (" +
               std::to_string(p.roam_networks) + ") /24s, like 127.5.0.0/16");
  }
  p.page_view = p.behaviour == Behaviour::Newcomer;
  if (n["page_view"]) {
    if (!signs_up(p.behaviour)) {
      r.fail(n["page_view"], where + ": page_view is for newcomer and signup-flood");
    }
    p.page_view = r.boolean(n["page_view"], "page_view");
  }
  if (n["form_fill"]) {
    if (!signs_up(p.behaviour)) {
      r.fail(n["form_fill"], where + ": form_fill is for newcomer and signup-flood");
    }
    form_fill(r, n["form_fill"], p);
  } else if (p.page_view && (p.profile == Profile::Browser || p.profile == Profile::Perfect)) {
    // A person (or a farm imitating one) reads the page before posting it: at least the 2 s a
    // shield's page-view check (reputation.page_view.min_age) expects of a human.
    p.form_fill_min = kDefaultFormFillMin;
    p.form_fill_max = kDefaultFormFillMax;
  }
  if (n["emails"]) {
    if (!signs_up(p.behaviour))
      r.fail(n["emails"], where + ": emails are for newcomer and signup-flood");
    emails(r, n["emails"], p.emails);
  }
  if (n["api_login"]) {
    if (p.behaviour != Behaviour::CredentialStuffing) {
      r.fail(n["api_login"], where + ": api_login is for credential-stuffing");
    }
    p.api_login = r.boolean(n["api_login"], "api_login");
  }
  return p;
}

// networks: [{cidr: 127.7.0.0/16, asn: 16509, org: "Amazon.com, Inc."}, ...]
void networks(const Reader& r, const YAML::Node& n, Scenario& s) {
  if (!n.IsSequence()) r.fail(n, "networks must be a list of {cidr, asn, org}");
  if (n.size() > 10'000) r.fail(n, "at most 10000 networks");
  for (const auto& e : n) {
    if (!e.IsMap()) r.fail(e, "each network must be a mapping {cidr, asn, org}");
    r.only_keys(e, {"cidr", "asn", "org"}, "a network");
    if (!e["cidr"] || !e["asn"]) r.fail(e, "a network needs cidr and asn");
    Network net;
    auto c = parse_cidr(r.str(e["cidr"], "cidr"));
    if (!c) {
      r.fail(e["cidr"],
             "cidr must have zero host bits, like 127.7.0.0/16, not '" + e["cidr"].Scalar() + "'");
    }
    net.cidr = *c;
    net.asn = r.integer(e["asn"], "asn", 1, 4294967295.0);
    if (e["org"]) net.org = r.str(e["org"], "org");
    if (net.org.size() > 256) r.fail(e["org"], "org is longer than 256 characters");
    for (const auto& other : s.networks) {
      if (other.cidr.v6 == net.cidr.v6 && other.cidr.prefix == net.cidr.prefix &&
          other.cidr.base == net.cidr.base) {
        r.fail(e["cidr"], "network " + e["cidr"].Scalar() + " is listed twice");
      }
    }
    s.networks.push_back(std::move(net));
  }
}

}  // namespace

std::optional<Nanos> parse_duration(std::string_view t) {
  double v = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc{} || !std::isfinite(v) || v < 0) return std::nullopt;
  std::string_view unit(p, static_cast<std::size_t>(t.data() + t.size() - p));
  double scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1e9;
  } else if (unit == "ms") {
    scale = 1e6;
  } else if (unit == "m") {
    scale = 60e9;
  } else {
    return std::nullopt;
  }
  if (v * scale > 1e18) return std::nullopt;
  return static_cast<Nanos>(v * scale);
}

std::optional<Cidr> parse_cidr(std::string_view text) {
  auto slash = text.find('/');
  std::string addr(text.substr(0, slash));
  Cidr c;
  if (inet_pton(AF_INET, addr.c_str(), c.base.data()) == 1) {
    c.v6 = false;
    c.prefix = 32;
  } else if (inet_pton(AF_INET6, addr.c_str(), c.base.data()) == 1) {
    c.v6 = true;
    c.prefix = 128;
  } else {
    return std::nullopt;
  }
  if (slash != std::string_view::npos) {
    auto p = text.substr(slash + 1);
    unsigned n = 0;
    auto [e, ec] = std::from_chars(p.data(), p.data() + p.size(), n);
    if (p.empty() || ec != std::errc{} || e != p.data() + p.size() || n > c.prefix) {
      return std::nullopt;
    }
    c.prefix = n;
  }
  const unsigned total = c.v6 ? 128 : 32;
  for (unsigned bit = c.prefix; bit < total; ++bit) {
    if (c.base[bit / 8] & (0x80 >> (bit % 8))) return std::nullopt;  // host bits must be zero
  }
  return c;
}

bool inside_loopback4(const Cidr& c) {
  return !c.v6 && c.base[0] == 127 && c.prefix >= 8;
}

std::uint64_t cidr_size(const Cidr& c) {
  const unsigned host = (c.v6 ? 128 : 32) - c.prefix;
  return host >= 32 ? (std::uint64_t{1} << 32) : (std::uint64_t{1} << host);
}

std::uint64_t source_index(const PopulationConfig& p, std::uint64_t i) {
  // 255 is odd and shares no factor with 127 (the usable host count of an IPv4 block skipping
  // .0 and .255 is 254 * 2^k = 127 * 2^(k+1)), so the stride visits every address once per
  // cycle, and it is one more than a /24's 254 usable hosts, so each step lands in the next /24.
  return p.spread ? i * 255 : i;
}

std::uint64_t roam_index(const PopulationConfig& p, std::uint64_t account, std::uint32_t slot,
                         std::uint32_t host) {
  // Usable addresses are numbered 254 to a /24 (cidr_address skips .0 and .255).
  const std::uint64_t nets = std::max<std::uint64_t>(1, cidr_size(p.sources) / 256);
  const std::uint64_t n = std::max<std::uint32_t>(1, p.roam_networks);
  const std::uint64_t net = (account * n + slot % n) % nets;
  return net * 254 + host % 254;
}

std::uint64_t home_index(const PopulationConfig& p, std::uint64_t account) {
  return p.roam != Roam::Off ? roam_index(p, account, 0, static_cast<std::uint32_t>(account % 254))
                             : source_index(p, account);
}

std::uint32_t roam_next_slot(const PopulationConfig& p, std::uint32_t from, std::uint64_t draw) {
  const std::uint32_t n = std::max<std::uint32_t>(2, p.roam_networks);
  return static_cast<std::uint32_t>((from + 1 + draw % (n - 1)) % n);
}

void cidr_address(const Cidr& c, std::uint64_t i, sockaddr_storage* out, socklen_t* len) {
  std::memset(out, 0, sizeof *out);
  std::uint64_t size = cidr_size(c);
  std::uint64_t host = i % size;
  if (!c.v6 && c.prefix <= 24) {
    // Skip host octets .0 and .255.
    const std::uint64_t usable = size / 256 * 254;
    const std::uint64_t j = i % usable;
    host = (j / 254) * 256 + (j % 254) + 1;
  }
  if (!c.v6) {
    auto* a = reinterpret_cast<sockaddr_in*>(out);
    a->sin_family = AF_INET;
    std::uint32_t base = (std::uint32_t{c.base[0]} << 24) | (std::uint32_t{c.base[1]} << 16) |
                         (std::uint32_t{c.base[2]} << 8) | c.base[3];
    a->sin_addr.s_addr = htonl(base + static_cast<std::uint32_t>(host));
    *len = sizeof(sockaddr_in);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(out);
    a->sin6_family = AF_INET6;
    std::memcpy(a->sin6_addr.s6_addr, c.base.data(), 16);
    // Add the host index to the low 32 bits (blocks are capped at 2^32 addresses).
    std::uint64_t carry = host;
    for (int b = 15; b >= 0 && carry != 0; --b) {
      carry += a->sin6_addr.s6_addr[b];
      a->sin6_addr.s6_addr[b] = static_cast<std::uint8_t>(carry & 0xff);
      carry >>= 8;
    }
    *len = sizeof(sockaddr_in6);
  }
}

std::string address_text(const sockaddr_storage& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&a)->sin_addr, buf, sizeof buf);
  } else {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&a)->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

std::optional<Target> parse_target(std::string_view url, std::string* error) {
  auto bad = [&](const std::string& why) -> std::optional<Target> {
    if (error != nullptr) *error = "target '" + std::string(url) + "': " + why;
    return std::nullopt;
  };
  if (url.substr(0, 7) != "http://")
    return bad("must start with http:// (no TLS in the simulator)");
  auto rest = url.substr(7);
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) return bad("give only scheme, host and port");
  Target t;
  std::string host;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return bad("unclosed '['");
    host = std::string(rest.substr(1, close - 1));
    auto after = rest.substr(close + 1);
    if (after.empty() || after.front() != ':') return bad("needs a port, like http://[::1]:8080");
    port = after.substr(1);
  } else {
    auto colon = rest.rfind(':');
    if (colon == std::string_view::npos) return bad("needs a port, like http://127.0.0.1:8080");
    host = std::string(rest.substr(0, colon));
    port = rest.substr(colon + 1);
  }
  unsigned p = 0;
  auto [e, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || ec != std::errc{} || e != port.data() + port.size() || p == 0 || p > 65535) {
    return bad("bad port");
  }
  t.port = static_cast<std::uint16_t>(p);
  if (host == "localhost") host = "127.0.0.1";
  if (inet_pton(AF_INET, host.c_str(), t.addr.data()) == 1) {
    t.v6 = false;
    if (t.addr[0] != 127) {
      return bad("not a loopback address; the simulator only targets 127.0.0.0/8 or ::1");
    }
    t.authority = host + ":" + std::to_string(p);
  } else if (inet_pton(AF_INET6, host.c_str(), t.addr.data()) == 1) {
    t.v6 = true;
    static const std::uint8_t kLoop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (std::memcmp(t.addr.data(), kLoop6, 16) != 0) {
      return bad("not a loopback address; the simulator only targets 127.0.0.0/8 or ::1");
    }
    t.authority = "[" + host + "]:" + std::to_string(p);
  } else {
    return bad("host must be a literal loopback address (127.0.0.1, ::1) or localhost");
  }
  return t;
}

std::optional<Scenario> parse_scenario(std::string_view yaml, const std::string& file,
                                       std::string* error) {
  Reader r(file);
  try {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(yaml));
    } catch (const YAML::ParserException& e) {
      throw ParseError{file + ":" + std::to_string(e.mark.line + 1) + ":" +
                       std::to_string(e.mark.column + 1) + ": " + e.msg};
    }
    if (!root.IsMap()) throw ParseError{file + ": a scenario must be a YAML mapping"};
    r.only_keys(root,
                {"name", "description", "duration", "drain", "max_connections", "setup_concurrency",
                 "seed", "populations", "networks"},
                "the scenario");
    Scenario s;
    if (root["name"]) s.name = r.str(root["name"], "name");
    if (root["description"]) s.description = r.str(root["description"], "description");
    if (root["duration"]) {
      s.duration = r.duration(root["duration"], "duration", kMaxDuration);
      if (s.duration < 100 * kMs) r.fail(root["duration"], "duration must be at least 100ms");
    }
    if (root["drain"]) s.drain = r.duration(root["drain"], "drain", 120 * kSec);
    if (root["max_connections"]) {
      s.max_connections =
          r.integer(root["max_connections"], "max_connections", 1, kMaxConnectionsCap);
    }
    if (root["setup_concurrency"]) {
      s.setup_concurrency = r.integer(root["setup_concurrency"], "setup_concurrency", 1, 64);
    }
    if (root["seed"]) s.seed = r.integer(root["seed"], "seed", 0, 4294967295.0);
    auto pops = root["populations"];
    if (!pops || !pops.IsSequence() || pops.size() == 0) {
      r.fail(pops ? pops : root, "the scenario needs a non-empty list of populations");
    }
    if (pops.size() > 32) r.fail(pops, "at most 32 populations");
    std::set<std::string> names;
    for (std::size_t i = 0; i < pops.size(); ++i) {
      auto p = population(r, pops[i], i);
      if (!names.insert(p.name).second)
        r.fail(pops[i]["name"], "duplicate population name '" + p.name + "'");
      if (p.start_after >= s.duration) {
        r.fail(pops[i]["start_after"],
               "start_after of '" + p.name + "' is not within the duration");
      }
      s.populations.push_back(std::move(p));
    }
    if (root["networks"]) networks(r, root["networks"], s);
    return s;
  } catch (const ParseError& e) {
    if (error != nullptr) *error = e.message;
  } catch (const YAML::Exception& e) {
    if (error != nullptr) {
      *error = file + ":" + std::to_string(e.mark.line + 1) + ":" +
               std::to_string(e.mark.column + 1) + ": " + e.msg;
    }
  }
  return std::nullopt;
}

std::optional<Scenario> load_scenario(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (error != nullptr) *error = path + ": cannot open: " + std::strerror(errno);
    return std::nullopt;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  if (buf.str().size() > (1u << 20)) {
    if (error != nullptr) *error = path + ": larger than 1 MiB";
    return std::nullopt;
  }
  return parse_scenario(buf.str(), path, error);
}

bool check_sources(const Scenario& s, bool via_xff, std::string* error) {
  if (via_xff) return true;
  for (const auto& p : s.populations) {
    if (!inside_loopback4(p.sources)) {
      if (error != nullptr) {
        *error = "population '" + p.name + "': sources " + address_text([&] {
                   sockaddr_storage a;
                   socklen_t l;
                   Cidr c = p.sources;
                   c.prefix = c.v6 ? 128 : 32;
                   cidr_address(c, 0, &a, &l);
                   return a;
                 }()) +
                 "/" + std::to_string(p.sources.prefix) +
                 " are not inside 127.0.0.0/8 and cannot be bound; use --via-xff to send them "
                 "as X-Forwarded-For through a trusted-proxy listener";
      }
      return false;
    }
  }
  return true;
}

}  // namespace gh::sim
