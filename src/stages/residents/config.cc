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
    "enabled",          "cookie",         "lifetime",    "account",      "success_status",
    "success_location", "success_cookie", "device_rate", "device_burst", "device_concurrency"};

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
        }
      });
}

}  // namespace gh::residents
