// The x86 event kinds: the numbers models/core/event.h leaves to the
// architecture (stable: binary traces store them). traces/README.md
// describes each one.
#pragma once

#include <string>

#include "models/core/event.h"
#include "models/core/event_syntax.h"

namespace fpusim::x86::ev {

constexpr EventKind kXcompPerm{11};
// KVM (traces/README.md, "KVM").
constexpr EventKind kXcompGuestPerm{14};
constexpr EventKind kVmCreate{15};
constexpr EventKind kVmDestroy{16};
constexpr EventKind kKvmRun{17};
constexpr EventKind kVmEntry{18};
constexpr EventKind kVmExit{19};
constexpr EventKind kKvmReturn{20};
constexpr EventKind kGuestWrmsr{21};
constexpr EventKind kGuestRdmsr{22};
constexpr EventKind kGuestXsetbv{23};
constexpr EventKind kGuestCr4{24};
constexpr EventKind kVcpuSaveState{25};
constexpr EventKind kVcpuLoadState{26};
constexpr EventKind kKvmSetXsave{27};
constexpr unsigned kNumKinds = 28;  // core and x86 kinds: 0 .. 27
inline bool is_kvm_event(EventKind k) { return static_cast<unsigned>(k) >= 14; }

// Events whose effect reaches other CPUs' contexts (a permission granted to
// a whole process, a ptrace access, a VMM's access to a vCPU): barriers.
constexpr std::uint32_t kBarriers =
    kind_bit(EventKind::kStateRead) | kind_bit(EventKind::kStateWrite) | kind_bit(kXcompPerm) |
    kind_bit(kXcompGuestPerm) | kind_bit(kVmCreate) | kind_bit(kVmDestroy) | kind_bit(kVcpuSaveState) |
    kind_bit(kVcpuLoadState) | kind_bit(kKvmSetXsave);

}  // namespace fpusim::x86::ev

namespace fpusim::x86 {

// How traces write the x86 kinds, their keys and the component names
// (models/x86/events.cpp).
const EventSyntax& event_syntax();

}  // namespace fpusim::x86
