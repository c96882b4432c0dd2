// A simulated x86 machine: CPU count, clock, the CPUID leaf 0xD table and the
// XSAVE configuration the simulated Linux enables. Plain data; loaded by
// sim/input from configs/machines/*.json.
#pragma once

#include <string>
#include <vector>

#include "models/core/machine.h"
#include "models/x86/cost_model.h"
#include "models/x86/xstate.h"

namespace fpusim::x86 {

// The shared part (MachineBase: name, CPUs, clock, LazyFP) and the x86 one.
struct Machine : MachineBase {
  // The instruction the kernel saves with (XSTATE_XSAVE alternatives in
  // arch/x86/kernel/fpu/xstate.h: XSAVES > XSAVEC > XSAVEOPT > XSAVE since
  // 8ad7e8f69695, v5.19; a preset may pick another to model older kernels).
  SaveInsn save_insn = SaveInsn::kXsave;
  // lazyfp_vulnerable (MachineBase): Intel cores that speculate past #NM.
  CpuidXstate cpuid;
  ComponentMask xcr0 = 0;     // as the OS enables it
  ComponentMask xss = 0;      // IA32_XSS as the OS enables it
  ComponentMask dynamic = 0;  // XFD-managed (fpu_kernel_cfg.max - default)
  FpuConfigs cfg;             // derived at load time

  bool compacted() const { return save_insn == SaveInsn::kXsaves || save_insn == SaveInsn::kXsavec; }
  RestoreInsn restore_insn() const {
    if (save_insn == SaveInsn::kXsaves) return RestoreInsn::kXrstors;
    if (save_insn == SaveInsn::kFxsave) return RestoreInsn::kFxrstor;
    return RestoreInsn::kXrstor;
  }
  // User components the scenario may touch.
  ComponentMask user_features() const { return cfg.user.max_features; }
  // XFEATURE_MASK_FPSTATE restricted to what this kernel supports: every
  // feature but PKRU (switched eagerly in __switch_to) and independent ones.
  ComponentMask restore_mask() const { return cfg.kernel.max_features & ~bit(kPKRU); }
};

}  // namespace fpusim::x86
