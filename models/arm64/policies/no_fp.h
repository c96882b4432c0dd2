// Linux on a CPU without FP/AdvSIMD (system_supports_fpsimd() false): the
// kernel keeps no FP state, so every rule of fpsimd.c returns at once
// ("if (!system_supports_fpsimd()) return;" in fpsimd_thread_switch(),
// fpsimd_restore_current_state(), fpsimd_flush_thread(), the signal code's
// preserve/restore, ...), and KVM does nothing at vcpu load either
// (b4da9187 "KVM: arm64: Move the handling of !FP outside of the fast
// path"). Arm64Run runs this in place of any policy on such a machine; FP
// instructions themselves are undefined (Agent::use refuses them).
#pragma once

#include <memory>

#include "models/arm64/kvm.h"
#include "models/arm64/policy.h"

namespace fpusim::arm64 {

std::unique_ptr<Policy> make_no_fp_policy();
std::unique_ptr<KvmScheme> make_no_fp_kvm();

}  // namespace fpusim::arm64
