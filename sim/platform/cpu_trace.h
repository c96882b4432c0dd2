// Per-CPU state traced into the VCD (--vcd). SystemC samples these plain
// variables at the end of each time step; both the replay Cores and the
// HostScheduler update them after every agent call.
#pragma once

#include <string>

#include <systemc>

#include "models/x86/agent.h"

namespace fpusim {

struct CpuTrace {
  int current = -1;          // running context id, -1 = idle
  int owner = -1;            // fpu_fpregs_owner_ctx, -1 = nobody
  bool ts = false;           // CR0.TS
  sc_dt::uint64 xfd = 0;     // IA32_XFD
  sc_dt::uint64 live = 0;    // bytes of non-init state in the registers
  sc_dt::uint64 traps = 0;   // FPU traps taken so far on this CPU

  void trace(sc_core::sc_trace_file* tf, const std::string& n) {
    sc_core::sc_trace(tf, current, n + ".current");
    sc_core::sc_trace(tf, owner, n + ".fpregs_owner");
    sc_core::sc_trace(tf, ts, n + ".cr0_ts");
    sc_core::sc_trace(tf, xfd, n + ".xfd", 64);
    sc_core::sc_trace(tf, live, n + ".live_bytes", 32);
    sc_core::sc_trace(tf, traps, n + ".traps", 32);
  }
  void update(const x86::Agent& a, CpuId cpu) {
    const x86::CpuState& cs = a.cpu(cpu);
    current = cs.current == kNoContext ? -1 : static_cast<int>(cs.current);
    owner = cs.owner_ctx == kNoContext ? -1 : static_cast<int>(cs.owner_ctx);
    ts = cs.trap.cr0_ts;
    xfd = cs.trap.xfd;
    traps = cs.traps;
    live = a.live_bytes(cpu);
  }
};

}  // namespace fpusim
