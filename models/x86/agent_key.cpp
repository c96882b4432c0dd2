// Explore's state key of the x86 agent (ArchAgent::state_key,
// models/core/state_key.h): every field a later event reads, in one place.
// A field added to CpuState, Context, Fpstate, Process, Vm or Vcpu that
// changes what the agent does must be written here too; explore's --verify
// (tests/explore_test.sh) replays random suffixes from states that met
// under one key and fails when their futures differ.
#include "models/x86/agent.h"

namespace fpusim::x86 {

namespace {

void write_process(StateKey& k, const Process& p) {
  k.u(p.perm);
  k.u(p.guest_perm);
  k.b(p.guest_perm_locked);
}

void write_fpstate(StateKey& k, const Fpstate& f) {
  k.buffer(f.id);
  k.u(f.xfeatures);
  k.u(f.xfd);
  k.u(f.size);
  k.u(f.user_size);
  k.image(f.image);
  k.b(f.header_invalid);
}

}  // namespace

void Agent::state_key(StateKey& k) const {
  for (CpuId c : k.cpus()) {
    const CpuState& s = cpus_[c];
    k.ctx(s.current);
    k.ctx(s.owner_ctx);
    k.u(s.xfd_cache);
    k.register_file(s.rf);
    k.b(s.trap.cr0_ts);
    k.u(s.trap.xcr0);
    k.u(s.trap.xfd);
    k.u(s.trap.xfd_err);
    k.ctx(s.keeper);
    k.u(s.kept);
  }
  for (ContextId id : k.contexts()) {
    const Context& c = contexts_[id];
    // Processes are written with their contexts: the contexts explore may
    // exchange have a process each.
    write_process(k, processes_[c.process]);
    k.context_base(c);
    write_fpstate(k, c.fpstate);
    k.b(c.need_fpu_load);
    k.cpu(c.last_cpu);
    k.b(c.fpregs_active);
    k.b(c.fpstate_active);
    k.u(c.counter);
    k.u(c.vcpu);
    k.b(c.fpstate_swapped);
    k.u(c.guest_of);
    k.u(static_cast<unsigned>(c.pending));
    k.ctx(c.owner_seen);
  }
  for (const Vm& vm : vms_) {
    k.b(vm.exists);
    write_process(k, processes_[vm.process]);
  }
  for (const Vcpu& v : vcpus_) {
    k.b(v.exists);
    k.b(v.in_run);
    k.b(v.in_guest);
    k.b(v.msr_exit_pending);
    k.u(v.xcr0);
    k.b(v.osxsave);
    k.u(v.xfd_err);
    k.b(v.xfd_no_write_intercept);
    k.u(v.kvm_xfd);
    k.u(v.guest_xfd_msr);
    k.b(v.fpu_loaded);
    k.b(v.fpu_active);
    k.u(v.fpu_counter);
    k.b(v.deactivate_pending);
    k.b(v.host_regs_were_active);
    k.b(v.host_ts);
    k.u(v.undefined);
    k.image(v.firmware);
    k.u(v.truth_xfd);
    k.u(v.truth_xfd_err);
    k.u(v.snapshots.size());
    for (const auto& [slot, snap] : v.snapshots) {
      k.u(slot);
      k.image(snap.image);
      k.u(snap.xfd);
      k.u(snap.xfd_err);
      k.u(snap.xcr0);
    }
  }
  checker_->state_key(k);
}

}  // namespace fpusim::x86
