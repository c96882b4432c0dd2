// A simulated arm64 machine and its costs, and the arm64 state components
// (arch/arm64/kernel/fpsimd.c; reference/linux-fpu-semantics.md §7.3).
// Plain data; loaded from configs/machines/*.json ("arch": "arm64") and
// configs/costs/*.json by models/arm64/presets.cpp.
#pragma once

#include <array>
#include <tuple>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "models/core/machine.h"
#include "models/core/register_file.h"
#include "models/core/types.h"

namespace fpusim::arm64 {

// The state components, numbered by bit of ComponentMask (FPMR and SME:
// arch/arm64/kernel/fpsimd.c, reference/linux-fpu-semantics.md §4.2, §7.3).
enum Component : unsigned {
  kFpsimd = 0,  // V0-V31 (128 bits each) + FPSR + FPCR: struct user_fpsimd_state
  kSveZ = 1,    // Z0-Z31 at the task's VL, or in streaming mode at its SVL (their low 128 bits alias V0-V31)
  kSveP = 2,    // P0-P15
  kSveFfr = 3,  // FFR (in streaming mode only with FEAT_SME_FA64)
  kZa = 4,      // SME's ZA array, (SVL/8)^2 bytes, live while PSTATE.ZA
  kZt0 = 5,     // SME2's ZT0, 64 bytes, live while PSTATE.ZA
  kFpmr = 6,    // FEAT_FPMR's FPMR (FP8 mode), 8 bytes (203f2b95, v6.9)
  kNumComponents = 7,
};
constexpr ComponentMask kMaskFpsimd = bit(kFpsimd);
// What the SVE format adds to the FPSIMD one, and what a syscall, a VL change
// or the first-use trap discards or zeroes: the Z bits above 128, P and FFR.
constexpr ComponentMask kMaskSve = bit(kSveZ) | bit(kSveP) | bit(kSveFfr);
// The vector registers, V/Z, P and FFR: what the SVE format saves, and what
// entering or leaving streaming mode zeroes.
constexpr ComponentMask kMaskVec = kMaskFpsimd | kMaskSve;
// What PSTATE.ZA enables (sme_save_state / sme_load_state).
constexpr ComponentMask kMaskZa = bit(kZa) | bit(kZt0);
constexpr ComponentMask kMaskFpmr = bit(kFpmr);

std::string component_name(unsigned i);
std::string mask_to_names(ComponentMask m);

// The vector lengths a context's state is laid out for, and the machine's
// optional parts.
struct VecLayout {
  unsigned vl = 0;         // SVE vector length, bits (0: no SVE)
  unsigned svl = 0;        // SME streaming vector length, bits (0: no SME)
  bool streaming = false;  // PSTATE.SM: Z and P at SVL, FFR only with FA64
  bool fa64 = false;
  bool sme2 = false;       // ZT0
  bool fpmr = false;
  bool operator<(const VecLayout& o) const {
    return std::tie(vl, svl, streaming, fa64, sme2, fpmr) < std::tie(o.vl, o.svl, o.streaming, o.fa64, o.sme2, o.fpmr);
  }
};
// Bytes of each component (FPSIMD: 32 x 16 + FPSR + FPCR = 520; Z 32 x VL/8,
// P 16 x VL/64, FFR VL/64; ZA (SVL/8)^2; ZT0 64; FPMR 8).
std::array<std::uint32_t, kMaxComponents> component_bytes(const VecLayout& l);
// Without SME or FPMR.
inline std::array<std::uint32_t, kMaxComponents> component_bytes(unsigned vl) {
  VecLayout l;
  l.vl = vl;
  return component_bytes(l);
}

// How KVM runs on the machine's kernel (the kvm-arm.mode boot option and
// whether the CPU has VHE): it decides who takes a guest's FP trap and
// whether the guest exit path rewrites the host's CPACR_EL1.
enum class KvmMode : std::uint8_t {
  // E2H=1, the host kernel at EL2; CPACR_EL1 accesses alias CPTR_EL2, and
  // the exit path writes the host value into it (before the 2025 rework
  // CPACR_EL1_DEFAULT: EL0 SVE access off).
  kVhe,
  // E2H=0, the host at EL1, hyp at EL2 with its own CPTR_EL2 (TFP/TZ/TSM):
  // the host's CPACR_EL1 is not touched by a guest run.
  kNvhe,
  // nVHE hyp with E2H=1 (75c76ab5: CPTR_EL2 in the CPACR layout); the host
  // at EL1 keeps its own CPACR_EL1, as under nVHE.
  kHvhe,
  // kvm-arm.mode=protected (pKVM): the nVHE/hVHE hypervisor does not trust
  // the host; since b5b9955617bc (v6.10) it saves the host's FP state in
  // its own memory at the guest's first FP trap of each run and restores it
  // at every exit after one (handle___kvm_vcpu_run(): fpsimd_sve_flush(),
  // fpsimd_sve_sync()); the host never binds guest state.
  kProtected,
};
std::string_view kvm_mode_name(KvmMode m);

struct Machine : MachineBase {
  // FP/AdvSIMD implemented (system_supports_fpsimd()); without it the
  // kernel manages no FP state at all (b4da9187 for KVM).
  bool fpsimd = true;
  bool sve = false;
  bool sve2 = false;
  bool sme = false;   // FEAT_SME
  bool sme2 = false;  // FEAT_SME2: ZT0
  bool fa64 = false;  // FEAT_SME_FA64: the full A64 set (FFR) in streaming mode
  bool fpmr = false;  // FEAT_FPMR
  std::vector<unsigned> sme_vls;  // streaming vector lengths in bits, ascending
  unsigned default_svl = 0;       // /proc/sys/abi/sme_default_vector_length, in bits
  std::vector<unsigned> sve_vls;  // vector lengths in bits the CPUs support, ascending
  unsigned default_vl = 0;        // /proc/sys/abi/sve_default_vector_length, in bits
  KvmMode kvm_mode = KvmMode::kVhe;
  bool supports_vl(unsigned vl) const {
    for (unsigned v : sve_vls) {
      if (v == vl) return true;
    }
    return false;
  }
  // A task's layout on this machine.
  VecLayout layout(unsigned vl, unsigned svl, bool streaming) const {
    VecLayout l;
    l.vl = vl;
    l.svl = sme ? svl : 0;
    l.streaming = sme && streaming;
    l.fa64 = fa64;
    l.sme2 = sme2;
    l.fpmr = fpmr;
    return l;
  }
};

// Costs in core cycles; every number names its source in the preset.
//   FPSIMD save    = save_base + bytes / save_bytes_per_cycle (likewise restores)
//   SVE save       = sve_save_base + bytes / save_bytes_per_cycle
#define FPUSIM_ARM64_SCALAR_COSTS(X)                                                                   \
  X(save_base, "fpsimd_save_state(): 16 x STP Q + MRS FPSR/FPCR, fixed part")                          \
  X(restore_base, "fpsimd_load_state(): 16 x LDP Q + MSR FPSR/FPCR, fixed part")                       \
  X(sve_save_base, "sve_save_state(): STR Z/P + RDFFR, fixed part")                                    \
  X(sve_restore_base, "sve_load_state(): LDR Z/P + WRFFR, fixed part")                                 \
  X(save_bytes_per_cycle, "bytes per cycle of a save")                                                 \
  X(restore_bytes_per_cycle, "bytes per cycle of a restore")                                           \
  X(memcpy_bytes_per_cycle, "bytes per cycle of a copy between memory buffers (signal frames, fork)")  \
  X(sve_acc_trap, "EL0 -> EL1 SVE access trap round trip (do_sve_acc entry and ERET), excluding its work") \
  X(sve_flush_live, "sve_flush_live(): zero the Z upper bits, P and FFR in the registers")             \
  X(cpacr_write, "CPACR_EL1 write + ISB (sve_user_enable / sve_user_disable)")                         \
  X(zcr_write, "ZCR_EL1 write (sve_set_vq: a new vector length)")                                      \
  X(sme_acc_trap, "EL0 -> EL1 SME access trap round trip (do_sme_acc entry and ERET), excluding its work")    \
  X(smcr_write, "SMCR_EL1 write (sme_set_vq: a new streaming vector length)")                           \
  X(hyp_fp_trap, "guest FP/SIMD or SVE access trapped to EL2 and back (kvm_hyp_handle_fpsimd entry and ERET), excluding its saves and loads")

struct CostModel : CostsBase {
#define FPUSIM_ARM64_DECLARE_COST(field, doc) double field = 0;
  FPUSIM_ARM64_SCALAR_COSTS(FPUSIM_ARM64_DECLARE_COST)
#undef FPUSIM_ARM64_DECLARE_COST
  double save(bool sve, std::uint64_t bytes) const {
    return (sve ? sve_save_base : save_base) + static_cast<double>(bytes) / save_bytes_per_cycle;
  }
  double restore(bool sve, std::uint64_t bytes) const {
    return (sve ? sve_restore_base : restore_base) + static_cast<double>(bytes) / restore_bytes_per_cycle;
  }
  double memcpy(std::uint64_t bytes) const { return static_cast<double>(bytes) / memcpy_bytes_per_cycle; }
};

struct ScalarCostInfo {
  std::string_view name;
  std::string_view doc;
  double CostModel::*member;
};
const std::vector<ScalarCostInfo>& scalar_costs();

}  // namespace fpusim::arm64
