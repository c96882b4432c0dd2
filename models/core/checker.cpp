#include "models/core/checker.h"

namespace fpusim {

std::string_view violation_kind_name(ViolationKind k) {
  switch (k) {
    case ViolationKind::kLost: return "lost";
    case ViolationKind::kLeaked: return "leaked";
    case ViolationKind::kExposed: return "exposed";
    case ViolationKind::kTrapConfig: return "trap_config";
    case ViolationKind::kKernelTrap: return "kernel_trap";
  }
  return "?";
}

Checker::Checker(unsigned cpus, std::array<std::uint32_t, kMaxComponents> component_bytes,
                 bool exposure_is_violation, Stats* stats, size_t max_recorded)
    : cpu_(cpus), trap_config_(cpus), exposure_is_violation_(exposure_is_violation),
      stats_(stats), max_recorded_(max_recorded),
      default_sizes_(std::make_shared<const ComponentSizes>(component_bytes)) {}

void Checker::set_sizes(ContextId ctx, std::shared_ptr<const ComponentSizes> sizes) {
  if (ctx >= sizes_.size()) sizes_.resize(ctx + 1);
  sizes_[ctx] = std::move(sizes);
}

void Checker::record(Violation v) {
  ++total_;
  // Per-context counters exist only for declared contexts: register contents
  // the kernel itself wrote (the x86 agent's kKernelContext, e.g. crypto
  // keys left by kernel_fpu_begin() users) count in the totals only.
  auto who = [this](ContextId c) { return c < stats_->per_context.size() ? c : kNoContext; };
  switch (v.kind) {
    case ViolationKind::kLost: stats_->add(Stat::violations_lost, who(v.context), 1); break;
    case ViolationKind::kLeaked: stats_->add(Stat::violations_leaked, who(v.context), 1); break;
    case ViolationKind::kExposed: stats_->add(Stat::violations_exposed, who(v.other), 1); break;
    case ViolationKind::kTrapConfig: stats_->add(Stat::violations_trap_config, who(v.context), 1); break;
    case ViolationKind::kKernelTrap: stats_->add(Stat::violations_kernel_trap, who(v.context), 1); break;
  }
  if (recorded_.size() < max_recorded_) recorded_.push_back(std::move(v));
}

void Checker::trap_config_changed(Cycles t, CpuId cpu, ContextId ctx, ComponentMask enabled_unowned,
                                  ComponentMask trapped_owned, FunctionRef<std::string(ContextId)> name_of) {
  TrapConfigSeen& s = trap_config_[cpu];
  if (s.ctx != ctx) s = TrapConfigSeen{ctx, 0, 0};
  const ComponentMask new_enabled = enabled_unowned & ~s.enabled, new_trapped = trapped_owned & ~s.trapped;
  if (new_enabled) {
    record({ViolationKind::kTrapConfig, t, cpu, ctx, kNoContext, new_enabled,
            "user-mode access enabled, but " + name_of(ctx) + " does not own this state"});
  }
  if (new_trapped) {
    record({ViolationKind::kTrapConfig, t, cpu, ctx, kNoContext, new_trapped,
            "user-mode access trapped, though " + name_of(ctx) + " owns this state"});
  }
  s.enabled = enabled_unowned;
  s.trapped = trapped_owned;
  if (!enabled_unowned && !trapped_owned) s.ctx = kNoContext;
}

void Checker::check_use_mismatch(Cycles t, CpuId cpu, ContextId ctx, StateImage& truth, const StateImage& regs,
                                 ComponentMask touched, FunctionRef<std::string(ContextId)> name_of,
                                 FunctionRef<std::string(ComponentMask)> components_of, const char* holder) {
  for (unsigned i : bits(touched)) {
    const bool want = truth.present & bit(i);
    const bool have = regs.present & bit(i);
    const Token& w = truth.tok[i];
    const Token& h = regs.tok[i];
    // A foreign version the context already adopted (below) is no new leak.
    const bool adopted = want && w == h;
    if (have && h.owner != ctx && !adopted) {
      std::string detail = std::string(holder) + " hold " + name_of(h.owner) + "'s version " +
                           std::to_string(h.version) + "; expected " +
                           (want ? "own version " + std::to_string(w.version) : std::string("init state"));
      record({ViolationKind::kLeaked, t, cpu, ctx, h.owner, bit(i), std::move(detail)});
    } else if (want != have || (want && w != h)) {
      std::string detail = std::string(holder) + " hold " +
                           (have ? "own version " + std::to_string(h.version) : std::string("init state")) +
                           "; expected " +
                           (want ? "version " + std::to_string(w.version) : std::string("init state"));
      record({ViolationKind::kLost, t, cpu, ctx, kNoContext, bit(i), std::move(detail)});
    } else {
      continue;
    }
    (void)components_of;
    // The context goes on with what it found: adopt it so one loss is
    // reported once (a foreign token becomes the context's own).
    if (have) {
      truth.present |= bit(i);
      truth.tok[i] = h;
    } else {
      truth.present &= ~bit(i);
    }
  }
}

void Checker::add_exposure(const CpuExposure& e, Cycles t) {
  stats_->add(Stat::exposure_cycles, t - e.since);
  stats_->add(Stat::exposure_byte_cycles, (t - e.since) * e.bytes);
}

void Checker::update_exposed(CpuId cpu, Cycles t, ContextId user_ctx, const StateImage& regs, ComponentMask armed,
                             FunctionRef<std::string(ContextId)> name_of,
                             FunctionRef<std::string(ComponentMask)> components_of) {
  CpuExposure& e = cpu_.at(cpu);
  std::uint64_t bytes = 0;
  ComponentMask exposed = 0;
  ContextId owner = kNoContext;
  if (user_ctx != kNoContext) {
    for (unsigned i : bits(regs.present & armed)) {
      if (regs.tok[i].owner != user_ctx && regs.tok[i].owner != kNoContext) {
        bytes += sizes_of(regs.tok[i].owner)[i];
        exposed |= bit(i);
        owner = regs.tok[i].owner;
      }
    }
  }
  if (bytes && !e.bytes) {
    stats_->add(Stat::exposure_windows);
    if (exposure_is_violation_) {
      std::string detail = components_of(exposed) + " of " + name_of(owner) +
                           " live in the registers under an armed trap while " + name_of(user_ctx) +
                           " runs outside the kernel (" + std::to_string(bytes) + " bytes)";
      record({ViolationKind::kExposed, t, cpu, user_ctx, owner, exposed, std::move(detail)});
    }
  }
  if (bytes > peak_bytes_) peak_bytes_ = bytes;
  e.bytes = bytes;
  e.since = t;
}

}  // namespace fpusim
