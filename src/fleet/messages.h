// What nodes tell each other through Redis: a ban, its removal, a sign-up mode. Stored as JSON in
// hashes (`<prefix>bans`: field = the CIDR; `<prefix>modes`: field = the route) and published on
// `<prefix>events`. Decoders check every field: what Redis hands back is untrusted.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gh::fleet {

inline constexpr std::int64_t kNoExpiry = -1;  // a ban until removed
inline constexpr std::size_t kMaxText = 256;   // reason, source, route
inline constexpr std::size_t kMaxMessage = 4096;

struct BanRecord {
  std::string cidr;  // canonical ("10.0.0.0/8", "2001:db8::1/128")
  std::int64_t start = 0;
  std::int64_t expiry = kNoExpiry;  // Unix seconds
  std::uint32_t level = 0;
  std::string reason;
  std::string source;
  std::string node;  // which node made it

  friend bool operator==(const BanRecord&, const BanRecord&) = default;
};

struct ModeRecord {
  std::string route;
  std::string mode;  // open, challenge, queue, closed, or auto (back to the triggers)
  std::string reason;
  std::string node;
  std::int64_t at_ms = 0;  // when it was set (wall clock): the later one wins

  friend bool operator==(const ModeRecord&, const ModeRecord&) = default;
};

// A solved challenge (or a sign-up clearance) claimed on one node: the others refuse it.
struct SpentRecord {
  std::string id;              // 32 lowercase hex digits
  std::int64_t expiry_ms = 0;  // when the token stops decoding anyway
  std::string node;

  friend bool operator==(const SpentRecord&, const SpentRecord&) = default;
};

// A waiting-room place admitted on one node: the others take it out of their lines and let its
// holder through as a guest (stages/waitroom, "In a fleet").
struct AdmitRecord {
  std::string route;
  std::string id;  // the ticket's id, 32 lowercase hex digits
  std::string node;

  friend bool operator==(const AdmitRecord&, const AdmitRecord&) = default;
};

struct Message {
  enum class Kind : std::uint8_t { Ban, Unban, Mode, Spent, Admit };
  Kind kind = Kind::Ban;
  BanRecord ban;      // Ban; Unban: cidr and node only
  ModeRecord mode;    // Mode
  SpentRecord spent;  // Spent
  AdmitRecord admit;  // Admit

  friend bool operator==(const Message&, const Message&) = default;
};

std::string encode_ban(const BanRecord& b);
std::string encode_mode(const ModeRecord& m);
std::string encode_message(const Message& m);
std::optional<BanRecord> decode_ban(std::string_view text);
std::optional<ModeRecord> decode_mode(std::string_view text);
std::optional<Message> decode_message(std::string_view text);

// A node name, as `cluster.node` accepts it.
bool valid_node(std::string_view name);

// Replies of the questions a request waits for (Fleet::ask), read as untrusted input.
struct Reply;
// A challenge claim's `SET <key> <node> NX PX <ms> GET`: nil (nobody held it) or `node` itself (its
// own asynchronous claim got there first) is this node's; another name is another node's claim.
// nullopt: anything else (an error, a wrong type).
enum class ClaimAnswer : std::uint8_t { Ours, Theirs };
std::optional<ClaimAnswer> decode_claim(const Reply& r, std::string_view node);
// The exact limits' GCRA script over `keys` keys: {0, 0} when every key conforms (all charged),
// {i, retry_us} when key i (1-based) refuses and admits again in retry_us. nullopt when
// malformed: not two integers, i above `keys`, a wait below 0 or above a day.
struct GcraAnswer {
  std::uint32_t refused = 0;  // 0: none; else the 1-based index of the refusing key
  std::int64_t retry_us = 0;
};
std::optional<GcraAnswer> decode_gcra(const Reply& r, std::size_t keys);

}  // namespace gh::fleet
