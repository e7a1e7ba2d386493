// The address lists and bans sections (`lists:`, `bans:`): plain types, filled by config.cc in
// this folder and read when the prefix set and the ban table are built. In gh::policy, the
// configuration's namespace, like every section's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "client/address-t.h"

namespace gh::policy {

// Address lists: allow-listed clients skip the rate limits; deny-listed ones are refused (403).
struct ListsConfig {
  std::vector<client::Cidr> allow;
  std::vector<client::Cidr> deny;
  std::vector<std::string> allow_files;  // one CIDR a line, '#' comments
  std::vector<std::string> deny_files;
};

// Repeat offenders dropped by the kernel (nftables), before any accept.
struct KernelDropConfig {
  bool enabled = false;
  std::uint32_t from_ban = 2;       // the n-th ban of a chain (escalation_window) and later ones
  std::string table = "gatehouse";  // `table inet NAME`, owned by Gatehouse: replaced at start
};

struct BansConfig {
  std::string journal = "var/bans.journal";  // bans survive restarts and crashes through it
  std::uint32_t max_entries = 100'000;       // when full, the ban ending first is dropped
  // Repeats within this window double the duration. Milliseconds, 64-bit: up to 365 days.
  std::uint64_t escalation_window = 24 * 3'600'000;
  KernelDropConfig kernel_drop;
};

}  // namespace gh::policy
