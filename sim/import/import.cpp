#include "sim/import/import.h"

#include <algorithm>
#include <iomanip>
#include <map>
#include <ostream>
#include <set>
#include <sstream>

#include "models/core/arch.h"
#include "models/core/observer.h"
#include "sim/input/json_input.h"
#include "sim/input/paths.h"
#include "sim/input/presets.h"
#include "sim/platform/platform.h"

namespace fpusim::trace_import {

namespace {

std::string base_name(const std::string& p) {
  std::string b = p.substr(p.rfind('/') == std::string::npos ? 0 : p.rfind('/') + 1);
  for (const char* ext : {".json", ".dat", ".txt", ".trace"}) {
    const std::string e(ext);
    if (b.size() > e.size() && b.compare(b.size() - e.size(), e.size(), e) == 0) b.resize(b.size() - e.size());
  }
  return b;
}

// Relative path from the directory of `from` to `to` (both as given).
std::string relative_to(const std::string& to, const std::string& from) {
  if (from.empty() || to.empty() || to[0] == '/' || from[0] == '/') return to;
  std::string d = dir_of(from);
  std::string up;
  if (d == ".") return to;
  for (char c : d) up += c == '/' ? "../" : "";
  return up + "../" + to;
}

}  // namespace

Imported import_trace(const ImportRequest& rq) {
  Imported im;
  im.input = read_trace(rq.trace);
  const TraceInput& in = im.input;

  // The architecture whose FPU events the trace holds.
  std::uint64_t most = 0;
  std::string known;
  for (const Arch* a : archs()) {
    const TraceImporter* ti = a->trace_importer();
    if (!ti) continue;
    known += (known.empty() ? "" : ", ") + std::string(a->name());
    const std::uint64_t n = ti->recognises(in);
    if (n > most) most = n, im.importer = ti;
  }
  if (!im.importer) {
    throw InputError{rq.trace, "", "none of its " + std::to_string(in.records.size()) +
                                       " records is an FPU event of an architecture with an importer (" + known +
                                       ": x86_fpu:* or kvm:kvm_fpu); record them (tools/capture_fpu_trace.sh)"};
  }
  const TraceImporter& ti = *im.importer;

  im.kernel = !rq.kernel.empty() ? rq.kernel : in.kernel;
  ti.policy_for_kernel(im.kernel, rq.kernel.empty(), rq.trace, im.why);

  MachineChoice mc;
  if (!rq.machine.empty()) {
    const std::string file = preset_path("machines", rq.machine, "");
    Json m;
    try {
      m = load_json_file(file);
    } catch (const InputError& e) {
      throw InputError{rq.trace, "", "--machine " + rq.machine + ": " + e.what()};
    }
    if (!m.contains("frequency_mhz") || !m["frequency_mhz"].is_number() || m["frequency_mhz"].get<double>() < 1) {
      throw InputError{rq.trace, "", "--machine " + rq.machine + ": " + file + ": /frequency_mhz: expected the machine's frequency in MHz"};
    }
    mc.machine = rq.machine;
    mc.mhz = static_cast<std::uint64_t>(m["frequency_mhz"].get<double>());
    mc.costs = ti.default_costs(rq.machine);
    im.why.push_back("machine " + mc.machine + " (--machine)");
  } else {
    mc = ti.choose_machine(in, im.why);
  }
  if (mc.mhz == 0) throw InputError{rq.trace, "", "machine " + mc.machine + " has no frequency_mhz"};
  im.machine = mc.machine;
  im.costs = !rq.costs.empty() ? rq.costs : mc.costs;

  // CPUs: every CPU the trace shows, and the machine's count the capture
  // header names ("...; 2 CPUs; ...").
  int max_cpu = 0;
  for (const TraceRecord& r : in.records) max_cpu = std::max(max_cpu, r.cpu);
  unsigned header_cpus = 0;
  if (auto it = in.meta.find("cpu"); it != in.meta.end()) {
    const std::string& line = it->second;
    const auto p = line.find(" CPUs");
    size_t b = p;
    while (p != std::string::npos && b > 0 && std::isdigit(static_cast<unsigned char>(line[b - 1]))) --b;
    if (p != std::string::npos && b < p && p - b < 6) header_cpus = static_cast<unsigned>(std::stoul(line.substr(b, p - b)));
  }

  ConvertOptions o;
  o.name = !rq.name.empty() ? rq.name : base_name(rq.output.empty() ? rq.trace : rq.output);
  o.machine = im.machine;
  o.costs = im.costs;
  o.cpus = std::max<unsigned>(header_cpus, static_cast<unsigned>(max_cpu + 1));
  o.mhz = mc.mhz;
  o.source = rq.output.empty() ? rq.trace : relative_to(rq.trace, rq.output);
  o.kernel = im.kernel;
  im.conversion = ti.convert(in, o);
  return im;
}

void write_import_summary(std::ostream& os, const Imported& im, const std::string& output) {
  const TraceInput& in = im.input;
  const Conversion& c = im.conversion;
  os << in.file << ": " << in.format << ", " << in.records.size() << " records on CPU(s)";
  for (int cpu : c.cpus) os << " " << cpu;
  os << (in.raw_clock ? " (a raw clock: timestamps taken as nanoseconds)" : "") << "\n";
  for (const std::string& w : im.why) os << "  " << w << "\n";
  if (in.lines_joined) os << "  " << in.lines_joined << " wrapped lines joined back to their records\n";
  if (in.lines_skipped) os << "  " << in.lines_skipped << " lines skipped (neither a record nor a comment)\n";
  if (in.unreadable_records) os << "  " << in.unreadable_records << " records of events without a format skipped\n";
  if (in.lost_events) {
    os << "  the ring buffer lost " << in.lost_events << " events (";
    for (size_t i = 0; i < in.lost_at.size() && i < 3; ++i) os << (i ? "; " : "") << in.lost_at[i];
    os << (in.lost_at.size() > 3 ? "; ..." : "") << "): counts near there may differ\n";
  }
  os << "  " << c.user_tasks << " user tasks, " << c.kthreads << " kernel threads; expected under deferred: "
     << c.saves << " saves, " << c.restores << " restores\n";
  if (!c.inferred.empty()) {
    os << "  inferred from the kernel's FPU events:";
    for (const auto& [k, v] : c.inferred) os << " " << k << " " << v;
    os << "\n";
  }
  for (const std::string& d : c.discrepancies) os << "  discrepancy: " << d << "\n";
  if (!output.empty()) os << "  wrote " << output << "\n";
}

namespace {

// The model's saves and restores, in order.
struct ModelOp {
  CpuId cpu;
  Cycles t;
  ContextId ctx;
  bool save;
  std::string kind;
};

class OpCollector : public Observer {
 public:
  OpCollector(const Arch& arch, const TraceImporter& importer) : arch_(arch), importer_(importer) {}
  void on_operation(const OpRecord& op) override {
    if (op.category != Stat::save_cycles && op.category != Stat::restore_cycles) return;
    const bool save = op.category == Stat::save_cycles;
    ops.push_back({op.cpu, op.time, op.ctx, save, importer_.model_row(op, save, arch_.causes().at(op.cause).name)});
  }
  std::vector<ModelOp> ops;

 private:
  const Arch& arch_;
  const TraceImporter& importer_;
};

std::string record_text(const TraceRecord& r) {
  std::ostringstream s;
  s << std::setw(16) << r.comm << "-" << std::left << std::setw(6) << r.pid << std::right << " [" << std::setw(3)
    << std::setfill('0') << r.cpu << std::setfill(' ') << "] " << (r.flags.empty() ? "" : r.flags + " ")
    << r.ns / 1000000000 << "." << std::setw(6) << std::setfill('0') << (r.ns % 1000000000) / 1000 << std::setfill(' ')
    << ": " << r.event << ": " << r.args;
  return s.str();
}

}  // namespace

bool validate(std::ostream& os, const Imported& im, const Scenario& s, const PolicyDesc& policy) {
  const Arch& arch = scenario_arch(s);
  OpCollector collect(arch, *im.importer);
  RunOptions options;
  options.observers.push_back(&collect);
  const RunResult r = run_scenario(s, policy, options);
  const Conversion& c = im.conversion;
  bool ok = true;

  os << "validate " << im.input.file << " (" << im.input.format << ", " << im.input.records.size()
     << " records) on " << s.machine->name << ", " << cpus_text(s.machine->cpus) << ", policy " << policy.name << "\n";
  for (const std::string& w : im.why) os << "  " << w << "\n";
  if (!c.inferred.empty()) {
    os << "  inferred from the kernel's FPU events:";
    for (const auto& [k, v] : c.inferred) os << " " << k << " " << v;
    os << "\n";
  }
  if (im.input.lost_events) os << "  the trace lost " << im.input.lost_events << " events (ring buffer overrun)\n";

  // Per kind.
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> kinds;  // kernel, model
  std::vector<std::string> order;
  const std::vector<OpKind>& op_kinds = im.importer->op_kinds();
  for (const OpKind& k : op_kinds) kinds[k.name], order.push_back(k.name);
  for (const KernelOp& k : c.kernel_ops) ++kinds[k.kind].first;
  for (const ModelOp& m : collect.ops) {
    if (!kinds.count(m.kind)) order.push_back(m.kind);
    ++kinds[m.kind].second;
  }
  os << "\n  " << std::left << std::setw(24) << "kind" << std::right << std::setw(8) << "kernel" << std::setw(8) << "model"
     << "  what the kernel logged\n";
  std::uint64_t ks = 0, kr = 0;
  for (const std::string& k : order) {
    const auto [kn, mn] = kinds[k];
    if (kn != mn) ok = false;
    std::string what = "not logged by the kernel: a model operation of its own";
    for (const OpKind& o : op_kinds) {
      if (k == o.name) what = o.what;
    }
    os << "  " << std::left << std::setw(24) << k << std::right << std::setw(8) << kn << std::setw(8) << mn
       << (kn == mn ? "  " : " *") << what << "\n";
    (k.rfind("save", 0) == 0 ? ks : kr) += kn;
  }
  const std::uint64_t ms = r.stats.get(Stat::saves), mr = r.stats.get(Stat::restores);
  os << "  " << std::left << std::setw(24) << "saves" << std::right << std::setw(8) << ks << std::setw(8) << ms
     << (ks == ms ? "" : " *") << "\n";
  os << "  " << std::left << std::setw(24) << "restores" << std::right << std::setw(8) << kr << std::setw(8) << mr
     << (kr == mr ? "" : " *") << "\n";
  ok = ok && ks == ms && kr == mr;

  // Per task.
  std::map<std::string, ContextId> ids;
  for (size_t i = 0; i < r.context_names.size(); ++i) ids[r.context_names[i]] = static_cast<ContextId>(i);
  std::map<std::string, std::array<std::uint64_t, 4>> tasks;  // kernel saves, restores, model saves, restores
  for (const KernelOp& k : c.kernel_ops) ++tasks[k.ctx][k.save ? 0 : 1];
  for (size_t i = 0; i < r.context_names.size(); ++i) {
    const auto& v = r.stats.per_context[i];
    const std::uint64_t sv = v[static_cast<StatId>(Stat::saves)], rs = v[static_cast<StatId>(Stat::restores)];
    if (sv || rs || tasks.count(r.context_names[i])) {
      tasks[r.context_names[i]][2] = sv;
      tasks[r.context_names[i]][3] = rs;
    }
  }
  size_t width = 12;
  for (const auto& [n, v] : tasks) width = std::max(width, n.size());
  os << "\n  " << std::left << std::setw(static_cast<int>(width)) << "task" << std::right << std::setw(14)
     << "saves k/m" << std::setw(16) << "restores k/m" << "\n";
  for (const auto& [n, v] : tasks) {
    const bool same = v[0] == v[2] && v[1] == v[3];
    ok = ok && same;
    os << "  " << std::left << std::setw(static_cast<int>(width)) << n << std::right << std::setw(14)
       << (std::to_string(v[0]) + "/" + std::to_string(v[2])) << std::setw(16)
       << (std::to_string(v[1]) + "/" + std::to_string(v[3])) << (same ? "" : "  *") << "\n";
  }
  if (!c.discrepancies.empty()) {
    // The kernel decided what its own rules, tracked from its events, say
    // it would not: the model follows those rules, so it cannot agree.
    ok = false;
    os << "\n  " << c.discrepancies.size() << " discrepancies between the kernel's events and its rules *\n";
    for (size_t i = 0; i < c.discrepancies.size() && i < 5; ++i) os << "    " << c.discrepancies[i] << "\n";
    if (c.discrepancies.size() > 5) os << "    ...\n";
  }
  const std::uint64_t lost = r.stats.get(Stat::violations_lost), leaked = r.stats.get(Stat::violations_leaked);
  if (lost || leaked) {
    ok = false;
    os << "\n  the model found " << lost << " lost and " << leaked << " leaked states in a run the kernel got right *\n";
  }

  // The first divergence: per task and direction, the first operation one
  // side did more often than the other; the earliest of those.
  if (!ok) {
    std::map<std::pair<std::string, bool>, std::vector<const KernelOp*>> kk;
    std::map<std::pair<std::string, bool>, std::vector<const ModelOp*>> mm;
    for (const KernelOp& k : c.kernel_ops) kk[{k.ctx, k.save}].push_back(&k);
    for (const ModelOp& m : collect.ops) {
      if (m.ctx < r.context_names.size()) mm[{r.context_names[m.ctx], m.save}].push_back(&m);
    }
    std::set<std::pair<std::string, bool>> keys;
    for (const auto& [k, v] : kk) keys.insert(k);
    for (const auto& [k, v] : mm) keys.insert(k);
    Cycles best_t = ~Cycles{0};
    std::string best;
    std::uint64_t best_line = 0;
    int best_cpu = -1;
    for (const auto& key : keys) {
      const auto& a = kk[key];
      const auto& b = mm[key];
      if (a.size() == b.size()) continue;
      const char* what = key.second ? "saved" : "restored";
      std::ostringstream d;
      Cycles t;
      if (a.size() > b.size()) {
        const KernelOp& k = *a[b.size()];
        t = k.t;
        d << "the kernel " << what << " " << key.first << " (" << k.kind << ") at line " << k.line << " (cpu " << k.cpu
          << ", t " << k.t << "); the model " << what << " it " << b.size() << " times, the kernel " << a.size();
        if (t < best_t) best_line = k.line, best_cpu = k.cpu;
      } else {
        const ModelOp& m = *b[a.size()];
        t = m.t;
        d << "the model " << what << " " << key.first << " (" << m.kind << ") at t " << m.t << " on cpu " << m.cpu
          << ", which the kernel did not: the model " << what << " it " << b.size() << " times, the kernel " << a.size();
        if (t < best_t) best_line = 0, best_cpu = static_cast<int>(m.cpu);
      }
      if (t < best_t) best_t = t, best = d.str();
    }
    if (!best.empty()) {
      os << "\n  first divergence: " << best << "\n";
      // The trace around it: by line where the kernel logged it, else the
      // records at that time on that CPU.
      const auto& recs = im.input.records;
      size_t at = recs.size();
      if (best_line) {
        for (size_t i = 0; i < recs.size(); ++i) {
          if (recs[i].line == best_line) at = i;
        }
      } else {
        const std::uint64_t mhz = static_cast<std::uint64_t>(s.machine->frequency_mhz);
        const std::uint64_t ns = recs.empty() ? 0 : recs.front().ns + best_t * 1000 / std::max<std::uint64_t>(mhz, 1);
        for (size_t i = 0; i < recs.size(); ++i) {
          if (recs[i].cpu == best_cpu && recs[i].ns <= ns) at = i;
        }
      }
      if (at < recs.size()) {
        os << "  the trace there (cpu " << recs[at].cpu << "):\n";
        int before = 0;
        size_t from = at;
        while (from > 0 && before < 4) {
          --from;
          if (recs[from].cpu == recs[at].cpu) ++before;
        }
        int after = 0;
        for (size_t i = from; i < recs.size() && after <= 4; ++i) {
          if (recs[i].cpu != recs[at].cpu) continue;
          if (i > at) ++after;
          os << (i == at ? "  > " : "    ") << std::setw(6) << recs[i].line << "  " << record_text(recs[i]) << "\n";
        }
      }
    }
  }
  os << "\n" << (ok ? "every count agrees" : "counts differ (marked *)") << "\n";
  return ok;
}

}  // namespace fpusim::trace_import
