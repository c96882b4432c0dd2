// The arm64 bugs of the corpus (models/core/bugs.h), from the history of
// arch/arm64/kvm/fpsimd.c (seed 002): each reverts one flag of the era it
// broke (LazyEra, policies/kvm_lazy.h); and of the host's ptrace code, which
// the agent takes (Agent::set_bugs()). bugs.cpp describes each.
#pragma once

#include <cstdint>
#include <vector>

#include "models/core/bugs.h"

namespace fpusim::arm64 {

// Named after what the bug did; the enumerator's comment is the fix.
enum class Bug : std::uint8_t {
  kTifSveBeforeSave,        // 2955bcc8c309 "KVM: arm64: Avoid mistaken attempts to save SVE state for vcpus"
  kPutRebindsCurrentOnly,   // b3eb56b629d1 "KVM: arm64/sve: Fix SVE trap restoration for non-current tasks"
  kSveFlagKeptAcrossLoads,  // d52d165d67c5 "KVM: arm64: Always start with clearing SVE flag on load"
  kSmeFlagKeptAcrossLoads,  // 039f49c4cafb "KVM: arm64: Always start with clearing SME flag on load"
  kNoIsbAfterSmen,          // 59d78a2ec0e9 "KVM: arm64: Synchronize SMEN on vcpu schedule out"
  kHostStateKeptAtLoad,     // fbc7e61195e2 "KVM: arm64: Unconditionally save+flush host FPSIMD/SVE/SME state"
  kSsveFpsimdPayload,       // f916dd32a943 "arm64/fpsimd: ptrace: Mandate SVE payload for streaming-mode state"
  kFpmrBeforeSvcr,          // e5fa85fce08b "arm64/fpsimd: Don't corrupt FPMR when streaming mode changes"
};

// In Bug order (BugDesc::bit is the enumerator).
const std::vector<BugDesc>& bugs();

inline bool has(std::uint32_t bits, Bug b) { return bits >> static_cast<unsigned>(b) & 1u; }

}  // namespace fpusim::arm64
