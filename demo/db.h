// SQLite storage for the demo app: accounts and sessions, behind a small pool of connections
// (one per worker, so a request never waits for a connection while holding a worker).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace gh::demo {

struct Account {
  std::int64_t id = 0;
  std::string username, email, password_hash, population;
  std::int64_t created_at = 0;  // unix seconds
};

class Db {
 public:
  enum class Result { ok, not_found, username_taken, email_taken, error };

  // Creates the parent directory, opens `connections` connections in WAL mode, creates the
  // schema. nullptr (with *error set) on failure.
  static std::unique_ptr<Db> open(const std::string& path, unsigned connections,
                                  std::string* error);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Inserts the account and its first session in one transaction. The UNIQUE constraints,
  // not a prior lookup, decide username_taken / email_taken, so concurrent sign-ups race
  // safely.
  Result create_account(Account& account, const std::string& session_key,
                        std::int64_t session_expires);
  Result find_account(const std::string& username, Account* out);
  // Also prunes expired sessions, so the table stays bounded by live sessions.
  Result create_session(std::int64_t account_id, const std::string& session_key,
                        std::int64_t expires, std::int64_t now);
  Result account_for_session(const std::string& session_key, std::int64_t now, Account* out);
  Result delete_session(const std::string& session_key);
  Result count_by_population(std::map<std::string, std::uint64_t>* out);

  struct Conn;

 private:
  Db() = default;
  class Lease;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Conn>> all_;
  std::vector<Conn*> free_;
};

}  // namespace gh::demo
