#include "tls/config.h"

#include <string_view>

#include "config/document.h"
#include "config/values.h"
#include "tls/context.h"

namespace gh::tls {

using policy::absolute_path;
using policy::Field;
using policy::kHour;
using policy::kMinute;
using policy::kSecond;
using policy::relative_to;
using policy::SourceMark;

namespace {

constexpr std::string_view kTlsKeys[] = {
    "certificates",        "min_version",       "session_tickets", "ticket_key_file",
    "ticket_key_rotation", "handshake_timeout", "max_handshakes",  "ktls"};
constexpr std::string_view kCertKeys[] = {"cert", "key"};
constexpr std::string_view kVersions[] = {"1.2", "1.3"};
constexpr std::size_t kMaxCertificates = 64;

}  // namespace

void load_tls(policy::Document& doc, const Field& f, const std::string& path,
              policy::TlsConfig& out) {
  out.enabled = true;
  bool has_certificates = false;
  doc.each_section_field(f, kTlsKeys, path, [&](const Field& e, const std::string& key_path) {
    if (e.key == "certificates") {
      has_certificates = true;
      if (!doc.check_list(e, key_path, "a list of {cert, key}", 0, kMaxCertificates, "certificates",
                          "a TLS listener needs a certificate")) {
        return;
      }
      doc.for_each_item(
          e.value, key_path,
          [&](const YAML::Node& item, const std::string& item_path, const SourceMark& at) {
            if (!item.IsMap()) {
              doc.error(at, item_path + ": expected a map with 'cert' and 'key', got " +
                                policy::type_name(item));
              return;
            }
            policy::TlsCertificate c;
            bool has_cert = false;
            bool has_key = false;
            doc.each_field(item, kCertKeys, item_path, [&](const Field& k, const std::string& kp) {
              auto name = doc.file_name(k.value, doc.value_mark(k), kp);
              if (!name) return;
              const std::string resolved = absolute_path(relative_to(doc.file(), *name));
              if (k.key == "cert") {
                has_cert = true;
                c.cert_file = resolved;
                c.cert_mark = doc.value_mark(k);
              } else {
                has_key = true;
                c.key_file = resolved;
                c.key_mark = doc.value_mark(k);
              }
            });
            if (!has_cert) doc.error(at, item_path + ": missing required key 'cert'");
            if (!has_key) doc.error(at, item_path + ": missing required key 'key'");
            if (!has_cert || !has_key) return;
            int which = 0;
            if (std::string why = check_certificate(c.cert_file, c.key_file, which); !why.empty()) {
              doc.error(which == 0 ? c.cert_mark : c.key_mark,
                        item_path + (which == 0 ? ".cert: " : ".key: ") + why);
              return;
            }
            out.certificates.push_back(std::move(c));
          });
    } else if (e.key == "min_version") {
      if (auto i = doc.read_choice(e, key_path, kVersions, "TLS version")) {
        out.min_version = *i == 0 ? policy::TlsVersion::Tls12 : policy::TlsVersion::Tls13;
      }
    } else if (e.key == "session_tickets") {
      doc.read_bool(e, key_path, out.session_tickets);
    } else if (e.key == "ticket_key_file") {
      if (auto name = doc.file_name(e.value, doc.value_mark(e), key_path)) {
        out.ticket_key_file = absolute_path(relative_to(doc.file(), *name));
        std::string why;
        if (!read_ticket_keys(out.ticket_key_file, why)) {
          doc.error(doc.value_mark(e), key_path + ": " + out.ticket_key_file + ": " + why);
        }
      }
    } else if (e.key == "ticket_key_rotation") {
      doc.read_duration(e, key_path, kMinute, 24 * kHour, out.ticket_key_rotation);
    } else if (e.key == "handshake_timeout") {
      doc.read_duration(e, key_path, 100, 120 * kSecond, out.handshake_timeout);
    } else if (e.key == "max_handshakes") {
      doc.read_uint(e, key_path, 1, 1'000'000, out.max_handshakes);
    } else if (e.key == "ktls") {
      doc.read_bool(e, key_path, out.ktls);
    }
  });
  // Not a map: section_map said so, except for an empty `tls:`, which has no certificate.
  if (!has_certificates && (f.value.IsNull() || f.value.IsMap())) {
    doc.error(doc.key_mark(f), path + ": missing required key 'certificates'");
  }
}

}  // namespace gh::tls
