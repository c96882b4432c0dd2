#include "sim/output/report.h"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

#include "models/x86/policy.h"

namespace fpusim {

namespace {

Json stats_object(const StatVector& v) {
  Json o = Json::object();
  const auto& t = stat_table();
  for (size_t i = 0; i < kNumStats; ++i) o[std::string(t[i].name)] = v[i];
  return o;
}

Json config_json(const x86::FpuStateConfig& c) {
  return Json{{"max_features", x86::mask_to_names(c.max_features)},
              {"default_features", x86::mask_to_names(c.default_features)},
              {"max_size", c.max_size},
              {"default_size", c.default_size}};
}

std::string hex(std::uint64_t v) {
  char b[32];
  std::snprintf(b, sizeof b, "0x%" PRIx64, v);
  return b;
}

std::string with_commas(std::uint64_t v) {
  std::string s = std::to_string(v);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

double pct(std::uint64_t a, std::uint64_t b) { return b ? 100.0 * static_cast<double>(a) / static_cast<double>(b) : 0; }

}  // namespace

Json report_json(const Scenario& s, const RunResult& r) {
  Json j;
  j["schema_version"] = kReportSchemaVersion;
  j["generator"] = std::string("fpusim ") + FPUSIM_VERSION;
  j["scenario"] = {{"file", s.file}, {"name", s.name}, {"description", s.description}};
  const x86::PolicyInfo& pi = *r.policy;
  j["policy"] = {{"name", pi.name}, {"kernels", pi.kernels}, {"description", pi.description}};
  Json m = s.machine_json;
  const x86::Machine& mm = s.machine;
  m["derived"] = {{"save_instruction", std::string(save_insn_name(mm.save_insn))},
                  {"restore_instruction", std::string(restore_insn_name(mm.restore_insn()))},
                  {"xcr0", hex(mm.xcr0)},
                  {"xss", hex(mm.xss)},
                  {"dynamic_features", x86::mask_to_names(mm.dynamic)},
                  {"fpu_kernel_cfg", config_json(mm.cfg.kernel)},
                  {"fpu_user_cfg", config_json(mm.cfg.user)},
                  {"fpu_guest_cfg", config_json(mm.cfg.guest)}};
  j["machine"] = m;
  if (!s.vms.empty()) {
    // Which KVM behaviour ran, and per VM how its guest got AMX room.
    Json vms = Json::array();
    for (const VmDecl& v : s.vms) {
      Json vcpus = Json::array();
      for (const VcpuDecl& c : v.vcpus) vcpus.push_back({{"name", c.name}, {"thread", c.thread}});
      vms.push_back({{"name", v.name},
                     {"process", v.process},
                     {"guest_features", x86::mask_to_names(v.features)},
                     {"xfd", v.xfd},
                     {"confidential", v.confidential},
                     {"amx_alloc", std::string(x86::amx_alloc_name(v.amx_alloc))},
                     {"vcpus", vcpus}});
    }
    j["kvm"] = {{"mode", std::string(pi.kvm->name())}, {"vms", vms}};
  }
  j["cost_model"] = s.costs_json;
  j["time_unit"] = "cycles";
  j["frequency_mhz"] = mm.frequency_mhz;

  j["totals"] = stats_object(r.stats.total);
  j["traps_by_kind"] = {{"nm_ts", r.stats.get(Stat::traps_nm_ts)},
                        {"nm_xfd", r.stats.get(Stat::traps_nm_xfd)},
                        {"ud", r.stats.get(Stat::traps_ud)}};
  Json defs = Json::object();
  for (const auto& st : stat_table()) {
    defs[std::string(st.name)] = {{"unit", std::string(st.unit)}, {"description", std::string(st.description)}};
  }
  j["stat_definitions"] = defs;

  Json pc = Json::array();
  for (size_t i = 0; i < r.context_names.size(); ++i) {
    Json c = {{"context", r.context_names[i]}};
    const StatVector& v = r.stats.per_context[i];
    for (size_t k = 0; k < kNumStats; ++k) {
      if (v[k]) c[std::string(stat_table()[k].name)] = v[k];
    }
    pc.push_back(c);
  }
  j["per_context"] = pc;

  Json comp = Json::array();
  for (unsigned i = 0; i < r.stats.per_component.size(); ++i) {
    const auto& c = r.stats.per_component[i];
    if (!(c.saves | c.restores)) continue;
    comp.push_back({{"component", x86::component_name(i)},
                    {"saves", c.saves},
                    {"restores", c.restores},
                    {"bytes_saved", c.bytes_saved},
                    {"bytes_restored", c.bytes_restored}});
  }
  j["per_component"] = comp;

  Json cause = Json::array();
  for (size_t i = 0; i < kNumCauses; ++i) {
    const auto& c = r.stats.per_cause[i];
    if (!(c.saves | c.restores | c.traps | c.cycles)) continue;
    cause.push_back({{"cause", std::string(cause_name(static_cast<Cause>(i)))},
                     {"description", std::string(cause_description(static_cast<Cause>(i)))},
                     {"saves", c.saves},
                     {"restores", c.restores},
                     {"traps", c.traps},
                     {"cycles", c.cycles}});
  }
  j["per_cause"] = cause;

  Json vs = Json::array();
  auto name = [&](ContextId c) -> std::string {
    if (c == kNoContext) return "";
    if (c == x86::kKernelContext) return "kernel";
    return r.context_names.at(c);
  };
  for (const auto& v : r.violations) {
    vs.push_back({{"kind", std::string(violation_kind_name(v.kind))},
                  {"time", v.time},
                  {"cpu", v.cpu},
                  {"context", name(v.context)},
                  {"other", name(v.other)},
                  {"components", x86::mask_to_names(v.components)},
                  {"detail", v.detail}});
  }
  j["violations"] = {{"total", r.total_violations},
                     {"lost", r.stats.get(Stat::violations_lost)},
                     {"leaked", r.stats.get(Stat::violations_leaked)},
                     {"exposed", r.stats.get(Stat::violations_exposed)},
                     {"recorded", vs}};
  j["exposure"] = {{"cycles", r.stats.get(Stat::exposure_cycles)},
                   {"byte_cycles", r.stats.get(Stat::exposure_byte_cycles)},
                   {"windows", r.stats.get(Stat::exposure_windows)},
                   {"peak_bytes", r.peak_exposed_bytes},
                   {"counts_as_violation", mm.lazyfp_vulnerable}};
  j["per_cpu_end_cycles"] = r.cpu_end;
  return j;
}

void write_text_summary(std::ostream& os, const Scenario& s, const RunResult& r) {
  const Stats& st = r.stats;
  os << "fpusim " << FPUSIM_VERSION << ": " << s.name << " under " << r.policy->name << " on " << s.machine.name << " ("
     << s.machine.cpus << " CPUs, " << save_insn_name(s.machine.save_insn) << ")\n";
  auto row = [&](const char* label, std::uint64_t v, const char* unit) {
    os << "  " << std::left << std::setw(26) << label << std::right << std::setw(16) << with_commas(v) << "  " << unit
       << "\n";
  };
  row("events", st.get(Stat::events), "");
  row("context switches", st.get(Stat::context_switches), "");
  row("saves", st.get(Stat::saves), "");
  row("restores", st.get(Stat::restores), "");
  row("restores skipped (valid)", st.get(Stat::restores_skipped), "");
  row("bytes saved", st.get(Stat::bytes_saved), "bytes");
  row("bytes restored", st.get(Stat::bytes_restored), "bytes");
  os << "  " << std::left << std::setw(26) << "traps" << std::right << std::setw(16)
     << with_commas(st.get(Stat::traps)) << "  (#NM TS " << st.get(Stat::traps_nm_ts) << ", #NM XFD "
     << st.get(Stat::traps_nm_xfd) << ", #UD " << st.get(Stat::traps_ud) << ", SIGILL " << st.get(Stat::sigill)
     << ")\n";
  row("XFD MSR writes", st.get(Stat::xfd_writes), "");
  row("CR0.TS writes", st.get(Stat::cr0_ts_sets) + st.get(Stat::cr0_ts_clears), "");
  row("fpstate reallocations", st.get(Stat::fpstate_reallocs), "");
  if (!s.vms.empty()) {
    os << "  KVM: " << r.policy->kvm->name();
    for (const VmDecl& v : s.vms) {
      os << "; " << v.name << (v.confidential ? " (confidential)" : "");
      if (v.features & s.machine.dynamic) os << " guest AMX room at " << x86::amx_alloc_name(v.amx_alloc);
    }
    os << "\n";
    row("KVM_RUNs", st.get(Stat::kvm_runs), "");
    os << "  " << std::left << std::setw(26) << "guest FPU loads / puts" << std::right << std::setw(16)
       << (with_commas(st.get(Stat::kvm_fpu_loads)) + " / " + with_commas(st.get(Stat::kvm_fpu_unloads))) << "\n";
    row("VM exits", st.get(Stat::vm_exits), "");
    os << "  " << std::left << std::setw(26) << "  FPU-caused" << std::right << std::setw(16)
       << with_commas(st.get(Stat::fpu_vm_exits)) << "  (guest #NM " << st.get(Stat::guest_nm_injected) << ", #GP "
       << st.get(Stat::guest_gp) << ", #UD " << st.get(Stat::guest_ud) << ")\n";
  }
  row("FPU management", st.get(Stat::fpu_cycles), "cycles");
  os << "  " << std::left << std::setw(26) << "  share of workload" << std::right << std::setw(15) << std::fixed
     << std::setprecision(3) << pct(st.get(Stat::fpu_cycles), st.get(Stat::workload_cycles)) << "%\n";
  row("simulated time", st.get(Stat::sim_cycles), "cycles");
  row("exposure (LazyFP window)", st.get(Stat::exposure_cycles), "cycles");
  os << "  violations: " << r.total_violations << " (lost " << st.get(Stat::violations_lost) << ", leaked "
     << st.get(Stat::violations_leaked) << ", exposed " << st.get(Stat::violations_exposed) << ")\n";
  size_t shown = 0;
  for (const auto& v : r.violations) {
    if (shown++ == 10) {
      os << "    ... (see the JSON report for all)\n";
      break;
    }
    os << "    " << violation_kind_name(v.kind) << " at cycle " << v.time << " on cpu" << v.cpu << ": "
       << (v.context == kNoContext ? std::string("?") : v.context == x86::kKernelContext ? "kernel" : r.context_names[v.context])
       << " " << x86::mask_to_names(v.components) << ": " << v.detail << "\n";
  }
}

void write_csv(std::ostream& os, const Json& report) {
  os << "section,name,unit,value\n";
  const Json& defs = report["stat_definitions"];
  for (auto it = report["totals"].begin(); it != report["totals"].end(); ++it) {
    os << "totals," << it.key() << "," << defs[it.key()]["unit"].get<std::string>() << "," << it.value().dump()
       << "\n";
  }
  for (const auto& c : report["per_context"]) {
    for (auto it = c.begin(); it != c.end(); ++it) {
      if (it.key() == "context") continue;
      os << "context:" << c["context"].get<std::string>() << "," << it.key() << ","
         << defs[it.key()]["unit"].get<std::string>() << "," << it.value().dump() << "\n";
    }
  }
  for (const auto& c : report["per_component"]) {
    for (const char* k : {"saves", "restores", "bytes_saved", "bytes_restored"}) {
      os << "component:" << c["component"].get<std::string>() << "," << k << ","
         << (std::strncmp(k, "bytes", 5) == 0 ? "bytes" : "count") << "," << c[k].dump() << "\n";
    }
  }
  for (const auto& c : report["per_cause"]) {
    for (const char* k : {"saves", "restores", "traps", "cycles"}) {
      os << "cause:" << c["cause"].get<std::string>() << "," << k << ","
         << (std::strcmp(k, "cycles") == 0 ? "cycles" : "count") << "," << c[k].dump() << "\n";
    }
  }
}

namespace {
struct Column {
  const char* label;
  const char* stat;  // totals key; nullptr for computed
};
constexpr Column kCompareColumns[] = {
    {"saves", "saves"},
    {"restores", "restores"},
    {"restores skipped", "restores_skipped"},
    {"KiB saved", nullptr},
    {"KiB restored", nullptr},
    {"traps", "traps"},
    {"  #NM CR0.TS", "traps_nm_ts"},
    {"  #NM XFD", "traps_nm_xfd"},
    {"CR0.TS writes", nullptr},
    {"XFD writes", "xfd_writes"},
    {"FPU cycles", "fpu_cycles"},
    {"overhead %", nullptr},
    {"exposure cycles", "exposure_cycles"},
    {"violations", nullptr},
};

std::string cell(const Json& rep, const Column& c) {
  const Json& t = rep["totals"];
  auto g = [&](const char* k) { return t[k].get<std::uint64_t>(); };
  std::ostringstream o;
  if (c.stat) return with_commas(g(c.stat));
  const std::string l = c.label;
  if (l == "KiB saved") o << std::fixed << std::setprecision(1) << g("bytes_saved") / 1024.0;
  else if (l == "KiB restored") o << std::fixed << std::setprecision(1) << g("bytes_restored") / 1024.0;
  else if (l == "CR0.TS writes") o << with_commas(g("cr0_ts_sets") + g("cr0_ts_clears"));
  else if (l == "overhead %") o << std::fixed << std::setprecision(3) << pct(g("fpu_cycles"), g("workload_cycles"));
  else if (l == "violations") o << rep["violations"]["total"].get<std::uint64_t>();
  return o.str();
}
}  // namespace

void write_compare_text(std::ostream& os, const Scenario& s, const std::vector<PolicyRow>& rows) {
  os << s.name << " on " << s.machine.name << " (" << s.machine.cpus << " CPUs, "
     << save_insn_name(s.machine.save_insn) << "), costs " << s.costs.name << "\n";
  size_t w = 18;
  for (const auto& r : rows) w = std::max(w, r.policy.size() + 2);
  os << std::left << std::setw(20) << "";
  for (const auto& r : rows) os << std::right << std::setw(static_cast<int>(w)) << r.policy;
  os << "\n";
  auto line = [&](const Column& c) {
    os << std::left << std::setw(20) << c.label;
    for (const auto& r : rows) os << std::right << std::setw(static_cast<int>(w)) << cell(r.report, c);
    os << "\n";
  };
  for (const auto& c : kCompareColumns) line(c);
  // KVM rows, for scenarios with VMs.
  static const Column kKvmColumns[] = {{"KVM_RUNs", "kvm_runs"},
                                       {"guest FPU loads", "kvm_fpu_loads"},
                                       {"guest FPU puts", "kvm_fpu_unloads"},
                                       {"VM exits", "vm_exits"},
                                       {"  FPU-caused", "fpu_vm_exits"},
                                       {"guest #NM", "guest_nm_injected"}};
  if (!s.vms.empty()) {
    for (const auto& c : kKvmColumns) line(c);
  }
}

Json compare_json(const Scenario& s, const std::vector<PolicyRow>& rows) {
  Json j;
  j["schema_version"] = kReportSchemaVersion;
  j["generator"] = std::string("fpusim ") + FPUSIM_VERSION;
  j["scenario"] = {{"file", s.file}, {"name", s.name}};
  Json pol = Json::object();
  for (const auto& r : rows) {
    pol[r.policy] = {{"totals", r.report["totals"]},
                     {"traps_by_kind", r.report["traps_by_kind"]},
                     {"violations", r.report["violations"]},
                     {"exposure", r.report["exposure"]}};
  }
  j["policies"] = pol;
  if (!rows.empty()) {
    j["machine"] = rows.front().report["machine"];
    j["cost_model"] = rows.front().report["cost_model"];
    j["stat_definitions"] = rows.front().report["stat_definitions"];
  }
  return j;
}

void write_compare_csv(std::ostream& os, const std::vector<PolicyRow>& rows) {
  os << "policy";
  for (const auto& st : stat_table()) os << "," << st.name;
  os << ",violations\n";
  for (const auto& r : rows) {
    os << r.policy;
    for (const auto& st : stat_table()) os << "," << r.report["totals"][std::string(st.name)].dump();
    os << "," << r.report["violations"]["total"].dump() << "\n";
  }
}

std::vector<std::string> check_expectation(const Expectation& x, const Json& report) {
  std::vector<std::string> out;
  for (const auto& [stat, bound] : x.totals) {
    const std::string name(stat_info(stat).name);
    const auto v = report["totals"][name].get<std::uint64_t>();
    if (!bound.contains(v)) out.push_back(name + " = " + std::to_string(v) + ", expected " + bound.str());
  }
  auto check = [&](const std::optional<Bound>& b, const char* kind) {
    const auto v = report["violations"][kind].get<std::uint64_t>();
    if (b) {
      if (!b->contains(v)) out.push_back(std::string("violations.") + kind + " = " + std::to_string(v) + ", expected " + b->str());
    } else if (v) {
      out.push_back(std::string("violations.") + kind + " = " + std::to_string(v) + ", expected none");
    }
  };
  check(x.lost, "lost");
  check(x.leaked, "leaked");
  check(x.exposed, "exposed");
  return out;
}

}  // namespace fpusim
