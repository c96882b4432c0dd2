// `fpusim run --log FILE`: one line per FPU-management operation, in the
// order the simulation performs them. Streamed to a temporary file and
// renamed into place at the end, so memory does not grow with the trace.
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include "models/core/arch.h"
#include "sim/output/atomic_file.h"

namespace fpusim {

class OpLog final : public Observer {
 public:
  OpLog(const std::string& path, const Arch& arch, std::vector<std::string> context_names);
  void on_operation(const OpRecord& op) override;
  void close();

 private:
  const Arch& arch_;
  std::vector<std::string> names_;
  AtomicFile file_;
};

}  // namespace fpusim
