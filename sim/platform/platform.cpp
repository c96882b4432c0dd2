#include "sim/platform/platform.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <unordered_map>
#include <unistd.h>

#include <systemc>

#include "sim/platform/cpu_modules.h"
#include "sim/input/replayer.h"
#include "sim/platform/scheduler.h"
#include "sim/input/binary.h"

namespace fpusim {

namespace {

using sc_core::sc_time;

sc_time cycles(Cycles c) { return sc_time::from_value(c); }
Cycles now_cycles() { return sc_core::sc_time_stamp().value(); }

class Platform;

constexpr Cycles kNever = ~Cycles{0};

// Per CPU, a lower bound on the effective time of the next event it can
// process (see Core::step's run-ahead), in a binary tree of minimums: the
// minimum over all CPUs but one takes O(log CPUs).
class NextTimes {
 public:
  explicit NextTimes(size_t cpus) {
    while (size_ < cpus) size_ *= 2;
    tree_.assign(2 * size_, kNever);
    for (size_t i = 0; i < cpus; ++i) set(i, 0);  // every Core runs at time 0
  }
  void set(size_t cpu, Cycles t) {
    size_t k = cpu + size_;
    tree_[k] = t;
    for (; k > 1; k >>= 1) tree_[k >> 1] = std::min(tree_[k], tree_[k ^ 1]);
  }
  Cycles min_except(size_t cpu) const {
    Cycles m = kNever;
    for (size_t k = cpu + size_; k > 1; k >>= 1) m = std::min(m, tree_[k ^ 1]);
    return m;
  }

 private:
  size_t size_ = 1;
  std::vector<Cycles> tree_;
};

// One CPU ("cpuN", with its regfile and traps children: CpuModule). An
// SC_METHOD that wakes only at its next event's effective time
// (next_trigger), never per cycle.
class Core : public CpuModule {
 public:
  SC_HAS_PROCESS(Core);
  Core(const sc_core::sc_module_name& name, CpuId id, Platform& p);

  Cycles end_time() const { return end_time_; }
  Cycles trace_end() const { return trace_end_; }
  bool finished() const { return !has_head_; }
  const Event& head() const { return head_; }

 private:
  enum class Next { kDone, kWait, kReady };
  void step();
  Next evaluate(Cycles& eff);
  // evaluate(); when the head is not ready, arms what this CPU waits for
  // (nothing when done, `released` when waiting) and returns false.
  bool ready(Cycles& eff);
  void process(Cycles now);
  void wait_released();
  void wait_until(Cycles eff, Cycles now);
  bool may_go_ahead() const;
  bool may_run_ahead(Cycles eff) const;
  void drive_pair(Cycles eff, Cycles now);

  Platform& p_;
  Event head_;
  bool has_head_ = false;
  Cycles offset_ = 0;     // effective time minus trace time
  Cycles end_time_ = 0;
  Cycles trace_end_ = 0;
  // Two-CPU driver (drive_pair): the other CPU processed this one's events,
  // so this CPU's pending SystemC trigger (at stale_at_) is earlier than its
  // next event; last_seq_ orders the CPUs' last processed events.
  bool stale_ = false;
  Cycles stale_at_ = 0;
  std::uint64_t last_seq_ = 0;
};

// The rules switched off for a run, before its agent exists.
void disable_rules(Checker& c, const std::vector<ViolationKind>& kinds) {
  for (ViolationKind k : kinds) c.disable(k);
}

class Platform {
 public:
  Platform(const Scenario& s, const Arch& arch, const PolicyDesc& policy, const RunOptions& options)
      : scenario_(s), arch_(arch), policy_(policy), ids_(name_table(s)),
        checker_(s.machine->cpus, arch.component_bytes(s), s.machine->lazyfp_vulnerable, &stats_),
        agent_((disable_rules(checker_, options.disabled_rules),
                arch.make_agent(s, policy, stats_, checker_, ids_, options.observers))) {
    for (const auto& c : s.contexts) names_.push_back(c.name);
    if (s.workload) {
      std::vector<ContextId> ids;
      for (const auto& c : s.contexts) ids.push_back(ids_.at(c.name));
      // The same cpuN modules as in replay mode (so the VCD has the same
      // shape), without processes: the host scheduler runs the CPUs.
      std::vector<CpuModule*> cpus;
      for (CpuId c = 0; c < s.machine->cpus; ++c) {
        sched_cpus_.push_back(
            std::make_unique<CpuModule>(("cpu" + std::to_string(c)).c_str(), c, *agent_, arch_));
        cpus.push_back(sched_cpus_.back().get());
      }
      scheduler_ = std::make_unique<HostScheduler>("host", *agent_, stats_, *s.workload, ids, cpus,
                                                   [this](InternalError e) { fail_internal(std::move(e)); });
      return;
    }
    std::unique_ptr<EventSource> src =
        s.events_file.empty() ? make_inline_source(arch, s.inline_events, s.file, &ids_, s.machine->cpus)
                              : make_file_source(arch, s.events_file, &ids_, s.machine->cpus);
    replayer_ = std::make_unique<Replayer>(std::move(src), s.machine->cpus, s.contexts.size(), &names_,
                                           arch.barrier_kinds());
    replayer_->set_guest_threads(agent_->runner_threads());
    next_times_ = std::make_unique<NextTimes>(s.machine->cpus);
    for (CpuId c = 0; c < s.machine->cpus; ++c) {
      cores_.push_back(std::make_unique<Core>(("cpu" + std::to_string(c)).c_str(), c, *this));
    }
  }

  // The first failure stops the simulation; other CPUs may still fail in
  // the same delta cycle, and a second sc_stop() would print SystemC's W545
  // warning on stderr.
  void fail(InputError e) {
    const bool stopped = error_ || internal_;
    if (!error_) error_ = std::move(e);
    if (!stopped) sc_core::sc_stop();
  }
  void fail_internal(InternalError e) {
    const bool stopped = error_ || internal_;
    if (!internal_) internal_ = std::move(e);
    if (!stopped) sc_core::sc_stop();
  }

  ArchAgent& agent() { return *agent_; }
  const Arch& arch() const { return arch_; }
  Replayer& replayer() { return *replayer_; }
  Stats& stats() { return stats_; }
  sc_core::sc_event& released() { return released_; }
  bool tracing() const { return tracing_; }

  // Every notification of `released` goes through here: CPUs waiting for it
  // become runnable in the next delta cycle, so until they have run, their
  // next time is "now" (0 is a lower bound).
  void notify_released() {
    released_.notify(sc_core::SC_ZERO_TIME);
    notified_delta_ = sc_core::sc_delta_count();
    for (CpuId c : waiting_) next_times_->set(c, 0);
    waiting_.clear();
  }
  // `cpu` waits for `released`. It sleeps until the next notification, so
  // nothing bounds its next time, unless a notification is already pending
  // in this delta cycle.
  void wait_released(CpuId cpu) {
    if (notified_delta_ == sc_core::sc_delta_count()) {
      next_times_->set(cpu, 0);
    } else {
      next_times_->set(cpu, kNever);
      waiting_.push_back(cpu);
    }
  }
  bool anyone_waiting() const { return !waiting_.empty(); }
  Core& core(CpuId c) { return *cores_[c]; }
  size_t cpus() const { return cores_.size(); }
  std::uint64_t next_seq() { return ++seq_; }
  std::uint64_t processing_index = 0;  // of the event being processed, for messages
  NextTimes& next_times() { return *next_times_; }
  void trace(sc_core::sc_trace_file* tf) {
    tracing_ = true;
    for (auto& c : cores_) c->trace(tf);
    for (auto& c : sched_cpus_) c->trace(tf);
    if (scheduler_) scheduler_->start_tracing();
  }

  RunResult finish(double wall) {
    if (error_) throw *error_;
    if (internal_) throw *internal_;
    RunResult r;
    Cycles sim_end = 0, workload = 0;
    if (scheduler_) {
      const Cycles end = scenario_.workload->duration;
      scheduler_->finish(end);
      sim_end = end;
      stats_.add(Stat::migrations, scheduler_->migrations());
      r.cpu_end.assign(scenario_.machine->cpus, end);
    }
    for (auto& c : cores_) {
      if (!c->finished()) {
        throw replayer_->origin().error(c->head().index, "/next",
                                        "this switch waits for a context that never leaves another CPU");
      }
      sim_end = std::max(sim_end, c->end_time());
      workload += c->trace_end();
      r.cpu_end.push_back(c->end_time());
    }
    stats_.add(Stat::sim_cycles, sim_end);
    stats_.add(Stat::workload_cycles, workload);
    r.arch = &arch_;
    r.policy = &policy_;
    r.stats = stats_;
    r.violations = checker_.violations();
    r.total_violations = checker_.total_violations();
    r.peak_exposed_bytes = checker_.peak_exposed_bytes();
    r.context_names = names_;
    r.peak_buffered_events = replayer_ ? replayer_->peak_buffered() : 0;
    r.wall_seconds = wall;
    r.modules = module_names();
    return r;
  }

 private:
  const Scenario& scenario_;
  const Arch& arch_;
  const PolicyDesc& policy_;
  const std::unordered_map<std::string, ContextId> ids_;  // name_table(s)
  Stats stats_;
  Checker checker_;
  std::unique_ptr<ArchAgent> agent_;
  std::vector<std::string> names_;
  std::unique_ptr<Replayer> replayer_;
  std::vector<std::unique_ptr<Core>> cores_;             // replay mode
  std::vector<std::unique_ptr<CpuModule>> sched_cpus_;  // scheduled mode
  std::unique_ptr<HostScheduler> scheduler_;
  sc_core::sc_event released_{"released"};
  bool tracing_ = false;  // a VCD is being written
  std::unique_ptr<NextTimes> next_times_;
  std::vector<CpuId> waiting_;  // CPUs asleep until `released` is notified
  sc_dt::uint64 notified_delta_ = ~sc_dt::uint64{0};
  std::uint64_t seq_ = 0;  // events processed
  std::optional<InputError> error_;
  std::optional<InternalError> internal_;
};

Core::Core(const sc_core::sc_module_name& name, CpuId id, Platform& p)
    : CpuModule(name, id, p.agent(), p.arch()), p_(p) {
  SC_METHOD(step);
}

// Run-ahead: the SystemC kernel would run this CPU alone at `eff` (and
// process its next event there) if no other CPU can process anything before
// or at `eff`: every other CPU is timed-waiting for a later time, asleep
// until `released` is notified, or done. The event is then processed right
// away, without the round trip through the kernel, in exactly the order the
// kernel would have given. A notification of `released` from an event
// processed ahead would wake the sleeping CPUs at the kernel's current time
// instead of at `eff`, so events that notify run ahead only when no CPU
// sleeps. Not with a VCD, which samples the state at SystemC times.
bool Core::may_go_ahead() const {
  if (p_.tracing()) return false;
  const bool notifies = head_.kind == EventKind::kSwitch || head_.kind == EventKind::kFork ||
                        p_.replayer().is_barrier(head_.kind);
  return !notifies || !p_.anyone_waiting();
}

bool Core::may_run_ahead(Cycles eff) const { return eff < p_.next_times().min_except(id_) && may_go_ahead(); }

bool Core::ready(Cycles& eff) {
  switch (evaluate(eff)) {
    case Next::kDone:  // no trigger: this CPU is done
      p_.next_times().set(id_, kNever);
      return false;
    case Next::kWait:
      wait_released();
      return false;
    case Next::kReady:
      break;
  }
  return true;
}

void Core::wait_released() {
  p_.wait_released(id_);
  next_trigger(p_.released());
}

void Core::wait_until(Cycles eff, Cycles now) {
  p_.next_times().set(id_, eff);
  next_trigger(cycles(eff - now));
}

// Fetches the head if needed and says whether it can be processed, and when.
Core::Next Core::evaluate(Cycles& eff) {
  if (!has_head_) {
    if (!p_.replayer().fetch(id_, head_)) return Next::kDone;
    has_head_ = true;
  }
  eff = head_.t + offset_;
  if (head_.kind == EventKind::kSwitch && head_.ctx != kNoContext) {
    const ContextBase& next = p_.agent().context(head_.ctx);
    // A forked child starts only after the fork, which its parent's CPU
    // may not have reached yet if that CPU lags behind; a task resumes on
    // another CPU only after its switch-out there has completed, and
    // only after its earlier switch-ins in the trace (on CPUs that may
    // lag behind) have been processed.
    if (p_.replayer().fork_pending(head_.ctx) || next.running_on != kNoCpu ||
        !p_.replayer().switch_in_turn(id_, head_.ctx)) {
      return Next::kWait;
    }
    // switched_out_at: when that switch-out (or the child's fork)
    // completed; this CPU waits until then.
    if (next.switched_out_at > eff) {
      offset_ += next.switched_out_at - eff;
      eff = next.switched_out_at;
    }
  }
  // Processing order across CPUs respects the trace's barrier events.
  if (head_.index > p_.replayer().first_barrier()) return Next::kWait;
  return Next::kReady;
}

void Core::step() {
  stale_ = false;  // this activation consumed the pending trigger
  try {
    const Cycles now = now_cycles();
    while (true) {
      Cycles eff = 0;
      if (!ready(eff)) return;
      if (eff > now) {
        if (p_.cpus() == 2 && !p_.tracing()) {
          drive_pair(eff, now);
          return;
        }
        if (!may_run_ahead(eff)) {
          wait_until(eff, now);
          return;
        }
      }
      // A CPU woken after a wait may process an event whose effective time
      // has passed in SystemC time: the event keeps its effective time.
      process(eff);
      has_head_ = false;
    }
  } catch (const SemanticError& e) {
    p_.fail(p_.replayer().origin().error(p_.processing_index, "", e.message));
  } catch (const InputError& e) {
    p_.fail(e);
  } catch (const InternalError& e) {
    p_.fail_internal(e);
  }
}

// Two CPUs: the run-ahead extended to the other CPU's events. With two CPUs
// the kernel runs, at each time, the one CPU whose next event is strictly
// the earliest; this CPU processes that event itself, whichever CPU it
// belongs to, until the earliest is shared by both (a tie), belongs to a CPU
// the kernel would run now, or may not go ahead (see may_go_ahead), or a CPU
// must wait for `released`. The other CPU's pending trigger is then stale: it
// runs at the time of the first event processed for it, finds its next event
// later and re-arms. Ties: the kernel's timed queue then holds one entry per
// CPU and runs the one scheduled first, i.e. the CPU whose previous event was
// processed first; when that is the other CPU and its trigger is stale, this
// CPU re-arms behind it (at its stale time) so that the other goes first.
void Core::drive_pair(Cycles eff, Cycles now) {
  Core& o = p_.core(1 - id_);
  NextTimes& times = p_.next_times();
  while (true) {
    const Cycles other = times.min_except(id_);
    if (eff < other) {
      if (!may_go_ahead()) break;
      process(eff);
      has_head_ = false;
    } else if (other < eff && other > now && o.may_go_ahead()) {
      Cycles oeff = 0;
      if (o.evaluate(oeff) != Next::kReady || oeff != other) break;  // stale bound: leave it to the kernel
      if (!o.stale_) {
        o.stale_ = true;
        o.stale_at_ = other;
      }
      o.process(oeff);
      o.has_head_ = false;
      const Next on = o.evaluate(oeff);
      if (on == Next::kDone) {
        times.set(o.id_, kNever);
      } else if (on == Next::kWait) {
        times.set(o.id_, 0);  // it starts waiting at its stale trigger
        break;
      } else {
        times.set(o.id_, oeff);
      }
    } else {
      break;
    }
    if (!ready(eff)) return;
  }
  times.set(id_, eff);
  const bool behind_other = o.stale_ && o.last_seq_ < last_seq_ && times.min_except(id_) == eff;
  next_trigger(cycles((behind_other ? o.stale_at_ : eff) - now));
}

void Core::process(Cycles now) {
  ArchAgent& a = p_.agent();
  p_.processing_index = head_.index;
  last_seq_ = p_.next_seq();
  const Event& e = head_;
  const Cycles cost = a.handle(id_, now, e);
  if (e.kind == EventKind::kSwitch) {
    if (e.ctx != kNoContext) p_.replayer().switch_in_done(e.ctx);
    p_.notify_released();
  } else if (e.kind == EventKind::kFork) {
    a.context(e.ctx).switched_out_at = now + cost;  // the child can run from here on
    p_.replayer().fork_done(e.ctx);
    p_.notify_released();
  }
  if (p_.replayer().is_barrier(e.kind)) {
    p_.replayer().barrier_done(e.index);
    p_.notify_released();
  }
  p_.stats().add(Stat::events);
  offset_ += cost;
  trace_end_ = std::max(trace_end_, e.t + e.dur);
  end_time_ = now + cost + e.dur;
  if (p_.tracing()) sample();
}

}  // namespace

const Arch& scenario_arch(const Scenario& s) { return arch_named(s.arch, s.machine_file, "/arch"); }

RunResult run_scenario(const Scenario& scenario, const PolicyDesc& policy, const RunOptions& options) {
  const Arch* arch = &scenario_arch(scenario);
  sc_core::sc_report_handler::set_actions("/OSCI/SystemC", sc_core::SC_DO_NOTHING);
  sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);  // e.g. the VCD timescale note
  sc_core::sc_set_time_resolution(1, sc_core::SC_PS);  // 1 resolution unit = 1 core cycle
  const auto t0 = std::chrono::steady_clock::now();
  Platform p(scenario, *arch, policy, options);
  // The VCD goes to a temporary name (SystemC appends ".vcd") and is renamed
  // into place when complete.
  sc_core::sc_trace_file* vcd = nullptr;
  const std::string vcd_tmp = options.vcd_file + ".tmp." + std::to_string(::getpid());
  if (!options.vcd_file.empty()) {
    vcd = sc_core::sc_create_vcd_trace_file(vcd_tmp.c_str());
    vcd->set_time_unit(1, sc_core::SC_PS);  // 1 ps = 1 cycle
    p.trace(vcd);
  }
  // A run that fails (a trace error found during or after the simulation)
  // leaves no VCD behind, complete or not.
  RunResult r;
  try {
    if (scenario.workload) {
      sc_core::sc_start(cycles(scenario.workload->duration));
    } else {
      sc_core::sc_start();
    }
    if (vcd) sc_core::sc_close_vcd_trace_file(vcd);
    vcd = nullptr;
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r = p.finish(wall);
  } catch (...) {
    if (vcd) sc_core::sc_close_vcd_trace_file(vcd);
    if (!options.vcd_file.empty()) std::remove((vcd_tmp + ".vcd").c_str());
    throw;
  }
  if (!options.vcd_file.empty() && std::rename((vcd_tmp + ".vcd").c_str(), options.vcd_file.c_str()) != 0) {
    std::remove((vcd_tmp + ".vcd").c_str());
    throw InputError{options.vcd_file, "", "cannot write the VCD file"};
  }
  return r;
}

}  // namespace fpusim
