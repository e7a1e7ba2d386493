// The YAML loader's state and steps, shared by the files that read the configuration's sections:
// config.cc (the top level, the checks over the whole), config_listen.cc, config_upstreams.cc,
// config_routes.cc and config_sections.cc. Internal to policy/ (gh_module INTERNAL): its users
// see policy/config.h only.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/address-t.h"
#include "config/document.h"
#include "net/resolve.h"
#include "policy/config.h"

namespace gh::policy {

class Loader {
 public:
  Loader(std::string file, std::string source_path, net::Resolver resolve)
      : doc_(std::move(file)), resolve_(std::move(resolve)) {
    config_.source_path = std::move(source_path);
    if (!resolve_) {
      resolve_ = [](const std::string& host, std::uint16_t port,
                    std::vector<client::SocketAddress>& out,
                    std::string* error) { return net::resolve(host, port, out, error); };
    }
  }

  // `id` is set when `yaml` was read from the file it names.
  LoadResult run(std::string_view yaml, std::optional<FileId> id);

 private:
  struct RouteRef {
    std::string path;  // "routes[2]", counted within its own file
    SourceMark upstream_mark;
  };

  // "<path>: A is already used by listen[j]" for each listener on `address`; one on port 0
  // counts only when `port0_clashes`.
  void check_not_listened(const client::SocketAddress& address, const SourceMark& at,
                          const std::string& path, bool port0_clashes);

  // One file's top level: its sections, then the files it includes.
  void load_document(const YAML::Node& root, bool main);
  void load_section(const Field& f);
  void load_server(const Field& f);
  void load_io(const Field& e, const std::string& path);
  void load_listen(const Field& f);
  void load_admin(const Field& f);
  void load_clients(const Field& f);
  void load_limits(const Field& f);
  void load_upstreams(const Field& f);
  void load_upstream(const std::string& name, const YAML::Node& node, const SourceMark& at);
  void load_server_item(const YAML::Node& item, const std::string& path, const SourceMark& at,
                        UpstreamConfig& u);
  void load_health_check(const Field& f, const std::string& path, net::HealthCheckConfig& h);
  void load_ejection(const Field& f, const std::string& path, net::EjectionConfig& e);
  void load_routes(const Field& f);
  void load_route(const YAML::Node& node, const std::string& path);
  void load_match(const Field& f, const std::string& path, RouteConfig& route);
  void load_upgrade(const Field& f, const std::string& path, RouteConfig& route);
  void load_secrets(const Field& f);
  void load_state_dir(const Field& f);
  void load_access_log(const Field& f);
  void load_log(const Field& f);
  void load_routing(const Field& f);
  void check_decide();
  void check_all();
  void finish();

  Document doc_;
  net::Resolver resolve_;
  Config config_;
  std::vector<RouteRef> route_refs_;       // parallel to config_.routes
  std::vector<std::string> listen_paths_;  // parallel to config_.listen: "listen[0]"
  SourceMark upstreams_mark_;
  bool root_ok_ = false;  // the main file is a map of sections
  bool has_listen_ = false;
  bool has_upstreams_ = false;
  bool routes_given_ = false;
  std::vector<std::string> route_paths_;  // parallel to config_.routes: "routes[2]"
};

}  // namespace gh::policy
