#include "models/core/stats.h"

namespace fpusim {

const StatGroup& core_stat_group() {
  static const StatGroup group{"core",
                               "what every architecture counts: saves, restores, bytes, traps, cycles, violations, exposure",
                               0,
                               {
#define FPUSIM_STAT_INFO(name, unit, doc) {#name, unit, doc},
                                   FPUSIM_CORE_STATS(FPUSIM_STAT_INFO)
#undef FPUSIM_STAT_INFO
                               }};
  return group;
}

StatSet::StatSet(std::vector<const StatGroup*> groups) : groups_(std::move(groups)) {
  for (const StatGroup* g : groups_) {
    if (g->first != size_) panic("stat group " + std::string(g->name) + " does not start where the previous ends");
    for (const StatInfo& s : g->stats) info_.push_back(&s);
    size_ = g->end();
  }
  if (size_ > kMaxStats) panic("more counters than kMaxStats");
}

bool StatSet::find(std::string_view name, StatId* out) const {
  for (StatId i = 0; i < size_; ++i) {
    if (info_[i]->name == name) {
      *out = i;
      return true;
    }
  }
  return false;
}

}  // namespace fpusim
