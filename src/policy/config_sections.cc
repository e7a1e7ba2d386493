// The proxy's own one-map sections: server, clients, limits, secrets, state_dir, routing,
// access_log and log.
#include <string>

#include "config/document.h"
#include "loader.h"
#include "net/event_loop.h"

namespace gh::policy {
namespace {

constexpr std::size_t kMaxTrustedProxies = 1024;

constexpr std::string_view kSecretsKeys[] = {"key_file"};
constexpr std::string_view kRoutingKeys[] = {"case_sensitive", "encoded_slashes"};
constexpr std::string_view kEncodedSlashes[] = {"refuse", "keep"};
constexpr std::string_view kAccessLogKeys[] = {
    "enabled",       "path",     "refusals_keep_per_s", "refusals_sample_one_in",
    "max_file_size", "max_files"};
constexpr std::string_view kLogKeys[] = {"format", "level"};
constexpr std::string_view kLogFormats[] = {"text", "json"};  // core::LogFormat order
constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warn", "error"};
constexpr std::string_view kServerKeys[] = {"workers", "io"};
constexpr std::string_view kIoBackends[] = {"epoll", "io_uring"};  // net::IoBackend order
constexpr std::string_view kClientsKeys[] = {"trusted_proxies", "ipv4_prefix", "ipv6_prefix"};
constexpr std::string_view kLimitsKeys[] = {
    "max_head_size",   "max_header_fields",          "max_target_size",   "max_body_size",
    "head_timeout",    "body_idle_timeout",          "keepalive_timeout", "send_timeout",
    "max_connections", "max_connections_per_client", "shutdown_grace"};

}  // namespace

void Loader::load_server(const Field& f) {
  doc_.each_section_field(f, kServerKeys, "server",
                          [&](const Field& e, const std::string& key_path) {
                            if (e.key == "workers") {
                              doc_.read_uint(e, key_path, 0, 256, config_.server.workers);
                            } else if (e.key == "io") {
                              load_io(e, key_path);
                            }
                          });
}

void Loader::load_io(const Field& e, const std::string& path) {
  auto i = doc_.read_choice(e, path, kIoBackends, "I/O backend");
  if (!i) return;
  config_.server.io = static_cast<net::IoBackend>(*i);
  std::string why;
  if (config_.server.io == net::IoBackend::IoUring && !net::uring_available(&why)) {
    doc_.error(doc_.value_mark(e),
               path + ": io_uring is not available here: " + why + "; use io: epoll");
  }
}

void Loader::load_clients(const Field& f) {
  doc_.each_section_field(
      f, kClientsKeys, "clients", [&](const Field& e, const std::string& key_path) {
        if (e.key == "ipv4_prefix") {
          doc_.read_uint(e, key_path, 8, 32, config_.clients.ipv4_prefix);
        } else if (e.key == "ipv6_prefix") {
          doc_.read_uint(e, key_path, 16, 128, config_.clients.ipv6_prefix);
        } else if (e.key == "trusted_proxies") {
          doc_.read_cidrs(e, key_path, kMaxTrustedProxies, config_.clients.trusted_proxies);
        }
      });
}

void Loader::load_limits(const Field& f) {
  LimitsConfig& l = config_.limits;
  const Document::Timeout timeouts[] = {{"head_timeout", &l.head_timeout},
                                        {"body_idle_timeout", &l.body_idle_timeout},
                                        {"keepalive_timeout", &l.keepalive_timeout},
                                        {"send_timeout", &l.send_timeout}};
  if (!doc_.each_section_field(
          f, kLimitsKeys, "limits", [&](const Field& e, const std::string& path) {
            if (doc_.read_timeout(e, path, timeouts)) {
              return;
            }
            if (e.key == "max_head_size") {
              doc_.read_size(e, path, kKiB, kMiB, l.max_head_bytes);
            } else if (e.key == "max_header_fields") {
              doc_.read_uint(e, path, 1, http::kMaxHeaderFields, l.max_header_fields);
            } else if (e.key == "max_target_size") {
              doc_.read_size(e, path, 64, kMiB, l.max_target_bytes);
            } else if (e.key == "max_body_size") {
              doc_.read_size(e, path, 0, 16 * kGiB, l.max_body_bytes);
            } else if (e.key == "max_connections") {
              doc_.read_uint(e, path, 1, 10'000'000, l.max_connections);
            } else if (e.key == "max_connections_per_client") {
              doc_.read_uint(e, path, 1, 10'000'000, l.max_connections_per_client);
            } else if (e.key == "shutdown_grace") {
              doc_.read_duration(e, path, 0, kMaxTimeout, l.shutdown_grace);
            }
          })) {
    return;
  }
  const SourceMark section = doc_.key_mark(f);
  doc_.not_above("limits", "max_target_size", l.max_target_bytes, "max_head_size", l.max_head_bytes,
                 section, format_size);
  doc_.not_above("limits", "max_connections_per_client", l.max_connections_per_client,
                 "max_connections", l.max_connections, section, format_count);
}

void Loader::load_secrets(const Field& f) {
  doc_.each_section_field(f, kSecretsKeys, "secrets", [&](const Field& e, const std::string& path) {
    if (auto name = doc_.file_name(e.value, doc_.value_mark(e), path)) {
      config_.secrets.key_file = *name;
    }
  });
}

void Loader::load_state_dir(const Field& f) {
  if (auto name = doc_.file_name(f.value, doc_.value_mark(f), "state_dir")) {
    config_.state_dir = *name;
  }
}

void Loader::load_routing(const Field& f) {
  RoutingConfig& r = config_.routing;
  doc_.each_section_field(f, kRoutingKeys, "routing", [&](const Field& e, const std::string& path) {
    if (e.key == "case_sensitive") {
      doc_.read_bool(e, path, r.case_sensitive);
    } else if (e.key == "encoded_slashes") {
      if (auto i = doc_.read_choice(e, path, kEncodedSlashes, "setting"))
        r.keep_encoded_slashes = *i == 1;
    }
  });
}

void Loader::load_access_log(const Field& f) {
  AccessLogConfig& a = config_.access_log;
  doc_.each_section_field(f, kAccessLogKeys, "access_log",
                          [&](const Field& e, const std::string& path) {
                            if (e.key == "enabled") {
                              doc_.read_bool(e, path, a.enabled);
                            } else if (e.key == "path") {
                              if (auto name = doc_.file_name(e.value, doc_.value_mark(e), path))
                                a.path = *name;
                            } else if (e.key == "refusals_keep_per_s") {
                              doc_.read_uint(e, path, 0, 1'000'000, a.refusals_keep_per_s);
                            } else if (e.key == "refusals_sample_one_in") {
                              doc_.read_uint(e, path, 1, 1'000'000, a.refusals_sample_one_in);
                            } else if (e.key == "max_file_size") {
                              doc_.read_size(e, path, kMiB, 16 * kGiB, a.max_file_bytes);
                            } else if (e.key == "max_files") {
                              doc_.read_uint(e, path, 1, 100, a.max_files);
                            }
                          });
}

void Loader::load_log(const Field& f) {
  LogConfig& l = config_.log;
  doc_.each_section_field(f, kLogKeys, "log", [&](const Field& e, const std::string& path) {
    if (e.key == "format") {
      if (auto i = doc_.read_choice(e, path, kLogFormats, "log format"))
        l.format = static_cast<core::LogFormat>(*i);
    } else if (e.key == "level") {
      if (auto i = doc_.read_choice(e, path, kLogLevels, "log level"))
        l.level = static_cast<core::LogLevel>(*i);
    }
  });
}

}  // namespace gh::policy
