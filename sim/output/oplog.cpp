#include "sim/output/oplog.h"

#include "models/x86/xstate.h"

namespace fpusim {

OpLog::OpLog(const std::string& path, std::vector<std::string> context_names)
    : names_(std::move(context_names)), file_(path) {
  file_.out() << "# cycle cpu op context cause cycles bytes components\n";
}

void OpLog::on_operation(const x86::OpRecord& op) {
  const std::string who = op.ctx == kNoContext ? "-" : op.ctx == x86::kKernelContext ? "kernel" : names_.at(op.ctx);
  file_.out() << op.time << " cpu" << op.cpu << " " << op.op << " " << who << " " << cause_name(op.cause) << " " << op.cycles
       << " " << op.bytes << " " << (op.components ? x86::mask_to_names(op.components) : "-") << "\n";
}

void OpLog::close() { file_.commit(); }

}  // namespace fpusim
