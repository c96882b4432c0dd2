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

// "6.18.44-fc-v669" -> {6, 18}; {0, 0} if it is not a release.
std::pair<int, int> release(const std::string& k) {
  int major = 0, minor = 0;
  char dot = 0;
  std::istringstream ss(k);
  if (!(ss >> major >> dot >> minor) || dot != '.') return {0, 0};
  return {major, minor};
}

std::uint64_t hex(const std::string& s) {
  try {
    return std::stoull(s, nullptr, 16);
  } catch (...) {
    return 0;
  }
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

  // The kernel: --kernel, else the capture header.
  im.kernel = !rq.kernel.empty() ? rq.kernel : in.kernel;
  if (im.kernel.empty()) {
    im.why.push_back("kernel: not named by the trace (give --kernel); its x86_fpu events are read as Linux >= 5.2's");
  } else {
    const auto [maj, min] = release(im.kernel);
    if (maj == 0) throw InputError{rq.trace, "", "--kernel: expected a release such as 6.18.4, got \"" + im.kernel + "\""};
    if (maj < 5 || (maj == 5 && min < 2)) {
      throw InputError{rq.trace, "", "kernel " + im.kernel + ": the import reads x86_fpu events as Linux >= 5.2 logs them "
                                     "(TIF_NEED_FPU_LOAD, 5f409e20b794); older kernels are not supported"};
    }
    im.why.push_back("kernel " + im.kernel + (rq.kernel.empty() ? " (from the trace)" : " (--kernel)") +
                     ": policy deferred (Linux >= 5.2; 730faa15a069's v6.16 form)");
  }

  // What the trace shows: CPUs, the xfeatures the kernel logged, the CPU's
  // vendor and flags from the capture header.
  int max_cpu = 0;
  std::uint64_t xf = 0;
  for (const TraceRecord& r : in.records) {
    max_cpu = std::max(max_cpu, r.cpu);
    if (r.event.rfind("x86_fpu_", 0) == 0) {
      const auto p = r.args.find("xfeatures: ");
      if (p != std::string::npos) xf |= hex(r.args.substr(p + 11, r.args.find(' ', p + 11) - p - 11));
    }
  }
  unsigned header_cpus = 0;
  std::string cpu_line;
  if (auto it = in.meta.find("cpu"); it != in.meta.end()) {
    cpu_line = it->second;
    const auto p = cpu_line.find(" CPUs");
    if (p != std::string::npos) {
      size_t b = p;
      while (b > 0 && std::isdigit(static_cast<unsigned char>(cpu_line[b - 1]))) --b;
      if (b < p) header_cpus = static_cast<unsigned>(std::stoul(cpu_line.substr(b, p - b)));
    }
  }
  const unsigned cpus = std::max<unsigned>(header_cpus, static_cast<unsigned>(max_cpu + 1));
  const std::string vendor = cpu_line.find("AMD") != std::string::npos     ? "amd"
                             : cpu_line.find("Intel") != std::string::npos ? "intel"
                                                                           : "";
  std::uint64_t need = xf;
  if (cpu_line.find("amx_tile") != std::string::npos) need |= 0x60000;  // XTILECFG | XTILEDATA
  if (cpu_line.find("avx512f") != std::string::npos) need |= 0xe0;

  std::uint64_t mhz = 0;
  if (!rq.machine.empty()) {
    im.machine = rq.machine;
    const Json m = load_json_file(preset_path("machines", rq.machine, ""));
    if (!m.contains("frequency_mhz") || !m["frequency_mhz"].is_number()) {
      throw InputError{preset_path("machines", rq.machine, ""), "/frequency_mhz", "expected the machine's frequency"};
    }
    mhz = static_cast<std::uint64_t>(m["frequency_mhz"].get<double>());
    im.why.push_back("machine " + im.machine + " (--machine)");
  } else {
    // The x86 preset whose enabled features cover what the trace shows, of
    // the vendor the header names, with the fewest features beyond.
    std::string best;
    int best_extra = 1 << 30;
    bool best_vendor = false;
    for (const std::string& name : list_presets("machines")) {
      Json m;
      try {
        m = load_json_file(preset_path("machines", name, ""));
      } catch (const InputError&) {
        continue;
      }
      if (m.value("arch", "") != "x86_64" || !m.contains("os")) continue;
      const std::uint64_t have = hex(m["os"].value("xcr0", "0")) | hex(m["os"].value("xss", "0"));
      if ((need & ~have) != 0) continue;
      const int extra = __builtin_popcountll(have & ~need);
      const bool v = !vendor.empty() && name.rfind(vendor + "-", 0) == 0;
      if ((v && !best_vendor) || (v == best_vendor && extra < best_extra)) {
        best = name, best_extra = extra, best_vendor = v;
        mhz = static_cast<std::uint64_t>(m.value("frequency_mhz", 0.0));
      }
    }
    if (best.empty()) {
      std::ostringstream s;
      s << "no x86_64 machine preset enables every state component the kernel logged (xfeatures 0x" << std::hex << need
        << "): give --machine";
      throw InputError{rq.trace, "", s.str()};
    }
    im.machine = best;
    std::ostringstream s;
    s << "machine " << best << ": enables every component the kernel logged (xfeatures 0x" << std::hex << need << std::dec
      << ")" << (best_vendor ? ", of the vendor the capture header names" : "") << "; --machine to choose another";
    im.why.push_back(s.str());
  }
  if (mhz == 0) throw InputError{rq.trace, "", "machine " + im.machine + " has no frequency_mhz"};
  im.costs = !rq.costs.empty() ? rq.costs : im.machine.rfind("amd-", 0) == 0 ? "amd-zen4" : "intel-like";

  ConvertOptions o;
  o.name = !rq.name.empty() ? rq.name : base_name(rq.output.empty() ? rq.trace : rq.output);
  o.machine = im.machine;
  o.costs = im.costs;
  o.cpus = cpus;
  o.mhz = mhz;
  o.source = rq.output.empty() ? rq.trace : relative_to(rq.trace, rq.output);
  im.conversion = convert_trace(in, o);
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
  explicit OpCollector(const Arch& arch) : arch_(arch) {}
  void on_operation(const OpRecord& op) override {
    if (op.category != Stat::save_cycles && op.category != Stat::restore_cycles) return;
    const bool save = op.category == Stat::save_cycles;
    ops.push_back({op.cpu, op.time, op.ctx, save, row(save, op)});
  }
  std::vector<ModelOp> ops;

 private:
  // The validate row of an x86 Linux save or restore: the kernel logs
  // XRSTOR from a task's buffer as regs_activated (load 1), and the loads of
  // the init state or a signal frame as regs_activated (load 0).
  std::string row(bool save, const OpRecord& op) const {
    const std::string cause(arch_.causes().at(op.cause).name);
    if (save) return op.op == "sigframe_xsave" ? "save signal" : cause == "kvm_run" ? "save kvm_fpu" : "save " + cause;
    if (cause == "kvm_run") return "restore kvm_fpu";
    if (op.op == "restore") return "restore";
    if (op.op == "restore_init" || op.op == "sigframe_xrstor") return "restore signal";
    return "restore " + std::string(op.op);
  }
  const Arch& arch_;
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
  OpCollector collect(arch);
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
  for (const OpKind& k : kernel_op_kinds()) kinds[k.name], order.push_back(k.name);
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
    for (const OpKind& o : kernel_op_kinds()) {
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
