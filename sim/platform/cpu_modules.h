// The hardware of one CPU as SystemC modules: "cpuN", with its register file
// "cpuN.regfile" and its trap unit "cpuN.traps" as children. The functional
// state they stand for lives in the architecture's agent, plain C++ that unit
// tests drive without a kernel; the shared code reaches it only through
// ArchAgent::cpu_view(), so these modules wrap that view. They have no
// processes, ports or signals, so the replay's per-event path does not go
// through them: sample() copies the view into the plain variables a VCD
// (--vcd) traces, and is called only while one is written. SystemC samples
// the variables at the end of each time step.
//
// VCD variables (scope = module name):
//   cpuN.current            running context id, -1 = idle
//   cpuN.regfile.owner      whose state the registers hold, -1 = nobody
//   cpuN.regfile.live_bytes bytes of non-init state in the registers
//   cpuN.traps.<control>    each of Arch::controls() (ControlInfo::vcd)
//   cpuN.traps.count        FPU traps taken so far on this CPU
#pragma once

#include <string>
#include <vector>

#include <systemc>

#include "models/core/arch.h"

namespace fpusim {

class RegFileModule : public sc_core::sc_module {
 public:
  explicit RegFileModule(const sc_core::sc_module_name& n) : sc_core::sc_module(n) {}

  void sample(const CpuView& v) {
    owner_ = v.owner == kNoContext ? -1 : static_cast<int>(v.owner);
    live_ = v.live_bytes;
  }
  void trace(sc_core::sc_trace_file* tf) const {
    const std::string n = name();
    sc_core::sc_trace(tf, owner_, n + ".owner");
    sc_core::sc_trace(tf, live_, n + ".live_bytes", 32);
  }
  int owner() const { return owner_; }
  sc_dt::uint64 live_bytes() const { return live_; }

 private:
  int owner_ = -1;
  sc_dt::uint64 live_ = 0;
};

class TrapUnitModule : public sc_core::sc_module {
 public:
  TrapUnitModule(const sc_core::sc_module_name& n, const Arch& arch) : sc_core::sc_module(n), arch_(arch) {}

  void sample(const CpuView& v) {
    for (unsigned i = 0; i < kMaxControls; ++i) {
      flags_[i] = v.controls[i] != 0;
      values_[i] = v.controls[i];
    }
    count_ = v.traps;
  }
  // One variable per control, named by the architecture: the shared code
  // names no register.
  void trace(sc_core::sc_trace_file* tf) const {
    const std::string n = name();
    const auto& controls = arch_.controls();
    for (size_t i = 0; i < controls.size() && i < kMaxControls; ++i) {
      const std::string var = n + "." + std::string(controls[i].vcd);
      if (controls[i].width == 1) {
        sc_core::sc_trace(tf, flags_[i], var);
      } else {
        sc_core::sc_trace(tf, values_[i], var, static_cast<int>(controls[i].width));
      }
    }
    sc_core::sc_trace(tf, count_, n + ".count", 32);
  }
  sc_dt::uint64 control(unsigned i) const { return values_[i]; }
  sc_dt::uint64 count() const { return count_; }

 private:
  const Arch& arch_;
  bool flags_[kMaxControls] = {};
  sc_dt::uint64 values_[kMaxControls] = {};
  sc_dt::uint64 count_ = 0;
};

// One CPU. Replay mode's Core (sim/platform/platform.cpp) is one, with its
// SC_METHOD; in scheduled mode the platform makes plain ones and the
// HostScheduler ("host") runs their tasks.
class CpuModule : public sc_core::sc_module {
 public:
  CpuModule(const sc_core::sc_module_name& n, CpuId id, const ArchAgent& agent, const Arch& arch)
      : sc_core::sc_module(n), regfile("regfile"), traps("traps", arch), id_(id), agent_(agent) {}

  RegFileModule regfile;
  TrapUnitModule traps;

  CpuId id() const { return id_; }
  int current() const { return current_; }
  // Copies the agent's state of this CPU into the traced variables.
  void sample() {
    const CpuView v = agent_.cpu_view(id_);
    current_ = v.current == kNoContext ? -1 : static_cast<int>(v.current);
    regfile.sample(v);
    traps.sample(v);
  }
  void trace(sc_core::sc_trace_file* tf) const {
    sc_core::sc_trace(tf, current_, std::string(name()) + ".current");
    regfile.trace(tf);
    traps.trace(tf);
  }

 protected:
  const CpuId id_;
  const ArchAgent& agent_;

 private:
  int current_ = -1;
};

// The names of every module in the SystemC hierarchy, parents before their
// children, in creation order ("cpu0", "cpu0.regfile", "cpu0.traps", ...).
inline void collect_module_names(const std::vector<sc_core::sc_object*>& objects, std::vector<std::string>& out) {
  for (const sc_core::sc_object* o : objects) {
    if (dynamic_cast<const sc_core::sc_module*>(o) == nullptr) continue;  // processes, events
    out.emplace_back(o->name());
    collect_module_names(o->get_child_objects(), out);
  }
}
inline std::vector<std::string> module_names() {
  std::vector<std::string> out;
  collect_module_names(sc_core::sc_get_top_level_objects(), out);
  return out;
}

}  // namespace fpusim
