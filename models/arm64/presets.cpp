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
  f.require_all_read();
  if (m.sve2 && !m.sve) throw InputError{file, f.path() + "/sve2", "SVE2 needs SVE (\"sve\": true)"};
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
  in.require_all_read();
  return m;
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
  if (cm.save_bytes_per_cycle <= 0 || cm.restore_bytes_per_cycle <= 0 || cm.memcpy_bytes_per_cycle <= 0) {
    throw InputError{file, "", "bytes per cycle must be positive"};
  }
  in.require_all_read();
  return cm;
}

void print_layout(std::ostream& os, const Machine& m) {
  os << m.name << ": " << m.description << "\n\n";
  os << "arm64, " << (m.sve2 ? "SVE2" : m.sve ? "SVE" : "no SVE");
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
  for (unsigned i = 0; i < kNumComponents; ++i) {
    if (i != kFpsimd && !m.sve) continue;
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
  os << "not modelled: SME (ZA, ZT0, streaming mode), FPMR\n";
}

const Machine& machine_of(const Scenario& s) { return static_cast<const Machine&>(*s.machine); }
const CostModel& costs_of(const Scenario& s) { return static_cast<const CostModel&>(*s.costs); }

}  // namespace fpusim::arm64
