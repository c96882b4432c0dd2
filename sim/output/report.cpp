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


namespace fpusim {

namespace {

Json stats_object(const StatSet& set, const StatVector& v) {
  Json o = Json::object();
  for (StatId i = 0; i < set.size(); ++i) o[std::string(set.info(i).name)] = v[i];
  return o;
}

double pct(std::uint64_t a, std::uint64_t b) { return b ? 100.0 * static_cast<double>(a) / static_cast<double>(b) : 0; }

}  // namespace

Json report_json(const Scenario& s, const RunResult& r) {
  Json j;
  j["schema_version"] = kReportSchemaVersion;
  j["generator"] = std::string("fpusim ") + FPUSIM_VERSION;
  j["scenario"] = {{"file", s.file}, {"name", s.name}, {"description", s.description}};
  const PolicyDesc& pi = *r.policy;
  j["policy"] = {{"name", pi.name}, {"kernels", pi.kernels}, {"description", pi.description}};
  j["machine"] = s.machine_json;
  r.arch->report_sections(j, s, pi);
  j["cost_model"] = s.costs_json;
  j["time_unit"] = "cycles";
  j["frequency_mhz"] = s.machine->frequency_mhz;
  // The SystemC module hierarchy the run had (RunResult::modules).
  j["platform"] = {{"modules", r.modules}};

  const Arch& arch = *r.arch;
  const StatSet set = stat_set(arch);
  j["totals"] = stats_object(set, r.stats.total);
  Json traps = Json::object();
  for (const auto& [key, id] : arch.trap_kinds()) traps[std::string(key)] = r.stats.total[id];
  j["traps_by_kind"] = traps;
  Json defs = Json::object();
  Json groups = Json::array();
  for (const StatGroup* g : set.groups()) {
    Json names = Json::array();
    for (const StatInfo& st : g->stats) {
      defs[std::string(st.name)] = {{"unit", std::string(st.unit)}, {"description", std::string(st.description)},
                                    {"group", std::string(g->name)}};
      names.push_back(std::string(st.name));
    }
    groups.push_back({{"name", std::string(g->name)}, {"description", std::string(g->description)}, {"stats", names}});
  }
  j["stat_definitions"] = defs;
  j["stat_groups"] = groups;

  Json pc = Json::array();
  for (size_t i = 0; i < r.context_names.size(); ++i) {
    Json c = {{"context", r.context_names[i]}};
    const StatVector& v = r.stats.per_context[i];
    for (StatId k = 0; k < set.size(); ++k) {
      if (v[k]) c[std::string(set.info(k).name)] = v[k];
    }
    pc.push_back(c);
  }
  j["per_context"] = pc;

  Json comp = Json::array();
  for (unsigned i = 0; i < r.stats.per_component.size(); ++i) {
    const auto& c = r.stats.per_component[i];
    if (!(c.saves | c.restores)) continue;
    comp.push_back({{"component", arch.component_name(i)},
                    {"saves", c.saves},
                    {"restores", c.restores},
                    {"bytes_saved", c.bytes_saved},
                    {"bytes_restored", c.bytes_restored}});
  }
  j["per_component"] = comp;

  Json cause = Json::array();
  for (size_t i = 0; i < arch.causes().size(); ++i) {
    const auto& c = r.stats.per_cause[i];
    if (!(c.saves | c.restores | c.traps | c.cycles)) continue;
    cause.push_back({{"cause", std::string(arch.causes()[i].name)},
                     {"description", std::string(arch.causes()[i].description)},
                     {"saves", c.saves},
                     {"restores", c.restores},
                     {"traps", c.traps},
                     {"cycles", c.cycles}});
  }
  j["per_cause"] = cause;

  Json vs = Json::array();
  auto name = [&](ContextId c) -> std::string {
    if (c == kNoContext) return "";
    if (c == kKernelContext) return "kernel";
    return r.context_names.at(c);
  };
  for (const auto& v : r.violations) {
    vs.push_back({{"kind", std::string(violation_kind_name(v.kind))},
                  {"time", v.time},
                  {"cpu", v.cpu},
                  {"context", name(v.context)},
                  {"other", name(v.other)},
                  {"components", arch.components_string(v.components)},
                  {"detail", v.detail}});
  }
  Json vj = {{"total", r.total_violations}};
  for (const ViolationKindInfo& k : violation_kinds()) vj[std::string(k.name)] = r.stats.get(k.stat);
  vj["recorded"] = vs;
  j["violations"] = vj;
  j["exposure"] = {{"cycles", r.stats.get(Stat::exposure_cycles)},
                   {"byte_cycles", r.stats.get(Stat::exposure_byte_cycles)},
                   {"windows", r.stats.get(Stat::exposure_windows)},
                   {"peak_bytes", r.peak_exposed_bytes},
                   {"counts_as_violation", s.machine->lazyfp_vulnerable}};
  j["per_cpu_end_cycles"] = r.cpu_end;
  return j;
}

void write_text_summary(std::ostream& os, const Scenario& s, const RunResult& r) {
  const Stats& st = r.stats;
  const Arch& arch = *r.arch;
  os << "fpusim " << FPUSIM_VERSION << ": " << s.name << " under " << r.policy->name << " on " << s.machine->name << " ("
     << cpus_text(s.machine->cpus) << ", " << arch.machine_brief(s) << ")\n";
  SummaryTable t(os);
  auto row = [&](const char* label, std::uint64_t v, const char* unit) { t.row(label, v, unit); };
  row("events", st.get(Stat::events), "");
  row("context switches", st.get(Stat::context_switches), "");
  row("saves", st.get(Stat::saves), "");
  row("restores", st.get(Stat::restores), "");
  row("restores skipped (valid)", st.get(Stat::restores_skipped), "");
  row("bytes saved", st.get(Stat::bytes_saved), "bytes");
  row("bytes restored", st.get(Stat::bytes_restored), "bytes");
  t.text("traps", with_commas(st.get(Stat::traps)), arch.trap_detail(st));
  arch.summary_rows(t, s, *r.policy, st);
  row("FPU management", st.get(Stat::fpu_cycles), "cycles");
  os << "  " << std::left << std::setw(26) << "  share of workload" << std::right << std::setw(15) << std::fixed
     << std::setprecision(3) << pct(st.get(Stat::fpu_cycles), st.get(Stat::workload_cycles)) << "%\n";
  row("simulated time", st.get(Stat::sim_cycles), "cycles");
  row("exposure (LazyFP window)", st.get(Stat::exposure_cycles), "cycles");
  os << "  violations: " << r.total_violations << " (";
  for (const ViolationKindInfo& k : violation_kinds()) {
    os << (k.kind == ViolationKind::kLost ? "" : ", ") << k.label << " " << st.get(k.stat);
  }
  os << ")\n";
  size_t shown = 0;
  for (const auto& v : r.violations) {
    if (shown++ == 10) {
      os << "    ... (see the JSON report for all)\n";
      break;
    }
    os << "    " << violation_kind_name(v.kind) << " at cycle " << v.time << " on cpu" << v.cpu << ": "
       << (v.context == kNoContext ? std::string("?") : v.context == kKernelContext ? "kernel" : r.context_names[v.context])
       << " " << r.arch->components_string(v.components) << ": " << v.detail << "\n";
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
// The comparison's rows: the core's, with the architecture's after "traps"
// and at the end (Arch::compare_rows).
struct Column {
  std::string label;
  std::vector<std::string_view> sum_of;  // counters summed; empty: computed from the label
  std::string_view violation_kind = {};   // a row of violations of this kind
};

std::vector<Column> compare_columns(const Arch& arch, const Scenario& s) {
  std::vector<Column> c = {{"saves", {"saves"}},
                           {"restores", {"restores"}},
                           {"restores skipped", {"restores_skipped"}},
                           {"KiB saved", {}},
                           {"KiB restored", {}},
                           {"traps", {"traps"}}};
  for (const CompareRow& r : arch.compare_rows(s, false)) c.push_back({std::string(r.label), r.sum_of});
  for (Column x : std::vector<Column>{{"FPU cycles", {"fpu_cycles"}},
                                      {"overhead %", {}},
                                      {"exposure cycles", {"exposure_cycles"}},
                                      {"violations", {}}}) {
    c.push_back(std::move(x));
  }
  for (const ViolationKindInfo& k : violation_kinds()) c.push_back({"  " + std::string(k.label), {}, k.name});
  for (const CompareRow& r : arch.compare_rows(s, true)) c.push_back({std::string(r.label), r.sum_of});
  return c;
}

std::string cell(const Json& rep, const Column& c) {
  const Json& t = rep["totals"];
  auto g = [&](std::string_view k) { return t[std::string(k)].get<std::uint64_t>(); };
  if (!c.sum_of.empty()) {
    std::uint64_t sum = 0;
    for (std::string_view k : c.sum_of) sum += g(k);
    return with_commas(sum);
  }
  std::ostringstream o;
  if (c.label == "KiB saved") o << std::fixed << std::setprecision(1) << g("bytes_saved") / 1024.0;
  else if (c.label == "KiB restored") o << std::fixed << std::setprecision(1) << g("bytes_restored") / 1024.0;
  else if (c.label == "overhead %") o << std::fixed << std::setprecision(3) << pct(g("fpu_cycles"), g("workload_cycles"));
  else if (c.label == "violations") o << rep["violations"]["total"].get<std::uint64_t>();
  else if (!c.violation_kind.empty()) o << rep["violations"][std::string(c.violation_kind)].get<std::uint64_t>();
  return o.str();
}
}  // namespace

void write_compare_text(std::ostream& os, const Scenario& s, const std::vector<PolicyRow>& rows) {
  const Arch& arch = scenario_arch(s);
  os << s.name << " on " << s.machine->name << " (" << cpus_text(s.machine->cpus) << ", " << arch.machine_brief(s)
     << "), costs " << s.costs->name << "\n";
  size_t w = 18;
  for (const auto& r : rows) w = std::max(w, r.policy.size() + 2);
  os << std::left << std::setw(20) << "";
  for (const auto& r : rows) os << std::right << std::setw(static_cast<int>(w)) << r.policy;
  os << "\n";
  for (const Column& c : compare_columns(arch, s)) {
    os << std::left << std::setw(20) << c.label;
    for (const auto& r : rows) os << std::right << std::setw(static_cast<int>(w)) << cell(r.report, c);
    os << "\n";
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
  const std::vector<const StatInfo*> stats = all_stats();
  for (const StatInfo* st : stats) os << "," << st->name;
  os << ",violations\n";
  for (const auto& r : rows) {
    os << r.policy;
    for (const StatInfo* st : stats) os << "," << r.report["totals"][std::string(st->name)].dump();
    os << "," << r.report["violations"]["total"].dump() << "\n";
  }
}

std::vector<std::string> check_expectation(const Expectation& x, const Json& report) {
  std::vector<std::string> out;
  for (const auto& [name, bound] : x.totals) {
    const auto v = report["totals"][name].get<std::uint64_t>();
    if (!bound.contains(v)) out.push_back(name + " = " + std::to_string(v) + ", expected " + bound.str());
  }
  for (const auto& [ctx, stats] : x.per_context) {
    const Json* c = nullptr;
    for (const Json& e : report["per_context"]) {
      if (e["context"] == ctx) c = &e;
    }
    for (const auto& [name, bound] : stats) {
      const std::uint64_t v = c && c->contains(name) ? (*c)[name].get<std::uint64_t>() : 0;
      if (!bound.contains(v)) out.push_back(ctx + "." + name + " = " + std::to_string(v) + ", expected " + bound.str());
    }
  }
  for (const ViolationKindInfo& k : violation_kinds()) {
    const std::string kind(k.name);
    const auto v = report["violations"][kind].get<std::uint64_t>();
    const std::optional<Bound>& b = x.violations[static_cast<unsigned>(k.kind)];
    if (b) {
      if (!b->contains(v)) out.push_back("violations." + kind + " = " + std::to_string(v) + ", expected " + b->str());
    } else if (v) {
      out.push_back("violations." + kind + " = " + std::to_string(v) + ", expected none");
    }
  }
  return out;
}

}  // namespace fpusim
