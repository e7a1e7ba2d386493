#include "gate/pipeline.h"

#include <algorithm>
#include <array>
#include <string>

#include "client/address.h"
#include "client/resolve.h"
#include "gate/runtime.h"
#include "http/fields.h"
#include "http/parser.h"
#include "http/path.h"
#include "http/upgrade.h"
#include "policy/snapshot.h"
#include "stages/admission/limiter.h"
#include "stages/challenge/binding.h"
#include "stages/challenge/gate.h"
#include "stages/lists/bans.h"
#include "stages/ratelimit/fields.h"
#include "stages/residents/device.h"
#include "stages/waitroom/gate.h"
#include "stages/waitroom/pages.h"

namespace gh::gate {
namespace {

constexpr std::string_view kGatehousePrefix = "/.gatehouse/";
// A Gatehouse endpoint's body (a challenge answer) is a small form.
constexpr std::uint32_t kEndpointBodyBytes = 4096;

core::Nanos ns(const Clock& now) {
  return now.mono_ms * 1'000'000;
}

// The value of cookie `name`: absent, or sent twice with different values, is no value at all.
std::string_view cookie(const http::RequestHead& head, std::string_view name,
                        std::array<std::uint8_t, 257>& buf) {
  ratelimit::fields::ValueSink sink(ratelimit::fields::ValueSink::Mode::Exact, buf.data());
  std::size_t len = 0;
  if (ratelimit::fields::find_cookie(head, name, sink) != ratelimit::fields::Found::Value ||
      !sink.finish(len)) {
    return {};
  }
  return {reinterpret_cast<const char*>(buf.data()), len};
}

const challenge::TokenCodec& codec_of(const Exchange& x) {
  return x.rt->state->codec();
}

// Header lines of the one answer an exchange gives (its Answer points into them).
http::FieldWriter answer_fields(Exchange& x) {
  return {x.answer_fields_buf.data(), x.answer_fields_buf.size()};
}

// The route's request rate of late: the pressure that picks the challenge's base difficulty.
std::uint32_t route_rate(const Exchange& x) {
  return x.rdef != nullptr && x.rdef->rate != nullptr
             ? x.rdef->rate->load(std::memory_order_relaxed)
             : 0;
}

// A GET comes back to where it was going; anything else to the same path (a form re-shown).
std::string_view return_path(const Exchange& x) {
  return x.method == http::Method::Get ? x.head->target : x.head->path;
}

std::string_view field(const http::RequestHead& head, std::string_view name) {
  for (std::uint16_t i = 0; i < head.field_count; ++i) {
    if (http::iequals(head.fields[i].name, name)) return head.fields[i].value;
  }
  return {};
}

// Where browsers send their fetch metadata and client hints: a potentially trustworthy origin
// (https, as a trusted proxy in front says, or a loopback host).
bool secure_origin(const Exchange& x) {
  if (x.over_tls) return true;
  std::string_view host = x.head->host;
  if (const std::size_t colon = host.rfind(':');
      colon != std::string_view::npos && host.find(']') == std::string_view::npos) {
    host = host.substr(0, colon);
  }
  return http::iequals(host, "localhost") || host.starts_with("127.") || host == "[::1]";
}

bool submission(const Exchange& x) {
  return x.method != http::Method::Get && x.method != http::Method::Head;
}

policy::SignupMode signup_mode(const Exchange& x) {
  return x.signup_route && x.rdef->mode != nullptr ? x.rdef->mode->mode()
                                                   : policy::SignupMode::Open;
}

// Whether this request meets the challenge (a verified client has solved it).
bool challenged(const Exchange& x) {
  return x.want_challenge || x.route->require_clearance ||
         signup_mode(x) == policy::SignupMode::Challenge;
}

// The work a challenge of `bits` asks, in expected hashes.
std::uint64_t hashes_of(std::uint8_t bits) {
  return bits >= 63 ? std::uint64_t{1} << 63 : std::uint64_t{1} << bits;
}

}  // namespace

Pipeline::Pipeline(Host host) : host_(std::move(host)), stats_(*host_.stats) {}

Decision Pipeline::respond(const stages::Answer& a) {
  Decision d;
  d.step = Step::Respond;
  d.answer = a;
  return d;
}

std::uint64_t Pipeline::binding(Exchange& x) {
  if (!x.has_binding) {
    x.binding = challenge::binding_of(x.prefix, field(*x.head, "user-agent"));
    x.has_binding = true;
  }
  return x.binding;
}

void Pipeline::note_refusal(const Exchange& x, Clock now) {
  if (x.rt != nullptr && x.rt->state != nullptr) {
    x.rt->state->refusals().note(x.prefix, now.mono_ms);
  }
}

Decision Pipeline::begin(Exchange& x, const Runtime& rt, const http::RequestHead& head,
                         const client::IpAddress& peer, Clock now, Via via, bool tls) {
  x.reset();
  x.rt = &rt;
  x.head = &head;
  x.method = head.method;
  x.peer = peer;
  x.decide = via == Via::Decide;
  x.has_body = head.body == http::BodyKind::Chunked ||
               (head.body == http::BodyKind::ContentLength && head.content_length > 0);
  // A proxy asking about a request sends its head only (nginx auth_request, forward_auth): a
  // method that carries a body has one we cannot read. Body-keyed parts are then unknown.
  x.body_unseen = x.decide && !x.has_body && head.method != http::Method::Get &&
                  head.method != http::Method::Head && head.method != http::Method::Options;
  const policy::Config& cfg = rt.policy->config;

  // Tunnels would carry bytes no stage could inspect; a proxy in front tunnels for itself. An
  // Upgrade is let through on routes that opt into its protocol (checked once the route is known);
  // without any such route it is refused here, before any other work.
  if (!x.decide && (head.method == http::Method::Connect ||
                    (head.upgrade && std::none_of(cfg.routes.begin(), cfg.routes.end(),
                                                  [](const policy::RouteConfig& r) {
                                                    return !r.upgrade.empty();
                                                  })))) {
    stages::Answer a = stages::refusal(501, "tunnels and protocol upgrades are not supported");
    a.close = true;
    return respond(a);
  }

  // Who is asking: the socket peer, or what a trusted proxy in front of us says it saw.
  x.client = peer;
  x.peer_trusted = rt.trust.trusted(peer);
  x.over_tls = tls;
  if (x.peer_trusted) {
    std::array<std::string_view, 16> xff;
    std::size_t n = 0;
    for (std::uint16_t i = 0; i < head.field_count && n < xff.size(); ++i) {
      if (http::iequals(head.fields[i].name, "x-forwarded-for")) xff[n++] = head.fields[i].value;
    }
    if (n != 0) x.client = client::resolve_client(peer, {xff.data(), n}, rt.trust);
    x.over_tls = tls || http::iequals(field(head, "x-forwarded-proto"), "https");
  }
  x.prefix = client::prefix_of(x.client, cfg.clients.ipv4_prefix, cfg.clients.ipv6_prefix);
  x.json = waitroom::wants_json(field(head, "accept"));

  // Lists, then bans: refused before any route or limit work.
  if (auto m = rt.lists->lookup(x.client)) {
    if (m->entry.action == lists::Action::Deny) {
      stats_.requests_denied_list.add();
      return respond(stages::refusal(403, "client address is in a deny list"));
    }
    x.allow_listed = true;  // monitoring, partners, office ranges: no limits, no bans
  }
  if (!x.allow_listed && host_.bans != nullptr) {
    const std::int64_t now_s = now.wall_ms() / 1000;
    if (auto ban = host_.bans->is_banned(x.client, now_s)) {
      stats_.requests_banned.add();
      const std::int64_t left = ban->expiry - now_s;
      return respond(
          stages::refusal(403, "client address is banned",
                          static_cast<std::uint32_t>(std::clamp<std::int64_t>(left, 1, 86'400))));
    }
  }

  // Routes match the canonical path (/%73ignup and /SIGNUP are /signup), so re-encoding cannot
  // dodge a route's limits; a path with two readings is refused. It goes upstream as sent.
  if (x.path_buf.size() < head.path.size()) x.path_buf.resize(head.path.size());
  const http::PathResult canon = http::canonical_path(head.path, policy::path_options(cfg.routing),
                                                      x.path_buf.data(), x.path_buf.size());
  if (canon.error != http::PathError::None) {
    stats_.requests_refused_parse.add();
    stages::Answer a = stages::refusal(400, http::describe(canon.error));
    a.close = true;
    return respond(a);
  }
  const std::string_view path = canon.path;
  x.path = path;

  if (path.starts_with(kGatehousePrefix)) {
    // Gatehouse's own endpoints (challenge answers and script): never forwarded.
    x.gatehouse = true;
    if (head.method == http::Method::Post && x.has_body) {
      if (head.body == http::BodyKind::ContentLength && head.content_length > kEndpointBodyBytes) {
        stages::Answer a = stages::refusal(413, "challenge answer too large");
        a.close = true;
        return respond(a);
      }
      Decision d;
      d.step = Step::NeedBody;
      d.body_bytes = kEndpointBodyBytes;
      return d;
    }
    return gatehouse(x, {}, now);
  }

  x.route = rt.policy->routes.match(head.host, head.method, path);
  if (x.route == nullptr) return respond(stages::refusal(404, "no route for this request"));
  x.rdef = &rt.defence.routes[rt.route_index(x.route)];
  x.signup_route = x.route->route_class == policy::RouteClass::Signup;
  x.rdef->window->record_request(now.mono_ms);
  x.early = {};
  if (!x.allow_listed) {
    // The limiter's buckets of a new client are cold: start loading them now, so that the
    // miss overlaps classification instead of stalling check() (~100 ns over a large table).
    if (const ratelimit::RouteLimits* l = rt.limits_for(x.route); l != nullptr) {
      ratelimit::KeyInputs early;
      early.client = x.client;
      early.client_prefix = x.prefix;
      early.head = x.head;
      early.route_name = x.route->name;
      l->prefetch(early, x.early);
    }
  }
  if (!x.decide && head.upgrade) {
    // Only a bodiless HTTP/1.1 request naming one protocol the route lists: a body before the
    // switch, or a choice left to the upstream, would splice something the route did not opt into.
    const std::string_view protocol = http::upgrade_protocol(head);
    const auto& allowed = x.route->upgrade;
    const bool listed = std::any_of(allowed.begin(), allowed.end(), [&](const std::string& p) {
      return http::iequals(p, protocol);
    });
    if (!listed || x.has_body || head.version_minor != 1) {
      stages::Answer a = stages::refusal(
          501, allowed.empty() ? "protocol upgrades are not enabled on this route"
                               : "this upgrade is not enabled on this route (one protocol the "
                                 "route lists, HTTP/1.1, no body)");
      a.close = true;
      return respond(a);
    }
    x.upgrade = protocol;
  }
  if (Decision d = classify(x, path, now); d.step != Step::Forward) return d;

  x.body_limit = x.route->max_body_bytes != 0 ? x.route->max_body_bytes : cfg.limits.max_body_bytes;
  if (head.body == http::BodyKind::ContentLength && head.content_length > x.body_limit) {
    stages::Answer a = stages::refusal(413, "request body exceeds the limit of this route");
    a.close = true;
    return respond(a);
  }
  x.upstream = &cfg.upstreams[x.route->upstream_index];
  const ratelimit::RouteLimits* route_limits = x.allow_listed ? nullptr : rt.limits_for(x.route);
  x.limits = route_limits != nullptr && !route_limits->empty() ? route_limits : nullptr;
  const policy::ResidentsConfig& res = cfg.residents;
  const bool account_in_body = x.route->route_class == policy::RouteClass::Login && res.enabled &&
                               res.account.kind == policy::KeyPartKind::BodyField;
  if (x.has_body &&
      ((x.limits != nullptr && x.limits->needs_body()) || account_in_body || x.score_deferred)) {
    // Body fields are read from the first bytes of the body, held back until the limits have
    // decided: a refused sign-up never reaches the upstream, not even partly.
    Decision d;
    d.step = Step::NeedBody;
    d.body_bytes = x.route->body_key_bytes;
    return d;
  }
  return limits(x, {}, !x.has_body, now);
}

Decision Pipeline::body(Exchange& x, std::string_view prefix, bool complete, Clock now) {
  if (x.gatehouse) return gatehouse(x, complete ? prefix : std::string_view{}, now);
  return limits(x, prefix, complete, now);
}

// Who is asking: a device token (resident), a clearance (verified), the score (suspect).
Decision Pipeline::classify(Exchange& x, std::string_view path, Clock now) {
  const Runtime& rt = *x.rt;
  const policy::Config& cfg = rt.policy->config;
  DefenceState& state = *rt.state;
  std::array<std::uint8_t, 257> buf;
  // Sign-up is for newcomers: a device token opens nothing there (not a closed or queued
  // sign-up, not the challenge), so a stolen or shared one cannot register accounts.
  if (cfg.residents.enabled && !x.signup_route) {
    residents::Recognition r =
        residents::recognise(state.codec(), rt.defence.devices.get(), &state.revocations(),
                             cookie(*x.head, cfg.residents.cookie, buf), x.prefix, now.wall_ms(),
                             ns(now), cfg.residents.lifetime);
    if (r.kind == residents::Recognition::Kind::None && rt.defence.app_tokens != nullptr) {
      // The application's own login proof (API and mobile clients never see our cookie).
      const policy::AppTokenConfig& app = cfg.residents.app_token;
      const std::string_view text = app.from == policy::AppTokenConfig::From::Bearer
                                        ? residents::bearer_token(*x.head)
                                        : cookie(*x.head, app.cookie, buf);
      r = residents::recognise_app_token(*rt.defence.app_tokens, rt.defence.devices.get(),
                                         &state.revocations(), text, x.prefix, now.wall_ms(),
                                         ns(now));
      if (r.kind == residents::Recognition::Kind::Resident) stats_.app_token_residents.add();
    }
    if (r.kind == residents::Recognition::Kind::Resident) {
      x.cls = policy::ClientClass::Resident;
      x.device_subject = r.token.subject;
      x.device_guard = rt.defence.devices.get();
      x.device_id = r.token.id;
      if (r.renew) {  // sliding expiry: the same device, a fresh lifetime
        char line[512];
        x.add_response_fields(
            {line, residents::renew(state.codec(), cfg.residents, r.token, now.wall_ms(),
                                    x.over_tls, line, sizeof line)});
      }
    } else if (r.kind == residents::Recognition::Kind::Demoted) {
      stats_.device_tokens_demoted.add();
      if (r.roaming_cap) {
        stats_.device_tokens_roaming.add();
        if (host_.event) {
          host_.event("device_demoted",
                      "a device token came from more than " +
                          std::to_string(rt.defence.devices->config().networks) +
                          " networks within the hour: served as anonymous for a while");
        }
      }
    }
  }
  const std::string_view clearance = cookie(*x.head, cfg.challenge.cookie, buf);
  if (!clearance.empty()) {
    x.clearance_len = static_cast<std::uint8_t>(
        challenge::clearance_id(state.codec(), clearance, binding(x), x.signup_route, now.wall_ms(),
                                x.clearance_id, &x.clearance));
    if (x.clearance_len != 0 && x.cls != policy::ClientClass::Resident) {
      x.cls = policy::ClientClass::Verified;
    }
  }
  if (rt.defence.scorer != nullptr && !x.allow_listed && x.cls != policy::ClientClass::Resident) {
    x.secure = secure_origin(x);
    // A rule that reads the sign-up's address waits for the body (limits() scores then).
    if (rt.defence.scorer->uses_email() && x.signup_route && x.has_body && !x.decide) {
      x.score_deferred = true;
      return Decision{};
    }
    const Decision d = score(x, {}, now);
    count_class(x);
    return d;
  }
  count_class(x);
  return Decision{};
}

// The reputation score of the request (`email_domain`: the sign-up's address, when read), and
// what it decides: deny, allow, a challenge, the suspect class, the challenge's surcharge.
Decision Pipeline::score(Exchange& x, std::string_view email_domain, Clock now) {
  const Runtime& rt = *x.rt;
  DefenceState& state = *rt.state;
  const reputation::Scorer& scorer = *rt.defence.scorer;
  reputation::Request r;
  r.head = x.head;
  r.client = x.client;
  r.path = x.path;
  r.secure = x.secure;
  r.email_domain = email_domain;
  r.ja4 = x.ja4;
  r.h2_fingerprint = x.h2_fingerprint;
  if (scorer.uses_page_view()) {
    std::array<std::uint8_t, 257> buf;
    r.page_view_age_ms = challenge::page_view_age(
        state.codec(), cookie(*x.head, rt.policy->config.reputation.page_view.cookie, buf),
        binding(x), now.wall_ms());
  }
  const std::uint32_t recent = state.refusals().recent(x.prefix, now.mono_ms);
  const reputation::Score score = scorer.score(r, recent);
  x.score = score.total;
  x.risk_bits = challenge::risk_bits(rt.policy->config.challenge, score.total);
  switch (score.action) {
    case policy::ReputationAction::Deny:
      stats_.reputation_denied.add();
      note_refusal(x, now);
      return respond(stages::refusal(403, "refused by the bot policy"));
    case policy::ReputationAction::Allow:
      stats_.reputation_allowed.add();
      x.allow_listed = true;  // known good clients: no limits, no challenges
      break;
    case policy::ReputationAction::Challenge:
      x.want_challenge = true;
      x.challenge_level = score.level;
      break;
    case policy::ReputationAction::Weigh:
      break;
  }
  if (score.suspect && x.cls == policy::ClientClass::Anonymous) {
    x.cls = policy::ClientClass::Suspect;
  }
  return Decision{};
}

void Pipeline::count_class(const Exchange& x) {
  switch (x.cls) {
    case policy::ClientClass::Resident:
      stats_.class_resident.add();
      break;
    case policy::ClientClass::Verified:
      stats_.class_verified.add();
      break;
    case policy::ClientClass::Anonymous:
      stats_.class_anonymous.add();
      break;
    case policy::ClientClass::Suspect:
      stats_.class_suspect.add();
      break;
  }
}

Decision Pipeline::limits(Exchange& x, std::string_view body, bool complete, Clock now) {
  const policy::Config& cfg = x.rt->policy->config;
  ratelimit::KeyInputs in;
  in.client = x.client;
  in.client_prefix = x.prefix;
  in.head = x.head;
  in.route_name = x.route->name;
  in.body = body;
  in.body_complete = complete;
  in.body_unseen = x.body_unseen;
  if (x.score_deferred) {
    // The score that reads the sign-up's address, now that the body is here.
    x.score_deferred = false;
    std::array<std::uint8_t, ratelimit::kMaxPartBytes + 1> buf;
    std::string_view domain;
    const policy::KeyPart part{policy::KeyPartKind::EmailDomain, cfg.reputation.email_field};
    if (!ratelimit::part_value(part, in, buf, domain)) domain = {};
    const Decision d = score(x, domain, now);
    count_class(x);
    if (d.step != Step::Forward) return d;
  }
  const policy::ResidentsConfig& res = cfg.residents;
  if (x.route->route_class == policy::RouteClass::Login && res.enabled) {
    // The account this login names: a device token only vouches for its own account (a device
    // of one user does not lift the failure limits off another's).
    std::array<std::uint8_t, ratelimit::kMaxPartBytes + 1> buf;
    std::string_view account;
    if (ratelimit::part_value(res.account, in, buf, account)) {
      x.has_account = true;
      x.account_hash = challenge::account_hash(account);
    }
    if (x.cls == policy::ClientClass::Resident &&
        (!x.has_account || x.account_hash != x.device_subject)) {
      x.cls = policy::ClientClass::Anonymous;
    }
  }
  in.client_class = x.cls;
  in.clearance = {x.clearance_id.data(), x.clearance_len};
  in.ja4 = x.ja4;
  in.h2_fingerprint = x.h2_fingerprint;
  if (x.cls == policy::ClientClass::Resident) {
    in.device = {reinterpret_cast<const char*>(x.device_id.data()), x.device_id.size()};
  }
  if (x.limits == nullptr) return gates(x, now);
  x.limit_verdict = x.limits->check(in, ns(now), x.pending, &x.early, &x.exact);
  if (x.limit_verdict.outcome == stages::Outcome::RejectedDryRun) stats_.ratelimit_dry_run.add();
  if (x.limit_verdict.action == stages::Action::Continue && x.exact.size != 0) {
    if (SharedStore* store = fleet_store(x); store != nullptr) {
      // Exact limits passed here are the fleet's to decide: checked and charged together in
      // Redis (GCRA), before the request goes on.
      x.query = StoreQuery{};
      x.query.kind = StoreQuery::Kind::Limits;
      for (std::uint8_t i = 0; i < x.exact.size; ++i) {
        const ratelimit::ExactPasses::Entry& e = x.exact.entries[i];
        const ratelimit::Limit& l = e.table->limit();
        StoreQuery::Limit& q = x.query.limits[x.query.limit_count++];
        q.limit = e.table->fleet_id();
        q.lo = e.ticket.key.lo;
        q.hi = e.ticket.key.hi;
        q.interval_us = std::max<std::int64_t>(1, (l.emission_interval + 999) / 1000);
        q.burst_us = l.tolerance / 1000;
      }
      return await(x, *store, now);
    }
  }
  return limit_verdict(x, now);
}

// What the rate limits decided (x.limit_verdict), carried out.
Decision Pipeline::limit_verdict(Exchange& x, Clock now) {
  const stages::Verdict& v = x.limit_verdict;
  switch (v.action) {
    case stages::Action::Continue:
      stats_.ratelimit_passed.add();
      return gates(x, now);
    case stages::Action::Delay:
    case stages::Action::Tarpit: {
      // Hold the request: a delay then forwards it, a tarpit then refuses and closes.
      const bool delay = v.action == stages::Action::Delay;
      (delay ? stats_.ratelimit_delayed : stats_.ratelimit_tarpitted).add();
      x.hold_forwards = delay;
      Decision d;
      d.step = Step::Hold;
      d.until_ms = now.mono_ms + v.wait_ms;
      return d;
    }
    case stages::Action::Drop: {
      stats_.ratelimit_dropped.add();
      Decision d;
      d.step = Step::Drop;
      return d;
    }
    case stages::Action::Challenge:
      return challenge(x, v.challenge_level, now);
    case stages::Action::Reject:
      break;
  }
  stats_.ratelimit_rejected.add();
  note_refusal(x, now);
  if (v.ban && host_.ban) {
    stats_.bans_requested.add();
    host_.ban(x.client, v.ban_ms, v.ban_max_ms, v.rule);
  }
  return refuse_limited(x, false);
}

// The refusal of a limit: its status with Retry-After and the RateLimit fields of the policy
// closest to its end.
Decision Pipeline::refuse_limited(Exchange& x, bool close) {
  const stages::Verdict& v = x.limit_verdict;
  http::FieldWriter w = answer_fields(x);
  if (v.has_ratelimit) {
    const auto& r = v.ratelimit;
    w.len = http::format_ratelimit_fields(r.policy, r.quota, r.window_s, r.remaining, r.reset_s,
                                          w.dst, w.cap);
  }
  stages::Answer a =
      stages::refusal(v.status, "rate limit exceeded", std::max<std::uint32_t>(v.retry_after_s, 1));
  a.fields = {w.dst, w.len};
  a.close = close;
  return respond(a);
}

Decision Pipeline::hold_over(Exchange& x, Clock now) {
  if (x.hold_forwards) return gates(x, now);
  // Tarpit: the client waited for nothing; the refusal closes the connection.
  return refuse_limited(x, true);
}

// A challenge of ladder `level`: the route's pressure picks the base, the client's risk adds.
Decision Pipeline::challenge(Exchange& x, std::uint8_t level, Clock now) {
  const policy::ChallengeConfig& c = x.rt->policy->config.challenge;
  http::FieldWriter w = answer_fields(x);
  challenge::GateContext g{codec_of(x), c,      x.rt->defence.theme_css,
                           binding(x),  x.json, now.wall_ms(),
                           x.page,      w,      x.over_tls};
  const std::uint8_t base = challenge::bits_for(c, route_rate(x), level);
  const auto bits = static_cast<std::uint8_t>(std::min<int>(c.max_bits, base + x.risk_bits));
  const auto risk = static_cast<std::uint8_t>(bits - base);
  stats_.challenges_issued.add();
  if (level != 0) {
    if (risk != 0) stats_.challenges_risk_raised.add();
    (risk != 0 ? stats_.challenge_hashes_risky : stats_.challenge_hashes_clean)
        .add(hashes_of(bits));
  }
  return respond(challenge::challenge(g, level, bits, risk, x.signup_route, return_path(x)));
}

// The challenge, sign-up mode and admission gates, once per request, before the upstream.
Decision Pipeline::gates(Exchange& x, Clock now) {
  if (x.gates_done) return admission(x, now);
  x.gates_done = true;
  if (x.allow_listed || x.cls == policy::ClientClass::Resident) return admission(x, now);
  const policy::Config& cfg = x.rt->policy->config;
  if (challenged(x) && x.cls == policy::ClientClass::Verified && x.signup_route && submission(x) &&
      cfg.challenge.signup_single_use) {
    // One solve, one sign-up: the clearance opens this submission and no other, so each
    // account a farm makes costs it a proof of work (a full set refuses rather than risk it).
    const auto claim =
        x.rt->state->spent().claim(x.clearance.id, x.prefix, cfg.challenge.spent_per_prefix,
                                   x.clearance.expiry_ms, now.wall_ms());
    if (claim != challenge::SpentSet::Claim::Fresh) {
      reused_clearance(x);
    } else if (SharedStore* store = fleet_store(x); store != nullptr) {
      // Fresh here; in a fleet the sign-up waits for the claim in Redis too, so that one
      // clearance sent to several nodes faster than the news of it opens one sign-up only.
      x.query = StoreQuery::claim(StoreQuery::Kind::Signup, x.clearance.id, x.clearance.expiry_ms);
      return await(x, *store, now);
    }
  }
  return newcomer_gates(x, now);
}

// What a newcomer meets once its clearance is settled: the challenge, then the sign-up mode.
Decision Pipeline::newcomer_gates(Exchange& x, Clock now) {
  if (x.cls != policy::ClientClass::Verified && challenged(x)) {
    return challenge(x, x.want_challenge ? x.challenge_level : 1, now);
  }
  const policy::SignupMode mode = signup_mode(x);
  if (mode == policy::SignupMode::Closed) {
    stats_.signup_closed.add();
    return respond(waitroom::closed(x.route->signup, x.json, x.rt->defence.theme_css, x.page));
  }
  if (mode == policy::SignupMode::Queue) return queue(x, nullptr, now);
  return admission(x, now);
}

// A sign-up clearance that opened one sign-up already: the client solves again.
void Pipeline::reused_clearance(Exchange& x) {
  stats_.signup_clearances_reused.add();
  x.cls = policy::ClientClass::Anonymous;
  x.clearance_len = 0;
}

Decision Pipeline::queue(Exchange& x, const StoreReply* line, Clock now) {
  std::array<std::uint8_t, 257> buf;
  http::FieldWriter w = answer_fields(x);
  const policy::WaitingRoomConfig& room = x.route->signup.waiting_room;
  waitroom::TicketContext t{*x.rdef->room,
                            codec_of(x),
                            room,
                            x.rdef->scope,
                            binding(x),
                            x.prefix,
                            submission(x),
                            x.json,
                            x.rt->defence.theme_css,
                            now.wall_ms(),
                            cookie(*x.head, waitroom::kTicketCookie, buf),
                            x.page,
                            w,
                            x.over_tls,
                            now.wall_us,
                            waitroom::LineVerdict::Local,
                            0,
                            false,
                            nullptr};
  if (line != nullptr) {
    // The fleet's line answered: its verdict stands; without an answer the room decides alone.
    t.fresh = x.query.line.ticket ? nullptr : &x.ticket;
    if (line->answer == StoreAnswer::Yes) {
      t.line = waitroom::LineVerdict::Admit;
    } else if (line->answer == StoreAnswer::No) {
      t.line = waitroom::LineVerdict::Wait;
      t.line_position = line->position;
      t.line_full = line->position == 0;
    }
  } else if (SharedStore* store = t.room.fleet() ? fleet_store(x) : nullptr; store != nullptr) {
    // In a fleet the line is Redis's: first-seen order and the whole bucket, on one clock.
    const waitroom::LineVisit v = waitroom::line_visit(t, x.ticket);
    if (v.ask) {
      x.query = StoreQuery{};
      x.query.kind = StoreQuery::Kind::Line;
      x.query.id = v.id;
      StoreQuery::Line& q = x.query.line;
      q = x.rdef->line;  // the route's figures, made at load
      q.ticket = v.ticket;
      q.open = v.open;
      q.first_us = v.first_us;
      return await(x, *store, now);
    }
  }
  const waitroom::TicketAnswer a = waitroom::pass(t);
  if (!a.admitted) {
    if (a.kind == waitroom::Answer::Kind::Waiting) {
      stats_.waitroom_queued.add();
    } else {
      stats_.waitroom_full.add();
      note_refusal(x, now);
    }
    return respond(a.answer);
  }
  stats_.waitroom_admitted.add();
  x.add_response_fields(w.view());  // a fresh ticket goes out with the forwarded answer
  return admission(x, now);
}

// A slot of the upstream's adaptive concurrency limit, residents' share reserved.
Decision Pipeline::admission(Exchange& x, Clock now) {
  // A slot must be given back when the upstream answers; a decision service never learns when.
  admission::Limiter* limiter = x.rdef != nullptr && !x.decide ? x.rdef->limiter : nullptr;
  if (limiter == nullptr) return Decision{};
  const admission::Priority p = admission::priority_of(x.cls, x.signup_route);
  x.priority = p;
  if (limiter->try_acquire(p)) {
    x.slot = limiter;
    return Decision{};
  }
  Decision d;
  d.step = Step::AwaitSlot;
  d.limiter = limiter;
  d.priority = p;
  d.admission = &x.upstream->admission;
  d.until_ms = now.mono_ms + x.upstream->admission.queue_timeout + 50;  // the queue's backstop
  return d;
}

Decision Pipeline::granted(Exchange& x, admission::Limiter* limiter, admission::Priority p, Clock) {
  x.slot = limiter;
  x.priority = p;
  return Decision{};
}

Decision Pipeline::shed(Exchange& x, Clock now) {
  stats_.admission_shed.add();
  if (x.cls == policy::ClientClass::Resident) stats_.resident_answers_failed.add();
  if (x.rdef != nullptr) x.rdef->window->record_shed(now.mono_ms);
  const std::uint32_t retry = x.upstream != nullptr ? x.upstream->admission.retry_after_s : 5;
  return respond(stages::refusal(503, "over capacity, try again shortly", retry));
}

Decision Pipeline::gatehouse(Exchange& x, std::string_view body, Clock now) {
  const Runtime& rt = *x.rt;
  http::FieldWriter w = answer_fields(x);
  challenge::GateContext g{rt.state->codec(),
                           rt.policy->config.challenge,
                           rt.defence.theme_css,
                           binding(x),
                           x.json,
                           now.wall_ms(),
                           x.page,
                           w,
                           x.over_tls};
  const challenge::EndpointAnswer e =
      challenge::endpoint(g, rt.state->spent(), x.prefix, x.method, x.path, x.head->query, body);
  switch (e.outcome) {
    case challenge::Outcome::Solved:
      if (SharedStore* store = fleet_store(x); store != nullptr) {
        // Claimed here first; in a fleet the answer waits for the claim in Redis, so that a
        // replay sent to two nodes at once passes on one only.
        x.query = StoreQuery::claim(StoreQuery::Kind::Claim, e.id, e.expiry_ms);
        x.held = e.answer;
        return await(x, *store, now);
      }
      stats_.challenges_solved.add();
      break;
    case challenge::Outcome::Refused:
      stats_.challenges_failed.add();
      note_refusal(x, now);
      break;
    case challenge::Outcome::TooEarly:
      stats_.challenges_failed.add();
      break;
    case challenge::Outcome::Script:
    case challenge::Outcome::NotFound:
      break;
  }
  return respond(e.answer);
}

SharedStore* Pipeline::fleet_store(const Exchange& x) {
  SharedStore* store = x.rt->state->store();
  if (store == nullptr || store->ready()) return store;
  stats_.fleet_await_fail_static.add();
  return nullptr;
}

Decision Pipeline::await(Exchange& x, SharedStore& store, Clock now) {
  Decision d;
  d.step = Step::Await;
  d.store = &store;
  d.query = &x.query;
  // The store answers TimedOut by its timeout; this is the transport's backstop, a timer tick
  // (16 ms) late at worst.
  d.until_ms = now.mono_ms + store.timeout_ms() + 20;
  return d;
}

Decision Pipeline::awaited(Exchange& x, const StoreReply& r, Clock now) {
  switch (r.answer) {
    case StoreAnswer::Yes:
    case StoreAnswer::No:
      stats_.fleet_awaits_answered.add();
      break;
    case StoreAnswer::TimedOut:
      stats_.fleet_awaits_timed_out.add();
      stats_.fleet_await_fail_static.add();
      break;
    case StoreAnswer::Failed:
      stats_.fleet_awaits_failed.add();
      stats_.fleet_await_fail_static.add();
      break;
  }
  if (r.waited_us > 0) stats_.fleet_await_us.add(static_cast<std::uint64_t>(r.waited_us));
  const StoreQuery::Kind kind = x.query.kind;
  x.query.kind = StoreQuery::Kind::None;
  if (kind == StoreQuery::Kind::Claim) {
    if (r.answer == StoreAnswer::No) {
      // Another node claimed it first: this one is the replay.
      stats_.fleet_replays_refused.add();
      stats_.challenges_failed.add();
      note_refusal(x, now);
      http::FieldWriter w = answer_fields(x);
      challenge::GateContext g{codec_of(x),
                               x.rt->policy->config.challenge,
                               x.rt->defence.theme_css,
                               binding(x),
                               x.json,
                               now.wall_ms(),
                               x.page,
                               w,
                               x.over_tls};
      return respond(challenge::replayed(g).answer);
    }
    stats_.challenges_solved.add();
    return respond(x.held);
  }
  if (kind == StoreQuery::Kind::Limits) {
    if (r.answer == StoreAnswer::No && r.which < x.exact.size) {
      // The fleet's figure refuses: this node's charges are given back, as for any refusal.
      stats_.fleet_exact_refused.add();
      x.limit_verdict = ratelimit::exact_refusal(x.exact.entries[r.which], r.retry_ms * 1'000'000);
      ratelimit::refund_exact(x.exact, ns(now));
    }
    return limit_verdict(x, now);
  }
  if (kind == StoreQuery::Kind::Line) return queue(x, &r, now);
  if (kind == StoreQuery::Kind::Signup) {
    if (r.answer == StoreAnswer::No) {
      // Another node let a sign-up through on this clearance first: as a reuse here.
      stats_.fleet_signups_refused.add();
      reused_clearance(x);
    }
    return newcomer_gates(x, now);
  }
  return Decision{};
}

void Pipeline::settle(Exchange& x, const http::ResponseHead& resp, std::int64_t rtt_us, Clock now) {
  if (x.pending.size != 0) {
    ratelimit::RouteLimits::settle(x.pending, resp.status, ns(now));
  }
  x.settled = true;
  x.rtt_us = rtt_us;
  x.upstream_ok = resp.status < 502 || resp.status > 504;
  if (x.rdef != nullptr) {
    x.rdef->window->record_answer(
        now.mono_ms, static_cast<std::uint32_t>(std::max<std::int64_t>(0, rtt_us / 1000)),
        resp.status >= 500);
  }
  if (x.cls == policy::ClientClass::Resident) {
    (resp.status >= 500 ? stats_.resident_answers_failed : stats_.resident_answers_ok).add();
  }
  if (x.signup_route && !x.decide) settle_signup(x, resp, now);
  // Only a POST logs in; a GET carrying a body (or any other method) mints nothing.
  if (x.has_account && x.method == http::Method::Post && x.route != nullptr &&
      x.route->route_class == policy::RouteClass::Login) {
    const policy::ResidentsConfig& res = x.rt->policy->config.residents;
    if (residents::login_succeeded(res, resp)) {
      char line[512];
      const std::size_t n = residents::issue(x.rt->state->codec(), res, x.account_hash,
                                             now.wall_ms(), x.over_tls, line, sizeof line);
      if (n != 0) {
        x.add_response_fields({line, n});
        stats_.device_tokens_issued.add();
      }
    }
  }
}

// What a sign-up route's answer tells: an account made (and what it cost), or a page shown,
// which starts the page-view clock a reputation rule may ask about.
void Pipeline::settle_signup(Exchange& x, const http::ResponseHead& resp, Clock now) {
  if (submission(x) && resp.status < 400) {
    if (x.clearance_len == 0) {
      stats_.signup_accounts_unpaid.add();
    } else {
      const challenge::SolveCost cost = challenge::solve_cost(x.clearance);
      (cost.risk_bits != 0 ? stats_.signup_accounts_surcharged : stats_.signup_accounts_base).add();
      (cost.risk_bits != 0 ? stats_.signup_pow_hashes_risky : stats_.signup_pow_hashes_clean)
          .add(hashes_of(cost.bits));
      stats_.signup_solve_ms.add(cost.solve_ms);
    }
    return;
  }
  const reputation::Scorer* scorer = x.rt->defence.scorer.get();
  if (x.method == http::Method::Get && resp.status == 200 && scorer != nullptr &&
      scorer->uses_page_view()) {
    const policy::PageViewConfig& pv = x.rt->policy->config.reputation.page_view;
    char line[512];
    x.add_response_fields(
        {line, challenge::page_view_cookie(codec_of(x), pv.cookie, binding(x), now.wall_ms(),
                                           pv.lifetime, x.over_tls, line, sizeof line)});
  }
}

void Pipeline::end(Exchange& x, int status, Clock now) {
  // count_when limits charged on arrival are settled by what the client got when Gatehouse
  // answered itself (an upstream failure, a shed): a 503 is no failed login. No answer at all
  // keeps the charge.
  if (!x.settled && x.pending.size != 0 && status != 0) {
    ratelimit::RouteLimits::settle(x.pending, static_cast<std::uint16_t>(status), ns(now));
  }
  if (x.slot != nullptr) {
    admission::Limiter* l = x.slot;
    x.slot = nullptr;
    l->release(x.priority, x.rtt_us, x.upstream_ok || x.rtt_us < 0, now.mono_ms);
  }
  if (x.device_guard != nullptr) {
    x.device_guard->release(x.device_id);
    x.device_guard = nullptr;
  }
}

}  // namespace gh::gate
