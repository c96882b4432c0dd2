#include "sim/oplog.h"

#include <cstdio>
#include <unistd.h>

#include "models/x86/xstate.h"

namespace fpusim {

OpLog::OpLog(const std::string& path, std::vector<std::string> context_names)
    : path_(path), tmp_(path + ".tmp." + std::to_string(::getpid())), names_(std::move(context_names)),
      out_(tmp_, std::ios::trunc) {
  if (!out_) throw InputError{path, "", "cannot write the operation log"};
  out_ << "# cycle cpu op context cause cycles bytes components\n";
}

OpLog::~OpLog() {
  if (out_.is_open()) {
    out_.close();
    std::remove(tmp_.c_str());
  }
}

void OpLog::on_operation(const x86::OpRecord& op) {
  const std::string who = op.ctx == kNoContext ? "-" : op.ctx == x86::kKernelContext ? "kernel" : names_.at(op.ctx);
  out_ << op.time << " cpu" << op.cpu << " " << op.op << " " << who << " " << cause_name(op.cause) << " " << op.cycles
       << " " << op.bytes << " " << (op.components ? x86::mask_to_names(op.components) : "-") << "\n";
}

void OpLog::close() {
  out_.close();
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) throw InputError{path_, "", "cannot rename the log into place"};
}

}  // namespace fpusim
