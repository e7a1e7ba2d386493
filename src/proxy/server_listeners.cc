// The server's listeners and its reload: binding each listener once per worker (refusing an
// address another process serves), planning the listener changes a config brings (add, update,
// remove, handed to each worker as ListenerOps), and the reload itself, which swaps the runtime
// and the upstream groups and says what it changed.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "client/address.h"
#include "net/listen_check.h"
#include "net/socket.h"
#include "proxy/server.h"
#include "proxy/worker.h"
#include "server_parts.h"

namespace gh::proxy {

namespace server_parts {

void close_added(std::vector<std::vector<ListenerOp>>& ops) {
  for (auto& list : ops) {
    for (ListenerOp& op : list) {
      if (op.kind == ListenerOp::Kind::Add && op.fd >= 0) ::close(op.fd);
      op.fd = -1;
    }
  }
}

}  // namespace server_parts

using server_parts::close_added;
using server_parts::join;

namespace {

constexpr int kBacklog = 4096;

// "upstream app: server app.internal:3000 added", ... for what a reload changes in the upstreams.
void upstream_changes(const policy::Config& from, const policy::Config& to,
                      std::vector<std::string>& out) {
  auto find = [](const policy::Config& c, const std::string& name) {
    const auto it = std::find_if(c.upstreams.begin(), c.upstreams.end(),
                                 [&](const policy::UpstreamConfig& u) { return u.name == name; });
    return it == c.upstreams.end() ? nullptr : &*it;
  };
  auto server = [](const policy::UpstreamConfig& u, const std::string& text) {
    const auto it =
        std::find_if(u.servers.begin(), u.servers.end(),
                     [&](const net::UpstreamServer& s) { return net::server_text(s) == text; });
    return it == u.servers.end() ? nullptr : &*it;
  };
  for (const policy::UpstreamConfig& u : to.upstreams) {
    const policy::UpstreamConfig* old = find(from, u.name);
    if (old == nullptr) {
      out.push_back("upstream " + u.name + " added (" + std::to_string(u.servers.size()) +
                    (u.servers.size() == 1 ? " server)" : " servers)"));
      continue;
    }
    for (const net::UpstreamServer& s : u.servers) {
      const std::string text = net::server_text(s);
      const net::UpstreamServer* was = server(*old, text);
      if (was == nullptr) {
        out.push_back("upstream " + u.name + ": server " + text + " added");
      } else if (was->weight != s.weight) {
        out.push_back("upstream " + u.name + ": server " + text + " weight " +
                      std::to_string(was->weight) + " -> " + std::to_string(s.weight));
      }
    }
    for (const net::UpstreamServer& s : old->servers) {
      const std::string text = net::server_text(s);
      if (server(u, text) == nullptr) {
        out.push_back("upstream " + u.name + ": server " + text +
                      " removed (drained: requests in flight finish)");
      }
    }
  }
  for (const policy::UpstreamConfig& u : from.upstreams) {
    if (find(to, u.name) == nullptr) out.push_back("upstream " + u.name + " removed");
  }
}

}  // namespace

bool Server::reload(policy::SnapshotPtr snapshot, std::string* error) {
  std::lock_guard reload_lock(reload_mu_);
  if (workers_.empty()) {
    if (error) *error = "not running";
    return false;
  }
  const policy::Config& next_config = snapshot->config;
  // Listeners first: binding a new address is what most often fails, and undoing it is closing
  // the sockets, while a built runtime has already touched the long-lived state.
  std::vector<Listener> listeners;
  std::vector<std::vector<ListenerOp>> ops(workers_.size());
  if (!plan_listeners(next_config, listeners, ops, error)) return false;
  std::vector<std::string> errors;
  gate::RuntimePtr next = gate::build_runtime(snapshot, registry_, defence_, &errors);
  if (next == nullptr) {
    close_added(ops);
    if (error) *error = join(errors);
    return false;
  }
  // What the answer (ctl reload, the event, the log) says changed: listeners and upstream
  // servers, and the settings this reload cannot apply.
  std::vector<std::string> changes;
  const policy::Config& started = initial_->config;
  if (next_config.limits.max_connections != started.limits.max_connections ||
      next_config.limits.max_connections_per_client != started.limits.max_connections_per_client) {
    changes.push_back(
        "limits.max_connections and limits.max_connections_per_client take effect "
        "at restart; running with " +
        std::to_string(started.limits.max_connections) + " and " +
        std::to_string(started.limits.max_connections_per_client) + " per client");
  }
  if (next_config.server.io != started.server.io) {
    changes.push_back("server.io takes effect at restart");
  }
  if (next_config.server.workers != started.server.workers) {
    changes.push_back("server.workers takes effect at restart; running with " +
                      std::to_string(workers_.size()) + " workers");
  }
  const policy::ClusterConfig& cn = next_config.cluster;
  const policy::ClusterConfig& cs = started.cluster;
  auto same_seeds = [](const policy::ClusterConfig& a, const policy::ClusterConfig& b) {
    return std::equal(
        a.seeds.begin(), a.seeds.end(), b.seeds.begin(), b.seeds.end(),
        [](const auto& x, const auto& y) { return x.host == y.host && x.port == y.port; });
  };
  if (cn.enabled != cs.enabled || !same_seeds(cn, cs) || cn.node != cs.node ||
      cn.prefix != cs.prefix || cn.user != cs.user || cn.password_file != cs.password_file) {
    changes.push_back(std::string("cluster takes effect at restart; running ") +
                      (cs.enabled ? "as node " + cs.node + " of a fleet" : "alone"));
  }
  UpstreamGroupsPtr groups = configure_upstreams(next_config);
  {
    std::lock_guard lock(mu_);
    for (const Listener& l : listeners) {
      auto old = std::find_if(listeners_.begin(), listeners_.end(),
                              [&](const Listener& o) { return o.id == l.id; });
      client::SocketAddress a = l.config.address;
      a.port = l.port;
      if (old == listeners_.end()) {
        changes.push_back("listening on " + client::format_socket_address(a));
      } else if (old->config.proxy_protocol != l.config.proxy_protocol ||
                 old->config.decide != l.config.decide || old->config.http2 != l.config.http2 ||
                 old->config.tls.enabled != l.config.tls.enabled) {
        changes.push_back("listener " + client::format_socket_address(a) + " updated");
      } else if (l.config.tls.enabled) {
        changes.push_back("listener " + client::format_socket_address(a) +
                          ": TLS certificates and keys read again");
      }
    }
    for (const Listener& o : listeners_) {
      const bool stays = std::any_of(listeners.begin(), listeners.end(),
                                     [&](const Listener& l) { return o.id == l.id; });
      client::SocketAddress a = o.config.address;
      a.port = o.port;
      if (!stays) {
        changes.push_back("no longer listening on " + client::format_socket_address(a) +
                          " (its connections close after their current exchange)");
      }
    }
    if (runtime_ != nullptr) upstream_changes(runtime_->policy->config, next_config, changes);
    runtime_ = std::move(next);
    groups_ = std::move(groups);
    listeners_ = std::move(listeners);
    if (kernel_drop_ != nullptr) {
      std::vector<std::uint16_t> ports;
      for (const Listener& l : listeners_) ports.push_back(l.port);
      std::string why;
      if (!kernel_drop_->set_ports(ports, &why)) spdlog::warn("kernel drop: ports: {}", why);
    }
    for (std::size_t w = 0; w < ops.size() && w < listener_ops_.size(); ++w) {
      for (ListenerOp& op : ops[w]) listener_ops_[w].push_back(op);
    }
    generation_.fetch_add(1, std::memory_order_acq_rel);
    reload_changes_ = changes;
  }
  for (const std::string& c : changes) spdlog::info("reload: {}", c);
  for (auto& w : workers_) w->request_reload();
  return true;
}

bool Server::bind_listener(const policy::ListenConfig& l, std::vector<int>& fds,
                           std::uint16_t& port, std::string* error) const {
  client::SocketAddress addr = l.address;
  auto served = [&](const std::vector<net::ListenerOwner>& owners) {
    if (error) {
      *error = client::format_socket_address(addr) + ": already served by " +
               net::describe_owners(owners) + "; stop it or listen on another address";
    }
    return false;
  };
  if (addr.port != 0) {
    // SO_REUSEPORT would let us share the address with whoever holds it: refuse instead. Our
    // own listeners (a reload overlapping a wildcard) are no reason to.
    std::vector<net::ListenerOwner> owners;
    if (net::address_served(addr, &owners)) {
      const pid_t self = ::getpid();
      const bool ours =
          !owners.empty() &&
          std::all_of(owners.begin(), owners.end(), [&](const auto& o) { return o.pid == self; });
      if (!ours) return served(owners);
    }
  }
  for (unsigned i = 0; i < worker_target_; ++i) {
    std::string why;
    const int fd = net::listen_tcp(addr, true, kBacklog, &why);
    if (fd < 0) {
      for (int f : fds) ::close(f);
      fds.clear();
      if (i == 0 && why.find(std::strerror(EADDRINUSE)) != std::string::npos) {
        std::vector<net::ListenerOwner> owners;
        net::address_served(addr, &owners);
        return served(owners);
      }
      if (error) *error = client::format_socket_address(addr) + ": " + why;
      return false;
    }
    if (addr.port == 0) addr.port = net::local_address(fd).port;  // the others join that port
    fds.push_back(fd);
  }
  if (l.address.port != 0) {
    // Two instances started at the same moment both pass the probe above: each sees the other
    // now, and both refuse rather than split the traffic.
    std::vector<net::ListenerOwner> owners;
    if (net::shared_with_another(addr, &owners)) {
      for (int f : fds) ::close(f);
      fds.clear();
      return served(owners);
    }
  }
  port = addr.port;
  return true;
}

bool Server::plan_listeners(const policy::Config& config, std::vector<Listener>& next,
                            std::vector<std::vector<ListenerOp>>& ops, std::string* error) {
  std::vector<Listener> running;
  {
    std::lock_guard lock(mu_);
    running = listeners_;
  }
  std::vector<bool> kept(running.size(), false);
  for (std::size_t i = 0; i < config.listen.size(); ++i) {
    const policy::ListenConfig& l = config.listen[i];
    // Certificates and keys are read again on every reload: a renewed certificate is taken up
    // by new connections, while open ones keep the context their SSL object holds.
    tls::ServerContextPtr tls_ctx;
    if (l.tls.enabled) {
      auto& keys = ticket_keys_[l.tls.ticket_key_rotation];
      if (keys == nullptr) keys = std::make_shared<tls::TicketKeys>(l.tls.ticket_key_rotation);
      std::string why;
      tls_ctx = tls::ServerContext::build(l.tls, keys, &why, l.http2);
      if (tls_ctx == nullptr) {
        close_added(ops);
        if (error) {
          *error = "listen[" + std::to_string(i) + "].tls: " + why +
                   (running.empty() ? "" : "; the running config is kept");
        }
        return false;
      }
    }
    std::size_t match = running.size();
    for (std::size_t j = 0; j < running.size(); ++j) {
      if (!kept[j] && running[j].config.address == l.address) {
        match = j;
        break;
      }
    }
    if (match < running.size()) {
      kept[match] = true;
      Listener keep = running[match];
      if (keep.config.proxy_protocol != l.proxy_protocol || keep.config.decide != l.decide ||
          keep.config.http2 != l.http2 || keep.config.tls.enabled || l.tls.enabled) {
        for (auto& w : ops) {
          w.push_back({ListenerOp::Kind::Update, keep.id, -1, l.proxy_protocol, l.decide, l.http2,
                       tls_ctx});
        }
      }
      keep.config = l;
      next.push_back(std::move(keep));
      continue;
    }
    std::vector<int> fds;
    std::uint16_t port = 0;
    std::string why;
    if (!bind_listener(l, fds, port, &why)) {
      close_added(ops);
      if (error) {
        *error = "listen[" + std::to_string(i) + "] " + why +
                 (running.empty() ? "" : "; the running config is kept");
      }
      return false;
    }
    const std::uint64_t id = next_listener_id_++;
    for (std::size_t w = 0; w < ops.size(); ++w) {
      ops[w].push_back(
          {ListenerOp::Kind::Add, id, fds[w], l.proxy_protocol, l.decide, l.http2, tls_ctx});
    }
    next.push_back({id, l, port});
  }
  for (std::size_t j = 0; j < running.size(); ++j) {
    if (kept[j]) continue;
    for (auto& w : ops) w.push_back({ListenerOp::Kind::Remove, running[j].id});
  }
  return true;
}

UpstreamGroupsPtr Server::configure_upstreams(const policy::Config& config) {
  std::vector<net::GroupConfig> groups;
  for (const policy::UpstreamConfig& u : config.upstreams) {
    groups.push_back({u.name, u.servers, u.health_check, u.ejection, u.resolve_interval});
  }
  return std::make_shared<const UpstreamGroups>(monitor_->configure(groups));
}

std::vector<std::string> Server::reload_changes() const {
  std::lock_guard lock(mu_);
  return reload_changes_;
}

std::vector<std::uint16_t> Server::ports() const {
  std::lock_guard lock(mu_);
  std::vector<std::uint16_t> out;
  for (const Listener& l : listeners_) out.push_back(l.port);
  return out;
}

std::vector<ListenerOp> Server::take_listener_ops(unsigned worker) {
  std::lock_guard lock(mu_);
  std::vector<ListenerOp> out;
  if (worker < listener_ops_.size()) out.swap(listener_ops_[worker]);
  return out;
}

bool Server::reload_logged(policy::SnapshotPtr snapshot, const std::string& by,
                           std::string* error) {
  std::string why;
  const bool ok = reload(std::move(snapshot), &why);
  if (ok) {
    const std::vector<std::string> changes = reload_changes();
    std::string message = "config reloaded (generation " + std::to_string(generation()) + ")";
    for (std::size_t i = 0; i < changes.size(); ++i) message += (i == 0 ? ": " : "; ") + changes[i];
    observer_->event("reload", "", message.substr(0, 1024),
                     {{"by", by}, {"generation", generation()}, {"changes", changes}});
  } else {
    observer_->event("reload_refused", "", "reload refused: " + why.substr(0, 512), {{"by", by}});
  }
  if (error != nullptr) *error = why;
  return ok;
}

}  // namespace gh::proxy
