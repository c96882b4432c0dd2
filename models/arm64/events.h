// The arm64 event kinds (numbers the core leaves to the architecture,
// models/core/event.h) and how traces write them.
#pragma once

#include "models/core/event.h"
#include "models/core/event_syntax.h"

namespace fpusim::arm64::ev {

// prctl(PR_SVE_SET_VL, vl): `arg` = the vector length in bits.
constexpr EventKind kSveSetVl{14};
// KVM: the KVM_RUN ioctl of a vCPU (`ctx` = its guest context), the guest's
// entries and exits inside it, and its return to user space.
constexpr EventKind kKvmRun{15};
constexpr EventKind kVmEntry{16};
constexpr EventKind kVmExit{17};
constexpr EventKind kKvmReturn{18};
// SMSTART / SMSTOP by the running task: `sub` bit 0 = PSTATE.SM, bit 1 =
// PSTATE.ZA (both when the event names neither).
constexpr EventKind kSmstart{19};
constexpr EventKind kSmstop{20};
constexpr std::uint8_t kSmBit = 1, kZaBit = 2;
// prctl(PR_SME_SET_VL, vl): `arg` = the streaming vector length in bits.
constexpr EventKind kSmeSetVl{21};
// A tracer's write of the NT_ARM_ZA regset with the header only (no
// register data, the target's current SVL): `ctx` = the target, whose ZA is
// disabled (za_set(), "If there is no data then disable ZA").
constexpr EventKind kZaDisable{22};
// A tracer's write of the NT_ARM_SSVE regset (streaming-mode SVE, at the
// target's own SVL): `ctx` = the target, `write` = what the data holds,
// fpsimd alone for the FPSIMD format (SVE_PT_REGS_FPSIMD), else the SVE
// format (sve_set_common() with ARM64_VEC_SME): the target enters
// streaming mode.
constexpr EventKind kSsveWrite{23};

// Kinds whose effect reaches other CPUs' contexts (ptrace state access).
constexpr std::uint32_t kBarriers =
    kind_bit(EventKind::kStateRead) | kind_bit(EventKind::kStateWrite) | kind_bit(kZaDisable) | kind_bit(kSsveWrite);

}  // namespace fpusim::arm64::ev

namespace fpusim::arm64 {

const EventSyntax& event_syntax();

// Vector lengths the architecture allows: multiples of 128 bits up to 2048.
inline bool valid_vl(std::uint64_t vl) { return vl >= 128 && vl <= 2048 && vl % 128 == 0; }

}  // namespace fpusim::arm64
