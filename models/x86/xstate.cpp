// x86 XSAVE layouts computed from a CPUID leaf 0xD table. See xstate.h for
// the rules; each function names the Linux (or KVM) code it mirrors.
#include "models/x86/xstate.h"

#include <algorithm>
#include <array>
#include <cstdio>

namespace fpusim::x86 {

namespace {

// Sizes of the two legacy components as Linux records them in
// setup_xstate_cache() (xstate_sizes[XFEATURE_FP] = offsetof(fxregs_state,
// xmm_space) = 160, xstate_sizes[XFEATURE_SSE] = sizeof xmm_space = 256).
constexpr std::uint32_t kX87Size = 160;
constexpr std::uint32_t kSseSize = 256;
constexpr std::uint32_t kSseOffset = 160;

constexpr const char* kNames[kNumXfeatures] = {
    "x87",       "sse",      "ymm",  "bndregs", "bndcsr", "opmask",     "zmm_hi256",
    "hi16_zmm",  "pt",       "pkru", "pasid",   "cet_user", "cet_kernel", "hdc",
    "uintr",     "lbr",      "hwp",  "xtilecfg", "xtiledata", "apx",
};

// Linux's XFEATURE_MASK_SUPERVISOR_ALL | XFEATURE_MASK_INDEPENDENT plus the
// supervisor components Linux leaves unnamed (HDC 13, UINTR 14, HWP 16):
// every architecturally defined IA32_XSS component below 20.
constexpr ComponentMask kArchSupervisor = bit(kPT) | bit(kPASID) | bit(kCetUser) |
                                          bit(kCetKernel) | bit(kHDC) | bit(kUINTR) |
                                          bit(kLBR) | bit(kHWP);

// Guest-only supervisor features (the 2025 "guest-only" supervisor xfeature
// set of the KVM CET series, linux-fpu-semantics.md §7.2): only in guest
// fpstates.
constexpr ComponentMask kMaskGuestOnly = bit(kCetKernel);

std::string hex(ComponentMask m) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(m));
  return buf;
}

std::uint32_t align64(std::uint32_t v) { return (v + 63u) & ~63u; }

bool is_supervisor(const CpuidXstate& cpu, unsigned i) {
  if (i < 2) return false;
  return (i < 64 && cpu.comp[i].supervisor) || (cpu.xss_supported & bit(i)) ||
         (kArchSupervisor & bit(i));
}

// An extended component the table does not describe: a config/caller error
// that must not silently produce a 0-byte component.
void require_present(const CpuidXstate& cpu, unsigned i, const char* who) {
  if (i >= 64 || !cpu.comp[i].present)
    panic(std::string(who) + ": component " + component_name(i) +
          " is not reported by this CPU's CPUID leaf 0xD table");
}

}  // namespace

// Names: Linux's XFEATURE_* order (arch/x86/include/asm/fpu/types.h).
std::string component_name(unsigned index) {
  if (index < kNumXfeatures) return kNames[index];
  return "xfeature" + std::to_string(index);
}

std::optional<ComponentMask> component_mask_by_name(std::string_view name) {
  // As string_views: no strlen per comparison (event decoding looks up
  // every component name of every event here).
  static constexpr auto kViews = [] {
    std::array<std::string_view, kNumXfeatures> v{};
    for (unsigned i = 0; i < kNumXfeatures; ++i) v[i] = kNames[i];
    return v;
  }();
  for (unsigned i = 0; i < kNumXfeatures; ++i)
    if (name == kViews[i]) return bit(i);
  if (name == "avx") return bit(kYMM);
  if (name == "avx512") return kMaskAvx512;
  if (name == "amx") return kMaskAmx;
  if (name == "fpu") return kMaskFpSse;
  return std::nullopt;
}

std::string mask_to_names(ComponentMask mask) {
  if (mask == 0) return "none";
  std::string s;
  for (unsigned i : bits(mask)) {
    if (!s.empty()) s += '|';
    s += component_name(i);
  }
  return s;
}

// xfeature_size() / setup_xstate_cache(): CPUID.(0xD,i).EAX; legacy sizes
// fixed by struct fxregs_state.
std::uint32_t component_size(const CpuidXstate& cpu, unsigned i) {
  if (i == kX87) return kX87Size;
  if (i == kSSE) return kSseSize;
  require_present(cpu, i, "component_size");
  return cpu.comp[i].size;
}

// xfeature_uncompacted_offset(): CPUID.(0xD,i).EBX; supervisor components
// have no standard offset (Linux WARNs "No fixed offset for xstate").
std::uint32_t standard_offset(const CpuidXstate& cpu, unsigned i) {
  if (i == kX87) return 0;
  if (i == kSSE) return kSseOffset;
  require_present(cpu, i, "standard_offset");
  if (is_supervisor(cpu, i))
    panic("standard_offset: " + component_name(i) + " is a supervisor component");
  return cpu.comp[i].offset;
}

// xstate_calculate_size(mask, false): since the APX series the reference is
// the component ending highest in the buffer (xfeature_uncompact_order), not
// the highest-numbered one; never below sizeof(struct xregs_state) = 576.
std::uint32_t standard_size(const CpuidXstate& cpu, ComponentMask mask) {
  std::uint32_t size = kXsaveAreaStart;
  for (unsigned i : bits(mask)) {
    if (is_supervisor(cpu, i)) continue;  // not part of the standard format
    size = std::max(size, standard_offset(cpu, i) + component_size(cpu, i));
  }
  return size;
}

// xfeature_get_offset(xcomp_bv, i): walk the extended features present in
// XCOMP_BV from 576, aligning to 64 first when CPUID.(0xD,j).ECX[1]
// (xfeature_is_aligned64) is set.
std::uint32_t compacted_offset(const CpuidXstate& cpu, ComponentMask mask, unsigned i) {
  if (i < 2) panic("compacted_offset: legacy component " + component_name(i));
  if (i >= 64 || !(mask & bit(i)))
    panic("compacted_offset: " + component_name(i) + " not in mask " + hex(mask));
  std::uint32_t offs = kXsaveAreaStart;
  for (unsigned j : bits(mask & ~kMaskFpSse)) {
    require_present(cpu, j, "compacted_offset");
    if (cpu.comp[j].align64) offs = align64(offs);
    if (j == i) break;
    offs += cpu.comp[j].size;
  }
  return offs;
}

// xstate_calculate_size(mask, true): offset of the topmost (highest-numbered)
// feature plus its size; 576 when only legacy features are present.
std::uint32_t compacted_size(const CpuidXstate& cpu, ComponentMask mask) {
  const ComponentMask ext = mask & ~kMaskFpSse;
  if (ext == 0) return kXsaveAreaStart;
  const unsigned topmost = 63u - static_cast<unsigned>(__builtin_clzll(ext));
  return compacted_offset(cpu, mask, topmost) + component_size(cpu, topmost);
}

// XSETBV #GP conditions (SDM vol. 1 §13.3), as KVM's __kvm_set_xcr()
// (arch/x86/kvm/x86.c) checks them, plus the APX/MPX exclusion of the 2025
// APX enabling (ea68e39190cf "Disallow conflicting MPX presence").
std::optional<std::string> check_xcr0(const CpuidXstate& cpu, ComponentMask xcr0) {
  const std::string m = hex(xcr0);
  if (!(xcr0 & bit(kX87))) return "XCR0 " + m + ": bit 0 (x87) must be set";
  if ((xcr0 & bit(kYMM)) && !(xcr0 & bit(kSSE)))
    return "XCR0 " + m + ": ymm (bit 2) requires sse (bit 1)";
  if (!(xcr0 & bit(kBndregs)) != !(xcr0 & bit(kBndcsr)))
    return "XCR0 " + m + ": bndregs and bndcsr (bits 3, 4) must be set together";
  if (xcr0 & kMaskAvx512) {
    if ((xcr0 & kMaskAvx512) != kMaskAvx512)
      return "XCR0 " + m + ": opmask, zmm_hi256 and hi16_zmm (bits 5-7) must be set together";
    if (!(xcr0 & bit(kYMM))) return "XCR0 " + m + ": AVX-512 (bits 5-7) requires ymm (bit 2)";
  }
  if ((xcr0 & kMaskAmx) && (xcr0 & kMaskAmx) != kMaskAmx)
    return "XCR0 " + m + ": xtilecfg and xtiledata (bits 17, 18) must be set together";
  if ((xcr0 & bit(kAPX)) && (xcr0 & kMaskMpx))
    return "XCR0 " + m + ": apx (bit 19) cannot be enabled together with MPX (bits 3, 4)";
  for (unsigned i : bits(xcr0))
    if (is_supervisor(cpu, i))
      return "XCR0 " + m + ": " + component_name(i) +
             " is a supervisor component (IA32_XSS), not an XCR0 bit";
  if (const ComponentMask bad = xcr0 & ~(cpu.xcr0_supported | bit(kX87)))
    return "XCR0 " + m + ": " + mask_to_names(bad) + " (" + hex(bad) +
           ") not supported by the CPU (CPUID.(0xD,0) EDX:EAX = " + hex(cpu.xcr0_supported) + ")";
  return std::nullopt;
}

// WRMSR IA32_XSS #GP: a bit not in CPUID.(0xD,1) EDX:ECX; user bits are never
// valid there (fpu__init_cpu_xstate() writes only supervisor | independent).
std::optional<std::string> check_xss(const CpuidXstate& cpu, ComponentMask xss) {
  const std::string m = hex(xss);
  for (unsigned i : bits(xss))
    if (!is_supervisor(cpu, i) && (i < kNumXfeatures || (cpu.xcr0_supported & bit(i))))
      return "IA32_XSS " + m + ": " + component_name(i) + " is a user component (XCR0), not an XSS bit";
  if (const ComponentMask bad = xss & ~cpu.xss_supported)
    return "IA32_XSS " + m + ": " + mask_to_names(bad) + " (" + hex(bad) +
           ") not supported by the CPU (CPUID.(0xD,1) EDX:ECX = " + hex(cpu.xss_supported) + ")";
  return std::nullopt;
}

// fpu__init_system_xstate() + init_xstate_size() (arch/x86/kernel/fpu/xstate.c):
// kernel max excludes independent features (xfeatures_mask_independent(),
// arch LBR, which perf saves in its own buffers); defaults drop
// XFEATURE_MASK_USER_DYNAMIC; the 2025 guest-only set (CET_KERNEL) is kept
// out of the kernel default but stays in fpu_guest_cfg.
FpuConfigs derive_fpu_configs(const CpuidXstate& cpu, ComponentMask xcr0, ComponentMask xss,
                              ComponentMask dynamic, bool compacted) {
  FpuConfigs c;
  const ComponentMask all = (xcr0 | xss) & ~kMaskIndependent;

  c.kernel.max_features = all;
  c.kernel.default_features = all & ~dynamic & ~kMaskGuestOnly;
  c.kernel.max_size = buffer_size(cpu, c.kernel.max_features, compacted);
  c.kernel.default_size = buffer_size(cpu, c.kernel.default_features, compacted);

  ComponentMask user = 0;
  for (unsigned i : bits(xcr0))
    if (!is_supervisor(cpu, i)) user |= bit(i);
  c.user.max_features = user;
  c.user.default_features = user & ~dynamic;
  c.user.max_size = standard_size(cpu, c.user.max_features);
  c.user.default_size = standard_size(cpu, c.user.default_features);

  c.guest.max_features = all;
  c.guest.default_features = all & ~dynamic;
  c.guest.max_size = buffer_size(cpu, c.guest.max_features, compacted);
  c.guest.default_size = buffer_size(cpu, c.guest.default_features, compacted);
  return c;
}

}  // namespace fpusim::x86
