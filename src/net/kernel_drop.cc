#include "net/kernel_drop.h"

#include <nftables/libnftables.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <regex>

#include "client/address.h"

namespace gh::net {

namespace {

constexpr int kCapNetAdmin = 12;  // linux/capability.h

bool valid_name(const std::string& s) {
  return !s.empty() && s.size() <= 32 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

bool is_host(const client::Cidr& k) {
  return k.prefix_len == (k.address.is_v4 ? 32 : 128);
}

// The set an element goes to: addresses and prefixes apart, since one interval set would refuse
// an address inside a banned prefix as an overlap.
const char* set_of(const client::Cidr& k) {
  if (k.address.is_v4) return is_host(k) ? "v4" : "v4net";
  return is_host(k) ? "v6" : "v6net";
}

std::string element(const client::Cidr& k) {
  return is_host(k) ? client::format_ip(k.address) : client::format_cidr(k);
}

std::string port_list(std::span<const std::uint16_t> ports) {
  std::string s;
  for (std::uint16_t p : ports) {
    if (!s.empty()) s += ", ";
    s += std::to_string(p);
  }
  return s;
}

}  // namespace

bool has_net_admin() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("CapEff:", 0) == 0) {
      char* end = nullptr;
      const unsigned long long eff = std::strtoull(line.c_str() + 7, &end, 16);
      return ((eff >> kCapNetAdmin) & 1) != 0;
    }
  }
  return false;
}

std::unique_ptr<KernelDrop> KernelDrop::open(const KernelDropConfig& config,
                                             std::span<const std::uint16_t> ports,
                                             std::string* error) {
  const auto fail = [&](std::string why) {
    if (error) *error = std::move(why);
    return nullptr;
  };
  if (!valid_name(config.table)) return fail("kernel drop: invalid nftables table name");
  if (config.max_elements == 0) return fail("kernel drop: max_elements must be at least 1");
  if (!has_net_admin()) {
    return fail(
        "kernel drop needs CAP_NET_ADMIN (run as root, or grant it: systemd "
        "AmbientCapabilities=CAP_NET_ADMIN), or set bans.kernel_drop.enabled: false");
  }
  nft_ctx* ctx = nft_ctx_new(NFT_CTX_DEFAULT);
  if (ctx == nullptr) return fail("kernel drop: nftables library could not be initialised");
  nft_ctx_buffer_output(ctx);
  nft_ctx_buffer_error(ctx);
  std::unique_ptr<KernelDrop> kd(new KernelDrop(config, ctx));
  const std::string t = "inet " + config.table;
  const std::string size = std::to_string(config.max_elements);
  // Delete-and-create in one transaction: `add table` first so the delete always finds it.
  std::string cmd = "add table " + t + "\ndelete table " + t + "\ntable " + t + " {\n";
  for (const char* s : {"v4", "v4net"}) {
    cmd += std::string("  set ") + s + " { type ipv4_addr; flags timeout" +
           (std::strcmp(s, "v4net") == 0 ? ", interval" : "") + "; size " + size + "; }\n";
  }
  for (const char* s : {"v6", "v6net"}) {
    cmd += std::string("  set ") + s + " { type ipv6_addr; flags timeout" +
           (std::strcmp(s, "v6net") == 0 ? ", interval" : "") + "; size " + size + "; }\n";
  }
  cmd += "  set ports { type inet_service; }\n";
  // Input hook (traffic to this host only, never forwarded traffic), before the filter chains.
  cmd +=
      "  chain input {\n"
      "    type filter hook input priority -300; policy accept;\n"
      "    tcp dport @ports ip saddr @v4 counter drop\n"
      "    tcp dport @ports ip saddr @v4net counter drop\n"
      "    tcp dport @ports ip6 saddr @v6 counter drop\n"
      "    tcp dport @ports ip6 saddr @v6net counter drop\n"
      "  }\n}\n";
  if (!ports.empty()) cmd += "add element " + t + " ports { " + port_list(ports) + " }\n";
  std::string why;
  if (!kd->run(cmd, &why)) return fail("kernel drop: cannot create table " + t + ": " + why);
  return kd;
}

KernelDrop::KernelDrop(const KernelDropConfig& config, nft_ctx* ctx) : config_(config), ctx_(ctx) {}

KernelDrop::~KernelDrop() {
  run("delete table inet " + config_.table, nullptr);
  nft_ctx_free(ctx_);
}

bool KernelDrop::run(const std::string& cmd, std::string* error) {
  std::lock_guard lock(mu_);
  const int rc = nft_run_cmd_from_buffer(ctx_, cmd.c_str());
  if (rc != 0 && error != nullptr) {
    const char* e = nft_ctx_get_error_buffer(ctx_);
    std::string msg = e != nullptr ? e : "";
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    // nft echoes the whole command under its error line: the first line is the reason.
    *error = msg.substr(0, msg.find('\n'));
    if (error->empty()) *error = "nft failed";
  }
  // Reading the buffers resets them for the next command.
  nft_ctx_get_output_buffer(ctx_);
  nft_ctx_get_error_buffer(ctx_);
  return rc == 0;
}

bool KernelDrop::add(const client::Cidr& key, std::int64_t seconds, std::string* error) {
  seconds = std::clamp<std::int64_t>(seconds, 1, kMaxTimeoutS);
  const std::string t = "inet " + config_.table;
  const std::string s = set_of(key);
  const std::string e = element(key);
  // Delete-then-add refreshes an element's timeout (add alone keeps the old one); one batch.
  const std::string cmd = "add element " + t + " " + s + " { " + e + " timeout " +
                          std::to_string(seconds) + "s }\ndelete element " + t + " " + s + " { " +
                          e + " }\nadd element " + t + " " + s + " { " + e + " timeout " +
                          std::to_string(seconds) + "s }\n";
  const bool ok = run(cmd, error);
  std::lock_guard lock(mu_);
  (ok ? stats_.added : stats_.failed)++;
  return ok;
}

bool KernelDrop::remove(const client::Cidr& key) {
  const bool ok =
      run("delete element inet " + config_.table + " " + set_of(key) + " { " + element(key) + " }",
          nullptr);
  std::lock_guard lock(mu_);
  if (ok) stats_.removed++;
  return ok;
}

bool KernelDrop::set_ports(std::span<const std::uint16_t> ports, std::string* error) {
  std::string cmd = "flush set inet " + config_.table + " ports\n";
  if (!ports.empty()) {
    cmd += "add element inet " + config_.table + " ports { " + port_list(ports) + " }\n";
  }
  return run(cmd, error);
}

std::uint64_t KernelDrop::dropped_packets() {
  std::lock_guard lock(mu_);
  if (nft_run_cmd_from_buffer(ctx_, ("list chain inet " + config_.table + " input").c_str()) != 0) {
    nft_ctx_get_error_buffer(ctx_);
    return 0;
  }
  const char* out = nft_ctx_get_output_buffer(ctx_);
  std::string text = out != nullptr ? out : "";
  nft_ctx_get_error_buffer(ctx_);
  std::uint64_t n = 0;
  static const std::regex re(R"(counter packets (\d+))");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it) {
    n += std::stoull((*it)[1].str());
  }
  return n;
}

KernelDropStats KernelDrop::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace gh::net
