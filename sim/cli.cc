#include "sim/cli.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>

#include "sim/engine.h"
#include "sim/mmdb.h"
#include "sim/report.h"
#include "sim/scenario.h"
#include "sim/setup.h"

namespace gh::sim {

// An app flooded without a shield can take a while to work through what it accepted; those
// requests still create accounts, so they are waited for (bounded).
constexpr Nanos kSettleWait = 120 * kSec;

void add_sim_command(CLI::App& app) {
  auto opts = std::make_shared<SimOptions>();
  auto* cmd = app.add_subcommand(
      "sim",
      "Attack simulator: replay a scenario of residents, newcomers and bots on a loopback target");
  cmd->footer(
      "Populations arrive open-loop (Poisson, latency from the intended start) or closed-loop, "
      "from\naddresses bound across 127.0.0.0/8. Scenarios: sim/scenarios/*.yaml; see "
      "sim/README.md.\nExample: gatehouse sim sim/scenarios/baseline.yaml --target "
      "http://127.0.0.1:8080 --app http://127.0.0.1:3000\n"
      "         gatehouse sim asn-db sim/scenarios/launch-siege.yaml var/asn.mmdb");
  // SCENARIO and --target are checked in the callback: `sim asn-db` takes neither.
  cmd->add_option("scenario", opts->scenario_path, "Scenario YAML file");
  cmd->add_option("--target", opts->target,
                  "Where the load goes: http://127.0.0.1:PORT (loopback only)");
  cmd->add_option("--app", opts->app,
                  "The demo app itself, for account setup and GET /api/stats (default: --target)");
  cmd->add_option("--duration", opts->duration_s, "Seconds of arrivals, overriding the scenario")
      ->check(CLI::Range(0.1, 600.0));
  cmd->add_option("--drain", opts->drain_s,
                  "Seconds users in flight may still finish after the arrivals, overriding the "
                  "scenario (cap 120)");
  cmd->add_option("--report", opts->report_path, "Write the results as JSON to this file");
  cmd->add_flag("-q,--quiet", opts->quiet, "No progress line");
  cmd->add_flag("--via-xff", opts->via_xff,
                "Send source addresses as X-Forwarded-For (for IPv6 or wide ranges, through a "
                "trusted-proxy listener) instead of binding 127.x.y.z");
  cmd->add_option("--only", opts->only,
                  "Run only these populations (names, comma-separated), e.g. a siege's residents "
                  "and newcomers for its calm baseline")
      ->delimiter(',');

  auto asn = std::make_shared<std::pair<std::string, std::string>>();
  auto* asn_db = cmd->add_subcommand(
      "asn-db",
      "Write the scenario's networks (networks: [{cidr, asn, org}]) as a MaxMind DB for the "
      "shield's ASN conditions (reputation.asn_database)");
  asn_db->add_option("scenario", asn->first, "Scenario YAML file")->required();
  asn_db->add_option("out", asn->second, "The .mmdb file to write (replaced)")->required();
  asn_db->footer(
      "The database has GeoLite2-ASN's fields (autonomous_system_number, "
      "autonomous_system_organization);\nlibmaxminddb reads it. Example: gatehouse sim asn-db "
      "sim/scenarios/launch-siege.yaml var/launch-siege-asn.mmdb");

  cmd->callback([opts, asn, asn_db] {
    if (asn_db->parsed()) {
      if (int rc = run_asn_db(asn->first, asn->second); rc != 0) throw CLI::RuntimeError(rc);
      return;
    }
    if (opts->scenario_path.empty()) {
      throw CLI::RequiredError("scenario (or the subcommand asn-db)");
    }
    if (opts->target.empty()) throw CLI::RequiredError("--target");
    if (int rc = run_sim(*opts); rc != 0) throw CLI::RuntimeError(rc);
  });
}

bool select_populations(Scenario& s, const std::vector<std::string>& only, std::string* error) {
  if (only.empty()) return true;
  for (const auto& name : only) {
    const bool known = std::any_of(s.populations.begin(), s.populations.end(),
                                   [&](const PopulationConfig& p) { return p.name == name; });
    if (!known) {
      std::string names;
      for (const auto& p : s.populations) names += (names.empty() ? "" : ", ") + p.name;
      if (error != nullptr) {
        *error = "--only: no population '" + name + "' in the scenario (it has: " + names + ")";
      }
      return false;
    }
  }
  std::erase_if(s.populations, [&](const PopulationConfig& p) {
    return std::find(only.begin(), only.end(), p.name) == only.end();
  });
  return true;
}

int run_asn_db(const std::string& scenario_path, const std::string& out) {
  std::string error;
  auto sc = load_scenario(scenario_path, &error);
  if (!sc) {
    std::fprintf(stderr, "sim asn-db: %s\n", error.c_str());
    return 2;
  }
  if (sc->networks.empty()) {
    std::fprintf(stderr, "sim asn-db: %s has no networks (networks: [{cidr, asn, org}])\n",
                 scenario_path.c_str());
    return 2;
  }
  // Wider networks first, so a narrower one listed inside a wider one wins where it is.
  auto nets = sc->networks;
  auto width = [](const Network& n) { return n.cidr.v6 ? n.cidr.prefix : 96 + n.cidr.prefix; };
  std::stable_sort(nets.begin(), nets.end(),
                   [&](const Network& a, const Network& b) { return width(a) < width(b); });
  MmdbWriter w;
  w.set_database_type("Gatehouse-Sim-ASN");
  w.set_description("networks of scenario " + (sc->name.empty() ? scenario_path : sc->name));
  for (const auto& n : nets) w.add(n.cidr, n.asn, n.org);
  if (!w.write(out, &error)) {
    std::fprintf(stderr, "sim asn-db: %s\n", error.c_str());
    return 1;
  }
  std::printf("sim asn-db: %zu networks of %s written to %s\n", nets.size(),
              sc->name.empty() ? scenario_path.c_str() : sc->name.c_str(), out.c_str());
  return 0;
}

int run_sim(const SimOptions& o) {
  std::string error;
  auto sc = load_scenario(o.scenario_path, &error);
  if (!sc) {
    std::fprintf(stderr, "sim: %s\n", error.c_str());
    return 2;
  }
  if (o.drain_s >= 0) {
    if (o.drain_s > 120) {
      std::fprintf(stderr, "sim: --drain is capped at 120 s\n");
      return 2;
    }
    sc->drain = static_cast<Nanos>(o.drain_s * 1e9);
  }
  if (!select_populations(*sc, o.only, &error)) {
    std::fprintf(stderr, "sim: %s\n", error.c_str());
    return 2;
  }
  if (o.duration_s > 0) {
    if (o.duration_s > 600) {
      std::fprintf(stderr, "sim: --duration is capped at 600 s\n");
      return 2;
    }
    sc->duration = static_cast<Nanos>(o.duration_s * 1e9);
  }
  auto target = parse_target(o.target, &error);
  if (!target) {
    std::fprintf(stderr, "sim: %s\n", error.c_str());
    return 2;
  }
  auto app = parse_target(o.app.empty() ? o.target : o.app, &error);
  if (!app) {
    std::fprintf(stderr, "sim: --app: %s\n", error.c_str());
    return 2;
  }
  if (!check_sources(*sc, o.via_xff, &error)) {
    std::fprintf(stderr, "sim: %s\n", error.c_str());
    return 2;
  }

  Engine engine(*sc, *target, o.via_xff, o.quiet);
  for (std::size_t i = 0; i < sc->populations.size(); ++i) {
    const auto& p = sc->populations[i];
    if (p.behaviour != Behaviour::Resident && p.behaviour != Behaviour::ApiResident) continue;
    std::optional<std::vector<Account>> accounts;
    if (!p.accounts_file.empty()) {
      accounts = read_accounts(p.accounts_file, &error);
    } else {
      if (!o.quiet) {
        std::fprintf(stderr, "sim: setup: %u accounts for '%s' at %s\n", p.accounts, p.name.c_str(),
                     app->authority.c_str());
      }
      accounts = create_accounts(*app, p.name, p.accounts, sc->setup_concurrency, &error);
    }
    if (!accounts) {
      std::fprintf(stderr, "sim: setup of '%s': %s\n", p.name.c_str(), error.c_str());
      return 1;
    }
    std::vector<CookieJar> jars;
    if (p.prior_login && p.behaviour == Behaviour::ApiResident) {
      if (!o.quiet) {
        std::fprintf(stderr, "sim: setup: %zu API logins for '%s' at %s\n", accounts->size(),
                     p.name.c_str(), target->authority.c_str());
      }
      auto t = prior_api_logins(*target, o.via_xff, p, *accounts, sc->setup_concurrency, &error);
      if (!t) {
        std::fprintf(stderr, "sim: setup of '%s': %s\n", p.name.c_str(), error.c_str());
        return 1;
      }
      engine.set_accounts(i, std::move(*accounts));
      engine.set_tokens(i, std::move(*t));
      continue;
    }
    if (p.prior_login) {
      if (!o.quiet) {
        std::fprintf(stderr, "sim: setup: %zu prior logins for '%s' at %s\n", accounts->size(),
                     p.name.c_str(), target->authority.c_str());
      }
      auto j = prior_logins(*target, o.via_xff, p, *accounts, sc->setup_concurrency, &error);
      if (!j) {
        std::fprintf(stderr, "sim: setup of '%s': %s\n", p.name.c_str(), error.c_str());
        return 1;
      }
      jars = std::move(*j);
    }
    engine.set_accounts(i, std::move(*accounts), std::move(jars));
  }

  // The app's own counts before and after: the difference is what each population created.
  auto before = fetch_app_stats(*app, &error);
  if (!before)
    std::fprintf(stderr, "sim: warning: accounts will not be counted: %s\n", error.c_str());

  if (!engine.run(&error)) {
    std::fprintf(stderr, "sim: %s\n", error.c_str());
    return 1;
  }

  RunReport rep;
  rep.scenario = sc->name.empty() ? o.scenario_path : sc->name;
  rep.target = o.target;
  rep.duration_s = static_cast<double>(sc->duration) / 1e9;
  rep.elapsed_s = engine.elapsed_s();
  rep.populations = sc->populations;
  rep.stats = engine.stats();
  if (before) {
    if (!o.quiet) std::fprintf(stderr, "sim: reading the app's account counts\n");
    auto after = fetch_app_stats_settled(*app, kSettleWait, &error);
    if (!after) {
      std::fprintf(stderr, "sim: warning: accounts not counted: %s\n", error.c_str());
    } else {
      for (std::size_t i = 0; i < rep.stats.size(); ++i) {
        const auto& name = rep.populations[i].name;
        const auto& am = after->accounts_by_population;
        const auto& bm = before->accounts_by_population;
        const auto a = am.count(name) ? am.at(name) : 0;
        const auto b = bm.count(name) ? bm.at(name) : 0;
        rep.stats[i].accounts_created = a - b;
        if (after->has_logins && before->has_logins) {
          const auto& al = after->logins_by_population;
          const auto& bl = before->logins_by_population;
          rep.stats[i].logins_at_app =
              (al.count(name) ? al.at(name) : 0) - (bl.count(name) ? bl.at(name) : 0);
        }
      }
    }
  }
  print_table(stdout, rep);
  std::fflush(stdout);
  if (!o.report_path.empty()) {
    std::ofstream out(o.report_path, std::ios::trunc);
    out << report_json(rep).dump(2) << "\n";
    if (!out) {
      std::fprintf(stderr, "sim: cannot write %s\n", o.report_path.c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace gh::sim
