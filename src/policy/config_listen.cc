// The sockets the configuration opens: `listen` (the proxy's and the decision service's
// listeners) and `admin`, and the check that no two of them share an address.
#include <string>

#include "client/address.h"
#include "config/document.h"
#include "loader.h"
#include "tls/config.h"

namespace gh::policy {
namespace {

constexpr std::size_t kMaxListeners = 64;

constexpr std::string_view kListenKeys[] = {"address", "proxy_protocol", "decide", "http2", "tls"};
constexpr std::string_view kDecideHosts[] = {"nginx", "envoy", "traefik", "caddy"};
constexpr std::string_view kAdminKeys[] = {"address", "token_file", "enabled"};

}  // namespace

void Loader::load_listen(const Field& f) {
  has_listen_ = true;
  if (f.value.IsNull() || (f.value.IsSequence() && f.value.size() == 0)) {
    doc_.error(doc_.key_mark(f), "listen: at least one listener is required");
    return;
  }
  if (!doc_.check_list(f, "listen", "a list of listeners", config_.listen.size(), kMaxListeners,
                       "listeners")) {
    return;
  }
  doc_.for_each_item(
      f.value, "listen",
      [&](const YAML::Node& item, const std::string& path, const SourceMark& at) {
        if (!item.IsMap()) {
          doc_.error(at, path + ": expected a map with 'address', got " + type_name(item));
          return;
        }
        ListenConfig listen;
        listen.mark = at;
        bool has_address = false;
        bool address_ok = false;
        SourceMark address_mark = at;
        SourceMark tls_mark = at;
        doc_.each_field(item, kListenKeys, path, [&](const Field& e, const std::string& key_path) {
          if (e.key == "address") {
            has_address = true;
            address_mark = doc_.value_mark(e);
            address_ok = doc_.read_socket_address(e.value, address_mark, path + ".address", true,
                                                  listen.address);
          } else if (e.key == "proxy_protocol") {
            doc_.read_bool(e, path + ".proxy_protocol", listen.proxy_protocol);
          } else if (e.key == "decide") {
            if (auto i = doc_.read_choice(e, path + ".decide", kDecideHosts, "proxy")) {
              listen.decide = static_cast<DecideFor>(*i + 1);
            }
          } else if (e.key == "http2") {
            doc_.read_bool(e, path + ".http2", listen.http2);
          } else if (e.key == "tls") {
            tls_mark = doc_.key_mark(e);
            tls::load_tls(doc_, e, path + ".tls", listen.tls);
          }
        });
        if (listen.tls.enabled && listen.proxy_protocol) {
          // The PROXY header is read ahead of the handshake into the HTTP buffer, which the TLS
          // layer does not read from: refused rather than half working.
          doc_.error(tls_mark, path + ": tls with proxy_protocol is not supported yet");
        }
        if (!has_address) {
          doc_.error(at, path + ": missing required key 'address'");
        }
        if (listen.http2 && listen.decide != DecideFor::None) {
          doc_.error(at, path +
                             ": a decide listener answers its proxy over HTTP/1.1; remove "
                             "'http2' or 'decide'");
        }
        if (address_ok) {
          check_not_listened(listen.address, address_mark, path + ".address", false);
        }
        config_.listen.push_back(std::move(listen));
        listen_paths_.push_back(path);
      });
}

void Loader::load_admin(const Field& f) {
  doc_.each_section_field(f, kAdminKeys, "admin", [&](const Field& e, const std::string& key_path) {
    if (e.key == "address") {
      doc_.read_socket_address(e.value, doc_.value_mark(e), key_path, true, config_.admin.address);
    } else if (e.key == "token_file") {
      if (auto text = doc_.scalar(e, key_path)) {
        if (text->empty()) {
          doc_.error(
              doc_.value_mark(e),
              "admin.token_file: must not be empty (leave the key out to disable admin changes)");
        } else {
          config_.admin.token_file = *text;
        }
      }
    } else if (e.key == "enabled") {
      doc_.read_bool(e, key_path, config_.admin.enabled);
    }
  });
}

void Loader::check_not_listened(const client::SocketAddress& address, const SourceMark& at,
                                const std::string& path, bool port0_clashes) {
  for (std::size_t j = 0; j < config_.listen.size(); ++j) {
    const ListenConfig& other = config_.listen[j];
    if (other.address == address && (port0_clashes || other.address.port != 0)) {
      doc_.error(at, path + ": " + client::format_socket_address(address) + " is already used by " +
                         doc_.place(listen_paths_[j], other.mark, at));
    }
  }
}

}  // namespace gh::policy
