// /v1/bans: list, look up, add and remove bans by address or CIDR; the body of a ban request read
// and checked field by field.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "client/address.h"
#include "control/api.h"
#include "control/text.h"
#include "core/clock.h"
#include "core/duration.h"
#include "core/log.h"
#include "proxy/server.h"
#include "stages/lists/bans.h"

namespace gh::control {

namespace {

using nlohmann::json;

std::optional<client::Cidr> parse_key(const std::string& text, ApiResponse* error) {
  auto cidr = client::parse_cidr(text);
  if (!cidr) {
    *error = error_response(400,
                            "invalid key " + quote(text) +
                                ": expected an address or CIDR, e.g. 203.0.113.7 or 2001:db8::/48",
                            "key");
  }
  return cidr;
}

json nullable_seconds(lists::Seconds s) {
  if (s == lists::kForever) return nullptr;
  return s;
}

// The live ban stored under exactly `key`. The lookup by address is lock-free and O(1); only
// when a broader or longer ban also holds the address does it fall back to scanning the list.
std::optional<lists::BanInfo> find_ban(const lists::BanTable& bans, const client::Cidr& key,
                                       lists::Seconds now) {
  auto hit = bans.is_banned(key.address, now);
  if (!hit) return std::nullopt;
  if (hit->key == key) return hit;
  for (const lists::BanInfo& b : bans.list(now)) {
    if (b.key == key) return b;
  }
  return std::nullopt;
}

}  // namespace

json ban_json(const lists::BanInfo& ban, lists::Seconds now) {
  return json{
      {"key", client::format_cidr(ban.key)},
      {"start", ban.start},
      {"expiry", nullable_seconds(ban.expiry)},
      {"expires_in_s", ban.expiry == lists::kForever
                           ? json(nullptr)
                           : json(std::max<lists::Seconds>(0, ban.expiry - now))},
      {"level", ban.level},
      {"reason", std::string(ban.reason.view())},
      {"source", std::string(ban.source.view())},
  };
}

std::optional<BanRequest> parse_ban_request(const json& body, ApiResponse* error) {
  if (!body.is_object()) {
    *error = error_response(
        400,
        "the body must be a JSON object like {\"key\": \"203.0.113.7\", \"duration\": \"1h\"}");
    return std::nullopt;
  }
  for (const auto& [name, value] : body.items()) {
    if (name != "key" && name != "duration" && name != "reason" && name != "max") {
      *error = error_response(
          400, "unknown field " + quote(name) + " (expected key, duration, reason, max)", name);
      return std::nullopt;
    }
  }
  auto string_field = [&](const char* name, bool required) -> std::optional<std::string> {
    auto it = body.find(name);
    if (it == body.end()) {
      if (required) *error = error_response(400, std::string(name) + " is required", name);
      return std::nullopt;
    }
    if (!it->is_string()) {
      *error = error_response(400, std::string(name) + " must be a string", name);
      return std::nullopt;
    }
    return it->get<std::string>();
  };

  BanRequest out;
  auto key = string_field("key", true);
  if (!key) return std::nullopt;
  auto cidr = parse_key(*key, error);
  if (!cidr) return std::nullopt;
  out.key = *cidr;

  auto duration = string_field("duration", true);
  if (!duration) return std::nullopt;
  std::string why;
  auto seconds = parse_ban_seconds(*duration, &why);
  if (!seconds) {
    *error = error_response(400, "duration: " + why, "duration");
    return std::nullopt;
  }
  out.seconds = *seconds;
  out.max_seconds = *seconds;

  if (body.contains("max")) {
    auto max = string_field("max", false);
    if (!max) return std::nullopt;
    auto max_seconds = parse_ban_seconds(*max, &why);
    if (!max_seconds) {
      *error = error_response(400, "max: " + why, "max");
      return std::nullopt;
    }
    if (*max_seconds < out.seconds) {
      *error = error_response(
          400, "max (" + *max + ") must not be below duration (" + *duration + ")", "max");
      return std::nullopt;
    }
    out.max_seconds = *max_seconds;
  }

  if (body.contains("reason")) {
    auto reason = string_field("reason", false);
    if (!reason) return std::nullopt;
    if (reason->size() > lists::kReasonMax) {
      *error = error_response(
          400, "reason: at most " + std::to_string(lists::kReasonMax) + " bytes", "reason");
      return std::nullopt;
    }
    out.reason = std::move(*reason);
  }
  return out;
}

ApiResponse AdminApi::list_bans() const {
  const lists::Seconds now = core::wall_seconds();
  json list = json::array();
  for (const lists::BanInfo& b : server_.bans()->list(now)) list.push_back(ban_json(b, now));
  ApiResponse res;
  res.body = json{{"bans", std::move(list)}};
  return res;
}

ApiResponse AdminApi::get_ban(const std::string& key_text) const {
  ApiResponse error;
  auto key = parse_key(key_text, &error);
  if (!key) return error;
  const lists::Seconds now = core::wall_seconds();
  auto ban = find_ban(*server_.bans(), *key, now);
  if (!ban) return error_response(404, "no ban on " + client::format_cidr(*key), "key");
  ApiResponse res;
  res.body = json{{"ban", ban_json(*ban, now)}};
  return res;
}

ApiResponse AdminApi::add_ban(const ApiRequest& r) {
  if (r.body.size() > kMaxBodyBytes) return error_response(413, "body larger than 16 KiB");
  json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return error_response(400, "the body is not valid JSON");
  ApiResponse error;
  auto request = parse_ban_request(body, &error);
  if (!request) return error;

  lists::BanTable& bans = *server_.bans();
  const lists::Seconds now = core::wall_seconds();
  auto expiry = bans.ban(request->key, lists::BanDuration{request->seconds, request->max_seconds},
                         request->reason, "manual", now);
  if (!expiry) return error_response(400, "cannot ban " + client::format_cidr(request->key), "key");
  lists::BanInfo ban;
  if (auto stored = find_ban(bans, request->key, now)) {
    ban = *stored;
  } else {  // only if it expired or was evicted in between
    ban.key = request->key;
    ban.start = now;
    ban.expiry = *expiry;
    ban.reason = lists::ShortText<lists::kReasonMax>::from(request->reason);
    ban.source = lists::ShortText<lists::kSourceMax>::from("manual");
  }
  server_.observer().event(
      "ban", "",
      client::format_cidr(ban.key) + " for " +
          core::format_duration(request->seconds * 1000, core::DurationStyle::Config) +
          (request->reason.empty() ? "" : ": " + request->reason),
      {{"cidr", client::format_cidr(ban.key)},
       {"duration_s", request->seconds},
       {"reason", request->reason},
       {"by", changed_by(r.user_agent)}});
  core::log(spdlog::level::info,
            {{"cidr", client::format_cidr(ban.key)},
             {"expiry",
              ban.expiry == lists::kForever ? nlohmann::json(nullptr) : nlohmann::json(ban.expiry)},
             {"duration_s", request->seconds},
             {"reason", ban.reason.view()}},
            "admin: banned {} until {} ({}), reason '{}'", client::format_cidr(ban.key),
            ban.expiry == lists::kForever ? std::string("forever") : std::to_string(ban.expiry),
            core::format_duration(request->seconds * 1000, core::DurationStyle::Config),
            ban.reason.view());
  server_.share_ban(ban);  // the other nodes of a fleet refuse it too
  ApiResponse res;
  res.status = 201;
  res.body = json{{"ban", ban_json(ban, now)}};
  return res;
}

ApiResponse AdminApi::remove_ban(const std::string& key_text) {
  ApiResponse error;
  auto key = parse_key(key_text, &error);
  if (!key) return error;
  if (!server_.bans()->unban(*key)) {
    return error_response(404, "no ban on " + client::format_cidr(*key), "key");
  }
  server_.observer().event("unban", "", "ban on " + client::format_cidr(*key) + " removed",
                           {{"cidr", client::format_cidr(*key)}, {"by", "admin"}});
  spdlog::info("admin: removed the ban on {}", client::format_cidr(*key));
  server_.share_unban(*key);
  ApiResponse res;
  res.body = json{{"removed", true}, {"key", client::format_cidr(*key)}};
  return res;
}

}  // namespace gh::control
