// A real x86 Linux trace (TraceInput) as a scenario for the host policies,
// with the kernel's own FPU events as its expectations. The rules (R1-R8)
// are described at the top of converter.cpp; what the trace lacks is
// inferred from the kernel's FPU events where they determine it, counted per
// kind, and never invented where they do not.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/import/trace_reader.h"

namespace fpusim::trace_import {

struct ConvertOptions {
  std::string name;     // the scenario's name
  std::string machine;  // preset name
  std::string costs;    // preset name
  unsigned cpus = 0;    // the scenario's CPU count (at least every CPU the trace shows)
  std::uint64_t mhz = 0;  // cycles per microsecond (the machine's frequency)
  std::string source;   // how the description names the trace file
};

// One save or restore the kernel logged (or that its events imply), in the
// order the model must do them on that CPU.
struct KernelOp {
  int cpu = 0;
  std::uint64_t t = 0;    // cycles (scenario time)
  std::string ctx;        // the scenario context whose state it is
  bool save = false;      // save, else restore
  std::string kind;       // row of the validate table (kernel_op_kinds())
  std::uint64_t line = 0; // the trace line (record number for trace.dat)
};

// The rows of `fpusim validate`'s per-kind table: name, what the kernel
// logged, whether it is a save.
struct OpKind {
  const char* name;
  const char* what;
  bool save;
};
const std::vector<OpKind>& kernel_op_kinds();

struct Conversion {
  nlohmann::ordered_json scenario;
  std::vector<KernelOp> kernel_ops;
  std::map<std::string, std::uint64_t> inferred;      // inferred events by kind
  std::map<std::string, std::uint64_t> kernel_counts; // the kernel's tracepoints by kind (for the report)
  std::vector<std::string> discrepancies;             // where the kernel's rules and the events disagree
  std::vector<std::string> notes;
  std::uint64_t saves = 0, restores = 0;              // expected totals (deferred)
  std::vector<int> cpus;                              // CPUs the trace covers
  std::uint64_t user_tasks = 0, kthreads = 0;
};

Conversion convert_trace(const TraceInput& in, const ConvertOptions& options);

// The scenario as text, one event per line (the layout of traces/real_*.json).
std::string scenario_text(const nlohmann::ordered_json& scenario);

}  // namespace fpusim::trace_import
