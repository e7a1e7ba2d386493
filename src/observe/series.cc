#include "observe/series.h"

#include <algorithm>

namespace gh::observe {

using nlohmann::json;

void SecondSeries::push(Second second) {
  if (second.modes.size() > kSeriesRoutesMax) second.modes.resize(kSeriesRoutesMax);
  std::lock_guard lock(mu_);
  if (count_ > 0) {
    Second& newest = ring_[(next_ + kSeriesSeconds - 1) % kSeriesSeconds];
    if (second.at_ms <= newest.at_ms) {
      // Two samples in one second (a tick at stop, or a clock step back): the figures are deltas
      // already taken from the counters, so they are added in, never dropped.
      accumulate(newest.figures, second.figures);
      newest.figures.latency_p50_ms =
          std::max(newest.figures.latency_p50_ms, second.figures.latency_p50_ms);
      newest.modes = std::move(second.modes);
      return;
    }
  }
  ring_[next_] = std::move(second);
  next_ = (next_ + 1) % kSeriesSeconds;
  if (count_ < kSeriesSeconds) ++count_;
}

std::size_t SecondSeries::size() const {
  std::lock_guard lock(mu_);
  return count_;
}

json SecondSeries::json(std::size_t seconds) const {
  std::lock_guard lock(mu_);
  const std::size_t n = std::min({seconds, count_, kSeriesSeconds});
  const std::size_t first = (next_ + kSeriesSeconds - n) % kSeriesSeconds;
  auto column = [n]() {
    nlohmann::json a = nlohmann::json::array();
    a.get_ref<nlohmann::json::array_t&>().reserve(n);
    return a;
  };
  nlohmann::json t = column(), requests = column(), p50 = column(), p99 = column(),
                 queue = column(), admitted = column();
  // What accepted sign-ups paid: accounts by proof (none, base, surcharged), hashes by risk.
  std::array<nlohmann::json, 3> accounts;
  std::array<nlohmann::json, 2> hashes;
  for (auto& c : accounts) c = column();
  for (auto& c : hashes) c = column();
  std::array<nlohmann::json, kVerdicts> verdicts;
  std::array<nlohmann::json, kClasses> classes, served;
  for (auto& c : verdicts) c = column();
  for (auto& c : classes) c = column();
  for (auto& c : served) c = column();

  // Routes in order of first appearance; a second without a route's mode gets null.
  std::vector<std::string> routes;
  for (std::size_t k = 0; k < n; ++k) {
    for (const RouteMode& m : ring_[(first + k) % kSeriesSeconds].modes) {
      if (std::find(routes.begin(), routes.end(), m.route) == routes.end() &&
          routes.size() < kSeriesRoutesMax) {
        routes.push_back(m.route);
      }
    }
  }
  std::vector<nlohmann::json> modes(routes.size(), column());

  for (std::size_t k = 0; k < n; ++k) {
    const Second& s = ring_[(first + k) % kSeriesSeconds];
    const Figures& f = s.figures;
    t.push_back(s.at_ms / 1000);
    requests.push_back(f.requests());
    for (std::size_t i = 0; i < kVerdicts; ++i) verdicts[i].push_back(f.verdicts[i]);
    for (std::size_t i = 0; i < kClasses; ++i) {
      classes[i].push_back(f.class_requests[i]);
      served[i].push_back(f.class_served[i]);
    }
    p50.push_back(f.latency_p50_ms);
    p99.push_back(f.latency_p99_ms);
    queue.push_back(f.queue_length);
    admitted.push_back(f.newcomers_admitted);
    for (std::size_t i = 0; i < accounts.size(); ++i) accounts[i].push_back(f.signup_accounts[i]);
    for (std::size_t i = 0; i < hashes.size(); ++i) hashes[i].push_back(f.signup_hashes[i]);
    for (std::size_t r = 0; r < routes.size(); ++r) {
      auto it = std::find_if(s.modes.begin(), s.modes.end(),
                             [&](const RouteMode& m) { return m.route == routes[r]; });
      if (it == s.modes.end() || it->mode >= kModeNames.size()) {
        modes[r].push_back(nullptr);
      } else {
        modes[r].push_back(it->mode);
      }
    }
  }

  nlohmann::json out = {{"t", std::move(t)}, {"requests", std::move(requests)}};
  for (std::size_t i = 0; i < kVerdicts; ++i)
    out[std::string(kVerdictNames[i])] = std::move(verdicts[i]);
  for (std::size_t i = 0; i < kClasses; ++i) {
    out[std::string(kClassNames[i])] = std::move(classes[i]);
    out[std::string(kClassNames[i]) + "_served"] = std::move(served[i]);
  }
  out["latency_p50_ms"] = std::move(p50);
  out["latency_p99_ms"] = std::move(p99);
  out["queue_length"] = std::move(queue);
  out["admitted"] = std::move(admitted);
  out["signup_accounts_unpaid"] = std::move(accounts[0]);
  out["signup_accounts_base"] = std::move(accounts[1]);
  out["signup_accounts_surcharged"] = std::move(accounts[2]);
  out["signup_hashes_base"] = std::move(hashes[0]);
  out["signup_hashes_surcharged"] = std::move(hashes[1]);
  nlohmann::json mode_columns = nlohmann::json::object();
  for (std::size_t r = 0; r < routes.size(); ++r) mode_columns[routes[r]] = std::move(modes[r]);
  out["modes"] = std::move(mode_columns);
  nlohmann::json names = nlohmann::json::array();
  for (auto name : kModeNames) names.push_back(std::string(name));
  out["mode_names"] = std::move(names);
  return out;
}

Minute SecondSeries::fold(std::int64_t from_ms, std::int64_t to_ms) const {
  Minute m;
  m.at_ms = from_ms;
  std::vector<std::uint32_t> p50s;
  std::lock_guard lock(mu_);
  const std::size_t first = (next_ + kSeriesSeconds - count_) % kSeriesSeconds;
  const Second* last = nullptr;
  for (std::size_t k = 0; k < count_; ++k) {
    const Second& s = ring_[(first + k) % kSeriesSeconds];
    if (s.at_ms < from_ms || s.at_ms >= to_ms) continue;
    const Figures& f = s.figures;
    accumulate(m.figures, f);
    if (f.requests() > 0) p50s.push_back(f.latency_p50_ms);
    m.peak_rps = std::max(m.peak_rps, f.requests());
    last = &s;
  }
  if (!p50s.empty()) {
    std::nth_element(p50s.begin(), p50s.begin() + static_cast<std::ptrdiff_t>(p50s.size() / 2),
                     p50s.end());
    m.figures.latency_p50_ms = p50s[p50s.size() / 2];
  }
  if (last != nullptr) {
    for (const RouteMode& r : last->modes) {
      if (r.mode < kModeNames.size()) m.modes[r.route] = std::string(kModeNames[r.mode]);
    }
  }
  return m;
}

void accumulate(Figures& total, const Figures& f) {
  for (std::size_t i = 0; i < kVerdicts; ++i) total.verdicts[i] += f.verdicts[i];
  for (std::size_t i = 0; i < kClasses; ++i) {
    total.class_requests[i] += f.class_requests[i];
    total.class_served[i] += f.class_served[i];
  }
  total.newcomers_admitted += f.newcomers_admitted;
  total.queue_length = std::max(total.queue_length, f.queue_length);
  total.login_requests += f.login_requests;
  total.login_failed += f.login_failed;
  total.login_limited += f.login_limited;
  total.head_timeouts += f.head_timeouts;
  for (std::size_t i = 0; i < f.signup_accounts.size(); ++i) {
    total.signup_accounts[i] += f.signup_accounts[i];
  }
  for (std::size_t i = 0; i < f.signup_hashes.size(); ++i)
    total.signup_hashes[i] += f.signup_hashes[i];
  total.signup_solve_ms += f.signup_solve_ms;
  total.latency_p99_ms = std::max(total.latency_p99_ms, f.latency_p99_ms);
}

}  // namespace gh::observe
