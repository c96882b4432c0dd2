#include "models/x86/presets.h"

#include <cstdarg>
#include <cstdio>

#include "models/x86/events.h"
#include "models/x86/xstate.h"
#include "sim/input/event.h"
#include "sim/input/presets.h"
#include "sim/input/vms.h"

namespace fpusim::x86 {

ComponentMask read_components(const JsonIn& arr) {
  ComponentMask m = 0;
  for (size_t i = 0; i < arr.size(); ++i) {
    JsonIn e = arr.at(i);
    auto mask = component_mask_by_name(e.as_string());
    if (!mask) e.fail("a component name (x87, sse, ymm, opmask, zmm_hi256, hi16_zmm, pkru, xtilecfg, xtiledata, ...)");
    m |= *mask;
  }
  return m;
}

Machine load_machine(const Json& doc, const std::string& file) {
  validate_against_schema(doc, schema_named("machine"), file);
  JsonIn in(doc, file);
  Machine m;
  read_machine_base(in, m);
  JsonIn insn = in.at("xsave_instruction");
  if (!save_insn_by_name(insn.as_string(), &m.save_insn)) insn.fail("fxsave, xsave, xsaveopt, xsavec or xsaves");

  JsonIn cpuid = in.at("cpuid_0xd");
  CpuidXstate& c = m.cpuid;
  JsonIn sl0 = cpuid.at("subleaf0");
  JsonIn sl1 = cpuid.at("subleaf1");
  const std::uint64_t sl0_eax = sl0.at("eax").as_hex(), sl0_ebx = sl0.at("ebx").as_hex(),
                      sl0_ecx = sl0.at("ecx").as_hex(), sl0_edx = sl0.at("edx").as_hex();
  const std::uint64_t sl1_eax = sl1.at("eax").as_hex(), sl1_ebx = sl1.at("ebx").as_hex(),
                      sl1_ecx = sl1.at("ecx").as_hex(), sl1_edx = sl1.at("edx").as_hex();
  c.xcr0_supported = (sl0_edx << 32) | (sl0_eax & 0xffffffffu);
  c.xss_supported = (sl1_edx << 32) | (sl1_ecx & 0xffffffffu);
  c.has_xsaveopt = sl1_eax & 1;
  c.has_xsavec = sl1_eax & 2;
  c.has_xgetbv1 = sl1_eax & 4;
  c.has_xsaves = sl1_eax & 8;
  c.has_xfd = sl1_eax & 16;
  JsonIn comps = cpuid.at("components");
  for (auto it = comps.json().begin(); it != comps.json().end(); ++it) {
    JsonIn e = comps.at(it.key());
    auto mask = component_mask_by_name(it.key());
    if (!mask || popcount(*mask) != 1 || (*mask & kMaskFpSse)) {
      throw InputError{file, e.path(), "expected a single XSAVE component numbered 2 or more (ymm, opmask, ...)"};
    }
    const unsigned idx = static_cast<unsigned>(__builtin_ctzll(*mask));
    ComponentInfo& ci = c.comp[idx];
    ci.present = true;
    ci.size = static_cast<std::uint32_t>(e.at("eax").as_hex());
    ci.offset = static_cast<std::uint32_t>(e.at("ebx").as_hex());
    const std::uint64_t ecx = e.at("ecx").as_hex();
    ci.supervisor = ecx & 1;
    ci.align64 = ecx & 2;
    ci.xfd = ecx & 4;
    if (ci.size == 0) throw InputError{file, e.path() + "/eax", "a component size of 0"};
    e.require_all_read();
  }
  for (unsigned i = 2; i < 64; ++i) {
    const bool listed = c.comp[i].present;
    const bool reported = ((c.xcr0_supported | c.xss_supported) >> i) & 1;
    if (reported && !listed) {
      throw InputError{file, cpuid.path() + "/components",
                       "sub-leaf 0/1 report " + component_name(i) + " as supported but it has no entry"};
    }
  }
  // User components occupy disjoint ranges of the standard format after the
  // legacy area and header (a mistyped size or offset overlaps a neighbour).
  for (unsigned i = 2; i < 64; ++i) {
    const ComponentInfo& a = c.comp[i];
    if (!a.present || a.supervisor) continue;
    if (a.offset < kXsaveAreaStart) {
      throw InputError{file, comps.path() + "/" + component_name(i) + "/ebx",
                       "a standard offset below 576 (the legacy area and XSAVE header come first)"};
    }
    for (unsigned j = i + 1; j < 64; ++j) {
      const ComponentInfo& b = c.comp[j];
      if (!b.present || b.supervisor) continue;
      if (a.offset < b.offset + b.size && b.offset < a.offset + a.size) {
        throw InputError{file, comps.path() + "/" + component_name(i),
                         component_name(i) + " [" + std::to_string(a.offset) + ", " +
                             std::to_string(a.offset + a.size) + ") overlaps " + component_name(j) + " [" +
                             std::to_string(b.offset) + ", " + std::to_string(b.offset + b.size) +
                             ") in the standard format; check the sizes and offsets"};
      }
    }
  }
  JsonIn dump_xcr0_in = cpuid.at("dump_xcr0");
  JsonIn dump_xss_in = cpuid.at("dump_xss");
  const ComponentMask dump_xcr0 = dump_xcr0_in.as_hex();
  const ComponentMask dump_xss = dump_xss_in.as_hex();
  // The dump was taken under a real XCR0 and IA32_XSS: XSETBV and WRMSR
  // would have faulted on anything check_xcr0()/check_xss() refuse, and the
  // sizes below are computed from them component by component.
  if (auto err = check_xcr0(c, dump_xcr0)) throw InputError{file, dump_xcr0_in.path(), "a possible XCR0: " + *err};
  if (auto err = check_xss(c, dump_xss)) throw InputError{file, dump_xss_in.path(), "a possible IA32_XSS: " + *err};
  // The dump's own totals must follow from the table (catches a mistyped
  // size or offset): sub-leaf 0 EBX/ECX and, with XSAVES, sub-leaf 1 EBX.
  if (standard_size(c, dump_xcr0) != sl0_ebx) {
    throw InputError{file, cpuid.path() + "/subleaf0/ebx",
                     "the table gives a standard size of " + std::to_string(standard_size(c, dump_xcr0)) +
                         " bytes for dump_xcr0, the dump says " + std::to_string(sl0_ebx)};
  }
  if (standard_size(c, c.xcr0_supported) != sl0_ecx) {
    throw InputError{file, cpuid.path() + "/subleaf0/ecx",
                     "the table gives a standard size of " + std::to_string(standard_size(c, c.xcr0_supported)) +
                         " bytes for all supported features, the dump says " + std::to_string(sl0_ecx)};
  }
  if (c.has_xsaves && compacted_size(c, dump_xcr0 | dump_xss) != sl1_ebx) {
    throw InputError{file, cpuid.path() + "/subleaf1/ebx",
                     "the table gives a compacted size of " +
                         std::to_string(compacted_size(c, dump_xcr0 | dump_xss)) +
                         " bytes for dump_xcr0|dump_xss, the dump says " + std::to_string(sl1_ebx)};
  }
  cpuid.require_all_read();

  JsonIn os = in.at("os");
  JsonIn xcr0 = os.at("xcr0");
  m.xcr0 = xcr0.as_hex();
  if (auto err = check_xcr0(c, m.xcr0)) throw InputError{file, xcr0.path(), "impossible XCR0: " + *err};
  JsonIn xss = os.at("xss");
  m.xss = xss.as_hex();
  if (auto err = check_xss(c, m.xss)) throw InputError{file, xss.path(), "impossible IA32_XSS: " + *err};
  JsonIn dyn = os.at("dynamic_features");
  m.dynamic = read_components(dyn);
  for (unsigned i : bits(m.dynamic)) {
    if (!(m.xcr0 & bit(i)) || !c.comp[i].xfd || !c.has_xfd) {
      throw InputError{file, dyn.path(),
                       component_name(i) + " cannot be dynamic: it must be enabled in XCR0 and XFD-capable "
                       "(CPUID.(0xD,1).EAX[4] and CPUID.(0xD," + std::to_string(i) + ").ECX[2])"};
    }
  }
  os.require_all_read();
  const bool supported = (m.save_insn == SaveInsn::kXsaves && c.has_xsaves) ||
                         (m.save_insn == SaveInsn::kXsavec && c.has_xsavec) ||
                         (m.save_insn == SaveInsn::kXsaveopt && c.has_xsaveopt) || m.save_insn == SaveInsn::kXsave ||
                         m.save_insn == SaveInsn::kFxsave;
  if (!supported) insn.fail("an instruction this CPU supports (CPUID.(0xD,1).EAX)");
  if (m.save_insn == SaveInsn::kFxsave && (m.xcr0 & ~kMaskFpSse)) {
    insn.fail("xsave or better: FXSAVE cannot save " + mask_to_names(m.xcr0 & ~kMaskFpSse));
  }
  if (m.xss && m.save_insn != SaveInsn::kXsaves) {
    throw InputError{file, xss.path(), "supervisor state needs XSAVES; set os.xss to \"0x0\" or use xsaves"};
  }
  in.require_all_read();
  m.cfg = derive_fpu_configs(c, m.xcr0, m.xss, m.dynamic, m.compacted());
  return m;
}

CostModel load_costs(const Json& doc, const std::string& file) {
  validate_against_schema(doc, schema_named("cost"), file);
  JsonIn in(doc, file);
  CostModel cm;
  cm.name = in.at("name").as_string();
  cm.description = in.at("description").as_string();
  auto value = [](const JsonIn& p) {
    const double v = p.at("value").as_non_negative();
    p.at("source").as_string();
    p.require_all_read();
    return v;
  };
  JsonIn sb = in.at("save_base");
  for (size_t i = 0; i < static_cast<size_t>(SaveInsn::kCount); ++i) {
    cm.save_base[i] = value(sb.at(std::string(save_insn_name(static_cast<SaveInsn>(i)))));
  }
  sb.require_all_read();
  JsonIn rb = in.at("restore_base");
  for (size_t i = 0; i < static_cast<size_t>(RestoreInsn::kCount); ++i) {
    cm.restore_base[i] = value(rb.at(std::string(restore_insn_name(static_cast<RestoreInsn>(i)))));
  }
  rb.require_all_read();
  cm.save_bytes_per_cycle = value(in.at("save_bytes_per_cycle"));
  cm.restore_bytes_per_cycle = value(in.at("restore_bytes_per_cycle"));
  cm.memcpy_bytes_per_cycle = value(in.at("memcpy_bytes_per_cycle"));
  for (const auto& sc : scalar_costs()) cm.*(sc.member) = value(in.at(std::string(sc.name)));
  in.require_all_read();
  return cm;
}


void load_vms(const JsonIn& in, Scenario& s, std::map<std::string, size_t>& seen, const std::string& file) {
  const Machine& m = machine_of(s);
  fpusim::load_vms<VmDecl>(in, s, seen, file, [&](const JsonIn& v, VmDecl& d) {
    const ComponentMask host = m.user_features();
    if (v.has("guest_features")) {
      JsonIn gf = v.at("guest_features");
      d.features = read_components(gf);
      if (d.features & ~host) {
        gf.fail("guest features the host supports (" + mask_to_names(host) + "); " +
                mask_to_names(d.features & ~host) + " is not");
      }
      if (!(d.features & bit(kX87)) || !(d.features & bit(kSSE))) gf.fail("at least x87 and sse");
    } else {
      d.features = host;
    }
    if (v.has("xfd")) {
      JsonIn x = v.at("xfd");
      d.xfd = x.as_bool();
      if (d.xfd && !m.dynamic) x.fail("false: machine " + m.name + " has no XFD");
    } else {
      d.xfd = (d.features & m.dynamic) != 0;
    }
    if (v.has("confidential")) d.confidential = v.at("confidential").as_bool();
    if (v.has("amx_alloc")) {
      JsonIn a = v.at("amx_alloc");
      const std::string mode = a.as_string();
      if (mode == "kvm_set_cpuid2") d.amx_alloc = AmxAlloc::kSetCpuid;
      else if (mode == "first_use") d.amx_alloc = AmxAlloc::kFirstUse;
      else a.fail("\"kvm_set_cpuid2\" (merged kernels) or \"first_use\" (the seed-003 design)");
    }
    if (v.has("created")) d.created = v.at("created").as_bool();
  });
}

namespace {
// printf into a stream: the layout table is laid out with printf widths.
__attribute__((format(printf, 2, 3))) void outf(std::ostream& os, const char* fmt, ...) {
  va_list ap, ap2;
  va_start(ap, fmt);
  va_copy(ap2, ap);
  const int n = std::vsnprintf(nullptr, 0, fmt, ap);
  va_end(ap);
  std::string buf(static_cast<size_t>(n > 0 ? n : 0) + 1, '\0');
  std::vsnprintf(buf.data(), buf.size(), fmt, ap2);
  va_end(ap2);
  buf.resize(static_cast<size_t>(n > 0 ? n : 0));
  os << buf;
}
}  // namespace

void print_layout(std::ostream& os, const Machine& m) {
  const auto& c = m.cpuid;
  os << m.name << ": " << m.description << "\n\n";
  os << "XCR0 " << mask_to_names(m.xcr0) << "\nIA32_XSS " << mask_to_names(m.xss)
            << "\ndynamic (XFD) " << mask_to_names(m.dynamic) << "\nsave instruction "
            << save_insn_name(m.save_insn) << ", restore " << restore_insn_name(m.restore_insn()) << "\n\n";
  const ComponentMask all = m.xcr0 | m.xss;
  outf(os, "%-4s %-12s %6s %10s %10s %10s  %s\n", "#", "component", "size", "standard", "compacted", "kernel",
              "flags");
  for (unsigned i = 0; i < kNumXfeatures; ++i) {
    if (!(all & bit(i))) continue;
    const bool sup = i >= 2 && c.comp[i].supervisor;
    const std::string std_off = sup ? "-" : std::to_string(standard_offset(c, i));
    const std::string cmp_off = i < 2 ? std::to_string(standard_offset(c, i))
                                      : std::to_string(compacted_offset(c, all, i));
    const std::string kern_off =
        (m.cfg.kernel.max_features & bit(i))
            ? (m.compacted() ? (i < 2 ? std::to_string(standard_offset(c, i))
                                      : std::to_string(compacted_offset(c, m.cfg.kernel.max_features, i)))
                             : std_off)
            : "-";
    std::string flags;
    if (sup) flags += "supervisor ";
    if (i >= 2 && c.comp[i].align64) flags += "align64 ";
    if (i >= 2 && c.comp[i].xfd) flags += "xfd ";
    if (m.dynamic & bit(i)) flags += "dynamic ";
    outf(os, "%-4u %-12s %6u %10s %10s %10s  %s\n", i, component_name(i).c_str(), component_size(c, i),
                std_off.c_str(), cmp_off.c_str(), kern_off.c_str(), flags.c_str());
  }
  outf(os, "\nsizes: standard %u (XCR0), compacted %u (XCR0|XSS), without dynamic features: standard %u, compacted %u\n",
              standard_size(c, m.xcr0), compacted_size(c, all), standard_size(c, m.xcr0 & ~m.dynamic),
              compacted_size(c, all & ~m.dynamic));
  auto cfg = [&os](const char* name, const FpuStateConfig& f) {
    outf(os, "%-15s default %-6u max %-6u  default features %s\n%-15s %20s max features %s\n", name, f.default_size,
                f.max_size, mask_to_names(f.default_features).c_str(), "", "",
                mask_to_names(f.max_features).c_str());
  };
  outf(os, "\nLinux configurations (%s kernel buffers):\n", m.compacted() ? "compacted" : "standard");
  cfg("fpu_kernel_cfg", m.cfg.kernel);
  cfg("fpu_user_cfg", m.cfg.user);
  cfg("fpu_guest_cfg", m.cfg.guest);
}

const std::vector<VmDecl>& vms_of(const Scenario& s) { return fpusim::vms_of<VmDecl>(s); }

const Machine& machine_of(const Scenario& s) { return static_cast<const Machine&>(*s.machine); }
const CostModel& costs_of(const Scenario& s) { return static_cast<const CostModel&>(*s.costs); }

}  // namespace fpusim::x86
