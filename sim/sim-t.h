// Plain types of the attack simulator (`gatehouse sim`): the scenario model and run options.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "sim/email.h"
#include "sim/profile.h"

namespace gh::sim {

using Nanos = std::int64_t;
inline constexpr Nanos kMs = 1'000'000;
inline constexpr Nanos kSec = 1'000'000'000;
inline constexpr Nanos kMaxDuration = 600 * kSec;  // hard cap on any run

enum class Behaviour : std::uint8_t {
  Resident,
  Newcomer,
  SignupFlood,
  CredentialStuffing,
  SlowClient,
  ApiResident  // logs in at POST /api/login once, then calls the API with a bearer token
};
enum class SlowMode : std::uint8_t { Head, Body };
// Residents that move: a new address in another /24 of `sources` for every visit, or for every
// connection, among the networks the device uses (PopulationConfig::roam_networks).
enum class Roam : std::uint8_t { Off, Visit, Connection };

// An address block: IPv4 (127.0.0.0/8 for bound sources) or, for X-Forwarded-For, IPv6 too.
struct Cidr {
  bool v6 = false;
  std::array<std::uint8_t, 16> base{};  // network address, host bits zero; IPv4 in the first 4
  unsigned prefix = 32;
};

// A browser's form filling when the scenario names none: at least the 2 s a shield's page-view
// check expects of a person.
inline constexpr Nanos kDefaultFormFillMin = 2 * kSec;
inline constexpr Nanos kDefaultFormFillMax = 6 * kSec;

struct PopulationConfig {
  std::string name;  // [a-z0-9_-]{1,24}: also the X-Sim-Population header value
  Behaviour behaviour = Behaviour::Resident;
  double arrival_rate = 0;        // per second, open loop (Poisson); 0 = closed loop
  std::uint32_t connections = 0;  // closed loop: this many users at all times
  Cidr sources;                   // default 127.0.0.1/32
  bool rotate = false;            // every connection from the next address of `sources`
  // Successive addresses in different /24s (a stride coprime to the block) instead of counting
  // up: people from many networks rather than one network's neighbours.
  bool spread = false;
  std::uint32_t max_in_flight = 256;   // open loop: users at once; later arrivals wait (counted)
  Profile profile = Profile::Default;  // the client's request heads (sim/profile.h)
  unsigned tells = kDefaultHeadlessTells;  // profile headless: what gives it away
  // resident, api-resident
  Roam roam = Roam::Off;
  std::uint32_t roam_networks = 3;  // networks (/24s) a device moves among: home and others
  Nanos start_after = 0;            // offset into the run before the first arrival
  Nanos request_timeout = 30 * kSec;
  // resident
  std::uint32_t accounts = 0;  // created at setup: sim-<name>-<i>
  std::string accounts_file;   // or "username:password" lines
  std::uint32_t pages = 2;     // GET /account after each login
  // Returning users: each account logs in once through the target at setup, from its own
  // address, so its browser already holds what the target set (a shield's device cookie).
  bool prior_login = false;
  // newcomer, signup-flood: GET /signup first (keeping its cookies), then wait the form-fill
  // time (uniform in [form_fill_min, form_fill_max]) before the POST. That time is the person's
  // own and is not counted in the time to register nor against give_up_after.
  bool page_view = true;  // default: newcomer true, signup-flood false
  // Default 0, or 2s..6s for a browser or perfect profile that views the page.
  Nanos form_fill_min = 0, form_fill_max = 0;
  EmailMix emails;
  // newcomer, signup-flood, credential-stuffing
  bool solve_challenges = true;
  bool wait_in_queue = true;
  double hashes_per_second = 500'000;  // proof-of-work speed cap ("human browser")
  std::uint8_t max_bits = 28;          // a harder challenge is given up
  Nanos max_retry_wait = 30 * kSec;    // cap on a queue's retry_after
  Nanos give_up_after = 120 * kSec;    // a user still not through after this gives up
  std::uint32_t max_rounds = 50;       // challenges + queue waits per user
  // credential-stuffing
  std::uint32_t list_size = 1000;
  double known_user_ratio = 0.5;  // of the list: resident usernames (the rest random)
  double valid_ratio = 0.0;       // of the list: the real password of a resident
  bool api_login = false;         // POST /api/login (JSON) instead of the login form
  // slow-client
  SlowMode slow_mode = SlowMode::Head;
  Nanos trickle_interval = 1 * kSec;  // one byte per interval
  std::uint32_t body_bytes = 4096;    // announced Content-Length in body mode
};

// A network of the scenario's address space and the autonomous system it belongs to: what
// `gatehouse sim asn-db` writes into a MaxMind DB for the shield's ASN conditions.
struct Network {
  Cidr cidr;
  std::uint32_t asn = 0;
  std::string org;
};

struct Scenario {
  std::string name;
  std::string description;
  Nanos duration = 30 * kSec;
  Nanos drain = 5 * kSec;  // after the last arrival, users in flight may finish this long
  std::uint32_t max_connections = 4096;  // open sockets at once, all populations
  std::uint32_t setup_concurrency = 4;
  std::uint64_t seed = 1;
  std::vector<PopulationConfig> populations;
  std::vector<Network> networks;
};

// A parsed loopback target.
struct Target {
  bool v6 = false;
  std::array<std::uint8_t, 16> addr{};
  std::uint16_t port = 0;
  std::string authority;  // Host header
};

struct SimOptions {
  std::string scenario_path;
  std::string target;       // http://127.0.0.1:PORT (the shield, or the app directly)
  std::string app;          // the demo app itself, for setup and /api/stats; default = target
  double duration_s = 0;    // > 0 overrides the scenario
  double drain_s = -1;      // >= 0 overrides the scenario's drain
  std::string report_path;  // JSON
  bool quiet = false;
  bool via_xff = false;           // sources as X-Forwarded-For instead of bound 127.x addresses
  std::vector<std::string> only;  // run these populations only (e.g. a calm baseline of a siege)
};

}  // namespace gh::sim
