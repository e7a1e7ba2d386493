#include "control/metrics.h"

#include "gate/stats.h"

namespace gh::control {

const std::vector<MetricFamily>& metric_families() {
  static const std::vector<MetricFamily> kFamilies = [] {
    std::vector<MetricFamily> v;
#define GH_WORKER_FAMILY(name, help) v.push_back({#name "_total", "counter", help, ""});
    GH_WORKER_STATS(GH_WORKER_FAMILY)
#undef GH_WORKER_FAMILY
#define GH_ADMIN_FAMILY(name, type, labels, help) v.push_back({#name, type, help, labels});
    GH_ADMIN_METRICS(GH_ADMIN_FAMILY)
#undef GH_ADMIN_FAMILY
    return v;
  }();
  return kFamilies;
}

const MetricFamily* find_metric_family(std::string_view name) {
  for (const MetricFamily& f : metric_families()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

void metric_header(std::string& out, std::string_view name) {
  const MetricFamily* f = find_metric_family(name);
  out.append("# HELP gatehouse_").append(name).append(" ");
  out.append(f != nullptr ? f->help : std::string_view("(undeclared)")).append("\n");
  out.append("# TYPE gatehouse_").append(name).append(" ");
  out.append(f != nullptr ? f->type : std::string_view("untyped")).append("\n");
}

}  // namespace gh::control
