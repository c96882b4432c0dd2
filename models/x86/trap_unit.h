// x86 trap logic of one CPU: CR0.TS, XCR0, IA32_XFD and IA32_XFD_ERR, and the
// decision an FP/SIMD instruction meets. Plain C++; the agent owns it, and
// the SystemC cpuN.traps module (sim/platform/cpu_modules.h) samples it.
#pragma once

#include "models/core/types.h"
#include "models/x86/xstate.h"

namespace fpusim::x86 {

enum class TrapKind : std::uint8_t { kNone, kNmTs, kNmXfd, kUd };

struct TrapDecision {
  TrapKind kind = TrapKind::kNone;
  ComponentMask xfd_err = 0;  // bits IA32_XFD_ERR receives on an XFD #NM
  ComponentMask ud_bits = 0;  // components not enabled in XCR0
};

struct TrapUnit {
  bool cr0_ts = false;
  ComponentMask xcr0 = 0;
  ComponentMask xfd = 0;
  ComponentMask xfd_err = 0;

  // What an instruction touching `touched` meets, in the order the SDM
  // gives: #UD when a component is not enabled in XCR0 (CR4.OSXSAVE set);
  // #NM when CR0.TS is set (device not available: any x87/SSE/AVX/AVX-512/AMX
  // state access; fpusim treats every XSAVE-managed user component alike);
  // #NM with IA32_XFD_ERR[i] set when XFD[i] is armed for a touched
  // component (SDM vol. 1 13.14).
  TrapDecision check(ComponentMask touched) const {
    TrapDecision d;
    if (ComponentMask ud = touched & ~xcr0) {
      d.kind = TrapKind::kUd;
      d.ud_bits = ud;
    } else if (cr0_ts) {
      d.kind = TrapKind::kNmTs;
    } else if (ComponentMask err = touched & xfd) {
      d.kind = TrapKind::kNmXfd;
      d.xfd_err = err;
    }
    return d;
  }
  // The trap armed for component i: a user access by the running context
  // would fault instead of reading the registers.
  bool armed(unsigned i) const { return cr0_ts || (xfd & bit(i)); }
};

}  // namespace fpusim::x86
