// The limit script's maths in C++, for tests that run the sync without Redis: one shared TAT per
// key (microseconds), the deltas added, never below now, capped. Mirrors kLimitScript.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fleet/limits_sync.h"
#include "fleet/reply-t.h"

namespace gh::test {

struct ScriptModel {
  std::int64_t now_us = 1'000'000'000'000;
  std::map<std::string, std::int64_t> tat_us;
  bool forget_script = false;  // EVALSHA answers NOSCRIPT until an EVAL loads it
  std::uint64_t calls = 0;
  std::int64_t live = 1;  // the heartbeat's answer

  fleet::Reply run(const std::vector<std::string>& argv, std::int64_t elapsed_us) {
    ++calls;
    const std::int64_t now = now_us + elapsed_us;
    fleet::Reply r;
    if (argv[0] == "EVALSHA" && forget_script) {
      r.type = fleet::Reply::Type::Error;
      r.str = "NOSCRIPT No matching script. Please use EVAL.";
      return r;
    }
    if (argv[0] == "EVAL" && argv[1].find("ZADD") != std::string::npos) {
      r.type = fleet::Reply::Type::Integer;
      r.integer = live;
      return r;
    }
    if (argv[0] == "EVAL") forget_script = false;
    const std::size_t n = std::stoul(argv[2]);
    const std::int64_t cap = std::stoll(argv[3 + n]);
    r.type = fleet::Reply::Type::Array;
    for (std::size_t i = 0; i < n; ++i) {
      std::int64_t tat = std::max<std::int64_t>(tat_us[argv[3 + i]], now);
      tat = std::max<std::int64_t>(tat + std::stoll(argv[4 + n + i]), now);
      tat = std::min<std::int64_t>(tat, now + cap);
      tat_us[argv[3 + i]] = tat;
      fleet::Reply e;
      e.type = fleet::Reply::Type::Integer;
      e.integer = tat - now;
      r.elements.push_back(e);
    }
    return r;
  }
};

}  // namespace gh::test
