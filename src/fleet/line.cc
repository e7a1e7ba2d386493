#include "fleet/line.h"

#include <algorithm>
#include <string>

#include "fleet/redis.h"
#include "fleet/reply-t.h"

namespace gh::fleet {
namespace {

// KEYS: line, seen, new, bucket. ARGV: id, first-seen µs, interval µs, burst, max_queue, gone µs,
// back µs, open (1/0), ticket (1/0), hold. Work per call: a bounded number of gone places, O(log n)
// sorted-set reads, one write or two. Equal scores order by member (lowercase hex: byte order),
// the tie-break the nodes use.
constexpr std::string_view kLineScript = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local line, seen, new, bucket = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id, first = ARGV[1], ARGV[2]
local T, burst, cap = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local gone, back = tonumber(ARGV[6]), tonumber(ARGV[7])
local open, ticket = ARGV[8] == '1', ARGV[9] == '1'
local hold = tonumber(ARGV[10])
local function f(x) return string.format('%d', x) end
local old = redis.call('ZRANGEBYSCORE', seen, '-inf', f(now - gone), 'LIMIT', 0, 32)
if #old > 0 then
  redis.call('ZREM', line, unpack(old))
  redis.call('ZREM', seen, unpack(old))
end
redis.call('ZREMRANGEBYSCORE', new, '-inf', f(now - back))
local tat = tonumber(redis.call('GET', bucket)) or now
if tat < now then tat = now end
if redis.call('ZCARD', line) == 0 and redis.call('ZCARD', new) == 0 then
  -- Nobody waits: the bucket holds the burst only (what a calm room lets in at once).
  local calm = now + (hold - burst) * T
  if tat < calm then tat = calm end
end
local units = math.floor((hold * T - (tat - now)) / T)
local function charge()
  tat = tat + T
  redis.call('SET', bucket, f(tat), 'PX', math.floor((tat - now) / 1000) + 1000)
end
local ttl = math.floor(gone / 1000) + 1000
local waiting = redis.call('ZCOUNT', new, '-inf', '(' .. first)
if ticket then
  redis.call('ZREM', new, id)
  if not redis.call('ZSCORE', line, id) then
    if redis.call('ZCARD', line) >= cap then
      if open and redis.call('ZCOUNT', line, '-inf', '(' .. first) + waiting < units then
        charge()
        return {1, 0}
      end
      return {2, 0}
    end
    redis.call('ZADD', line, 'NX', first, id)
  end
  local ahead = redis.call('ZRANK', line, id) + waiting
  if open and ahead < units then
    redis.call('ZREM', line, id)
    redis.call('ZREM', seen, id)
    charge()
    return {1, 0}
  end
  redis.call('ZADD', seen, f(now), id)
  redis.call('PEXPIRE', line, ttl)
  redis.call('PEXPIRE', seen, ttl)
  return {0, ahead + 1}
end
local ahead = redis.call('ZCOUNT', line, '-inf', '(' .. first) + waiting
if open and ahead < units then
  charge()
  return {1, 0}
end
if redis.call('ZCARD', line) >= cap then return {2, 0} end
if redis.call('ZCARD', new) < 1024 then
  redis.call('ZADD', new, first, id)
  redis.call('PEXPIRE', new, math.floor(back / 1000) + 1000)
end
return {0, ahead + 1}
)lua";

// kMaxGonePerCall (32) and kMaxNewcomers (1024) are spelled out in the script.
static_assert(kMaxGonePerCall == 32 && kMaxNewcomers == 1024);

std::string hex8(std::uint32_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s(8, '0');
  for (int i = 7; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = kHex[v & 15];
  return s;
}

}  // namespace

std::string_view line_script() {
  return kLineScript;
}

std::vector<std::string> line_argv(std::string_view prefix, const LineAsk& a) {
  static const std::string sha = script_sha(kLineScript);
  const std::string base = std::string(prefix) + "room:{" + hex8(a.scope) + "}:";
  return {"EVALSHA",
          sha,
          "4",
          base + "line",
          base + "seen",
          base + "new",
          base + "bucket",
          a.id,
          std::to_string(a.first_us),
          std::to_string(a.interval_us),
          std::to_string(a.burst),
          std::to_string(a.max_queue),
          std::to_string(a.gone_ms * 1000),
          std::to_string(a.back_ms * 1000),
          a.open ? "1" : "0",
          a.ticket ? "1" : "0",
          std::to_string(std::max(a.hold, a.burst))};
}

std::optional<LineAnswer> decode_line(const Reply& r) {
  if (r.type != Reply::Type::Array || r.elements.size() != 2) return std::nullopt;
  const Reply& verdict = r.elements[0];
  const Reply& position = r.elements[1];
  if (verdict.type != Reply::Type::Integer || position.type != Reply::Type::Integer) {
    return std::nullopt;
  }
  LineAnswer a;
  switch (verdict.integer) {
    case 0:
      if (position.integer < 1 || position.integer > 0xffff'ffffLL) return std::nullopt;
      a.verdict = LineAnswer::Verdict::Wait;
      a.position = static_cast<std::uint32_t>(position.integer);
      return a;
    case 1:
    case 2:
      if (position.integer != 0) return std::nullopt;
      a.verdict = verdict.integer == 1 ? LineAnswer::Verdict::Due : LineAnswer::Verdict::Full;
      return a;
    default:
      return std::nullopt;
  }
}

}  // namespace gh::fleet
