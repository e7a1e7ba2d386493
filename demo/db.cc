#include "demo/db.h"

#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <string_view>
#include <system_error>
#include <unordered_map>

namespace gh::demo {

struct Db::Conn {
  sqlite3* db = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> stmts;  // prepared once, reused

  ~Conn() {
    for (auto& [sql, s] : stmts) sqlite3_finalize(s);
    sqlite3_close(db);
  }
};

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS accounts (
  id            INTEGER PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE,
  email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash TEXT NOT NULL,
  population    TEXT NOT NULL,
  created_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
  key_hash   TEXT PRIMARY KEY,
  account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions(expires_at);
)sql";

// One use of a cached prepared statement; reset on destruction so the next use starts clean.
class Stmt {
 public:
  Stmt(Db::Conn& c, const char* sql) {
    auto it = c.stmts.find(sql);
    if (it != c.stmts.end()) {
      s_ = it->second;
    } else if (sqlite3_prepare_v3(c.db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s_, nullptr) ==
               SQLITE_OK) {
      c.stmts.emplace(sql, s_);
    } else {
      s_ = nullptr;
    }
  }
  ~Stmt() {
    if (s_ != nullptr) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, std::string_view v) {
    if (s_ != nullptr) {
      sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    }
    return *this;
  }
  Stmt& bind(int i, std::int64_t v) {
    if (s_ != nullptr) sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  int step() { return s_ == nullptr ? SQLITE_ERROR : sqlite3_step(s_); }
  std::string text(int i) {
    auto p = reinterpret_cast<const char*>(sqlite3_column_text(s_, i));
    return p == nullptr ? std::string{} : std::string(p, sqlite3_column_bytes(s_, i));
  }
  std::int64_t int64(int i) { return sqlite3_column_int64(s_, i); }

 private:
  sqlite3_stmt* s_ = nullptr;
};

bool exec(Db::Conn& c, const char* sql) {
  return sqlite3_exec(c.db, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

}  // namespace

class Db::Lease {
 public:
  explicit Lease(Db& db) : db_(db) {
    std::unique_lock lock(db_.mu_);
    db_.cv_.wait(lock, [&] { return !db_.free_.empty(); });
    c_ = db_.free_.back();
    db_.free_.pop_back();
  }
  ~Lease() {
    {
      std::lock_guard lock(db_.mu_);
      db_.free_.push_back(c_);
    }
    db_.cv_.notify_one();
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  Conn& operator*() { return *c_; }

 private:
  Db& db_;
  Conn* c_;
};

std::unique_ptr<Db> Db::open(const std::string& path, unsigned connections, std::string* error) {
  auto fail = [&](std::string why) -> std::unique_ptr<Db> {
    if (error != nullptr) *error = std::move(why);
    return nullptr;
  };
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) return fail("cannot create " + parent.string() + ": " + ec.message());
  }
  std::unique_ptr<Db> db(new Db);
  for (unsigned i = 0; i < std::max(connections, 1u); ++i) {
    auto c = std::make_unique<Conn>();
    // NOMUTEX: each connection is used by one thread at a time (the pool hands it out).
    int rc =
        sqlite3_open_v2(path.c_str(), &c->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      return fail("cannot open " + path + ": " +
                  (c->db != nullptr ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc)));
    }
    sqlite3_busy_timeout(c->db, 5000);
    // synchronous=NORMAL is safe in WAL mode (only the last commits can be lost on power
    // loss); the first connection also switches the file to WAL and creates the schema.
    if (!exec(*c, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;") ||
        (i == 0 && (!exec(*c, "PRAGMA journal_mode=WAL;") || !exec(*c, kSchema)))) {
      return fail("cannot initialise " + path + ": " + sqlite3_errmsg(c->db));
    }
    db->free_.push_back(c.get());
    db->all_.push_back(std::move(c));
  }
  return db;
}

Db::~Db() = default;

Db::Result Db::create_account(Account& a, const std::string& session_key,
                              std::int64_t session_expires) {
  Lease lease(*this);
  auto& c = *lease;
  // IMMEDIATE takes the write lock up front (waiting via busy_timeout), so the transaction
  // never has to upgrade a read lock, which WAL can refuse without waiting.
  if (!exec(c, "BEGIN IMMEDIATE")) return Result::error;
  auto result = Result::ok;
  {
    Stmt s(c,
           "INSERT INTO accounts(username, email, password_hash, population, created_at) "
           "VALUES (?1, ?2, ?3, ?4, ?5)");
    s.bind(1, a.username).bind(2, a.email).bind(3, a.password_hash).bind(4, a.population);
    s.bind(5, a.created_at);
    int rc = s.step();
    std::string_view msg = rc == SQLITE_CONSTRAINT ? sqlite3_errmsg(c.db) : "";
    if (msg.find("accounts.username") != std::string_view::npos) {
      result = Result::username_taken;
    } else if (msg.find("accounts.email") != std::string_view::npos) {
      result = Result::email_taken;
    } else if (rc != SQLITE_DONE) {
      result = Result::error;
    } else {
      a.id = sqlite3_last_insert_rowid(c.db);
    }
  }
  if (result == Result::ok) {
    Stmt s(c, "INSERT INTO sessions(key_hash, account_id, expires_at) VALUES (?1, ?2, ?3)");
    if (s.bind(1, session_key).bind(2, a.id).bind(3, session_expires).step() != SQLITE_DONE) {
      result = Result::error;
    }
  }
  if (result == Result::ok && exec(c, "COMMIT")) return result;
  exec(c, "ROLLBACK");
  return result == Result::ok ? Result::error : result;
}

Db::Result Db::find_account(const std::string& username, Account* out) {
  Lease lease(*this);
  Stmt s(*lease,
         "SELECT id, username, email, password_hash, population, created_at FROM accounts "
         "WHERE username = ?1");
  int rc = s.bind(1, username).step();
  if (rc == SQLITE_DONE) return Result::not_found;
  if (rc != SQLITE_ROW) return Result::error;
  *out = Account{s.int64(0), s.text(1), s.text(2), s.text(3), s.text(4), s.int64(5)};
  return Result::ok;
}

Db::Result Db::create_session(std::int64_t account_id, const std::string& session_key,
                              std::int64_t expires, std::int64_t now) {
  Lease lease(*this);
  auto& c = *lease;
  {
    Stmt prune(c, "DELETE FROM sessions WHERE expires_at <= ?1");
    if (prune.bind(1, now).step() != SQLITE_DONE) return Result::error;
  }
  Stmt s(c, "INSERT INTO sessions(key_hash, account_id, expires_at) VALUES (?1, ?2, ?3)");
  return s.bind(1, session_key).bind(2, account_id).bind(3, expires).step() == SQLITE_DONE
             ? Result::ok
             : Result::error;
}

Db::Result Db::account_for_session(const std::string& session_key, std::int64_t now, Account* out) {
  Lease lease(*this);
  Stmt s(*lease,
         "SELECT a.id, a.username, a.email, a.population, a.created_at "
         "FROM sessions s JOIN accounts a ON a.id = s.account_id "
         "WHERE s.key_hash = ?1 AND s.expires_at > ?2");
  int rc = s.bind(1, session_key).bind(2, now).step();
  if (rc == SQLITE_DONE) return Result::not_found;
  if (rc != SQLITE_ROW) return Result::error;
  *out = Account{s.int64(0), s.text(1), s.text(2), {}, s.text(3), s.int64(4)};
  return Result::ok;
}

Db::Result Db::delete_session(const std::string& session_key) {
  Lease lease(*this);
  Stmt s(*lease, "DELETE FROM sessions WHERE key_hash = ?1");
  return s.bind(1, session_key).step() == SQLITE_DONE ? Result::ok : Result::error;
}

Db::Result Db::count_by_population(std::map<std::string, std::uint64_t>* out) {
  Lease lease(*this);
  Stmt s(*lease, "SELECT population, COUNT(*) FROM accounts GROUP BY population");
  out->clear();
  for (;;) {
    int rc = s.step();
    if (rc == SQLITE_DONE) return Result::ok;
    if (rc != SQLITE_ROW) return Result::error;
    (*out)[s.text(0)] = static_cast<std::uint64_t>(s.int64(1));
  }
}

}  // namespace gh::demo
