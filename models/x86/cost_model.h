// Cycle costs of every FPU-management operation. Plain C++.
//
// Saves and restores follow the fit in reference/cost-anchors.md §1.2:
//   save    = save_base[insn] + bytes_written / save_bytes_per_cycle
//   restore = restore_base[insn] + bytes_read / restore_bytes_per_cycle
// where the bytes are what the instruction really moves: XSAVE and FXSAVE
// write every requested component, XSAVEC skips init ones, XSAVEOPT and XSAVES
// also skip unmodified ones (the modified optimisation), and XRSTOR(S) reads
// only components whose XSTATE_BV bit is set (the others are initialised).
// Every number in a preset names its source in the preset file.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "models/core/machine.h"
#include "models/core/types.h"

namespace fpusim {

enum class SaveInsn : std::uint8_t { kFxsave, kXsave, kXsaveopt, kXsavec, kXsaves, kCount };
enum class RestoreInsn : std::uint8_t { kFxrstor, kXrstor, kXrstors, kCount };

std::string_view save_insn_name(SaveInsn insn);
std::string_view restore_insn_name(RestoreInsn insn);
bool save_insn_by_name(std::string_view name, SaveInsn* out);

// Scalar operation costs, in core cycles. The list is the single place where
// a cost parameter is declared: name (as in preset files), member, meaning.
#define FPUSIM_SCALAR_COSTS(X)                                                              \
  X(nm_trap, "#NM exception round trip (entry, handler dispatch, IRET), excluding the restore") \
  X(clts, "CLTS: clear CR0.TS")                                                             \
  X(stts, "set CR0.TS (read CR0, serialising write of CR0)")                                \
  X(wrmsr_xfd, "WRMSR IA32_XFD")                                                            \
  X(wrmsr_xfd_err, "WRMSR IA32_XFD_ERR (clearing it in handle_xfd_event)")                  \
  X(rdmsr_xfd_err, "RDMSR IA32_XFD_ERR")                                                    \
  X(wrpkru, "WRPKRU on context switch (x86_pkru_load)")                                     \
  X(xsetbv, "XSETBV")                                                                       \
  X(xgetbv1, "XGETBV(ECX=1): read XINUSE")                                                  \
  X(fpstate_realloc, "vzalloc + copy of a larger fpstate (fpstate_realloc), excluding the save") \
  X(fninit, "FNINIT/LDMXCSR at kernel_fpu_begin")                                           \
  X(sigill, "SIGILL delivery to a task without permission")                                 \
  X(rdmsr_xfd, "RDMSR IA32_XFD (fpu_sync_guest_vmexit_xfd_state after a VM exit)")          \
  X(vm_exit, "VM exit + VM entry round trip of an exit handled in the kernel (an intercept)")

struct CostModel : CostsBase {

  std::array<double, static_cast<size_t>(SaveInsn::kCount)> save_base{};
  std::array<double, static_cast<size_t>(RestoreInsn::kCount)> restore_base{};
  double save_bytes_per_cycle = 64;
  double restore_bytes_per_cycle = 64;
  // Copying an XSAVE image between memory buffers (signal frames from the
  // kernel buffer, fork of a task whose state is not live): bytes per cycle.
  double memcpy_bytes_per_cycle = 32;

#define FPUSIM_DECLARE_COST(field, doc) double field = 0;
  FPUSIM_SCALAR_COSTS(FPUSIM_DECLARE_COST)
#undef FPUSIM_DECLARE_COST

  Cycles save(SaveInsn insn, std::uint64_t bytes) const;
  Cycles restore(RestoreInsn insn, std::uint64_t bytes) const;
  Cycles memcpy(std::uint64_t bytes) const;
};

// Names and descriptions of the scalar costs, in declaration order, for
// loaders, `--set cost.NAME=V` and reports.
struct ScalarCostInfo {
  std::string_view name;
  std::string_view doc;
  double CostModel::*member;
};
const std::array<ScalarCostInfo, 14>& scalar_costs();

}  // namespace fpusim
