#include "models/core/stats.h"

namespace fpusim {

const std::array<StatInfo, kNumStats>& stat_table() {
  static const std::array<StatInfo, kNumStats> table = {{
#define FPUSIM_STAT_INFO(name, unit, doc) {#name, unit, doc},
      FPUSIM_STATS(FPUSIM_STAT_INFO)
#undef FPUSIM_STAT_INFO
  }};
  return table;
}

const StatInfo& stat_info(Stat s) { return stat_table()[static_cast<size_t>(s)]; }

bool stat_by_name(std::string_view name, Stat* out) {
  const auto& t = stat_table();
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i].name == name) {
      *out = static_cast<Stat>(i);
      return true;
    }
  }
  return false;
}

namespace {
struct CauseInfo {
  std::string_view name, doc;
};
constexpr CauseInfo kCauses[] = {
#define FPUSIM_CAUSE_INFO(name, doc) {#name, doc},
    FPUSIM_CAUSES(FPUSIM_CAUSE_INFO)
#undef FPUSIM_CAUSE_INFO
};
}  // namespace

std::string_view cause_name(Cause c) { return kCauses[static_cast<size_t>(c)].name; }
std::string_view cause_description(Cause c) { return kCauses[static_cast<size_t>(c)].doc; }

}  // namespace fpusim
