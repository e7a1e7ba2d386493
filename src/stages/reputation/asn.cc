#include "stages/reputation/asn.h"

#include <maxminddb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "client/address.h"

namespace gh::reputation {

std::unique_ptr<AsnDatabase> AsnDatabase::open(const std::string& path, std::string& error) {
  std::unique_ptr<AsnDatabase> db(new AsnDatabase());
  db->path_ = path;
  auto mmdb = std::make_unique<MMDB_s>();
  std::memset(mmdb.get(), 0, sizeof(MMDB_s));
  errno = 0;
  const int status = MMDB_open(path.c_str(), MMDB_MODE_MMAP, mmdb.get());
  if (status != MMDB_SUCCESS) {
    error = "cannot open '" + path + "': " + MMDB_strerror(status);
    if (status == MMDB_IO_ERROR || status == MMDB_FILE_OPEN_ERROR) {
      if (errno != 0) error += std::string(" (") + std::strerror(errno) + ")";
    }
    // MMDB_open frees what it allocated when it fails.
    return nullptr;
  }
  db->mmdb_ = std::move(mmdb);
  return db;
}

AsnDatabase::~AsnDatabase() {
  if (mmdb_) MMDB_close(mmdb_.get());
}

std::optional<std::uint32_t> AsnDatabase::lookup(const client::IpAddress& ip) const noexcept {
  // IPv4 goes in as sockaddr_in, so libmaxminddb walks from its IPv4 start node (::a.b.c.d in an
  // IPv6 tree), which is where MaxMind and our test writer put IPv4 networks.
  sockaddr_storage storage;
  std::memset(&storage, 0, sizeof storage);
  client::to_sockaddr(client::SocketAddress{ip, 0}, storage);
  int mmdb_error = MMDB_SUCCESS;
  MMDB_lookup_result_s result =
      MMDB_lookup_sockaddr(mmdb_.get(), reinterpret_cast<const sockaddr*>(&storage), &mmdb_error);
  if (mmdb_error != MMDB_SUCCESS || !result.found_entry) return std::nullopt;
  // MMDB_get_value would malloc its path array on every call; the array form does not.
  static const char* const kPath[] = {"autonomous_system_number", nullptr};
  MMDB_entry_data_s data;
  if (MMDB_aget_value(&result.entry, &data, kPath) != MMDB_SUCCESS || !data.has_data) {
    return std::nullopt;
  }
  switch (data.type) {
    case MMDB_DATA_TYPE_UINT16:
      return data.uint16;
    case MMDB_DATA_TYPE_UINT32:
      return data.uint32;
    case MMDB_DATA_TYPE_UINT64:
      if (data.uint64 <= 0xffffffffu) return static_cast<std::uint32_t>(data.uint64);
      return std::nullopt;
    case MMDB_DATA_TYPE_INT32:
      if (data.int32 >= 0) return static_cast<std::uint32_t>(data.int32);
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

std::string AsnDatabase::database_type() const {
  const char* t = mmdb_->metadata.database_type;
  return t != nullptr ? std::string(t) : std::string();
}

unsigned AsnDatabase::ip_version() const noexcept {
  return mmdb_->metadata.ip_version;
}

}  // namespace gh::reputation
