// The end-of-run table (text) and the same numbers as JSON (--report).
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/engine.h"
#include "sim/sim-t.h"

namespace gh::sim {

struct RunReport {
  std::string scenario;
  std::string target;
  double duration_s = 0;
  double elapsed_s = 0;
  std::vector<PopulationConfig> populations;
  std::vector<PopulationStats> stats;  // same order
};

const char* behaviour_name(Behaviour b);
nlohmann::json report_json(const RunReport& r);
void print_table(std::FILE* out, const RunReport& r);

}  // namespace gh::sim
