#include "stages/residents/config.h"

#include <string>

#include "config/document.h"
#include "stages/ratelimit/config.h"

namespace gh::residents {
namespace {

using policy::Document;
using policy::Field;
using policy::kDay;
using policy::KeyPartKind;
using policy::kMinute;
using policy::Millis;
using policy::parse_rate;
using policy::quote;
using policy::ResidentsConfig;
using policy::valid_path;

constexpr std::string_view kResidentsKeys[] = {
    "enabled",         "cookie",          "lifetime",       "account",
    "success_status",  "success_location", "success_cookie", "device_rate",
    "device_burst",    "device_concurrency", "device_networks", "device_demote",
    "app_token"};
constexpr std::string_view kAppTokenKeys[] = {"from",     "key_file", "secret_file",
                                              "issuer",   "audience", "leeway"};

void load_app_token(Document& doc, const Field& f, const std::string& path,
                    policy::AppTokenConfig& t) {
  bool has_from = false;
  int key_sources = 0;
  const bool map = doc.each_section_field(f, kAppTokenKeys, path, [&](const Field& e,
                                                                       const std::string& key_path) {
    if (e.key == "from") {
      auto text = doc.scalar(e, key_path);
      if (!text) return;
      has_from = true;
      if (*text == "bearer") {
        t.from = policy::AppTokenConfig::From::Bearer;
      } else if (text->starts_with("cookie.") && text->size() > 7 && text->size() <= 71 &&
                 policy::valid_token(std::string_view(*text).substr(7))) {
        t.from = policy::AppTokenConfig::From::Cookie;
        t.cookie = text->substr(7);
      } else {
        doc.error(doc.value_mark(e), key_path +
                                         ": expected 'bearer' (Authorization: Bearer) or "
                                         "cookie.NAME, got " +
                                         quote(*text));
      }
    } else if (e.key == "key_file" || e.key == "secret_file") {
      ++key_sources;
      if (auto name = doc.file_name(e.value, doc.value_mark(e), key_path)) {
        t.key_file = *name;
        t.secret = e.key == "secret_file";
      }
    } else if (e.key == "issuer") {
      if (auto text = doc.scalar(e, key_path)) t.issuer = *text;
    } else if (e.key == "audience") {
      if (e.value.IsSequence()) {
        doc.for_each_scalar(e.value, key_path,
                            [&](const std::string& a, const std::string&, const policy::SourceMark&) {
                              t.audiences.push_back(a);
                            });
      } else if (auto text = doc.scalar(e, key_path)) {
        t.audiences.push_back(*text);
      }
    } else if (e.key == "leeway") {
      doc.read_duration(e, key_path, 0, 10 * kMinute, t.leeway);
    }
  });
  if (!map) return;
  if (!has_from) doc.error(doc.key_mark(f), path + ": missing required key 'from'");
  if (key_sources == 0) {
    doc.error(doc.key_mark(f), path +
                                   ": name the keys that check the tokens: key_file (a PEM "
                                   "public key or a JWKS file) or secret_file (HS256)");
  } else if (key_sources > 1) {
    doc.error(doc.key_mark(f), path + ": key_file and secret_file exclude each other");
  }
}

}  // namespace

void load_residents(Document& doc, const Field& f, ResidentsConfig& r) {
  doc.each_section_field(
      f, kResidentsKeys, "residents", [&](const Field& e, const std::string& path) {
        if (e.key == "enabled") {
          doc.read_bool(e, path, r.enabled);
        } else if (e.key == "cookie") {
          doc.read_cookie_name(e, path, r.cookie);
        } else if (e.key == "lifetime") {
          doc.read_duration(e, path, kMinute, 400 * kDay, r.lifetime);
        } else if (e.key == "account") {
          auto text = doc.scalar(e, path);
          if (!text) {
            return;
          }
          std::string why;
          auto part = ratelimit::parse_key_part(*text, why);
          if (!part) {
            doc.error(doc.value_mark(e), path + ": " + why);
          } else if (part->kind != KeyPartKind::BodyField && part->kind != KeyPartKind::Header &&
                     part->kind != KeyPartKind::Query && part->kind != KeyPartKind::Cookie) {
            doc.error(doc.value_mark(e),
                      path +
                          ": the account comes from body.NAME, header.NAME, query.NAME "
                          "or cookie.NAME, got " +
                          quote(*text));
          } else {
            r.account = *part;
          }
        } else if (e.key == "success_status") {
          doc.read_statuses(e, path, r.success_status);
        } else if (e.key == "success_location") {
          if (auto text = doc.scalar(e, path)) {
            if (!valid_path(*text)) {
              doc.error(doc.value_mark(e),
                        path + ": expected a path starting with '/', got " + quote(*text));
            } else {
              r.success_location = *text;
            }
          }
        } else if (e.key == "success_cookie") {
          doc.read_cookie_name(e, path, r.success_cookie);
        } else if (e.key == "device_rate") {
          auto text = doc.scalar(e, path);
          if (!text) return;
          std::string why;
          auto rate = parse_rate(*text, why);
          if (!rate) {
            doc.error(doc.value_mark(e), path + ": " + why);
          } else if (rate->count < 1 || rate->count > 1'000'000 || rate->period_ms < 1 ||
                     rate->period_ms > kDay) {
            doc.error(
                doc.value_mark(e),
                path + ": between 1 and 1000000 per period of 1ms to 1d, got " + quote(*text));
          } else {
            r.device_rate = static_cast<std::uint32_t>(rate->count);
            r.device_period = static_cast<Millis>(rate->period_ms);
          }
        } else if (e.key == "device_burst") {
          doc.read_uint(e, path, 1, 1'000'000, r.device_burst);
        } else if (e.key == "device_concurrency") {
          doc.read_uint(e, path, 1, 10'000, r.device_concurrency);
        } else if (e.key == "device_networks") {
          doc.read_uint(e, path, 1, 16, r.device_networks);
        } else if (e.key == "device_demote") {
          doc.read_duration(e, path, kMinute, kDay, r.device_demote);
        } else if (e.key == "app_token") {
          load_app_token(doc, e, path, r.app_token);
        }
      });
}

}  // namespace gh::residents
