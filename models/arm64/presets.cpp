#include "models/arm64/presets.h"

#include <cstdio>

#include "models/arm64/events.h"
#include "sim/input/presets.h"

namespace fpusim::arm64 {

Machine load_machine(const Json& doc, const std::string& file) {
  validate_against_schema(doc, schema_named("machine-arm64"), file);
  JsonIn in(doc, file);
  Machine m;
  read_machine_base(in, m);
  JsonIn f = in.at("features");
  m.sve = f.at("sve").as_bool();
  m.sve2 = f.at("sve2").as_bool();
  auto flag = [&](const char* key) { return f.has(key) && f.at(key).as_bool(); };
  if (f.has("fpsimd")) m.fpsimd = f.at("fpsimd").as_bool();
  m.sme = flag("sme");
  m.sme2 = flag("sme2");
  m.fa64 = flag("sme_fa64");
  m.fpmr = flag("fpmr");
  f.require_all_read();
  if (m.sve2 && !m.sve) throw InputError{file, f.path() + "/sve2", "SVE2 needs SVE (\"sve\": true)"};
  if (m.sme2 && !m.sme) throw InputError{file, f.path() + "/sme2", "SME2 needs SME (\"sme\": true)"};
  if (!m.fpsimd && (m.sve || m.sme || flag("fpmr"))) {
    throw InputError{file, f.path() + "/fpsimd", "true: SVE, SME and FPMR need FP/AdvSIMD"};
  }
  if (m.fa64 && !m.sme) throw InputError{file, f.path() + "/sme_fa64", "FEAT_SME_FA64 needs SME (\"sme\": true)"};
  JsonIn vls = in.at("sve_vector_lengths");
  for (size_t i = 0; i < vls.size(); ++i) {
    JsonIn v = vls.at(i);
    const std::uint64_t vl = v.as_u64(2048);
    if (!valid_vl(vl)) v.fail("a vector length in bits: a multiple of 128 from 128 to 2048");
    if (!m.sve_vls.empty() && vl <= m.sve_vls.back()) v.fail("vector lengths in ascending order, each once");
    m.sve_vls.push_back(static_cast<unsigned>(vl));
  }
  JsonIn dvl = in.at("default_vl");
  m.default_vl = static_cast<unsigned>(dvl.as_u64(2048));
  if (m.sve) {
    if (m.sve_vls.empty()) vls.fail("at least one vector length (the machine has SVE)");
    if (!m.supports_vl(m.default_vl)) dvl.fail("one of sve_vector_lengths");
  } else {
    if (!m.sve_vls.empty()) vls.fail("no vector lengths: the machine has no SVE");
    if (m.default_vl != 0) dvl.fail("0: the machine has no SVE");
  }
  if (in.has("sme_vector_lengths") || m.sme) {
    JsonIn svls = in.at("sme_vector_lengths");
    for (size_t i = 0; i < svls.size(); ++i) {
      JsonIn v = svls.at(i);
      const std::uint64_t vl = v.as_u64(2048);
      // SME allows powers of two only (SMCR_ELx.LEN picks the largest
      // supported length not above the request).
      if (vl < 128 || vl > 2048 || (vl & (vl - 1))) v.fail("a streaming vector length in bits: a power of two from 128 to 2048");
      if (!m.sme_vls.empty() && vl <= m.sme_vls.back()) v.fail("vector lengths in ascending order, each once");
      m.sme_vls.push_back(static_cast<unsigned>(vl));
    }
    if (!m.sme) svls.fail("no streaming vector lengths: the machine has no SME");
    if (m.sme_vls.empty()) svls.fail("at least one streaming vector length (the machine has SME)");
    JsonIn dsvl = in.at("default_svl");
    m.default_svl = static_cast<unsigned>(dsvl.as_u64(2048));
    bool ok = false;
    for (unsigned v : m.sme_vls) ok |= v == m.default_svl;
    if (!ok) dsvl.fail("one of sme_vector_lengths");
  }
  if (in.has("kvm_mode")) {
    JsonIn km = in.at("kvm_mode");
    const std::string v = km.as_string();
    if (v == "vhe") m.kvm_mode = KvmMode::kVhe;
    else if (v == "nvhe") m.kvm_mode = KvmMode::kNvhe;
    else if (v == "hvhe") m.kvm_mode = KvmMode::kHvhe;
    else if (v == "protected") m.kvm_mode = KvmMode::kProtected;
    else km.fail("\"vhe\", \"nvhe\", \"hvhe\" or \"protected\"");
  }
  in.require_all_read();
  return m;
}

std::string_view kvm_mode_name(KvmMode m) {
  switch (m) {
    case KvmMode::kVhe: return "vhe";
    case KvmMode::kNvhe: return "nvhe";
    case KvmMode::kHvhe: return "hvhe";
    case KvmMode::kProtected: return "protected";
  }
  return "?";
}

CostModel load_costs(const Json& doc, const std::string& file) {
  validate_against_schema(doc, schema_named("cost-arm64"), file);
  JsonIn in(doc, file);
  CostModel cm;
  cm.name = in.at("name").as_string();
  cm.description = in.at("description").as_string();
  in.at("arch");
  for (const ScalarCostInfo& c : scalar_costs()) {
    JsonIn p = in.at(std::string(c.name));
    const double v = p.at("value").as_non_negative();
    p.at("source").as_string();
    p.require_all_read();
    cm.*(c.member) = v;
  }
  for (const char* key : {"save_bytes_per_cycle", "restore_bytes_per_cycle", "memcpy_bytes_per_cycle"}) {
    if (in.at(key).at("value").as_double() <= 0) {
      throw InputError{file, std::string("/") + key + "/value", "a positive number of bytes per cycle, got 0"};
    }
  }
  in.require_all_read();
  return cm;
}

void print_layout(std::ostream& os, const Machine& m) {
  os << m.name << ": " << m.description << "\n\n";
  os << "arm64, " << (!m.fpsimd ? "no FP/AdvSIMD" : m.sve2 ? "SVE2" : m.sve ? "SVE" : "no SVE");
  if (m.sve) {
    os << ", vector lengths";
    for (unsigned v : m.sve_vls) os << " " << v;
    os << " bits, default " << m.default_vl;
  }
  os << "\n\n";
  char line[160];
  std::snprintf(line, sizeof line, "%-4s %-10s %s\n", "#", "component", "bytes per vector length (bits)");
  os << line;
  std::string head = "                ";
  const std::vector<unsigned> vls = m.sve ? m.sve_vls : std::vector<unsigned>{};
  for (unsigned i = 0; i <= kSveFfr; ++i) {  // SME's components are shown below
    if ((i != kFpsimd && !m.sve) || !m.fpsimd) continue;
    std::snprintf(line, sizeof line, "%-4u %-10s", i, component_name(i).c_str());
    os << line;
    if (i == kFpsimd) {
      std::snprintf(line, sizeof line, " %6u (V0-V31 32 x 16 + FPSR + FPCR; Linux stores 528 with padding)",
                    component_bytes(128)[i]);
      os << line;
    } else {
      for (unsigned v : vls) {
        std::snprintf(line, sizeof line, " %6u @%u", component_bytes(v)[i], v);
        os << line;
      }
    }
    os << "\n";
  }
  if (m.sve) {
    os << "\nSVE format (sve_state, SVE_SIG_REGS_SIZE = Z + P + FFR) per vector length:";
    for (unsigned v : vls) {
      const auto b = component_bytes(v);
      os << " " << v << ": " << (b[kSveZ] + b[kSveP] + b[kSveFfr]);
    }
    os << "\nsaved in SVE format with TIF_SVE (Z, P, FFR + FPSR/FPCR), else FPSIMD format (V0-V31 + FPSR/FPCR)\n";
  }
  if (m.sme) {
    os << "\nSME" << (m.sme2 ? "2" : "") << (m.fa64 ? " with FA64" : "") << ", streaming vector lengths";
    for (unsigned v : m.sme_vls) os << " " << v;
    os << " bits, default " << m.default_svl << "\n";
    for (unsigned v : m.sme_vls) {
      const auto b = component_bytes(m.layout(m.default_vl, v, true));
      os << "  SVL " << v << ": ZA " << b[kZa] << (m.sme2 ? ", ZT0 " + std::to_string(b[kZt0]) : std::string())
         << ", streaming Z " << b[kSveZ] << ", P " << b[kSveP] << ", FFR " << b[kSveFfr] << "\n";
    }
    os << "saved while PSTATE.ZA: ZA" << (m.sme2 ? " and ZT0" : "")
       << " (sme_save_state); in streaming mode the SVE format at the SVL\n";
  }
  if (m.fpmr) os << "FPMR: 8 bytes, saved and loaded with the FP state\n";
  os << "KVM: " << kvm_mode_name(m.kvm_mode) << "\n";
  os << "not modelled: guest SME\n";
}

void load_vms(const JsonIn& in, Scenario& s, std::map<std::string, size_t>& seen, const std::string& file) {
  const Machine& m = machine_of(s);
  fpusim::load_vms<VmDecl>(in, s, seen, file, [&](const JsonIn& v, VmDecl& d) {
    if (v.has("sve")) {
      JsonIn sv = v.at("sve");
      d.sve = sv.as_bool();
      if (d.sve && !m.sve) sv.fail("false: machine " + m.name + " has no SVE");
    }
    if (v.has("sve_vl")) {
      JsonIn vl = v.at("sve_vl");
      if (!d.sve) vl.fail("no \"sve_vl\" for a VM without SVE (\"sve\": true first)");
      const std::uint64_t x = vl.as_u64(2048);
      if (!m.supports_vl(static_cast<unsigned>(x))) {
        std::string vls;
        for (unsigned l : m.sve_vls) vls += (vls.empty() ? "" : ", ") + std::to_string(l);
        vl.fail("a vector length machine " + m.name + " supports (" + vls + ")");
      }
      d.sve_vl = static_cast<unsigned>(x);
    } else if (d.sve) {
      d.sve_vl = m.sve_vls.back();  // KVM's default: the largest the host supports (kvm_sve_max_vl)
    }
    if (v.has("fpmr")) {
      JsonIn f = v.at("fpmr");
      d.fpmr = f.as_bool();
      if (*d.fpmr && !m.fpmr) f.fail("false: machine " + m.name + " has no FPMR");
    }
  });
}

const std::vector<VmDecl>& vms_of(const Scenario& s) { return fpusim::vms_of<VmDecl>(s); }

const Machine& machine_of(const Scenario& s) { return static_cast<const Machine&>(*s.machine); }
const CostModel& costs_of(const Scenario& s) { return static_cast<const CostModel&>(*s.costs); }

}  // namespace fpusim::arm64
