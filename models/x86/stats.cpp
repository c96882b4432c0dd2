#include "models/x86/stats.h"

namespace fpusim::x86 {

namespace {
constexpr StatId kHostFirst = kNumCoreStats;
#define FPUSIM_COUNT(name, unit, doc) +1
constexpr StatId kKvmFirst = kHostFirst + (0 FPUSIM_X86_HOST_STATS(FPUSIM_COUNT));
#undef FPUSIM_COUNT
static_assert(static_cast<StatId>(XStat::kvm_runs) == kKvmFirst);
static_assert(static_cast<size_t>(XStat::kEnd_) <= kMaxStats);
}  // namespace

#define FPUSIM_STAT_INFO(name, unit, doc) {#name, unit, doc},
const StatGroup& host_stat_group() {
  static const StatGroup g{"x86", "the Linux x86 host: #NM and #UD by kind, CR0.TS, IA32_XFD and PKRU writes, fpstate reallocation",
                           kHostFirst, {FPUSIM_X86_HOST_STATS(FPUSIM_STAT_INFO)}};
  return g;
}

const StatGroup& kvm_stat_group() {
  static const StatGroup g{"x86_kvm", "KVM on x86: KVM_RUN, guest FPU loads and puts, VM exits, guest XFD and XSETBV",
                           kKvmFirst, {FPUSIM_X86_KVM_STATS(FPUSIM_STAT_INFO)}};
  return g;
}
#undef FPUSIM_STAT_INFO

const std::vector<CauseInfo>& cause_table() {
  static const std::vector<CauseInfo> t = {
#define FPUSIM_CAUSE_INFO(name, doc) {#name, doc},
      FPUSIM_X86_CAUSES(FPUSIM_CAUSE_INFO)
#undef FPUSIM_CAUSE_INFO
  };
  return t;
}

}  // namespace fpusim::x86
