#include "proxy/fleet_store.h"

#include <string>
#include <vector>

#include "core/clock.h"
#include "fleet/fleet.h"

namespace gh::proxy {
namespace {

std::string hex(const challenge::TokenId& id) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(id.size() * 2);
  for (std::uint8_t b : id) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

gate::StoreReply failed(bool timed_out) {
  gate::StoreReply r;
  r.answer = timed_out ? gate::StoreAnswer::TimedOut : gate::StoreAnswer::Failed;
  return r;
}

class FleetStore final : public gate::SharedStore {
 public:
  explicit FleetStore(fleet::Fleet& fleet) : fleet_(fleet) {}

  bool ready() const override { return fleet_.can_ask(); }
  std::int64_t timeout_ms() const override { return fleet_.config().request_timeout; }

  bool ask(const gate::StoreQuery& q, Done done) override {
    switch (q.kind) {
      case gate::StoreQuery::Kind::Claim:
        return claim(q, std::move(done));
      case gate::StoreQuery::Kind::Limits:
      case gate::StoreQuery::Kind::None:
        break;
    }
    return false;
  }

 private:
  // SET NX with GET: nil (nobody held it) or this node's own name (its asynchronous claim got
  // there first) is ours; another name is a claim another node made first.
  bool claim(const gate::StoreQuery& q, Done done) {
    const std::string key = fleet_.spent_key(hex(q.id));
    const std::int64_t ttl = std::max<std::int64_t>(1, q.expiry_ms - core::wall_ms());
    std::vector<std::string> argv{"SET", key, fleet_.node(), "NX", "PX", std::to_string(ttl),
                                  "GET"};
    return fleet_.ask(
        key, std::move(argv),
        [this, done = std::move(done)](const fleet::Reply* r, bool timed_out) {
          if (r == nullptr) {
            done(failed(timed_out));
            return;
          }
          gate::StoreReply out;
          if (r->type == fleet::Reply::Type::Nil || (r->is_string() && r->str == fleet_.node())) {
            out.answer = gate::StoreAnswer::Yes;
          } else if (r->is_string()) {
            out.answer = gate::StoreAnswer::No;
          } else {
            out.answer = gate::StoreAnswer::Failed;  // an error: decided locally
          }
          done(out);
        });
  }

  fleet::Fleet& fleet_;
};

}  // namespace

std::unique_ptr<gate::SharedStore> make_fleet_store(fleet::Fleet& fleet) {
  return std::make_unique<FleetStore>(fleet);
}

}  // namespace gh::proxy
