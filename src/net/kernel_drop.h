// Kernel-level drops of banned clients: an nftables table (`table inet gatehouse`) whose sets of
// IPv4/IPv6 addresses and prefixes carry a timeout each, and one drop rule per set, early in the
// input hook, for the TCP ports Gatehouse serves. A dropped SYN never reaches the socket: no
// accept, no RST, no work in user space. Off by default (bans.kernel_drop); needs CAP_NET_ADMIN.
//
// Not for the request path: every call is a netlink round trip (tens of µs). The housekeeping
// thread calls it, after the ban table, which stays the source of truth (and still refuses at
// accept anything the kernel let through).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>

#include "client/address-t.h"

struct nft_ctx;

namespace gh::net {

struct KernelDropConfig {
  std::string table = "gatehouse";       // `table inet NAME`
  std::uint32_t max_elements = 100'000;  // per set: the kernel refuses more (hard cap)
};

struct KernelDropStats {
  std::uint64_t added = 0;  // elements added (or refreshed)
  std::uint64_t removed = 0;
  std::uint64_t failed = 0;  // adds the kernel refused (set full, overlapping prefix, ...)
};

class KernelDrop {
 public:
  // The longest timeout given to an element: longer bans are cut to it (the ban table still
  // refuses at accept afterwards; a restart re-adds the rest).
  static constexpr std::int64_t kMaxTimeoutS = 24 * 86'400;

  // Replaces any table of that name with an empty one (stale elements of an earlier run go; the
  // caller re-adds the live bans), serving `ports`. nullptr and `error` filled when nftables
  // cannot be used: no CAP_NET_ADMIN, no nf_tables in the kernel, a library error.
  static std::unique_ptr<KernelDrop> open(const KernelDropConfig& config,
                                          std::span<const std::uint16_t> ports, std::string* error);
  ~KernelDrop();  // deletes the table: drops without Gatehouse's bans behind them would be stale
  KernelDrop(const KernelDrop&) = delete;
  KernelDrop& operator=(const KernelDrop&) = delete;

  // Drops `key` (an address: /32 or /128, else a prefix) for `seconds` (1..kMaxTimeoutS after
  // clamping); re-adding refreshes the timeout. False and `error` on refusal.
  bool add(const client::Cidr& key, std::int64_t seconds, std::string* error = nullptr);
  // Ends the drop of exactly `key` early (a manual unban). False if it was not there.
  bool remove(const client::Cidr& key);
  // The ports the drop rules match (after a reload changed the listeners).
  bool set_ports(std::span<const std::uint16_t> ports, std::string* error = nullptr);
  // Packets dropped so far by the rules (their counters).
  std::uint64_t dropped_packets();
  KernelDropStats stats() const;
  const std::string& table() const { return config_.table; }

 private:
  KernelDrop(const KernelDropConfig& config, nft_ctx* ctx);
  bool run(const std::string& cmd, std::string* error);

  KernelDropConfig config_;
  mutable std::mutex mu_;
  nft_ctx* ctx_;
  KernelDropStats stats_;
};

// True when this process holds CAP_NET_ADMIN in its effective set.
bool has_net_admin();

}  // namespace gh::net
