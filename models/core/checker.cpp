#include "models/core/checker.h"

namespace fpusim {

const std::array<ViolationKindInfo, kNumViolationKinds>& violation_kinds() {
  static const std::array<ViolationKindInfo, kNumViolationKinds> k = {{
      {ViolationKind::kLost, "lost", "lost", Stat::violations_lost, false},
      {ViolationKind::kLeaked, "leaked", "leaked", Stat::violations_leaked, false},
      {ViolationKind::kExposed, "exposed", "exposed", Stat::violations_exposed, true},
      {ViolationKind::kTrapConfig, "trap_config", "trap config", Stat::violations_trap_config, true},
      {ViolationKind::kKernelTrap, "kernel_trap", "kernel trap", Stat::violations_kernel_trap, true},
      {ViolationKind::kForeignRegs, "foreign_regs", "foreign regs", Stat::violations_foreign_regs, true},
  }};
  return k;
}

std::string_view violation_kind_name(ViolationKind k) {
  const auto i = static_cast<unsigned>(k);
  return i < kNumViolationKinds ? violation_kinds()[i].name : "?";
}

const ViolationKindInfo* find_violation_kind(std::string_view name) {
  for (const ViolationKindInfo& k : violation_kinds()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

Checker::Checker(unsigned cpus, std::array<std::uint32_t, kMaxComponents> component_bytes,
                 bool exposure_is_violation, Stats* stats, size_t max_recorded)
    : cpu_(cpus), trap_config_(cpus), foreign_(cpus), exposure_is_violation_(exposure_is_violation),
      stats_(stats), max_recorded_(max_recorded),
      default_sizes_(std::make_shared<const ComponentSizes>(component_bytes)) {}

void Checker::set_sizes(ContextId ctx, std::shared_ptr<const ComponentSizes> sizes) {
  if (ctx >= sizes_.size()) sizes_.resize(ctx + 1);
  sizes_[ctx] = std::move(sizes);
}

void Checker::record(Violation v) {
  if (!enabled(v.kind)) return;
  ++total_;
  // Per-context counters exist only for declared contexts: register contents
  // the kernel itself wrote (the x86 agent's kKernelContext, e.g. crypto
  // keys left by kernel_fpu_begin() users) count in the totals only. An
  // exposure counts against the context whose data was exposed.
  const ContextId whose = v.kind == ViolationKind::kExposed ? v.other : v.context;
  stats_->add(violation_kinds()[static_cast<unsigned>(v.kind)].stat,
              whose < stats_->per_context.size() ? whose : kNoContext, 1);
  if (recorded_.size() < max_recorded_) recorded_.push_back(std::move(v));
}

void Checker::foreign_changed(Cycles t, CpuId cpu, ContextId ctx, ComponentMask foreign, const StateImage& regs,
                              FunctionRef<std::string(ContextId)> name_of,
                              FunctionRef<std::string(ComponentMask)> components_of) {
  if (ctx == kNoContext) return;  // kernel mode or idle: nothing checked, nothing forgotten
  ForeignSeen& s = foreign_[cpu];
  if (s.ctx != ctx) {
    s.ctx = ctx;
    s.comps = 0;
  }
  ComponentMask fresh = 0;
  for (unsigned i : bits(foreign)) {
    if (!(s.comps & bit(i)) || s.tok[i] != regs.tok[i]) fresh |= bit(i);
  }
  // One violation per owner of the newly found data.
  ComponentMask left = fresh;
  while (left) {
    const ContextId owner = regs.tok[static_cast<unsigned>(__builtin_ctzll(left))].owner;
    ComponentMask same = 0;
    for (unsigned i : bits(left)) {
      if (regs.tok[i].owner == owner) same |= bit(i);
    }
    left &= ~same;
    record({ViolationKind::kForeignRegs, t, cpu, ctx, owner, same,
            components_of(same) + " of " + name_of(owner) + " in the registers while " + name_of(ctx) +
                " runs in user mode with them accessible"});
  }
  s.comps = foreign;
  for (unsigned i : bits(foreign)) s.tok[i] = regs.tok[i];
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
