// A Linux arm64 task's FP/SIMD state as the agent keeps it (struct
// thread_struct's uw.fpsimd_state, sve_state, fp_type, fpsimd_cpu, the
// vector length and the thread flags), plus the checker's ground truth.
#pragma once

#include <memory>
#include <vector>

#include "models/core/component_sizes.h"
#include "models/core/context.h"
#include "models/core/register_file.h"

namespace fpusim::arm64 {

constexpr std::uint32_t kNoVcpu = ~std::uint32_t{0};

// thread.fp_type: the format of the saved state (baa85152, v6.2; before it,
// TIF_SVE alone said so).
enum class FpType : std::uint8_t { kFpsimd, kSve };

struct Context : ContextBase {
  // The saved state as the kernel reads it back: uw.fpsimd_state, or in
  // SVE format sve_state (fp_type says which).
  StateImage image;
  // sve_state itself as the last SVE-format save left it. A reload in SVE
  // format from a state last saved in FPSIMD format reads stale data from
  // here: the hypervisor's __hyp_sve_restore_guest() does so for an SVE
  // vCPU whatever its fp_type (to_save makes every save of it SVE format,
  // except under the 2955bcc8 bug).
  StateImage sve_buf;
  FpType fp_type = FpType::kFpsimd;
  // TIF_FOREIGN_FPSTATE: the registers do not hold this task's latest user
  // state; it must be loaded before the task returns to EL0.
  bool foreign = true;
  // TIF_SVE: EL0 may execute SVE (CPACR_EL1.ZEN EL0 enabled while bound) and
  // a save stores the SVE format.
  bool tif_sve = false;
  CpuId fpsimd_cpu = kNoCpu;  // thread.fpsimd_cpu; kNoCpu = NR_CPUS
  // The vCPU (Agent::vcpu) this thread runs inside KVM_RUN; kNoVcpu outside.
  std::uint32_t vcpu = kNoVcpu;
  unsigned vl = 0;            // thread.vl[ARM64_VEC_SVE], bits
  unsigned svl = 0;           // thread.vl[ARM64_VEC_SME], bits (0 without SME)
  // TIF_SME: EL0 may use SME (CPACR_EL1.SMEN EL0 enabled while bound).
  bool tif_sme = false;
  // thread.svcr: the task's PSTATE.SM and PSTATE.ZA as the kernel keeps
  // them (the live bits are the CPU's while its state is loaded).
  bool svcr_sm = false;
  bool svcr_za = false;
  std::shared_ptr<const ComponentSizes> sizes;  // at `vl` / `svl` and its mode, shared with the checker
  // Per pending signal frame (ContextBase::sigframes holds its contents):
  // whether it has an SVE record (written when TIF_SVE was set, whatever
  // the register values), and the task's truth when it was written, which
  // sigreturn gives back: a frame written from stale state is then found
  // by the checker, not adopted as the truth.
  struct FrameInfo {
    bool sve = false;
    bool sm = false;  // the SVE record's SVE_SIG_FLAG_SM
    bool za = false;  // a ZA record (and ZT0 with SME2)
    StateImage truth;
  };
  std::vector<FrameInfo> frame_info;
};

}  // namespace fpusim::arm64
