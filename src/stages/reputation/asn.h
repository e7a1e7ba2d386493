// Autonomous system numbers from a MaxMind-format database (GeoLite2-ASN, or any .mmdb whose
// records carry `autonomous_system_number`), through libmaxminddb. The file is memory-mapped once
// at load; lookups are read-only, take no lock and allocate nothing, so every worker may share one.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "client/address-t.h"

struct MMDB_s;

namespace gh::reputation {

class AsnDatabase {
 public:
  // nullptr with `error` set ("cannot open '<path>': <reason>") when the file is missing,
  // unreadable or not a MaxMind DB.
  static std::unique_ptr<AsnDatabase> open(const std::string& path, std::string& error);
  ~AsnDatabase();
  AsnDatabase(const AsnDatabase&) = delete;
  AsnDatabase& operator=(const AsnDatabase&) = delete;

  // The ASN of the network holding `ip`; nullopt when the database has no record for it, the
  // record has no `autonomous_system_number`, or it is not an unsigned 32-bit number.
  std::optional<std::uint32_t> lookup(const client::IpAddress& ip) const noexcept;

  const std::string& path() const noexcept { return path_; }
  std::string database_type() const;  // from the metadata, e.g. "GeoLite2-ASN"
  unsigned ip_version() const noexcept;

 private:
  AsnDatabase() = default;

  std::unique_ptr<MMDB_s> mmdb_;
  std::string path_;
};

}  // namespace gh::reputation
