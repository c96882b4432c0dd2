#include "models/arm64/stats.h"

namespace fpusim::arm64 {

static_assert(static_cast<size_t>(AStat::kEnd_) <= kMaxStats);

const StatGroup& stat_group() {
#define FPUSIM_ARM64_STAT_INFO(name, unit, doc) {#name, unit, doc},
  static const StatGroup g{"arm64",
                           "the Linux arm64 host: SVE and SME access traps, SVE discards and conversions, "
                           "CPACR_EL1.ZEN/SMEN, ZCR_EL1 and SMCR_EL1 writes, vector-length changes, kernel-mode NEON",
                           kNumCoreStats,
                           {FPUSIM_ARM64_STATS(FPUSIM_ARM64_STAT_INFO)}};
  return g;
}

const StatGroup& kvm_stat_group() {
  static const StatGroup g{"arm64_kvm",
                           "KVM on arm64: KVM_RUN, vcpu load/put, guest FP traps to EL2, hypervisor and host saves "
                           "of host and guest state, FP ownership",
                           stat_group().end(),
                           {FPUSIM_ARM64_KVM_STATS(FPUSIM_ARM64_STAT_INFO)}};
  return g;
}
#undef FPUSIM_ARM64_STAT_INFO

const std::vector<CauseInfo>& cause_table() {
  static const std::vector<CauseInfo> t = {
#define FPUSIM_ARM64_CAUSE_INFO(name, doc) {#name, doc},
      FPUSIM_ARM64_CAUSES(FPUSIM_ARM64_CAUSE_INFO)
#undef FPUSIM_ARM64_CAUSE_INFO
  };
  return t;
}

}  // namespace fpusim::arm64
