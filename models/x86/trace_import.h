// The importer of real x86 Linux traces (x86_fpu, sched, raw_syscalls,
// signal and kvm events): X86Arch::trace_importer(). Its rules are at the
// top of trace_import.cpp.
#pragma once

#include "sim/import/importer.h"

namespace fpusim::x86 {

const trace_import::TraceImporter& trace_importer();

}  // namespace fpusim::x86
