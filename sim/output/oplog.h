// `fpusim run --log FILE`: one line per FPU-management operation, in the
// order the simulation performs them. Streamed to a temporary file and
// renamed into place at the end, so memory does not grow with the trace.
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include "models/x86/agent.h"
#include "sim/output/atomic_file.h"

namespace fpusim {

class OpLog final : public x86::Observer {
 public:
  OpLog(const std::string& path, std::vector<std::string> context_names);
  void on_operation(const x86::OpRecord& op) override;
  void close();

 private:
  std::vector<std::string> names_;
  AtomicFile file_;
};

}  // namespace fpusim
