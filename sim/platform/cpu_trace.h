// Per-CPU state traced into the VCD (--vcd). SystemC samples these plain
// variables at the end of each time step; both the replay Cores and the
// HostScheduler update them after every event. The trap-control registers
// are the architecture's (Arch::controls()).
#pragma once

#include <string>

#include <systemc>

#include "models/core/arch.h"

namespace fpusim {

struct CpuTrace {
  int current = -1;          // running context id, -1 = idle
  int owner = -1;            // whose state the registers hold, -1 = nobody
  sc_dt::uint64 live = 0;    // bytes of non-init state in the registers
  sc_dt::uint64 traps = 0;   // FPU traps taken so far on this CPU
  bool flags[kMaxControls] = {};
  sc_dt::uint64 values[kMaxControls] = {};

  void trace(sc_core::sc_trace_file* tf, const std::string& n, const Arch& arch) {
    sc_core::sc_trace(tf, current, n + ".current");
    sc_core::sc_trace(tf, owner, n + ".fpregs_owner");
    const auto& controls = arch.controls();
    for (size_t i = 0; i < controls.size() && i < kMaxControls; ++i) {
      const std::string name = n + "." + std::string(controls[i].vcd);
      if (controls[i].width == 1) {
        sc_core::sc_trace(tf, flags[i], name);
      } else {
        sc_core::sc_trace(tf, values[i], name, static_cast<int>(controls[i].width));
      }
    }
    sc_core::sc_trace(tf, live, n + ".live_bytes", 32);
    sc_core::sc_trace(tf, traps, n + ".traps", 32);
  }
  void update(const CpuView& v) {
    current = v.current == kNoContext ? -1 : static_cast<int>(v.current);
    owner = v.owner == kNoContext ? -1 : static_cast<int>(v.owner);
    for (unsigned i = 0; i < kMaxControls; ++i) {
      flags[i] = v.controls[i] != 0;
      values[i] = v.controls[i];
    }
    traps = v.traps;
    live = v.live_bytes;
  }
};

}  // namespace fpusim
