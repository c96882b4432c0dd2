// Explore's state key of the arm64 agent (ArchAgent::state_key,
// models/core/state_key.h): every field a later event reads, in one place.
// A field added to CpuState, Context or Vcpu that changes what the agent
// does must be written here too; explore's --verify
// (tests/explore_test.sh) replays random suffixes from states that met
// under one key and fails when their futures differ.
#include "models/arm64/agent.h"

namespace fpusim::arm64 {

void Agent::state_key(StateKey& k) const {
  for (CpuId c : k.cpus()) {
    const CpuState& s = cpus_[c];
    k.ctx(s.current);
    k.ctx(s.last);
    k.b(s.zen_el0);
    k.b(s.smen_el0);
    k.b(s.smen_el1);
    k.b(s.smen_el1_unsynchronised);
    k.b(s.kernel_trap_reported);
    k.b(s.sm);
    k.b(s.za);
    k.u(s.smcr_vl);
    k.u(s.zcr_vl);
    k.u(static_cast<unsigned>(s.to_save));
    k.b(s.guest_fp_open);
    k.b(s.hyp_guest_live);
    k.image(s.hyp_host);
    k.register_file(s.rf);
  }
  for (ContextId id : k.contexts()) {
    const Context& c = contexts_[id];
    k.context_base(c);
    k.image(c.image);
    k.image(c.sve_buf);
    k.u(static_cast<unsigned>(c.fp_type));
    k.b(c.foreign);
    k.b(c.tif_sve);
    k.cpu(c.fpsimd_cpu);
    k.u(c.vcpu);
    k.u(c.vl);
    k.u(c.svl);
    k.b(c.tif_sme);
    k.b(c.svcr_sm);
    k.b(c.svcr_za);
    k.u(c.frame_info.size());
    for (const Context::FrameInfo& f : c.frame_info) {
      k.b(f.sve);
      k.b(f.sm);
      k.b(f.za);
      k.image(f.truth);
    }
  }
  for (const Vcpu& v : vcpus_) {
    k.b(v.in_run);
    k.b(v.in_guest);
    k.b(v.loaded);
    k.u(static_cast<unsigned>(v.fp_owner));
    k.b(v.host_sve_in_use);
    k.b(v.host_sve_enabled);
    k.b(v.host_sme_enabled);
  }
  checker_->state_key(k);
}

}  // namespace fpusim::arm64
