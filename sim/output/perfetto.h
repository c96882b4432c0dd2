// `--perfetto FILE`: a Chrome trace-event JSON timeline that ui.perfetto.dev
// (and chrome://tracing) opens. One process per run; per CPU a track of
// context runs ("cpuN") and a track of FPU-management operations
// ("cpuN fpu": saves, restores, traps, control-register writes, each a slice as
// long as its cost, with context, cause, bytes and components); counters of
// live register-state bytes and the architecture's trap controls per CPU. Times are the
// simulated cycles converted with the machine's frequency. Streamed to a
// temporary file and renamed into place when the run ends.
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include "models/core/arch.h"
#include "sim/output/atomic_file.h"

namespace fpusim {

class PerfettoWriter final : public Observer {
 public:
  PerfettoWriter(const std::string& path, const std::string& title, const Arch& arch,
                 std::vector<std::string> context_names,
                 unsigned cpus, double frequency_mhz);

  void on_operation(const OpRecord& op) override;
  void on_switch(CpuId cpu, Cycles t, ContextId prev, ContextId next, Cycles cycles) override;
  void on_cpu_state(CpuId cpu, Cycles t, const CpuView& v) override;
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

  const Arch& arch_;
  std::vector<std::string> names_;
  double mhz_;
  AtomicFile file_;
  bool first_ = true;
  struct Track {
    ContextId running = kNoContext;
    bool open = false;
    bool guest_open = false;  // a vCPU's guest slice nested in its thread's
    std::uint64_t live = ~0ull;
    std::array<std::uint64_t, kMaxControls> controls{~0ull, ~0ull, ~0ull, ~0ull};
  };
  std::vector<Track> cpu_;
};

}  // namespace fpusim
