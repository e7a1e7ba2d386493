#include "fleet/messages.h"

#include <nlohmann/json.hpp>

#include "client/address.h"
#include "fleet/json_fields.h"
#include "fleet/reply-t.h"

namespace gh::fleet {
namespace {

using json = nlohmann::json;

constexpr std::string_view kModes[] = {"open", "challenge", "queue", "closed", "auto"};

json ban_json(const BanRecord& b) {
  return json{{"cidr", b.cidr},
              {"start", b.start},
              {"expiry", b.expiry == kNoExpiry ? json(nullptr) : json(b.expiry)},
              {"level", b.level},
              {"reason", b.reason},
              {"source", b.source},
              {"node", b.node}};
}

json mode_json(const ModeRecord& m) {
  return json{{"route", m.route},
              {"mode", m.mode},
              {"reason", m.reason},
              {"node", m.node},
              {"at_ms", m.at_ms}};
}

std::optional<json> parse_object(std::string_view text) {
  if (text.size() > kMaxMessage) return std::nullopt;
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  return j;
}

constexpr std::int64_t kMaxTime = std::int64_t{1} << 40;  // seconds: year 36812

std::optional<BanRecord> ban_from(const json& j, bool key_only) {
  BanRecord b;
  if (!text_field(j, "cidr", b.cidr) || !text_field(j, "node", b.node) || !valid_node(b.node)) {
    return std::nullopt;
  }
  auto cidr = client::parse_cidr(b.cidr);
  if (!cidr) return std::nullopt;
  b.cidr = client::format_cidr(*cidr);
  if (key_only) return b;
  std::int64_t level = 0;
  if (!int_field(j, "start", 0, kMaxTime, b.start) || !int_field(j, "level", 0, 255, level) ||
      !text_field(j, "reason", b.reason, false) || !text_field(j, "source", b.source, false)) {
    return std::nullopt;
  }
  b.level = static_cast<std::uint32_t>(level);
  auto e = j.find("expiry");
  if (e == j.end()) return std::nullopt;
  if (e->is_null()) {
    b.expiry = kNoExpiry;
  } else if (!int_field(j, "expiry", 1, kMaxTime, b.expiry) || b.expiry <= b.start) {
    return std::nullopt;
  }
  return b;
}

std::optional<ModeRecord> mode_from(const json& j) {
  ModeRecord m;
  if (!text_field(j, "route", m.route) || m.route.empty() || !text_field(j, "mode", m.mode) ||
      !text_field(j, "reason", m.reason, false) || !text_field(j, "node", m.node) ||
      !valid_node(m.node) || !int_field(j, "at_ms", 0, kMaxTime * 1000, m.at_ms)) {
    return std::nullopt;
  }
  bool known = false;
  for (std::string_view k : kModes) known = known || m.mode == k;
  if (!known) return std::nullopt;
  return m;
}

bool valid_id(std::string_view id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::optional<SpentRecord> spent_from(const json& j) {
  SpentRecord r;
  if (!text_field(j, "id", r.id) || !valid_id(r.id) || !text_field(j, "node", r.node) ||
      !valid_node(r.node) || !int_field(j, "expiry_ms", 1, kMaxTime * 1000, r.expiry_ms)) {
    return std::nullopt;
  }
  return r;
}

std::optional<AdmitRecord> admit_from(const json& j) {
  AdmitRecord r;
  if (!text_field(j, "route", r.route) || r.route.empty() || r.route.size() > kMaxText ||
      !text_field(j, "id", r.id) || !valid_id(r.id) || !text_field(j, "node", r.node) ||
      !valid_node(r.node)) {
    return std::nullopt;
  }
  return r;
}

}  // namespace

bool valid_node(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// Text from a journal may hold invalid UTF-8: replaced rather than thrown on.
static std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string encode_ban(const BanRecord& b) {
  return dump(ban_json(b));
}
std::string encode_mode(const ModeRecord& m) {
  return dump(mode_json(m));
}

std::string encode_message(const Message& m) {
  json j;
  switch (m.kind) {
    case Message::Kind::Ban:
      j = ban_json(m.ban);
      j["type"] = "ban";
      break;
    case Message::Kind::Unban:
      j = json{{"type", "unban"}, {"cidr", m.ban.cidr}, {"node", m.ban.node}};
      break;
    case Message::Kind::Mode:
      j = mode_json(m.mode);
      j["type"] = "mode";
      break;
    case Message::Kind::Spent:
      j = json{{"type", "spent"},
               {"id", m.spent.id},
               {"expiry_ms", m.spent.expiry_ms},
               {"node", m.spent.node}};
      break;
    case Message::Kind::Admit:
      j = json{
          {"type", "admit"}, {"route", m.admit.route}, {"id", m.admit.id}, {"node", m.admit.node}};
      break;
  }
  return dump(j);
}

std::optional<BanRecord> decode_ban(std::string_view text) {
  auto j = parse_object(text);
  if (!j) return std::nullopt;
  return ban_from(*j, false);
}

std::optional<ModeRecord> decode_mode(std::string_view text) {
  auto j = parse_object(text);
  if (!j) return std::nullopt;
  return mode_from(*j);
}

std::optional<Message> decode_message(std::string_view text) {
  auto j = parse_object(text);
  if (!j) return std::nullopt;
  std::string type;
  if (!text_field(*j, "type", type)) return std::nullopt;
  Message m;
  if (type == "ban" || type == "unban") {
    m.kind = type == "ban" ? Message::Kind::Ban : Message::Kind::Unban;
    auto b = ban_from(*j, m.kind == Message::Kind::Unban);
    if (!b) return std::nullopt;
    m.ban = std::move(*b);
    return m;
  }
  if (type == "spent") {
    m.kind = Message::Kind::Spent;
    auto r = spent_from(*j);
    if (!r) return std::nullopt;
    m.spent = std::move(*r);
    return m;
  }
  if (type == "admit") {
    m.kind = Message::Kind::Admit;
    auto r = admit_from(*j);
    if (!r) return std::nullopt;
    m.admit = std::move(*r);
    return m;
  }
  if (type == "mode") {
    m.kind = Message::Kind::Mode;
    auto mode = mode_from(*j);
    if (!mode) return std::nullopt;
    m.mode = std::move(*mode);
    return m;
  }
  return std::nullopt;
}

std::optional<ClaimAnswer> decode_claim(const Reply& r, std::string_view node) {
  if (r.type == Reply::Type::Nil) return ClaimAnswer::Ours;
  if (r.type != Reply::Type::String) return std::nullopt;
  return r.str == node ? ClaimAnswer::Ours : ClaimAnswer::Theirs;
}

std::optional<GcraAnswer> decode_gcra(const Reply& r, std::size_t keys) {
  constexpr std::int64_t kDayUs = std::int64_t{86'400} * 1'000'000;
  if (r.type != Reply::Type::Array || r.elements.size() != 2) return std::nullopt;
  const Reply& index = r.elements[0];
  const Reply& wait = r.elements[1];
  if (index.type != Reply::Type::Integer || wait.type != Reply::Type::Integer) return std::nullopt;
  if (index.integer < 0 || static_cast<std::uint64_t>(index.integer) > keys) return std::nullopt;
  if (wait.integer < 0 || wait.integer > kDayUs) return std::nullopt;
  GcraAnswer a;
  a.refused = static_cast<std::uint32_t>(index.integer);
  a.retry_us = a.refused == 0 ? 0 : wait.integer;
  return a;
}

}  // namespace gh::fleet
