#include "observe/minutes.h"

#include <algorithm>

namespace gh::observe {

using nlohmann::json;

json figures_json(const Figures& f) {
  json verdicts = json::object();
  for (std::size_t i = 0; i < kVerdicts; ++i)
    verdicts[std::string(kVerdictNames[i])] = f.verdicts[i];
  json classes = json::object();
  for (std::size_t i = 0; i < kClasses; ++i) {
    classes[std::string(kClassNames[i])] = {{"requests", f.class_requests[i]},
                                            {"served", f.class_served[i]}};
  }
  return json{
      {"verdicts", std::move(verdicts)},
      {"classes", std::move(classes)},
      {"latency_ms", {{"p50", f.latency_p50_ms}, {"p99", f.latency_p99_ms}}},
      {"newcomers_admitted", f.newcomers_admitted},
      {"queue_max", f.queue_length},
      {"login",
       {{"requests", f.login_requests}, {"failed", f.login_failed}, {"limited", f.login_limited}}},
      {"head_timeouts", f.head_timeouts},
      {"signup",
       {{"accounts_unpaid", f.signup_accounts[0]},
        {"accounts_base", f.signup_accounts[1]},
        {"accounts_surcharged", f.signup_accounts[2]},
        {"hashes_base", f.signup_hashes[0]},
        {"hashes_surcharged", f.signup_hashes[1]},
        {"solve_ms", f.signup_solve_ms}}},
  };
}

namespace {
void set_u64(const json& j, std::string_view key, std::uint64_t& out) {
  if (auto v = get_uint(j, key)) out = *v;
}
void set_u32(const json& j, std::string_view key, std::uint32_t& out) {
  if (auto v = get_uint(j, key))
    out = static_cast<std::uint32_t>(std::min<std::uint64_t>(*v, UINT32_MAX));
}

std::vector<TopItem> items_from(const json* a) {
  std::vector<TopItem> out;
  if (a == nullptr) return out;
  for (const json& e : *a) {
    if (out.size() >= kMinuteTopMax) break;
    auto key = get_string(e, "key");
    auto count = get_uint(e, "count");
    if (!key || !count) continue;
    if (key->size() > kTopKeyMax) key->resize(kTopKeyMax);
    out.push_back({std::move(*key), *count, get_uint(e, "error").value_or(0)});
  }
  return out;
}

json items_json(const std::vector<TopItem>& items) {
  json a = json::array();
  for (const TopItem& i : items)
    a.push_back({{"key", i.key}, {"count", i.count}, {"error", i.error}});
  return a;
}
}  // namespace

void figures_from_json(const json& j, Figures& f) {
  if (const json* v = get_object(j, "verdicts")) {
    for (std::size_t i = 0; i < kVerdicts; ++i) set_u64(*v, kVerdictNames[i], f.verdicts[i]);
  }
  if (const json* c = get_object(j, "classes")) {
    for (std::size_t i = 0; i < kClasses; ++i) {
      if (const json* one = get_object(*c, kClassNames[i])) {
        set_u64(*one, "requests", f.class_requests[i]);
        set_u64(*one, "served", f.class_served[i]);
      }
    }
  }
  if (const json* l = get_object(j, "latency_ms")) {
    set_u32(*l, "p50", f.latency_p50_ms);
    set_u32(*l, "p99", f.latency_p99_ms);
  }
  set_u64(j, "newcomers_admitted", f.newcomers_admitted);
  set_u64(j, "queue_max", f.queue_length);
  if (const json* l = get_object(j, "login")) {
    set_u64(*l, "requests", f.login_requests);
    set_u64(*l, "failed", f.login_failed);
    set_u64(*l, "limited", f.login_limited);
  }
  set_u64(j, "head_timeouts", f.head_timeouts);
  if (const json* g = get_object(j, "signup")) {  // absent in minutes written before it existed
    set_u64(*g, "accounts_unpaid", f.signup_accounts[0]);
    set_u64(*g, "accounts_base", f.signup_accounts[1]);
    set_u64(*g, "accounts_surcharged", f.signup_accounts[2]);
    set_u64(*g, "hashes_base", f.signup_hashes[0]);
    set_u64(*g, "hashes_surcharged", f.signup_hashes[1]);
    set_u64(*g, "solve_ms", f.signup_solve_ms);
  }
}

json offenders_json(const Offenders& o) {
  return json{{"prefixes", items_json(o.prefixes)},
              {"asns", items_json(o.asns)},
              {"user_agents", items_json(o.user_agents)},
              {"accounts", items_json(o.accounts)}};
}

void offenders_from_json(const json& j, Offenders& o) {
  o.prefixes = items_from(get_array(j, "prefixes"));
  o.asns = items_from(get_array(j, "asns"));
  o.user_agents = items_from(get_array(j, "user_agents"));
  o.accounts = items_from(get_array(j, "accounts"));
}

void to_json(json& j, const Minute& m) {
  j = figures_json(m.figures);
  j["t"] = m.at_ms;
  j["time"] = format_time(m.at_ms);
  j["peak_rps"] = m.peak_rps;
  j["distinct_prefixes"] = m.distinct_prefixes;
  json routes = json::object();
  for (const auto& [name, n] : m.routes) {
    if (routes.size() >= kMinuteRoutesMax) break;
    routes[name] = n;
  }
  j["routes"] = std::move(routes);
  json modes = json::object();
  for (const auto& [name, mode] : m.modes) {
    if (modes.size() >= kMinuteRoutesMax) break;
    modes[name] = mode;
  }
  j["modes"] = std::move(modes);
  Offenders capped = m.top;
  for (auto* list : {&capped.prefixes, &capped.asns, &capped.user_agents, &capped.accounts}) {
    if (list->size() > kMinuteTopMax) list->resize(kMinuteTopMax);
    for (TopItem& i : *list) {
      if (i.key.size() > kTopKeyMax) i.key.resize(kTopKeyMax);
    }
  }
  j["top"] = offenders_json(capped);
  if (m.fleet) {
    j["fleet"] = {{"live_max", m.fleet->live_max},
                  {"live_min", m.fleet->live_min},
                  {"gone_max", m.fleet->gone_max},
                  {"peak_rps", m.fleet->peak_rps},
                  {"peak_refused", m.fleet->peak_refused}};
  }
}

void from_json(const json& j, Minute& m) {
  m = Minute{};
  if (auto t = get_int(j, "t")) m.at_ms = *t;
  figures_from_json(j, m.figures);
  set_u64(j, "peak_rps", m.peak_rps);
  set_u64(j, "distinct_prefixes", m.distinct_prefixes);
  if (const json* r = get_object(j, "routes")) {
    for (const auto& [name, v] : r->items()) {
      if (m.routes.size() >= kMinuteRoutesMax) break;
      if (v.is_number_unsigned()) m.routes[name] = v.get<std::uint64_t>();
    }
  }
  if (const json* r = get_object(j, "modes")) {
    for (const auto& [name, v] : r->items()) {
      if (m.modes.size() >= kMinuteRoutesMax) break;
      if (v.is_string()) m.modes[name] = v.get<std::string>();
    }
  }
  if (const json* t = get_object(j, "top")) offenders_from_json(*t, m.top);
  if (const json* f = get_object(j, "fleet")) {
    Minute::Fleet fleet;
    set_u64(*f, "live_max", fleet.live_max);
    set_u64(*f, "live_min", fleet.live_min);
    set_u64(*f, "gone_max", fleet.gone_max);
    set_u64(*f, "peak_rps", fleet.peak_rps);
    set_u64(*f, "peak_refused", fleet.peak_refused);
    m.fleet = fleet;
  }
}

std::optional<Minute> minute_from_json(const json& j) {
  if (!get_int(j, "t")) return std::nullopt;
  Minute m;
  from_json(j, m);
  return m;
}

std::unique_ptr<MinuteStore> MinuteStore::open(const std::string& state_dir, RotateOptions files,
                                               std::string* error) {
  if (!make_dirs(state_dir, error)) return nullptr;
  auto file = std::make_unique<JsonlFile>(state_dir + "/" + kMinutesFile, files);
  if (!file->open()) {
    if (error != nullptr) *error = file->last_error();
    return nullptr;
  }
  return std::unique_ptr<MinuteStore>(new MinuteStore(std::move(file)));
}

bool MinuteStore::append(const Minute& minute) {
  const std::string line = dump_line(json(minute)) + "\n";
  std::lock_guard lock(mu_);
  return file_->append(line);
}

std::string MinuteStore::last_error() const {
  std::lock_guard lock(mu_);
  return file_->last_error();
}

std::vector<Minute> MinuteStore::read_range(const std::string& dir, std::int64_t since_ms,
                                            std::int64_t until_ms, ReadStats* stats) {
  std::vector<Minute> out;
  const ReadStats s = read_json_lines(dir + "/" + kMinutesFile, [&](const json& j) {
    auto m = minute_from_json(j);
    if (!m) return false;
    if (m->at_ms >= since_ms && m->at_ms < until_ms) out.push_back(std::move(*m));
    return true;
  });
  if (stats != nullptr) *stats = s;
  std::stable_sort(out.begin(), out.end(),
                   [](const Minute& a, const Minute& b) { return a.at_ms < b.at_ms; });
  return out;
}

}  // namespace gh::observe
