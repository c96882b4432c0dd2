#include "models/x86/cost_model.h"

#include "models/core/round.h"

namespace fpusim {

namespace {
constexpr std::string_view kSaveNames[] = {"fxsave", "xsave", "xsaveopt", "xsavec", "xsaves"};
constexpr std::string_view kRestoreNames[] = {"fxrstor", "xrstor", "xrstors"};

Cycles round_cycles(double c) { return c <= 0 ? 0 : static_cast<Cycles>(round_nearest(c)); }
}  // namespace

std::string_view save_insn_name(SaveInsn insn) { return kSaveNames[static_cast<size_t>(insn)]; }
std::string_view restore_insn_name(RestoreInsn insn) {
  return kRestoreNames[static_cast<size_t>(insn)];
}

bool save_insn_by_name(std::string_view name, SaveInsn* out) {
  for (size_t i = 0; i < static_cast<size_t>(SaveInsn::kCount); ++i) {
    if (kSaveNames[i] == name) {
      *out = static_cast<SaveInsn>(i);
      return true;
    }
  }
  return false;
}

Cycles CostModel::save(SaveInsn insn, std::uint64_t bytes) const {
  return round_cycles(save_base[static_cast<size_t>(insn)] +
                      static_cast<double>(bytes) / save_bytes_per_cycle);
}

Cycles CostModel::restore(RestoreInsn insn, std::uint64_t bytes) const {
  return round_cycles(restore_base[static_cast<size_t>(insn)] +
                      static_cast<double>(bytes) / restore_bytes_per_cycle);
}

Cycles CostModel::memcpy(std::uint64_t bytes) const {
  return round_cycles(static_cast<double>(bytes) / memcpy_bytes_per_cycle);
}

const std::array<ScalarCostInfo, 14>& scalar_costs() {
  static const std::array<ScalarCostInfo, 14> table = {{
#define FPUSIM_COST_INFO(field, doc) {#field, doc, &CostModel::field},
      FPUSIM_SCALAR_COSTS(FPUSIM_COST_INFO)
#undef FPUSIM_COST_INFO
  }};
  return table;
}

}  // namespace fpusim
