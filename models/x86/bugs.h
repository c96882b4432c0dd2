// The x86 bugs of the corpus (models/core/bugs.h): each a flag of the agent
// (Agent::bug) that the code the bug changed tests, next to the kernel rule
// it broke; bugs.cpp describes each with its commit.
#pragma once

#include <cstdint>
#include <vector>

#include "models/core/bugs.h"

namespace fpusim::x86 {

// Named after what the bug did; the enumerator's comment is the fix.
enum class Bug : std::uint8_t {
  kLazyByDefault,         // 58122bf1d856 "x86/fpu: Default eagerfpu=on on all CPUs" (LazyFP, CVE-2018-3665)
  kKvmIgnoresNeedFpuLoad, // c9aef3b85f42 "KVM: x86: Handle TIF_NEED_FPU_LOAD in kvm_{load,put}_guest_fpu()"
  kCachedOwnerCtx,        // 59c4bd853abc "x86/fpu: Don't cache access to fpu_fpregs_owner_ctx"
  kRegsActiveAfterFailedLoad,  // bbc55341b9c6 "x86/fpu: Deactivate FPU state after failure during state load"
  kNoResetOnRestoreFailure,    // efa165504943 "x86/fpu: Reset state for all signal restore failures"
  kExecDropsOwnerOnly,    // 1f69383b203e "x86/fpu: Invalidate FPU state correctly on exec()"
  kXstateBvUnderXfd,      // b45f72177594 "x86/fpu: Clear XSTATE_BV[i] in guest XSAVE state whenever XFD[i]=1"
  kBogusXcompBv,          // 814fb7bb7db5 "x86/fpu: Don't let userspace set bogus xcomp_bv" (CVE-2017-15537)
  kXfdNotSyncedOnClear,   // 388eff894d6b "x86/fpu: Ensure XFD state on signal delivery"
};

// In Bug order (BugDesc::bit is the enumerator).
const std::vector<BugDesc>& bugs();

}  // namespace fpusim::x86
