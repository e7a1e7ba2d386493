// The demo app: a small sign-up / login service that Gatehouse is shown protecting.
// It shares no code with the shield; this header pulls in no third-party headers so the
// shield can embed it without inheriting httplib, SQLite or libsodium.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace gh::demo {

// libsodium's crypto_pwhash_OPSLIMIT_INTERACTIVE (checked in app.cc), kept out of this header.
inline constexpr unsigned long long kPwhashOpsInteractive = 2;
// Distinct X-Sim-Population names counted per counter; beyond, they count as "other" (the header
// is the client's to choose).
inline constexpr std::size_t kMaxPopulations = 64;

struct Options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 3000;            // 0 = any free port; see App::port()
  std::string db_path = "var/demo.db";  // SQLite (WAL); the parent directory is created
  // Fixed worker pool: the app's real capacity. A connection holds a worker for its whole
  // keep-alive lifetime, as in a classic thread-per-connection server.
  unsigned workers = 4;
  // Argon2id cost per hash. Defaults: crypto_pwhash_OPSLIMIT_INTERACTIVE and 16 MiB, so a
  // login costs real CPU. Tests pass crypto_pwhash_OPSLIMIT_MIN / MEMLIMIT_MIN.
  unsigned long long pwhash_ops = kPwhashOpsInteractive;
  std::size_t pwhash_mem = std::size_t{16} << 20;
  // The ES256 key that signs API tokens (POST /api/login): a PEM file, made at first start when
  // absent (mode 0600), its public key written beside it as <file>.pub.pem. Empty: a key held
  // in memory for this run only.
  std::string jwt_key_path;
};

struct Stats {
  std::uint64_t accounts_total = 0;
  // Keyed by the X-Sim-Population request header that created the account ("direct" when
  // absent, "unknown" when malformed), so the attack simulator can count bot accounts.
  std::map<std::string, std::uint64_t> accounts_by_population;
  std::uint64_t requests = 0;
  std::uint64_t logins_ok = 0, logins_failed = 0;
  std::uint64_t signups_ok = 0, signups_failed = 0;
  std::uint64_t api_logins_ok = 0, api_logins_failed = 0;  // POST /api/login
  std::uint64_t api_requests = 0;      // bearer-protected calls answered with a valid token
  std::uint64_t api_unauthorized = 0;  // bearer-protected calls refused: no or bad token
  // Logins (form and API) the app handled, keyed like accounts_by_population (at most
  // kMaxPopulations names, the rest as "other"): credential stuffing that reached the app.
  std::map<std::string, std::uint64_t> logins_by_population;
  unsigned workers = 0;
  unsigned busy_workers = 0;        // workers currently holding a connection
  unsigned queued_connections = 0;  // accepted connections waiting for a free worker
};

class App {
 public:
  explicit App(Options options);
  ~App();  // stops
  App(const App&) = delete;
  App& operator=(const App&) = delete;

  // Opens the database, binds, and serves on its own threads. Returns false (with a reason
  // in *error when non-null) on failure. One start per App.
  bool start(std::string* error);
  std::uint16_t port() const;  // the bound port once started
  // Stops accepting, waits for in-flight connections (an idle keep-alive connection may
  // hold this up to the 5 s keep-alive timeout), closes the database. Idempotent.
  void stop();
  Stats stats() const;
  // The API token key's public half (PEM), and the file it was written to ("" when in memory).
  std::string jwt_public_pem() const;
  std::string jwt_public_path() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace gh::demo
