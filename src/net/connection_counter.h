// Open connections per client address, shared by all workers. Touched only at accept and close,
// never per request, so one mutex is enough. The table cannot overflow: it has twice as many
// slots as the process may hold connections, and each connection holds at most one address.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "client/address-t.h"

namespace gh::net {

class ConnectionCounter {
 public:
  ConnectionCounter(std::uint32_t max_total, std::uint32_t max_per_client);

  enum class Admit : std::uint8_t { Ok, TotalFull, ClientFull };
  // Counts one more connection for `ip` unless a cap is reached.
  Admit acquire(const client::IpAddress& ip);
  void release(const client::IpAddress& ip);

  std::uint32_t total() const;
  std::uint32_t of(const client::IpAddress& ip) const;

 private:
  struct Slot {
    client::IpAddress ip;
    std::uint32_t count = 0;  // 0 = empty
  };
  std::size_t home(const client::IpAddress& ip) const;  // the slot ip hashes to
  std::size_t find(const client::IpAddress& ip) const;  // slot holding ip, or the empty slot to use
  void erase_at(std::size_t i);

  mutable std::mutex mu_;
  std::vector<Slot> slots_;
  std::size_t mask_;
  std::uint32_t max_total_;
  std::uint32_t max_per_client_;
  std::uint32_t total_ = 0;
  std::uint64_t seed_;
};

}  // namespace gh::net
