#include "sim/oplog.h"

#include <cstdio>
#include <sys/stat.h>
#include <unistd.h>

#include "models/x86/xstate.h"

namespace fpusim {

namespace {
// A device or FIFO (/dev/null, /dev/stdout) is written directly: renaming a
// temporary file over it would replace the device node itself.
bool is_special_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}
}  // namespace

OpLog::OpLog(const std::string& path, std::vector<std::string> context_names)
    : path_(path),
      tmp_(is_special_file(path) ? path : path + ".tmp." + std::to_string(::getpid())),
      names_(std::move(context_names)),
      out_(tmp_, std::ios::trunc) {
  if (!out_) throw InputError{path, "", "cannot write the operation log"};
  out_ << "# cycle cpu op context cause cycles bytes components\n";
}

OpLog::~OpLog() {
  if (out_.is_open()) {
    out_.close();
    if (tmp_ != path_) std::remove(tmp_.c_str());
  }
}

void OpLog::on_operation(const x86::OpRecord& op) {
  const std::string who = op.ctx == kNoContext ? "-" : op.ctx == x86::kKernelContext ? "kernel" : names_.at(op.ctx);
  out_ << op.time << " cpu" << op.cpu << " " << op.op << " " << who << " " << cause_name(op.cause) << " " << op.cycles
       << " " << op.bytes << " " << (op.components ? x86::mask_to_names(op.components) : "-") << "\n";
}

void OpLog::close() {
  out_.close();
  if (tmp_ == path_) return;
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) throw InputError{path_, "", "cannot rename the log into place"};
}

}  // namespace fpusim
