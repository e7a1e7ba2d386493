#include "cli/ctl.h"

#include <httplib.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "client/address.h"
#include "control/text.h"
#include "control/token.h"
#include "core/duration.h"
#include "policy/config-t.h"

namespace gh::cli {

namespace {

using nlohmann::json;

constexpr int kOk = 0;
constexpr int kApiError = 1;
constexpr int kUsage = 2;

struct CtlOptions {
  std::string admin = "127.0.0.1:" + std::to_string(policy::kDefaultAdminPort);
  std::string token_file;
  bool json = false;
  std::string key;
  std::string duration;
  std::string max;
  std::string reason;
  std::string route;
  std::string mode;
  int limit = 30;
  int top_n = 10;
  std::string account;
  std::string device;
};

// ---- output helpers --------------------------------------------------------------------------

// Aligned columns, two spaces apart; the last column is not padded.
void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], row[i].size());
  };
  measure(header);
  for (const auto& r : rows) measure(r);
  auto print_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  };
  print_row(header);
  for (const auto& r : rows) print_row(r);
}

std::string utc_time(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return std::to_string(unix_seconds);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string text_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "-";
  return v.dump();
}

std::string expires_in(const json& ban) {
  const json& v = ban.value("expires_in_s", json(nullptr));
  if (!v.is_number_integer()) return "never";
  return core::format_duration(v.get<std::int64_t>() * 1000, core::DurationStyle::Compact);
}

// Percent-encodes everything but unreserved characters (the key goes in a path segment).
std::string url_encode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// ---- the HTTP side -----------------------------------------------------------------------------

struct Call {
  int status = 0;
  std::string body;
  json parsed;  // discarded when the body is not JSON
};

class AdminClient {
 public:
  AdminClient(const client::SocketAddress& address, std::optional<std::string> token)
      : address_(address),
        where_(client::format_socket_address(address)),
        token_(std::move(token)),
        http_(client::format_ip(address.ip), address.port) {
    http_.set_connection_timeout(2);
    http_.set_read_timeout(2);
    http_.set_write_timeout(2);
    http_.set_keep_alive(false);
  }

  const std::string& where() const { return where_; }
  bool has_token() const { return token_.has_value(); }

  // nullopt when there was no HTTP answer (the reason is printed).
  std::optional<Call> request(const std::string& method, const std::string& path,
                              const std::string& body = "") {
    httplib::Headers headers{
        {"Host", where_}, {"Accept", "application/json"}, {"User-Agent", "gatehouse-ctl"}};
    if (token_) headers.emplace("Authorization", "Bearer " + *token_);
    httplib::Result res = method == "POST"     ? http_.Post(path, headers, body, "application/json")
                          : method == "DELETE" ? http_.Delete(path, headers)
                                               : http_.Get(path, headers);
    if (!res) {
      const httplib::Error e = res.error();
      if (e == httplib::Error::Connection) {
        std::fprintf(
            stderr,
            "gatehouse ctl: cannot connect to the admin API at %s (is gatehouse running there with "
            "the admin API enabled? use --admin ADDRESS)\n",
            where_.c_str());
      } else if (e == httplib::Error::ConnectionTimeout) {
        std::fprintf(stderr, "gatehouse ctl: timed out connecting to the admin API at %s\n",
                     where_.c_str());
      } else {
        std::fprintf(stderr, "gatehouse ctl: no answer from the admin API at %s: %s\n",
                     where_.c_str(), httplib::to_string(e).c_str());
      }
      return std::nullopt;
    }
    Call call;
    call.status = res->status;
    call.body = res->body;
    call.parsed = json::parse(call.body, nullptr, false);
    return call;
  }

 private:
  client::SocketAddress address_;
  std::string where_;
  std::optional<std::string> token_;
  httplib::Client http_;
};

void print_raw(const Call& call) {
  std::printf("%s", call.body.c_str());
  if (call.body.empty() || call.body.back() != '\n') std::printf("\n");
}

// Prints an API error (or a non-JSON answer) and returns the exit code for it.
int report_error(const Call& call, const CtlOptions& o, const AdminClient& admin) {
  if (o.json) print_raw(call);
  std::string message = "HTTP " + std::to_string(call.status);
  if (call.parsed.is_object() && call.parsed.contains("error"))
    message = text_of(call.parsed["error"]);
  std::fprintf(stderr, "gatehouse ctl: %s (HTTP %d)\n", message.c_str(), call.status);
  if (call.status == 401 && !admin.has_token()) {
    std::fprintf(stderr,
                 "  changes need the admin token: pass --token-file FILE (or set "
                 "GATEHOUSE_ADMIN_TOKEN_FILE=FILE),\n  FILE being the config's admin.token_file "
                 "(gatehouse demo writes var/admin.token)\n");
  }
  return kApiError;
}

bool check_json(const Call& call, const AdminClient& admin) {
  if (call.parsed.is_object()) return true;
  std::fprintf(
      stderr,
      "gatehouse ctl: unexpected answer from %s (not a JSON object; is it the admin API?)\n",
      admin.where().c_str());
  return false;
}

// The answer handling every command shares: no answer, an unexpected status, --json (the body is
// printed as it came) and a body that is not a JSON object end here with their exit code; a JSON
// object answered with `expected` goes to `render`, whose result is the exit code.
template <typename Render>
int handle(const std::optional<Call>& call, int expected, const CtlOptions& o,
           const AdminClient& admin, Render render) {
  if (!call) return kApiError;
  if (call->status != expected) return report_error(*call, o, admin);
  if (o.json) {
    print_raw(*call);
    return kOk;
  }
  if (!check_json(*call, admin)) return kApiError;
  return render(call->parsed);
}

// ---- commands ----------------------------------------------------------------------------------

// The fleet as this node's heartbeats show it: one line, then a row per node.
void print_fleet(const json& f) {
  if (!f.is_object()) return;
  const json sum = f.value("sum", json::object());
  std::printf("fleet      node %s, Redis %s %s; %s live, %s gone; %.1f req/s, %.1f refusals/s\n",
              text_of(f.value("node", json())).c_str(), text_of(f.value("redis", json())).c_str(),
              f.value("up", false) ? "up" : "unreachable (fail-static)",
              text_of(f.value("live", json())).c_str(), text_of(f.value("gone", json())).c_str(),
              sum.value("requests_per_s", 0.0), sum.value("refusals_per_s", 0.0));
  std::vector<std::vector<std::string>> rows;
  for (const json& n : f.value("nodes", json::array())) {
    const json fig = n.value("figures", json::object());
    const std::string name =
        text_of(n.value("node", json())) + (n.value("self", false) ? " *" : "");
    const std::string age =
        core::format_duration(n.value("age_ms", std::int64_t{0}), core::DurationStyle::Compact);
    char rps[32], refused[32];
    std::snprintf(rps, sizeof rps, "%.1f", fig.value("requests_per_s", 0.0));
    std::snprintf(refused, sizeof refused, "%.1f", fig.value("refusals_per_s", 0.0));
    rows.push_back({name, text_of(n.value("state", json())), age, rps, refused,
                    text_of(fig.value("signups_total", json())),
                    text_of(fig.value("in_flight", json())), text_of(fig.value("queued", json()))});
  }
  if (!rows.empty()) {
    print_table({"NODE", "STATE", "HEARD", "REQ/S", "REFUSED/S", "SIGN-UPS", "IN FLIGHT", "QUEUED"},
                rows);
  }
  std::printf("\n");
}

int status(AdminClient& admin, const CtlOptions& o) {
  return handle(admin.request("GET", "/v1/status"), 200, o, admin, [](const json& s) {
    const std::string uptime = core::format_duration(s.value("uptime_s", std::int64_t{0}) * 1000,
                                                     core::DurationStyle::Compact);
    std::printf("gatehouse %s, up %s, config generation %s, %s workers\n",
                text_of(s.value("version", json())).c_str(), uptime.c_str(),
                text_of(s.value("generation", json())).c_str(),
                text_of(s.value("workers", json())).c_str());
    std::string listeners;
    for (const json& l : s.value("listeners", json::array())) {
      if (!listeners.empty()) listeners += ", ";
      listeners += text_of(l.value("address", json()));
      if (l.value("proxy_protocol", false)) listeners += " (PROXY protocol)";
    }
    std::printf("listeners  %s\n", listeners.empty() ? "-" : listeners.c_str());
    if (s.contains("admin")) {
      const json& a = s["admin"];
      std::printf(
          "admin      %s (%s)\n", text_of(a.value("address", json())).c_str(),
          a.value("changes_enabled", false) ? "changes enabled" : "read-only: no admin.token_file");
    }
    const json b = s.value("bans", json::object());
    std::printf(
        "bans       %s live of %s (%s set, %s removed, %s expired, %s evicted when full)\n\n",
        text_of(b.value("live", json())).c_str(), text_of(b.value("capacity", json())).c_str(),
        text_of(b.value("bans", json())).c_str(), text_of(b.value("unbans", json())).c_str(),
        text_of(b.value("expired", json())).c_str(),
        text_of(b.value("evicted_full", json())).c_str());
    print_fleet(s.value("fleet", json()));
    std::vector<std::vector<std::string>> rows;
    const json stats = s.value("stats", json::object());
    for (const auto& [name, value] : stats.items()) rows.push_back({name, text_of(value)});
    print_table({"COUNTER", "VALUE"}, rows);
    return kOk;
  });
}

int bans_list(AdminClient& admin, const CtlOptions& o) {
  return handle(admin.request("GET", "/v1/bans"), 200, o, admin, [](const json& answer) {
    const json bans = answer.value("bans", json::array());
    if (bans.empty()) {
      std::printf("no bans\n");
      return kOk;
    }
    std::vector<std::vector<std::string>> rows;
    for (const json& b : bans) {
      rows.push_back({text_of(b.value("key", json())), expires_in(b),
                      text_of(b.value("level", json())), text_of(b.value("source", json())),
                      b.value("reason", std::string()).empty() ? "-" : text_of(b["reason"])});
    }
    print_table({"KEY", "EXPIRES IN", "LEVEL", "SOURCE", "REASON"}, rows);
    return kOk;
  });
}

int bans_add(AdminClient& admin, const CtlOptions& o) {
  json body = {{"key", o.key}, {"duration", o.duration}};
  if (!o.reason.empty()) body["reason"] = o.reason;
  if (!o.max.empty()) body["max"] = o.max;
  return handle(
      admin.request("POST", "/v1/bans", body.dump()), 201, o, admin, [](const json& answer) {
        const json ban = answer.value("ban", json::object());
        const json expiry = ban.value("expiry", json(nullptr));
        const std::string at =
            expiry.is_number_integer() ? " (" + utc_time(expiry.get<std::int64_t>()) + ")" : "";
        std::printf("banned %s: expires in %s%s\n", text_of(ban.value("key", json())).c_str(),
                    expires_in(ban).c_str(), at.c_str());
        return kOk;
      });
}

int bans_remove(AdminClient& admin, const CtlOptions& o) {
  return handle(admin.request("DELETE", "/v1/bans/" + url_encode(o.key)), 200, o, admin,
                [&o](const json& answer) {
                  std::printf("removed the ban on %s\n",
                              text_of(answer.value("key", json(o.key))).c_str());
                  return kOk;
                });
}

std::string num(const json& v) {
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v.get<double>());
    return buf;
  }
  return text_of(v);
}

void print_modes(const json& list) {
  if (list.empty()) {
    std::printf("no sign-up routes\n");
    return;
  }
  std::vector<std::vector<std::string>> rows;
  for (const json& r : list) {
    const json room = r.value("waiting_room", json::object());
    const json sig = r.value("signals", json::object());
    rows.push_back(
        {text_of(r.value("route", json())), text_of(r.value("mode", json())),
         r.value("manual", false) ? "manual" : "auto", text_of(r.value("configured", json())),
         text_of(r.value("since", json())).substr(0, 19), text_of(room.value("queued", json())),
         text_of(room.value("admission_rate_per_min", json())),
         num(sig.value("request_rate", json()))});
  }
  print_table(
      {"ROUTE", "MODE", "SET", "CONFIGURED", "SINCE (UTC)", "QUEUED", "ADMITTED/MIN", "REQ/S"},
      rows);
}

int signup_mode(AdminClient& admin, const CtlOptions& o) {
  if (o.mode.empty()) {
    const std::string path =
        o.route.empty() ? "/v1/signup-mode" : "/v1/signup-mode?route=" + url_encode(o.route);
    return handle(admin.request("GET", path), 200, o, admin, [&o](const json& answer) {
      print_modes(o.route.empty() ? answer.value("routes", json::array()) : json::array({answer}));
      return kOk;
    });
  }
  if (!admin.has_token()) {
    std::fprintf(
        stderr,
        "gatehouse ctl: changing the sign-up mode needs the admin token: pass --token-file "
        "FILE (or set GATEHOUSE_ADMIN_TOKEN_FILE=FILE), FILE being the config's "
        "admin.token_file (gatehouse demo writes var/admin.token)\n");
    return kApiError;
  }
  json body = {{"route", o.route}, {"mode", o.mode}};
  if (!o.reason.empty()) body["reason"] = o.reason;
  return handle(
      admin.request("POST", "/v1/signup-mode", body.dump()), 200, o, admin, [](const json& r) {
        std::printf("sign-up mode of %s: %s (%s)\n", text_of(r.value("route", json())).c_str(),
                    text_of(r.value("mode", json())).c_str(),
                    r.value("manual", false) ? "set by hand; 'auto' gives it back to the triggers"
                                             : "automatic");
        return kOk;
      });
}

int residents_revoke(AdminClient& admin, const CtlOptions& o) {
  if (!admin.has_token()) {
    std::fprintf(stderr,
                 "gatehouse ctl: revoking device tokens needs the admin token: pass --token-file "
                 "FILE (or set GATEHOUSE_ADMIN_TOKEN_FILE=FILE)\n");
    return kApiError;
  }
  const json body = o.account.empty() ? json{{"device", o.device}} : json{{"account", o.account}};
  return handle(
      admin.request("POST", "/v1/residents/revoke", body.dump()), 200, o, admin, [&o](const json&) {
        if (o.account.empty()) {
          std::printf("device %s revoked: its token is refused from now on\n", o.device.c_str());
        } else {
          std::printf(
              "device tokens of %s revoked: each device becomes anonymous until "
              "it logs in again\n",
              o.account.c_str());
        }
        return kOk;
      });
}

int events(AdminClient& admin, const CtlOptions& o) {
  return handle(
      admin.request("GET", "/v1/events?limit=" + std::to_string(o.limit)), 200, o, admin,
      [](const json& answer) {
        const json list = answer.value("events", json::array());
        if (list.empty()) {
          std::printf("no events\n");
          return kOk;
        }
        std::vector<std::vector<std::string>> rows;
        for (const json& e : list) {
          const json data = e.value("data", json::object());
          rows.push_back({text_of(e.value("time", json())).substr(0, 19),
                          text_of(e.value("kind", json())),
                          e.value("route", std::string()).empty() ? "-" : text_of(e["route"]),
                          data.is_object() && data.contains("by") ? text_of(data["by"]) : "-",
                          text_of(e.value("message", json()))});
        }
        print_table({"TIME (UTC)", "KIND", "ROUTE", "BY", "MESSAGE"}, rows);
        return kOk;
      });
}

int top(AdminClient& admin, const CtlOptions& o) {
  return handle(
      admin.request("GET", "/v1/top?n=" + std::to_string(o.top_n)), 200, o, admin,
      [](const json& answer) {
        const std::pair<const char*, const char*> dims[] = {{"prefixes", "CLIENT PREFIX"},
                                                            {"asns", "NETWORK"},
                                                            {"user_agents", "USER AGENT"},
                                                            {"accounts", "ACCOUNT"}};
        bool first = true;
        for (const auto& [key, title] : dims) {
          const json list = answer.value(key, json::array());
          if (list.empty()) continue;
          if (!first) std::printf("\n");
          first = false;
          std::vector<std::vector<std::string>> rows;
          for (const json& it : list) {
            rows.push_back({text_of(it.value("count", json())), text_of(it.value("error", json())),
                            text_of(it.value("key", json()))});
          }
          print_table({"COUNT", "ERROR", title}, rows);
        }
        if (first) std::printf("no traffic seen yet\n");
        return kOk;
      });
}

int routes(AdminClient& admin, const CtlOptions& o) {
  return handle(admin.request("GET", "/v1/routes"), 200, o, admin, [](const json& answer) {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::vector<std::string>> limits;
    for (const json& r : answer.value("routes", json::array())) {
      const json req = r.value("requests", json::object());
      std::uint64_t total = 0, passed = 0;
      for (const auto& [k, v] : req.items()) {
        if (v.is_number_unsigned()) total += v.get<std::uint64_t>();
        if (k == "passed" && v.is_number_unsigned()) passed = v.get<std::uint64_t>();
      }
      std::string mode = "-";
      if (r.contains("signup")) {
        mode = text_of(r["signup"].value("mode", json()));
        if (r["signup"].value("manual", false)) mode += " (manual)";
      }
      std::string conc = "-";
      if (r.contains("concurrency")) {
        conc = text_of(r["concurrency"].value("in_flight", json())) + "/" +
               text_of(r["concurrency"].value("limit", json()));
      }
      rows.push_back({text_of(r.value("name", json())), text_of(r.value("class", json())),
                      text_of(r.value("upstream", json())), std::to_string(total),
                      std::to_string(passed), mode, conc});
      for (const json& l : r.value("limits", json::array())) {
        const json t = l.value("table", json::object());
        limits.push_back(
            {text_of(r.value("name", json())), text_of(l.value("name", json())),
             text_of(l.value("key", json())), text_of(l.value("rate", json())),
             text_of(l.value("action", json())),
             text_of(t.value("tracked", json())) + "/" + text_of(t.value("capacity", json()))});
      }
    }
    print_table(
        {"ROUTE", "CLASS", "UPSTREAM", "REQUESTS", "PASSED", "SIGN-UP MODE", "IN FLIGHT/LIMIT"},
        rows);
    if (!limits.empty()) {
      std::printf("\n");
      print_table({"ROUTE", "LIMIT", "KEY", "RATE", "ACTION", "KEYS/CAPACITY"}, limits);
    }
    return kOk;
  });
}

int reload(AdminClient& admin, const CtlOptions& o) {
  if (!admin.has_token()) {
    std::fprintf(stderr,
                 "gatehouse ctl: reload needs the admin token: pass --token-file FILE (or set "
                 "GATEHOUSE_ADMIN_TOKEN_FILE=FILE)\n");
    return kApiError;
  }
  return handle(admin.request("POST", "/v1/reload", "{}"), 200, o, admin, [](const json& r) {
    std::printf("config reloaded (generation %s)\n",
                text_of(r.value("generation", json())).c_str());
    if (const auto c = r.find("changes"); c != r.end() && c->is_array()) {
      for (const json& line : *c) std::printf("  %s\n", text_of(line).c_str());
    }
    return kOk;
  });
}

int usage_error(const std::string& message) {
  std::fprintf(stderr, "gatehouse ctl: %s\nRun 'gatehouse ctl --help' for usage.\n",
               message.c_str());
  return kUsage;
}

}  // namespace

CLI::App* add_ctl_subcommand(CLI::App& app) {
  auto* ctl = app.add_subcommand(
      "ctl",
      "Talk to a running gatehouse's admin API: status, routes, signup-mode, events, top, reload, "
      "bans (see 'gatehouse ctl --help')");
  ctl->prefix_command();  // everything after `ctl` goes to ctl_command
  ctl->set_help_flag();   // ... --help included
  return ctl;
}

int ctl_command(const std::vector<std::string>& args) {
  CtlOptions o;
  CLI::App app{"Talk to a running gatehouse through its admin API (docs/ADMIN.md).",
               "gatehouse ctl"};
  app.fallthrough();  // --json, --admin, --token-file also after the subcommand
  app.require_subcommand(1);
  app.add_option("--admin", o.admin, "Admin API address")->capture_default_str();
  app.add_option("--token-file", o.token_file, "File holding the admin token (needed for changes)")
      ->envname("GATEHOUSE_ADMIN_TOKEN_FILE");
  app.add_flag("--json", o.json, "Print the API's JSON instead of tables");
  app.footer("Exit codes: 0 success, 1 the API refused or could not be reached, 2 usage errors.");

  auto* status_cmd =
      app.add_subcommand("status", "Version, uptime, listeners, counters, ban table");
  auto* routes_cmd = app.add_subcommand("routes", "Routes, limits with live table counts, modes");
  auto* mode_cmd = app.add_subcommand(
      "signup-mode",
      "Show the sign-up modes, or set one: signup-mode ROUTE open|challenge|queue|closed|auto");
  mode_cmd->add_option("ROUTE", o.route, "Sign-up route name");
  mode_cmd
      ->add_option("MODE", o.mode, "open, challenge, queue, closed, or auto (back to the triggers)")
      ->check(CLI::IsMember({"open", "challenge", "queue", "closed", "auto"}));
  mode_cmd->add_option("--reason", o.reason, "Why (kept in the event log and the incident report)");
  auto* events_cmd = app.add_subcommand("events", "Recent events: mode changes, bans, reloads");
  events_cmd->add_option("--limit", o.limit, "How many (1-1000)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  auto* top_cmd =
      app.add_subcommand("top", "Top offenders now: client prefixes, user agents, accounts");
  top_cmd->add_option("-n,--n", o.top_n, "Entries per list (1-64)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  auto* reload_cmd = app.add_subcommand("reload", "Reload the config file (as SIGHUP does)");
  auto* bans = app.add_subcommand("bans", "List, add or remove bans");
  bans->require_subcommand(1);
  auto* list = bans->add_subcommand("list", "Live bans, soonest expiry first");
  auto* add = bans->add_subcommand("add", "Ban an address or prefix");
  add->add_option("KEY", o.key, "Address or CIDR, e.g. 203.0.113.7 or 2001:db8::/48")->required();
  add->add_option("--for", o.duration, "Duration: 30m, 1h, 7d (1s..365d)")->required();
  add->add_option("--reason", o.reason, "Why (at most 63 bytes; shown in logs and lists)");
  add->add_option("--max", o.max,
                  "Cap for escalation when the key is banned again within the window");
  auto* remove = bans->add_subcommand("remove", "Lift the ban on exactly this address or prefix");
  remove->add_option("KEY", o.key, "Address or CIDR as it was banned")->required();
  auto* residents = app.add_subcommand("residents", "Device tokens of residents");
  residents->require_subcommand(1);
  auto* revoke = residents->add_subcommand(
      "revoke", "Revoke device tokens: every device of an account (log out everywhere), or one");
  auto* by_account = revoke->add_option("--account", o.account, "The account's name as it logs in");
  revoke->add_option("--device", o.device, "One device id (32 hex characters, from the access log)")
      ->excludes(by_account);

  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kOk : kUsage;
  }

  auto address = client::parse_socket_address(o.admin);
  if (!address)
    return usage_error("--admin: '" + o.admin +
                       "' is not an address like 127.0.0.1:7462 or [::1]:7462");
  if (*add || *remove) {
    if (!client::parse_cidr(o.key)) {
      return usage_error(
          "'" + o.key +
          "' is not an address or CIDR (e.g. 203.0.113.7, 10.0.0.0/8, 2001:db8::/48)");
    }
  }
  if (*add) {
    std::string why;
    if (!control::parse_ban_seconds(o.duration, &why)) return usage_error("--for: " + why);
    if (!o.max.empty() && !control::parse_ban_seconds(o.max, &why))
      return usage_error("--max: " + why);
  }

  std::optional<std::string> token;
  if (!o.token_file.empty()) {
    std::string why;
    token = control::read_token_file(o.token_file, &why);
    if (!token) {
      std::fprintf(stderr, "gatehouse ctl: %s\n", why.c_str());
      return kApiError;
    }
  }
  AdminClient admin(*address, std::move(token));
  if (*status_cmd) return status(admin, o);
  if (*routes_cmd) return routes(admin, o);
  if (*mode_cmd) return signup_mode(admin, o);
  if (*events_cmd) return events(admin, o);
  if (*top_cmd) return top(admin, o);
  if (*reload_cmd) return reload(admin, o);
  if (*list) return bans_list(admin, o);
  if (*add) return bans_add(admin, o);
  if (*remove) return bans_remove(admin, o);
  if (*revoke) {
    if (o.account.empty() && o.device.empty())
      return usage_error("revoke needs --account or --device");
    return residents_revoke(admin, o);
  }
  return usage_error("missing command");
}

}  // namespace gh::cli
