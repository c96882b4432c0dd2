// `--perfetto FILE`: a Chrome trace-event JSON timeline that ui.perfetto.dev
// (and chrome://tracing) opens. One process per run; per CPU a track of
// context runs ("cpuN") and a track of FPU-management operations
// ("cpuN fpu": saves, restores, traps, MSR and CR0 writes, each a slice as
// long as its cost, with context, cause, bytes and components); counters of
// live register-state bytes, CR0.TS and IA32_XFD per CPU. Times are the
// simulated cycles converted with the machine's frequency. Streamed to a
// temporary file and renamed into place when the run ends.
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include "models/x86/agent.h"
#include "sim/output/atomic_file.h"

namespace fpusim {

class PerfettoWriter final : public x86::Observer {
 public:
  PerfettoWriter(const std::string& path, const std::string& title, std::vector<std::string> context_names,
                 unsigned cpus, double frequency_mhz);

  void on_operation(const x86::OpRecord& op) override;
  void on_switch(CpuId cpu, Cycles t, ContextId prev, ContextId next, Cycles cycles) override;
  void on_cpu_state(CpuId cpu, Cycles t, const x86::CpuState& cs, std::uint64_t live_bytes) override;
  void on_guest(CpuId cpu, Cycles t, ContextId guest, bool running) override;
  // Ends open slices at each CPU's end time and renames the file into place.
  void close(const std::vector<Cycles>& cpu_end);

 private:
  std::string ts(Cycles c) const;
  std::string name_of(ContextId c) const;
  void event(const std::string& body);
  // A slice on `cpu`'s run track: the runs of contexts, guest runs nested.
  void begin_run_slice(CpuId cpu, Cycles t, const std::string& name, const char* cat);
  void end_run_slice(CpuId cpu, Cycles t);

  std::vector<std::string> names_;
  double mhz_;
  AtomicFile file_;
  bool first_ = true;
  struct Track {
    ContextId running = kNoContext;
    bool open = false;
    bool guest_open = false;  // a vCPU's guest slice nested in its thread's
    std::uint64_t live = ~0ull;
    int ts = -1;
    std::uint64_t xfd = ~0ull;
  };
  std::vector<Track> cpu_;
};

}  // namespace fpusim
