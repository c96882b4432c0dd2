// The oracle (DESIGN principle 3). Every FP/SIMD use by a context checks that
// the register file holds that context's latest version of each component it
// touches (else: lost state) and no other context's data (else: leaked
// state). Exposure is the time during which a context's live data sits in a
// CPU's registers while another context runs there in user mode with the
// trap armed: the LazyFP window (CVE-2018-3665). It is always measured, and it
// is a violation on machines that speculate past #NM.
#pragma once

#include <array>
#include <string>
#include <vector>

#include <memory>

#include "models/core/component_sizes.h"
#include "models/core/function_ref.h"
#include "models/core/types.h"
#include "models/core/register_file.h"
#include "models/core/state_key.h"
#include "models/core/stats.h"

namespace fpusim {

// kLost, kLeaked: a use (or a save the context can read back, such as a
// signal frame) found the registers without the context's latest state, or
// with another context's data (Checker::check_use).
// kExposed: a foreign context's data sat under an armed trap while another
// context ran in user mode, on a machine that speculates past the trap.
// kTrapConfig: a context runs in user mode with access to a component
// enabled that it does not own, or trapped that it owns; the architecture
// says which (Checker::check_trap_config).
// kKernelTrap: the kernel accessed state while its own trap configuration
// traps the access (the architecture finds it: record_violation).
// kForeignRegs: a context runs in user mode while registers it can reach
// (no trap armed) hold another context's data that it has not taken as its
// own: the kernel loaded, or left, the wrong context's contents, whether or
// not the context goes on to use them (Checker::update).
enum class ViolationKind : std::uint8_t { kLost, kLeaked, kExposed, kTrapConfig, kKernelTrap, kForeignRegs };
constexpr unsigned kNumViolationKinds = 6;

// One table of the kinds, for every writer and reader of them: the name
// reports, expectations and --disable-rule use, the text summary's label,
// and the counter.
struct ViolationKindInfo {
  ViolationKind kind;
  std::string_view name;   // "trap_config"
  std::string_view label;  // "trap config"
  Stat stat;               // violations_trap_config
  bool rule;               // a rule that can be switched off (not kLost/kLeaked, the oracle itself)
};
const std::array<ViolationKindInfo, kNumViolationKinds>& violation_kinds();
std::string_view violation_kind_name(ViolationKind k);
// The kind named `name`, or null.
const ViolationKindInfo* find_violation_kind(std::string_view name);

struct Violation {
  ViolationKind kind;
  Cycles time;
  CpuId cpu;
  ContextId context;       // the context that lost state, or saw foreign state
  ContextId other;         // whose data it saw / whose data was exposed
  ComponentMask components;
  std::string detail;
};

class Checker {
 public:
  // Only the first `max_recorded` violations are kept in full; all are
  // counted. `component_bytes`: the sizes of every context's components
  // unless set_sizes() gives it its own.
  Checker(unsigned cpus, std::array<std::uint32_t, kMaxComponents> component_bytes, bool exposure_is_violation,
          Stats* stats, size_t max_recorded = 1000);

  // A copy of `o`'s state (explore's clone of a run) counting into `stats`.
  Checker(const Checker& o, Stats* stats) : Checker(o) { stats_ = stats; }

  // The component sizes of `ctx`'s data from now on (exposure is weighted by
  // the bytes of the foreign data, as its owner holds it).
  void set_sizes(ContextId ctx, std::shared_ptr<const ComponentSizes> sizes);

  // A use by `ctx` of `touched` components on `cpu`, after any trap was
  // handled. `truth` is the context's own latest state. On a mismatch the
  // violation is recorded and the truth adopts what the registers hold, so
  // one loss is reported once.
  void check_use(Cycles t, CpuId cpu, ContextId ctx, StateImage& truth, const StateImage& regs,
                 ComponentMask touched, FunctionRef<std::string(ContextId)> name_of,
                 FunctionRef<std::string(ComponentMask)> components_of, const char* holder = "registers") {
    // Inline, the common case (every use): the registers hold exactly the
    // context's own versions of what it touches.
    if (!((truth.present ^ regs.present) & touched)) {
      bool same = true;
      for (unsigned i : bits(touched & truth.present)) same &= truth.tok[i] == regs.tok[i];
      if (same) return;
    }
    check_use_mismatch(t, cpu, ctx, truth, regs, touched, name_of, components_of, holder);
  }
  // A violation found by a model-specific check (e.g. a guest MSR read).
  void record_violation(Violation v) { record(std::move(v)); }

  // Switches a rule off (`fpusim run --disable-rule KIND`): its violations
  // are neither counted nor recorded, so that a test can show which bugs a
  // rule alone catches. Off from the start of a run, never midway.
  void disable(ViolationKind k) { disabled_ |= 1u << static_cast<unsigned>(k); }
  bool enabled(ViolationKind k) const { return !(disabled_ & (1u << static_cast<unsigned>(k))); }

  // The trap configuration for `ctx`, running in user mode on `cpu`, after
  // an event: `enabled_unowned` are components its accesses would reach
  // although it does not own them (the kernel tracks no state of it there),
  // `trapped_owned` components it owns whose accesses would trap. Each
  // component that becomes wrong for `ctx` is one violation, not one per
  // event while it stays wrong, nor again after a stay in the kernel
  // (ctx kNoContext: nothing is checked, nothing forgotten). The
  // architecture decides ownership (arm64: TIF_SVE and TIF_SME against
  // CPACR_EL1.ZEN and SMEN).
  void check_trap_config(Cycles t, CpuId cpu, ContextId ctx, ComponentMask enabled_unowned,
                         ComponentMask trapped_owned, FunctionRef<std::string(ContextId)> name_of) {
    TrapConfigSeen& s = trap_config_[cpu];
    if (ctx == kNoContext || (!enabled_unowned && !trapped_owned && s.ctx == kNoContext)) return;
    trap_config_changed(t, cpu, ctx, enabled_unowned, trapped_owned, name_of);
  }

  // Exposure bookkeeping for one CPU: call `advance` with the time of every
  // event before handling it, then `update` with the state after it.
  // Both run for every event: the common cases are inline.
  void advance(CpuId cpu, Cycles t) {
    CpuExposure& e = cpu_[cpu];
    if (e.bytes && t > e.since) add_exposure(e, t);
    e.since = t;
  }
  // `user_ctx`: the context running in user mode on `cpu`, or kNoContext;
  // `truth` its latest state (what it may hold of others': data it already
  // took as its own after a reported violation, or was handed).
  // `armed`: the components whose access by user code would trap.
  // Also the foreign-registers rule: the components user code can reach
  // (present, not armed) must hold user_ctx's data; each foreign version
  // found there is one violation, not one per event, nor again after a stay
  // in the kernel with the registers unchanged.
  void update(CpuId cpu, Cycles t, ContextId user_ctx, const StateImage* truth, const StateImage& regs,
              ComponentMask armed, FunctionRef<std::string(ContextId)> name_of,
              FunctionRef<std::string(ComponentMask)> components_of) {
    // The common case: every reachable component is user_ctx's own.
    ComponentMask other = 0;
    if (user_ctx != kNoContext) {
      for (ComponentMask m = regs.present & ~armed; m; m &= m - 1) {
        const unsigned i = static_cast<unsigned>(__builtin_ctzll(m));
        if (regs.tok[i].owner != user_ctx) other |= bit(i);
      }
    }
    if (other || foreign_[cpu].comps) {
      foreign_changed(t, cpu, user_ctx, foreign_of(other, regs, truth), regs, name_of, components_of);
    }
    if (user_ctx == kNoContext || !(regs.present & armed)) {  // nothing exposed
      CpuExposure& e = cpu_[cpu];
      e.bytes = 0;
      e.since = t;
      return;
    }
    update_exposed(cpu, t, user_ctx, regs, armed, name_of, components_of);
  }

  // What the checker remembers that decides its future verdicts (explore's
  // state key): per CPU, whether an exposure window is open, and what the
  // trap-configuration and foreign-registers rules last reported.
  void state_key(StateKey& k) const {
    for (CpuId c : k.cpus()) {
      k.b(cpu_[c].bytes != 0);
      k.ctx(trap_config_[c].ctx);
      k.u(trap_config_[c].enabled);
      k.u(trap_config_[c].trapped);
      k.ctx(foreign_[c].ctx);
      k.tokens(foreign_[c].tok, foreign_[c].comps);
    }
  }

  const std::vector<Violation>& violations() const { return recorded_; }
  std::uint64_t total_violations() const { return total_; }
  // Largest number of bytes of foreign state exposed at once.
  std::uint64_t peak_exposed_bytes() const { return peak_bytes_; }

 private:
  void record(Violation v);

  struct CpuExposure {
    Cycles since = 0;
    std::uint64_t bytes = 0;
  };
  void check_use_mismatch(Cycles t, CpuId cpu, ContextId ctx, StateImage& truth, const StateImage& regs,
                          ComponentMask touched, FunctionRef<std::string(ContextId)> name_of,
                          FunctionRef<std::string(ComponentMask)> components_of, const char* holder);
  void add_exposure(const CpuExposure& e, Cycles t);
  void update_exposed(CpuId cpu, Cycles t, ContextId user_ctx, const StateImage& regs, ComponentMask armed,
                      FunctionRef<std::string(ContextId)> name_of,
                      FunctionRef<std::string(ComponentMask)> components_of);
  std::vector<CpuExposure> cpu_;
  // Per CPU: what check_trap_config() last reported, for which context.
  struct TrapConfigSeen {
    ContextId ctx = kNoContext;
    ComponentMask enabled = 0, trapped = 0;
  };
  std::vector<TrapConfigSeen> trap_config_;
  // Per CPU: the foreign versions last reported (comps, tok), for which
  // context; kept while the CPU is in the kernel.
  struct ForeignSeen {
    ContextId ctx = kNoContext;
    ComponentMask comps = 0;
    std::array<Token, kMaxComponents> tok{};
  };
  std::vector<ForeignSeen> foreign_;
  // Of `other` (components whose token is not the running context's):
  // those holding some context's data that the running context's truth has
  // not taken as its own.
  static ComponentMask foreign_of(ComponentMask other, const StateImage& regs, const StateImage* truth) {
    ComponentMask foreign = 0;
    for (unsigned i : bits(other)) {
      const Token& h = regs.tok[i];
      if (h.owner != kNoContext && !(truth && (truth->present & bit(i)) && truth->tok[i] == h)) foreign |= bit(i);
    }
    return foreign;
  }
  void foreign_changed(Cycles t, CpuId cpu, ContextId ctx, ComponentMask foreign, const StateImage& regs,
                       FunctionRef<std::string(ContextId)> name_of,
                       FunctionRef<std::string(ComponentMask)> components_of);
  std::uint32_t disabled_ = 0;
  void trap_config_changed(Cycles t, CpuId cpu, ContextId ctx, ComponentMask enabled_unowned,
                           ComponentMask trapped_owned, FunctionRef<std::string(ContextId)> name_of);
  bool exposure_is_violation_;
  Stats* stats_;
  size_t max_recorded_;
  std::vector<Violation> recorded_;
  std::uint64_t total_ = 0;
  std::uint64_t peak_bytes_ = 0;
  const ComponentSizes& sizes_of(ContextId c) const {
    return c < sizes_.size() && sizes_[c] ? *sizes_[c] : *default_sizes_;
  }
  std::shared_ptr<const ComponentSizes> default_sizes_;
  std::vector<std::shared_ptr<const ComponentSizes>> sizes_;  // per context; null: the default
};

}  // namespace fpusim
