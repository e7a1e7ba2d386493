// Feeds arbitrary bytes, as a client would send them after the connection preface, into a real
// H2Session on a worker of an in-process server (one route to an upstream on a closed loopback
// port, a rate limit, a challenge route), in pieces of varying size. Invariants: never crash
// (ASan/UBSan watch memory and arithmetic), everything it wrote is whole HTTP/2 frames, and
// closing releases every stream (the worker's buffers all come back).
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "client/address.h"
#include "policy/config.h"
#include "policy/snapshot.h"
#include "proxy/h2_session.h"
#include "proxy/server.h"
#include "proxy/worker.h"

namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct Env {
  std::unique_ptr<gh::proxy::Server> server;
  std::unique_ptr<gh::proxy::Worker> worker;
};

Env& env() {
  static Env* e = [] {
    auto* x = new Env;
    const std::string dir = "/tmp/gh-h2-fuzz-" + std::to_string(::getpid());
    const std::string yaml =
        "server: { workers: 1 }\n"
        "listen:\n  - address: 127.0.0.1:0\n    http2: true\n"
        "upstreams:\n  app:\n    servers: [127.0.0.1:1]\n"
        "challenge: { levels: [{rate: 0, bits: 8}] }\n"
        "routes:\n"
        "  - name: signup\n"
        "    match: { path_prefix: /signup }\n"
        "    class: signup\n"
        "    require_clearance: true\n"
        "  - name: login\n"
        "    match: { path: /login }\n"
        "    limits:\n"
        "      - { name: ip, key: [client.ip, h2.fingerprint], rate: 5/minute, burst: 5 }\n"
        "  - name: app\n"
        "bans: { journal: " +
        dir +
        "/bans.journal }\n"
        "secrets: { key_file: " +
        dir +
        "/secret.key }\n"
        "state_dir: " +
        dir + "/state\n";
    gh::policy::LoadResult r = gh::policy::load_config_string(yaml, "fuzz.yaml");
    if (!r.errors.empty()) std::abort();
    gh::proxy::ObserveOptions o;
    o.persist = false;
    x->server = std::make_unique<gh::proxy::Server>(r.snapshot, o);
    std::string error;
    if (!x->server->start(&error)) std::abort();
    gh::gate::RuntimePtr runtime;
    gh::proxy::UpstreamGroupsPtr groups;
    x->server->current(&runtime, &groups);
    // A worker of our own on this thread (its loop never runs: the session is driven here).
    x->worker = std::make_unique<gh::proxy::Worker>(*x->server, 0, runtime, groups);
    return x;
  }();
  return *e;
}

struct Feed final : gh::proxy::ClientTransport {
  std::string_view in;
  std::size_t piece = 1;
  std::string out;
  bool closed = false;
  ssize_t transport_read(char* p, std::size_t n) override {
    if (in.empty()) {
      errno = EAGAIN;
      return -1;
    }
    const std::size_t k = std::min({n, in.size(), piece});
    std::memcpy(p, in.data(), k);
    in.remove_prefix(k);
    return static_cast<ssize_t>(k);
  }
  ssize_t transport_write(const char* p, std::size_t n) override {
    if (out.size() > (1u << 22)) {
      errno = EAGAIN;  // a client that stopped reading
      return -1;
    }
    out.append(p, n);
    return static_cast<ssize_t>(n);
  }
  void transport_shutdown_write() override {}
  void transport_close() override { closed = true; }
};

// Whole frames: 9-byte headers whose lengths add up to what was written.
bool whole_frames(std::string_view s) {
  while (s.size() >= 9) {
    const std::size_t len = (static_cast<std::uint8_t>(s[0]) << 16) |
                            (static_cast<std::uint8_t>(s[1]) << 8) |
                            static_cast<std::uint8_t>(s[2]);
    if (s.size() < 9 + len) return false;
    s.remove_prefix(9 + len);
  }
  return s.empty();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Env& e = env();
  if (size == 0) return 0;
  std::string input(kPreface);
  // The first byte picks the read size: whole frames, or split anywhere.
  const std::size_t piece = 1 + data[0] % 64 * 97;
  input.append(reinterpret_cast<const char*>(data + 1), size - 1);
  Feed feed;
  feed.in = input;
  feed.piece = piece;
  static const gh::client::SocketAddress peer =
      *gh::client::parse_socket_address("127.0.0.1:40000");
  {
    gh::proxy::H2Session s(*e.worker, feed, peer);
    if (s.start()) {
      for (int i = 0; i < 64 && s.open() && !feed.in.empty(); ++i) s.on_io(true, true, false);
      if (s.open()) s.on_io(false, true, false);
    }
    s.close();
    if (!feed.closed) std::abort();
  }
  if (feed.out.size() <= (1u << 22) && !whole_frames(feed.out)) std::abort();
  return 0;
}
