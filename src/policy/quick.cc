#include "policy/quick.h"

#include "client/address.h"

namespace gh::policy {

SnapshotPtr make_proxy_snapshot(const client::SocketAddress& from, const client::SocketAddress& to,
                                unsigned workers) {
  Config config;
  config.server.workers = workers;
  ListenConfig listen;
  listen.address = from;
  config.listen.push_back(listen);
  UpstreamConfig upstream;
  upstream.name = "app";
  net::UpstreamServer server;
  server.host = client::format_ip(to.ip);
  server.port = to.port;
  server.literal = true;
  server.addresses.push_back(to);
  upstream.servers.push_back(std::move(server));
  config.upstreams.push_back(upstream);
  RouteConfig route;
  route.name = "default";
  route.upstream = "app";
  route.upstream_index = 0;
  config.routes.push_back(route);
  // Quick mode writes nothing to the disk: no ban journal (it has no ban actions), an in-memory
  // key (nothing signed needs to outlive the run), and no state directory, so events, per-minute
  // figures, reports, revocations and the access log stay in memory or off.
  config.bans.journal.clear();
  config.secrets.key_file.clear();
  config.state_dir.clear();
  return make_snapshot(std::move(config));
}

}  // namespace gh::policy
