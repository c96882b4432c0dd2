#include "sim/output/oplog.h"


namespace fpusim {

OpLog::OpLog(const std::string& path, const Arch& arch, std::vector<std::string> context_names)
    : arch_(arch), names_(std::move(context_names)), file_(path) {
  file_.out() << "# cycle cpu op context cause cycles bytes components\n";
}

void OpLog::on_operation(const OpRecord& op) {
  const std::string who = op.ctx == kNoContext ? "-" : op.ctx == kKernelContext ? "kernel" : names_.at(op.ctx);
  file_.out() << op.time << " cpu" << op.cpu << " " << op.op << " " << who << " " << arch_.causes().at(op.cause).name
               << " " << op.cycles << " " << op.bytes << " "
               << (op.components ? arch_.components_string(op.components) : "-") << "\n";
}

void OpLog::close() { file_.commit(); }

}  // namespace fpusim
