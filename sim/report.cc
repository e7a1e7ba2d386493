#include "sim/report.h"

#include <string>

namespace gh::sim {
namespace {

using nlohmann::json;

double ms(std::uint64_t ns) {
  return static_cast<double>(ns) / 1e6;
}

json histogram_json(const Histogram& h) {
  return {{"count", h.count()},
          {"p50", ms(h.percentile(0.5))},
          {"p90", ms(h.percentile(0.9))},
          {"p99", ms(h.percentile(0.99))},
          {"p999", ms(h.percentile(0.999))},
          {"max", ms(h.max())},
          {"mean", h.mean() / 1e6}};
}

std::string latency_text(std::uint64_t ns) {
  char b[32];
  const double m = ms(ns);
  if (m >= 10'000) {
    std::snprintf(b, sizeof b, "%.0fs", m / 1000);
  } else if (m >= 100) {
    std::snprintf(b, sizeof b, "%.0fms", m);
  } else {
    std::snprintf(b, sizeof b, "%.1fms", m);
  }
  return b;
}

double pct(double part, double whole) {
  return whole <= 0 ? 0.0 : 100.0 * part / whole;
}

std::uint64_t users_of(const PopulationStats& s) {
  return s.users_ok + s.users_failed + s.users_unfinished + s.dropped;
}

bool signs_up(Behaviour b) {
  return b == Behaviour::Newcomer || b == Behaviour::SignupFlood;
}

}  // namespace

const char* behaviour_name(Behaviour b) {
  switch (b) {
    case Behaviour::Resident:
      return "resident";
    case Behaviour::Newcomer:
      return "newcomer";
    case Behaviour::SignupFlood:
      return "signup-flood";
    case Behaviour::CredentialStuffing:
      return "credential-stuffing";
    case Behaviour::SlowClient:
      return "slow-client";
    case Behaviour::ApiResident:
      return "api-resident";
  }
  return "?";
}

json report_json(const RunReport& r) {
  json pops = json::array();
  for (std::size_t i = 0; i < r.stats.size(); ++i) {
    const auto& c = r.populations[i];
    const auto& s = r.stats[i];
    json refused = json::object();
    for (auto& [code, n] : s.refused) refused[std::to_string(code)] = n;
    const std::uint64_t users = s.users_ok + s.users_failed + s.users_unfinished + s.dropped;
    json p{{"name", c.name},
           {"behaviour", behaviour_name(c.behaviour)},
           {"arrivals", s.arrivals},
           {"dropped_arrivals", s.dropped},
           {"users_ok", s.users_ok},
           {"users_failed", s.users_failed},
           {"users_unfinished", s.users_unfinished},
           {"users_ok_pct", users == 0 ? 0.0 : 100.0 * static_cast<double>(s.users_ok) / users},
           {"sent", s.sent},
           {"succeeded", s.succeeded},
           {"refused", refused},
           {"errors", s.errors},
           {"challenged", s.challenged},
           {"solved", s.solved},
           {"queued", s.queued},
           {"registered", s.registered},
           {"logged_in", s.logged_in},
           {"accounts_created", s.accounts_created < 0 ? json(nullptr) : json(s.accounts_created)},
           {"latency_ms", histogram_json(s.latency)},
           {"time_to_goal_ms", histogram_json(s.to_goal)},
           {"profile", profile_name(c.profile)},
           {"registered_60s", s.registered_60s},
           {"registered_60s_pct",
            pct(static_cast<double>(s.registered_60s), static_cast<double>(users))},
           {"api_calls", s.api_calls},
           {"logins_at_app", s.logins_at_app < 0 ? json(nullptr) : json(s.logins_at_app)},
           {"pow_hashes", s.pow_hashes},
           {"solutions", s.solutions},
           {"solves_late", s.solves_late},
           {"solves_unfinished", s.solves_unfinished},
           {"solve_lag_ms", histogram_json(s.solve_lag)}};
    if (signs_up(c.behaviour) && s.accounts_created >= 0) {
      // Sign-up attempts that became accounts, as the app counts them.
      p["accounts_pct"] = pct(static_cast<double>(s.accounts_created), static_cast<double>(users));
    }
    if (s.accounts_created > 0) {
      p["pow_hashes_per_account"] =
          static_cast<double>(s.pow_hashes) / static_cast<double>(s.accounts_created);
    } else {
      p["pow_hashes_per_account"] = nullptr;
    }
    if (c.behaviour == Behaviour::CredentialStuffing && s.logins_at_app >= 0) {
      p["logins_at_app_pct"] =
          pct(static_cast<double>(s.logins_at_app), static_cast<double>(users));
    }
    if (c.arrival_rate > 0) {
      p["arrival_rate"] = c.arrival_rate;
    } else {
      p["connections"] = c.connections;
    }
    pops.push_back(std::move(p));
  }
  return {{"scenario", r.scenario},
          {"target", r.target},
          {"duration_s", r.duration_s},
          {"elapsed_s", r.elapsed_s},
          {"latency_precision", Histogram::kRelativeError},
          {"populations", pops}};
}

void print_table(std::FILE* out, const RunReport& r) {
  std::fprintf(out, "\nscenario %s against %s: %.1fs of arrivals, %.1fs in all\n\n",
               r.scenario.c_str(), r.target.c_str(), r.duration_s, r.elapsed_s);
  std::fprintf(out, "%-14s %-19s %7s %6s %8s %8s %8s %7s %7s %7s %8s %8s %8s\n", "population",
               "behaviour", "users", "ok%", "sent", "succ", "refused", "chall", "queued", "accts",
               "p50", "p99", "p99.9");
  for (std::size_t i = 0; i < r.stats.size(); ++i) {
    const auto& c = r.populations[i];
    const auto& s = r.stats[i];
    std::uint64_t refused = 0;
    for (auto& [code, n] : s.refused) refused += n;
    const std::uint64_t users = s.users_ok + s.users_failed + s.users_unfinished + s.dropped;
    const std::string accts = s.accounts_created < 0 ? "?" : std::to_string(s.accounts_created);
    std::fprintf(
        out, "%-14s %-19s %7llu %5.1f%% %8llu %8llu %8llu %7llu %7llu %7s %8s %8s %8s\n",
        c.name.c_str(), behaviour_name(c.behaviour), static_cast<unsigned long long>(users),
        users == 0 ? 0.0 : 100.0 * static_cast<double>(s.users_ok) / users,
        static_cast<unsigned long long>(s.sent), static_cast<unsigned long long>(s.succeeded),
        static_cast<unsigned long long>(refused), static_cast<unsigned long long>(s.challenged),
        static_cast<unsigned long long>(s.queued), accts.c_str(),
        latency_text(s.latency.percentile(0.5)).c_str(),
        latency_text(s.latency.percentile(0.99)).c_str(),
        latency_text(s.latency.percentile(0.999)).c_str());
  }
  // Details that do not fit in columns.
  for (std::size_t i = 0; i < r.stats.size(); ++i) {
    const auto& c = r.populations[i];
    const auto& s = r.stats[i];
    std::string d;
    if (!s.refused.empty()) {
      d += " refused by status:";
      for (auto& [code, n] : s.refused) d += " " + std::to_string(code) + "x" + std::to_string(n);
    }
    if (!s.errors.empty()) {
      d += " errors:";
      for (auto& [k, n] : s.errors) d += " " + k + "x" + std::to_string(n);
    }
    if (s.users_unfinished > 0) d += " unfinished: " + std::to_string(s.users_unfinished);
    if (s.dropped > 0) d += " dropped arrivals (sim overloaded): " + std::to_string(s.dropped);
    if (s.solved > 0) d += " solved: " + std::to_string(s.solved);
    if (s.registered > 0) {
      d += " registered: " + std::to_string(s.registered) + ", time to register p50 " +
           latency_text(s.to_goal.percentile(0.5)) + " p99 " +
           latency_text(s.to_goal.percentile(0.99));
    }
    if (s.registered > 0) {
      d += ", within 60 s " + std::to_string(s.registered_60s);
    }
    if (signs_up(c.behaviour) && s.accounts_created >= 0) {
      char b[64];
      std::snprintf(b, sizeof b, " accounts/attempts %.1f%%",
                    pct(static_cast<double>(s.accounts_created), static_cast<double>(users_of(s))));
      d += b;
    }
    if (s.pow_hashes > 0) {
      char b[160];
      std::snprintf(b, sizeof b, " pow %.3gM hashes", static_cast<double>(s.pow_hashes) / 1e6);
      d += b;
      if (s.accounts_created > 0) {
        std::snprintf(
            b, sizeof b, " (%.3gM per account)",
            static_cast<double>(s.pow_hashes) / 1e6 / static_cast<double>(s.accounts_created));
        d += b;
      }
      if (s.solves_late > 0 || s.solves_unfinished > 0) {
        d += " late solves " + std::to_string(s.solves_late) + " of " +
             std::to_string(s.solutions) + " (p50 " + latency_text(s.solve_lag.percentile(0.5)) +
             "), unfinished " + std::to_string(s.solves_unfinished) +
             ": the simulator hashed slower than hashes_per_second";
      }
    }
    if (c.behaviour == Behaviour::ApiResident) d += " api calls ok: " + std::to_string(s.api_calls);
    if (c.behaviour == Behaviour::CredentialStuffing) {
      d += " logins that worked: " + std::to_string(s.logged_in);
      if (s.logins_at_app >= 0) {
        d += ", attempts that reached the app: " + std::to_string(s.logins_at_app);
      }
    }
    if (!d.empty()) std::fprintf(out, "  %s:%s\n", c.name.c_str(), d.c_str());
  }
  // What each population came for and got: the mission's measures.
  std::fprintf(out, "\n%-14s %8s %7s %8s %7s %9s %9s %8s %10s %8s\n", "population", "attempts",
               "served", "p99", "accts", "accts/att", "reg<=60s", "reg p50", "PoW/acct", "at app");
  for (std::size_t i = 0; i < r.stats.size(); ++i) {
    const auto& c = r.populations[i];
    const auto& s = r.stats[i];
    const std::uint64_t users = users_of(s);
    const bool signup = signs_up(c.behaviour);
    char served[16], per_att[16] = "-", reg60[16] = "-", pow[24] = "-";
    std::snprintf(served, sizeof served, "%.2f%%",
                  pct(static_cast<double>(s.users_ok), static_cast<double>(users)));
    if (signup && s.accounts_created >= 0) {
      std::snprintf(per_att, sizeof per_att, "%.1f%%",
                    pct(static_cast<double>(s.accounts_created), static_cast<double>(users)));
    }
    if (signup) {
      std::snprintf(reg60, sizeof reg60, "%.1f%%",
                    pct(static_cast<double>(s.registered_60s), static_cast<double>(users)));
    }
    if (s.pow_hashes > 0 && s.accounts_created > 0) {
      std::snprintf(
          pow, sizeof pow, "%.3gM",
          static_cast<double>(s.pow_hashes) / 1e6 / static_cast<double>(s.accounts_created));
    } else if (s.pow_hashes > 0 && s.accounts_created == 0) {
      std::snprintf(pow, sizeof pow, "no accts");
    }
    const std::string accts = s.accounts_created < 0 ? "?" : std::to_string(s.accounts_created);
    const std::string at_app = s.logins_at_app < 0 ? "-" : std::to_string(s.logins_at_app);
    std::fprintf(
        out, "%-14s %8llu %7s %8s %7s %9s %9s %8s %10s %8s\n", c.name.c_str(),
        static_cast<unsigned long long>(users), served,
        latency_text(s.latency.percentile(0.99)).c_str(), accts.c_str(), per_att, reg60,
        signup && s.to_goal.count() > 0 ? latency_text(s.to_goal.percentile(0.5)).c_str() : "-",
        pow, at_app.c_str());
  }
  std::fprintf(out,
               "\nusers ok%% / served: users who did what they came for; latency per request from "
               "its intended start (precision %.2f%%); accts: counted by the app; reg<=60s: "
               "attempts registered within 60 s (form filling not counted); PoW/acct: hashes the "
               "population computed per account the app created; at app: logins the app itself "
               "handled.\n",
               Histogram::kRelativeError * 100);
}

}  // namespace gh::sim
