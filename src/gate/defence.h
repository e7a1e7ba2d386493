// The defences that need state beyond one request: signing keys, the single-use challenge set,
// recent refusals, sign-up modes, waiting rooms, per-route signals and per-upstream concurrency
// limiters. DefenceState lives as long as the Server (reloads keep queues, modes and limits);
// RouteDefence is what one config generation's routes point at.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gate/store.h"
#include "policy/snapshot.h"
#include "stages/admission/limiter.h"
#include "stages/admission/mode_controller.h"
#include "stages/admission/route_window.h"
#include "stages/challenge/spent_set.h"
#include "stages/challenge/token.h"
#include "stages/reputation/refusals.h"
#include "stages/reputation/scorer.h"
#include "stages/residents/device_guard.h"
#include "stages/residents/jwt.h"
#include "stages/residents/revocations.h"
#include "stages/waitroom/room.h"

namespace gh::gate {

class SharedStore;

// What one route of one config generation uses; pointers into DefenceState, which outlives it.
struct RouteDefence {
  std::uint32_t scope = 0;                           // challenge::scope_of(route name)
  admission::ModeController* mode = nullptr;         // sign-up routes
  waitroom::Room* room = nullptr;                    // sign-up routes
  admission::RouteWindow* window = nullptr;          // every route
  const std::atomic<std::uint32_t>* rate = nullptr;  // requests/s of late (challenge pressure)
  admission::Limiter* limiter = nullptr;             // the upstream's, when admission is on
  std::uint32_t upstream_index = 0;
  // Sign-up routes: the question a queue-mode visit asks the fleet's line, its scope and figures
  // from the room's config, made once per config generation (a visit adds its ticket).
  StoreQuery::Line line{};
};

// The fleet line's figures for a route's waiting room (`scope`: the route's).
StoreQuery::Line line_query(const policy::WaitingRoomConfig& room, std::uint32_t scope);

// Per config generation (in Runtime).
struct Defence {
  std::unique_ptr<reputation::Scorer> scorer;  // null without rules
  std::string theme_css;                       // challenge.theme_css_file, read at load
  std::vector<RouteDefence> routes;            // by route index
  std::vector<std::shared_ptr<admission::Limiter>> limiters;  // keeps routes' limiters alive
  std::vector<std::shared_ptr<void>> keep;                    // keeps routes' shared state alive
  // Per device token rate and in-flight cap (residents). A request releases its place on the
  // guard it took it from: the generation it started on keeps that guard alive.
  std::shared_ptr<residents::DeviceGuard> devices;
  // residents.app_token: checks the application's own JWTs (null when not configured).
  std::shared_ptr<const residents::JwtVerifier> app_tokens;
};

struct ModeChange {
  std::int64_t at_ms = 0;
  std::string route;
  std::string from;
  std::string to;
  std::string reason;
  bool manual = false;
};

class DefenceState {
 public:
  // Loads or creates the key file, and reads the revocations kept in `state_dir` (empty: none
  // kept, as in quick mode); false with a reason when either cannot be used.
  bool init(const policy::Config& cfg, std::string* error, const std::string& state_dir = "");

  // Builds a generation's per-route view, creating or reconfiguring the long-lived parts.
  // Called under the server's reload lock, off the request path.
  bool build(const policy::Snapshot& snapshot, Defence& out, std::string* error);

  // The parts of build() that read files (reputation rules and ASN database, theme CSS), into
  // `out`, touching no state: build() uses it, and `gatehouse validate` alone.
  static bool check(const policy::Snapshot& snapshot, Defence& out, std::string* error);

  const challenge::TokenCodec& codec() const { return *codec_; }
  challenge::SpentSet& spent() { return *spent_; }
  reputation::RefusalTracker& refusals() { return refusals_; }
  const residents::Revocations& revocations() const { return revocations_; }

  // Revokes device tokens: every token of `account` issued until now ("log out everywhere"), or
  // the one device `id_hex` (32 hex characters). Kept in <state_dir>/revocations so a restart
  // keeps them. From the admin thread; false with a reason.
  bool revoke_account(const std::string& account, std::string* error);
  bool revoke_device(const std::string& id_hex, std::string* error);

  // Housekeeping, once a second: feeds the triggers and the waiting rooms.
  void tick(std::int64_t now_ms);

  // Manual sign-up mode: `mode` empty = back to automatic. False when no such sign-up route.
  bool set_mode(const std::string& route, std::optional<policy::SignupMode> mode,
                const std::string& reason, std::int64_t now_ms);

  struct RouteStatus {
    std::string route;
    std::vector<std::int64_t>
        heads;  // first-seen of the oldest places in the line (at most fleet::kMaxHeads)
    std::vector<std::string> ids;     // their ticket ids (hex): the fleet merges its line by them
    std::vector<std::uint16_t> subs;  // the microseconds of each head's millisecond (0-999)
    policy::SignupMode mode = policy::SignupMode::Open;
    bool manual = false;
    std::int64_t since_ms = 0;
    bool has_room = false;
    waitroom::Stats room;
    admission::Signals signals;
  };
  std::vector<RouteStatus> routes_status() const;
  struct UpstreamStatus {
    std::string upstream;
    std::uint32_t limit = 0;
    std::uint32_t in_flight = 0;
  };
  std::vector<UpstreamStatus> upstreams_status() const;

  // Mode changes are reported here (events, incident report); called outside internal locks.
  // Set before start(); the callback may run on the housekeeping or an admin thread.
  void on_mode_change(std::function<void(const ModeChange&)> f) { on_change_ = std::move(f); }

  // In a fleet (cluster:), once a second per sign-up route: the signals its triggers act on (the
  // fleet's, summed, in place of this node's own), and its waiting room's share of the fleet's
  // one line. Set before start; called on the housekeeping thread, outside internal locks.
  struct FleetHooks {
    std::function<admission::Signals(const std::string& route, const admission::Signals& local)>
        signals;
    std::function<waitroom::FleetShare(const std::string& route, const waitroom::Room& room)> room;
    // A place this node's room admitted (on the admitting thread): to tell the other nodes.
    std::function<void(const std::string& route, const waitroom::TicketId& id)> admitted;
  };
  // Another node admitted a place of this route's line (its message). False: no such route.
  bool admitted_elsewhere(const std::string& route, const waitroom::TicketId& id,
                          std::int64_t now_ms);
  void set_fleet_hooks(FleetHooks hooks) { fleet_ = std::move(hooks); }
  // In a fleet: the shared store requests wait for where a decision must be the fleet's (a
  // solved challenge's claim, exact limits). Set before the workers start; null: never asked.
  void set_store(SharedStore* store) { store_ = store; }
  SharedStore* store() const { return store_; }

 private:
  struct RouteShared {
    admission::RouteWindow window;
    std::atomic<std::uint32_t> rate{0};  // updated each tick from the window
  };
  struct SignupRoute {
    std::shared_ptr<admission::ModeController> mode;
    std::shared_ptr<waitroom::Room> room;
    std::shared_ptr<RouteShared> shared;
    std::string config_key;  // the sign-up config it was built from
  };

  std::unique_ptr<challenge::TokenCodec> codec_;
  std::unique_ptr<challenge::SpentSet> spent_;
  reputation::RefusalTracker refusals_{1 << 16, 60'000};
  residents::Revocations revocations_;
  std::string revocations_path_;  // empty: not kept on disk (quick mode, tests)
  std::int64_t device_lifetime_ms_ = 0;
  std::mutex revocations_mu_;  // serialises the file's appends
  bool keep_revocation(const std::string& line, std::string* error);
  mutable std::mutex mu_;
  std::map<std::string, SignupRoute> signup_;                            // by route
  std::map<std::string, std::shared_ptr<RouteShared>> windows_;          // by route
  std::map<std::string, std::shared_ptr<admission::Limiter>> limiters_;  // by upstream
  std::map<std::string, std::string> limiter_keys_;
  std::shared_ptr<residents::DeviceGuard> devices_;  // rebuilt when residents' device limits change
  std::string devices_key_;
  std::function<void(const ModeChange&)> on_change_;
  FleetHooks fleet_;
  SharedStore* store_ = nullptr;
};

}  // namespace gh::gate
