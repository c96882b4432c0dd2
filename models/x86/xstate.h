// x86 XSAVE state components and layouts (standard and compacted), computed
// from a CPUID leaf 0xD table, never from hard-coded offsets: AMD's standard
// layout has no MPX hole, so offsets are CPU-specific.
//
// Rules (Intel SDM vol. 1 ch. 13; Linux arch/x86/kernel/fpu/xstate.c):
//  - Standard (non-compacted) format, used by XSAVE/XSAVEOPT, the UABI, signal
//    frames and ptrace: component i lives at its CPUID standard offset; the
//    size is the largest (offset + size) over the enabled components, at least
//    512 (legacy area) + 64 (XSAVE header). Supervisor components have no
//    standard offset and never appear in this format.
//  - Compacted format (XSAVEC/XSAVES, kernel buffers): components present in
//    the mask are packed in ascending index order starting at 576; a component
//    whose CPUID.(0xD,i).ECX[1] is set is first aligned up to 64 bytes
//    (xfeature_get_offset() / xstate_calculate_size(mask, true)).
//  - Components 0 (x87) and 1 (SSE) always live in the legacy area (0..511).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "models/core/types.h"

namespace fpusim::x86 {

// Linux's XFEATURE_* numbering (arch/x86/include/asm/fpu/types.h).
enum Xfeature : unsigned {
  kX87 = 0,
  kSSE = 1,
  kYMM = 2,
  kBndregs = 3,
  kBndcsr = 4,
  kOpmask = 5,
  kZmmHi256 = 6,
  kHi16Zmm = 7,
  kPT = 8,
  kPKRU = 9,
  kPASID = 10,
  kCetUser = 11,
  kCetKernel = 12,
  kHDC = 13,
  kUINTR = 14,
  kLBR = 15,
  kHWP = 16,
  kXtileCfg = 17,
  kXtileData = 18,
  kAPX = 19,
  kNumXfeatures = 20,
};

constexpr unsigned kLegacyAreaSize = 512;
constexpr unsigned kXsaveHeaderSize = 64;
constexpr unsigned kXsaveAreaStart = kLegacyAreaSize + kXsaveHeaderSize;  // 576

constexpr ComponentMask kMaskFpSse = bit(kX87) | bit(kSSE);
constexpr ComponentMask kMaskAvx512 = bit(kOpmask) | bit(kZmmHi256) | bit(kHi16Zmm);
constexpr ComponentMask kMaskAmx = bit(kXtileCfg) | bit(kXtileData);
constexpr ComponentMask kMaskMpx = bit(kBndregs) | bit(kBndcsr);
// Independent supervisor features are never part of task buffers
// (xfeatures_mask_independent(): arch LBR).
constexpr ComponentMask kMaskIndependent = bit(kLBR);

// Lower-case names used in configs and scenarios: "x87", "sse", "ymm",
// "bndregs", "bndcsr", "opmask", "zmm_hi256", "hi16_zmm", "pt", "pkru",
// "pasid", "cet_user", "cet_kernel", "hdc", "uintr", "lbr", "hwp",
// "xtilecfg", "xtiledata", "apx". Returns "xfeature<N>" for unknown numbers.
std::string component_name(unsigned index);
// Exact name, or one of the group aliases "avx" (= ymm), "avx512"
// (opmask|zmm_hi256|hi16_zmm), "amx" (xtilecfg|xtiledata), "fpu" (x87|sse).
// Returns nullopt for unknown names.
std::optional<ComponentMask> component_mask_by_name(std::string_view name);
// "x87|sse|ymm" style rendering of a mask (in index order); "none" for 0.
std::string mask_to_names(ComponentMask mask);

// One CPUID.(EAX=0xD, ECX=i) sub-leaf, i >= 2.
struct ComponentInfo {
  bool present = false;     // reported by the CPU (size != 0)
  std::uint32_t size = 0;   // EAX
  std::uint32_t offset = 0; // EBX: standard-format offset; 0 for supervisor
  bool supervisor = false;  // ECX bit 0 (IA32_XSS component)
  bool align64 = false;     // ECX bit 1 (64-byte aligned when compacted)
  bool xfd = false;         // ECX bit 2 (XFD-capable)
};

// The CPUID leaf 0xD table of one CPU model.
struct CpuidXstate {
  // Components 0 and 1 are implicit (legacy area): present with sizes 160 and
  // 256 at offsets 0 and 160; the table only needs entries for i >= 2.
  std::array<ComponentInfo, 64> comp{};
  ComponentMask xcr0_supported = 0;  // sub-leaf 0 EDX:EAX
  ComponentMask xss_supported = 0;   // sub-leaf 1 EDX:ECX
  bool has_xsaveopt = false;         // sub-leaf 1 EAX bit 0
  bool has_xsavec = false;           // bit 1
  bool has_xgetbv1 = false;          // bit 2
  bool has_xsaves = false;           // bit 3
  bool has_xfd = false;              // bit 4
};

// Size in bytes of component i (160 for x87, 256 for SSE, else CPUID EAX).
std::uint32_t component_size(const CpuidXstate& cpu, unsigned i);

// Standard-format offset of component i (0 for x87, 160 for SSE).
// Precondition: i is a user component present on the CPU.
std::uint32_t standard_offset(const CpuidXstate& cpu, unsigned i);

// Standard-format size for the user components in `mask` (supervisor bits are
// ignored): max(576, max over i in mask of offset(i) + size(i)).
std::uint32_t standard_size(const CpuidXstate& cpu, ComponentMask mask);

// Compacted-format offset of component i within a buffer whose XCOMP_BV is
// `mask`. Precondition: i in mask, i >= 2.
std::uint32_t compacted_offset(const CpuidXstate& cpu, ComponentMask mask, unsigned i);

// Compacted-format size for `mask` (user and supervisor components): the end
// of the topmost component, at least 576.
std::uint32_t compacted_size(const CpuidXstate& cpu, ComponentMask mask);

// Checks a mask against the architectural XCR0 rules enforced by XSETBV
// (SDM; KVM's __kvm_set_xcr() applies the same): x87 must be set; YMM needs
// SSE; BNDREGS and BNDCSR together; opmask/ZMM_Hi256/Hi16_ZMM all or none and
// then YMM too; XTILECFG and XTILEDATA together; APX excludes MPX; no
// supervisor bit; every bit supported by `cpu`. Returns an explanation of the
// first rule broken, or nullopt when the mask is valid.
std::optional<std::string> check_xcr0(const CpuidXstate& cpu, ComponentMask xcr0);

// Same for IA32_XSS: only supervisor bits that the CPU supports.
std::optional<std::string> check_xss(const CpuidXstate& cpu, ComponentMask xss);

// One of Linux's struct fpu_state_config (fpu_kernel_cfg, fpu_user_cfg,
// fpu_guest_cfg).
struct FpuStateConfig {
  ComponentMask max_features = 0;
  ComponentMask default_features = 0;
  std::uint32_t max_size = 0;
  std::uint32_t default_size = 0;
};

// The three configurations Linux derives at boot (seed 001; reference §7.2):
//  kernel: max = (xcr0 | xss) minus independent features (LBR);
//          default = max minus dynamic (XFD) features minus guest-only
//          supervisor features (CET_KERNEL); sizes compacted when the kernel
//          uses XSAVES or XSAVEC (`compacted`), else standard.
//  user:   max = user bits of xcr0; default = max minus dynamic; sizes always
//          standard (UABI).
//  guest:  max = kernel max (including CET_KERNEL); default = max minus
//          dynamic; sizes as the kernel's.
struct FpuConfigs {
  FpuStateConfig kernel;
  FpuStateConfig user;
  FpuStateConfig guest;
};
FpuConfigs derive_fpu_configs(const CpuidXstate& cpu, ComponentMask xcr0, ComponentMask xss,
                              ComponentMask dynamic, bool compacted);

// Size of a kernel buffer holding `features`: compacted or standard.
inline std::uint32_t buffer_size(const CpuidXstate& cpu, ComponentMask features, bool compacted) {
  return compacted ? compacted_size(cpu, features) : standard_size(cpu, features);
}

}  // namespace fpusim::x86
