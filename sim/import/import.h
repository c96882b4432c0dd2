// `fpusim import` and `fpusim validate`: a real trace, the machine and policy
// it implies, its scenario, and the kernel's counts against the model's.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "sim/import/importer.h"
#include "sim/import/trace_reader.h"

namespace fpusim {
struct Scenario;
struct PolicyDesc;
}  // namespace fpusim

namespace fpusim::trace_import {

struct ImportRequest {
  std::string trace;    // file
  std::string output;   // scenario file (for the name and the description's relative path); "" = none
  std::string machine;  // preset; "" = the one consistent with the trace
  std::string costs;    // preset; "" = the machine vendor's
  std::string kernel;   // release; "" = the trace's
  std::string name;     // scenario name; "" = from the output or trace file name
};

struct Imported {
  TraceInput input;
  const TraceImporter* importer = nullptr;  // the architecture's whose events the trace holds
  Conversion conversion;
  std::string machine, costs, kernel;
  std::vector<std::string> why;  // how the machine and the kernel were chosen
};

// Reads, picks the machine and converts. InputError if nothing usable remains.
Imported import_trace(const ImportRequest& request);

// What the import read, skipped and inferred, for stderr.
void write_import_summary(std::ostream& os, const Imported& im, const std::string& output);

// Replays the imported scenario under `policy` and prints, per kind and per
// task, the kernel's count against the model's, and the first divergence in
// context. Returns true when every count agrees and no state is lost or
// leaked.
bool validate(std::ostream& os, const Imported& im, const Scenario& scenario, const PolicyDesc& policy);

}  // namespace fpusim::trace_import
