#include "sim/platform/scheduler.h"

#include <cmath>

namespace fpusim {

namespace {
sc_core::sc_time cycles(Cycles c) { return sc_core::sc_time::from_value(c); }
Cycles now_cycles() { return sc_core::sc_time_stamp().value(); }
}  // namespace

HostScheduler::HostScheduler(const sc_core::sc_module_name& name, ArchAgent& agent, Stats& stats, const Workload& w,
                             const std::vector<ContextId>& ids, const std::vector<CpuModule*>& hw,
                             std::function<void(InternalError)> on_error)
    : sc_module(name), agent_(agent), stats_(stats), w_(w), cpus_(hw.size()), on_error_(std::move(on_error)) {
  const unsigned cpus = static_cast<unsigned>(hw.size());
  // Tasks in declaration order; each has its own random stream.
  size_t k = 0;
  unsigned next_cpu = 0;
  for (const TaskClass& tc : w.tasks) {
    for (unsigned i = 0; i < tc.count; ++i, ++k) {
      Task t;
      t.id = ids.at(k);
      t.cls = &tc;
      t.rng = Rng{w.seed * 0x100000001b3ull + k + 1};
      t.cpu = tc.cpu >= 0 ? static_cast<CpuId>(tc.cpu) : (next_cpu++ % cpus);
      tasks_.push_back(t);
      cpus_[t.cpu].rq.push_back(tasks_.size() - 1);
    }
  }
  for (CpuId c = 0; c < cpus; ++c) {
    cpus_[c].hw = hw[c];
    cpus_[c].irq_rng = Rng{w.seed * 0x9e3779b97f4a7c15ull + 7919 * (c + 1)};
    sc_core::sc_spawn_options step;
    step.spawn_method();
    sc_core::sc_spawn([this, c] { cpu_step(c); }, ("cpu" + std::to_string(c)).c_str(), &step);
    if (w.irq_per_million_cycles > 0) {
      sc_core::sc_spawn_options o;
      o.spawn_method();
      sc_core::sc_spawn([this, c] { irq(c); }, ("irq" + std::to_string(c)).c_str(), &o);
    }
  }
  sc_core::sc_spawn_options wo;
  wo.spawn_method();
  sc_core::sc_spawn([this] { waker(); }, "waker", &wo);
  if (w.balance_interval) {
    sc_core::sc_spawn_options bo;
    bo.spawn_method();
    sc_core::sc_spawn([this] { balancer(); }, "balancer", &bo);
  }
}

template <typename F>
Cycles HostScheduler::call(CpuId c, Cycles t, F&& fn) {
  const Cycles cost = fn(t);  // exposure accounting included (ArchAgent::handle)
  stats_.add(Stat::events);
  if (tracing_) cpus_[c].hw->sample();
  return cost;
}

Cycles HostScheduler::handle(CpuId c, Cycles t, EventKind kind, ContextId ctx, ComponentMask use, bool kernel_fpu) {
  Event e;
  e.t = t;
  e.cpu = c;
  e.kind = kind;
  e.ctx = ctx;
  e.write = e.read = use;  // a use writes what it reads
  e.kernel_fpu = kernel_fpu;
  return agent_.handle(c, t, e);
}

void HostScheduler::start_burst(Task& t) {
  const TaskClass& tc = *t.cls;
  t.burst_left = t.rng.between(tc.burst_min, tc.burst_max);
  t.uses_left = 0;
  if (tc.fp_write && t.rng.uniform() < tc.fp_probability) {
    // The burst's FP/SIMD uses fall at random points within it.
    t.uses_left = tc.fp_uses;
    t.next_use_at = t.burst_left - t.rng.between(0, t.burst_left - 1);
  }
}

void HostScheduler::account_segment(Cpu& k, Cycles now) {
  if (!k.in_segment) return;
  Task& t = tasks_[static_cast<size_t>(k.current)];
  const Cycles ran = std::min(now - k.seg_start, t.burst_left);
  t.burst_left -= ran;
  stats_.add(Stat::workload_cycles, ran);
  k.in_segment = false;
}

void HostScheduler::cpu_step(CpuId c) {
  try {
    Cpu& k = cpus_[c];
    Cycles now = now_cycles();
    account_segment(k, now);
    if (k.stolen) {  // an interrupt ran on this CPU: its time is spent first
      const Cycles s = k.stolen;
      k.stolen = 0;
      next_trigger(cycles(s));
      return;
    }
    Cycles cost = 0;
    if (k.current >= 0) {
      Task& t = tasks_[static_cast<size_t>(k.current)];
      const TaskClass& tc = *t.cls;
      if (t.uses_left && t.burst_left <= t.next_use_at) {
        const ComponentMask w = tc.fp_write;
        cost = call(c, now, [&](Cycles at) { return handle(c, at, EventKind::kUse, kNoContext, w); });
        if (--t.uses_left) t.next_use_at = t.burst_left ? t.rng.between(0, t.burst_left - 1) : 0;
        if (cost) {
          next_trigger(cycles(cost));
          return;
        }
      }
      if (t.burst_left == 0) {
        const double r = t.rng.uniform();
        if (r < tc.sleep_probability) {
          // A blocking syscall: the task sleeps in the kernel and returns to
          // user space when it next runs.
          cost += call(c, now, [&](Cycles at) { return handle(c, at, EventKind::kSyscall); });
          t.state = Task::State::kSleeping;
          sleeping_.push(Sleep{now + cost + t.rng.between(tc.sleep_min, tc.sleep_max), sleep_seq_++,
                               static_cast<size_t>(k.current)});
          waker_kick_.notify(sc_core::SC_ZERO_TIME);
          k.current = -1;
        } else {
          if (r < tc.sleep_probability + tc.syscall_probability) {
            cost += call(c, now, [&](Cycles at) { return handle(c, at, EventKind::kSyscall); });
            cost += call(c, now + cost, [&](Cycles at) { return handle(c, at, EventKind::kReturnToUser); });
          }
          start_burst(t);
        }
      }
      if (k.current >= 0 && now + cost >= k.slice_end) {
        if (!k.rq.empty()) {  // slice over and others wait: preempt
          t.state = Task::State::kRunnable;
          k.rq.push_back(static_cast<size_t>(k.current));
          k.current = -1;
        } else {
          k.slice_end = now + cost + w_.timeslice;
        }
      }
    }
    if (k.current < 0) {
      if (k.rq.empty()) {
        if (agent_.cpu_view(c).current != kNoContext) {
          cost += call(c, now + cost, [&](Cycles at) { return handle(c, at, EventKind::kSwitch, kNoContext); });
        }
        next_trigger(k.kick);  // idle until a wakeup or a migration
        return;
      }
      const size_t idx = k.rq.front();
      k.rq.pop_front();
      Task& t = tasks_[idx];
      t.state = Task::State::kRunning;
      t.cpu = c;
      cost += call(c, now + cost, [&](Cycles at) { return handle(c, at, EventKind::kSwitch, t.id); });
      if (!agent_.context(t.id).in_user) {  // it blocked in a syscall, which now returns
        cost += call(c, now + cost, [&](Cycles at) { return handle(c, at, EventKind::kReturnToUser); });
      }
      if (!t.started) {
        t.started = true;
        if (t.cls->dynamic_permission) {
          cost += call(c, now + cost, [&](Cycles at) { return agent_.request_dynamic_features(c, at); });
        }
        start_burst(t);
      }
      k.current = static_cast<long>(idx);
      k.slice_end = now + cost + w_.timeslice;
    }
    if (cost) {
      next_trigger(cycles(cost));
      return;
    }
    // Run the task until its next FP use, the end of its burst or the end of
    // its slice, whichever comes first, unless kicked.
    Task& t = tasks_[static_cast<size_t>(k.current)];
    Cycles seg = t.burst_left - (t.uses_left ? std::min(t.next_use_at, t.burst_left) : 0);
    seg = std::min(seg, k.slice_end - now);
    k.seg_start = now;
    k.in_segment = true;
    if (seg == 0) {
      next_trigger(sc_core::SC_ZERO_TIME);
      return;
    }
    next_trigger(cycles(seg), k.kick);
  } catch (const SemanticError& e) {
    on_error_(InternalError{"scheduler produced an impossible event: " + e.message});
  } catch (const InternalError& e) {
    on_error_(e);
  }
}

void HostScheduler::wake(size_t idx, Cycles now) {
  Task& t = tasks_[idx];
  t.state = Task::State::kRunnable;
  Cpu& k = cpus_[t.cpu];
  if (w_.wakeup_granularity) {
    // Wakeup preemption: the woken task goes first and the running one
    // yields within the wakeup granularity.
    k.rq.push_front(idx);
    if (k.current >= 0 && k.slice_end > now + w_.wakeup_granularity) {
      k.slice_end = now + w_.wakeup_granularity;
      k.kick.notify(sc_core::SC_ZERO_TIME);
    }
  } else {
    k.rq.push_back(idx);
  }
  if (k.current < 0) k.kick.notify(sc_core::SC_ZERO_TIME);
}

void HostScheduler::waker() {
  const Cycles now = now_cycles();
  while (!sleeping_.empty() && sleeping_.top().at <= now) {
    const size_t idx = sleeping_.top().task;
    sleeping_.pop();
    wake(idx, now);
  }
  if (sleeping_.empty()) {
    next_trigger(waker_kick_);
  } else {
    next_trigger(cycles(sleeping_.top().at - now), waker_kick_);
  }
}

void HostScheduler::balancer() {
  const Cycles now = now_cycles();
  if (now) {
    // Pull one queued task from the busiest CPU to the idlest when their
    // loads differ by two or more (a much simplified load_balance()).
    size_t busiest = 0, idlest = 0;
    auto load = [&](const Cpu& k) { return k.rq.size() + (k.current >= 0 ? 1 : 0); };
    for (size_t c = 1; c < cpus_.size(); ++c) {
      if (load(cpus_[c]) > load(cpus_[busiest])) busiest = c;
      if (load(cpus_[c]) < load(cpus_[idlest])) idlest = c;
    }
    if (load(cpus_[busiest]) >= load(cpus_[idlest]) + 2 && !cpus_[busiest].rq.empty()) {
      const size_t idx = cpus_[busiest].rq.back();
      cpus_[busiest].rq.pop_back();
      tasks_[idx].cpu = static_cast<CpuId>(idlest);
      cpus_[idlest].rq.push_back(idx);
      ++migrations_;
      if (cpus_[idlest].current < 0) cpus_[idlest].kick.notify(sc_core::SC_ZERO_TIME);
    }
  }
  next_trigger(cycles(w_.balance_interval));
}

void HostScheduler::irq(CpuId c) {
  Cpu& k = cpus_[c];
  const Cycles now = now_cycles();
  try {
    if (now) {
      const bool kfpu = k.irq_rng.uniform() < w_.irq_kernel_fpu_probability;
      const Cycles cost = call(c, now, [&](Cycles at) { return handle(c, at, EventKind::kIrq, kNoContext, 0, kfpu); });
      account_segment(k, now);
      k.stolen += cost + w_.irq_dur;
      stats_.add(Stat::workload_cycles, w_.irq_dur);
      k.kick.notify(sc_core::SC_ZERO_TIME);
    }
  } catch (const SemanticError& e) {
    on_error_(InternalError{"scheduler produced an impossible interrupt: " + e.message});
    return;
  }
  // Poisson arrivals.
  const double mean = 1e6 / w_.irq_per_million_cycles;
  const double u = std::max(k.irq_rng.uniform(), 1e-12);
  next_trigger(cycles(static_cast<Cycles>(std::ceil(-std::log(u) * mean))));
}

void HostScheduler::finish(Cycles end) {
  for (Cpu& k : cpus_) account_segment(k, end);
}

}  // namespace fpusim
