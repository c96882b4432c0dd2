// What an architecture's importer of real kernel traces provides (Arch::
// trace_importer(); x86: models/x86/trace_import.cpp), and what it makes: a
// scenario whose expectations are the kernel's own saves and restores, the
// list of those operations, and what it had to infer. The trace formats
// (trace_reader.h) and the commands (import.h) are shared.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/import/trace_reader.h"

namespace fpusim {
struct OpRecord;
}

namespace fpusim::trace_import {

struct ConvertOptions {
  std::string name;       // the scenario's name
  std::string machine;    // preset name
  std::string costs;      // preset name
  unsigned cpus = 0;      // the scenario's CPU count (at least every CPU the trace shows)
  std::uint64_t mhz = 0;  // cycles per microsecond (the machine's frequency)
  std::string source;     // how the description names the trace file
  std::string kernel;     // the traced kernel's release, "" if not known
};

// One save or restore the kernel logged (or that its events imply).
struct KernelOp {
  int cpu = 0;
  std::uint64_t t = 0;     // cycles (scenario time)
  std::string ctx;         // the scenario context whose state it is
  bool save = false;       // save, else restore
  std::string kind;        // row of the validate table (TraceImporter::op_kinds())
  std::uint64_t line = 0;  // the trace line (record number for trace.dat)
};

// A row of `fpusim validate`'s per-kind table: its name and what the kernel
// logged for it.
struct OpKind {
  const char* name;
  const char* what;
  bool save;
};

// The scenario's events, held compactly by the importer that made them (a
// trace of a million records makes hundreds of thousands).
class EventList {
 public:
  virtual ~EventList() = default;
  virtual std::size_t size() const = 0;
  virtual std::string json(std::size_t i) const = 0;  // one event, as a JSON object on one line
  void write_jsonl(std::ostream& os) const;          // all, as JSON lines (an events_file)
};

struct Conversion {
  nlohmann::ordered_json scenario;  // without its events ("events": null marks their place)
  std::shared_ptr<const EventList> events;
  std::vector<KernelOp> kernel_ops;
  std::map<std::string, std::uint64_t> inferred;       // inferred events by kind
  std::map<std::string, std::uint64_t> kernel_counts;  // the kernel's tracepoints by kind (for the report)
  std::vector<std::string> discrepancies;              // where the kernel's rules and the events disagree
  std::vector<std::string> notes;
  std::uint64_t saves = 0, restores = 0;  // expected totals
  std::vector<int> cpus;                  // CPUs the trace covers
  std::uint64_t user_tasks = 0, kthreads = 0;
};

// The scenario as text, one event per line (the layout of traces/real_*.json),
// or with "events_file": EVENTS_FILE in place of its events.
std::string scenario_text(const Conversion& c, const std::string& events_file = "");

struct MachineChoice {
  std::string machine, costs;
  std::uint64_t mhz = 0;
};

class TraceImporter {
 public:
  virtual ~TraceImporter() = default;
  // How many of the trace's records are this architecture's FPU events (0:
  // not its trace).
  virtual std::uint64_t recognises(const TraceInput& in) const = 0;
  // The policy that reads the kernel `release` ("" = not known) right, with
  // a line saying why; InputError (naming `file`) for a kernel it cannot read.
  virtual std::string policy_for_kernel(const std::string& release, bool from_trace, const std::string& file,
                                        std::vector<std::string>& why) const = 0;
  // The machine preset consistent with what the trace shows, with lines
  // saying why; InputError naming the trace if none is.
  virtual MachineChoice choose_machine(const TraceInput& in, std::vector<std::string>& why) const = 0;
  // The cost preset for `machine` when none is given.
  virtual std::string default_costs(const std::string& machine) const = 0;
  virtual Conversion convert(const TraceInput& in, const ConvertOptions& options) const = 0;
  // The validate table's rows, in order, and the row of one of the model's
  // saves or restores (`cause`: its cause's name).
  virtual const std::vector<OpKind>& op_kinds() const = 0;
  virtual std::string model_row(const OpRecord& op, bool save, std::string_view cause) const = 0;
};

}  // namespace fpusim::trace_import
