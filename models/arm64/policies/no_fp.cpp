#include "models/arm64/policies/no_fp.h"

namespace fpusim::arm64 {

namespace {

class NoFpPolicy final : public Policy {
 public:
  void init_context(Agent&, Context&) override {}
  void thread_switch(Agent&, CpuId, Context*, Context*) override {}
  void return_to_user(Agent&, CpuId, Context&) override {}
  void syscall_enter(Agent&, CpuId, Context&) override {}
  void sve_acc(Agent&, CpuId, Context& ctx) override { panic("arm64: SVE trap of " + ctx.name + " without FP"); }
  void sme_acc(Agent&, CpuId, Context& ctx) override { panic("arm64: SME trap of " + ctx.name + " without FP"); }
  void kernel_neon_begin(Agent&, CpuId, Context*) override { panic("arm64: kernel_neon_begin() without FP"); }
  void kernel_neon_end(Agent&, CpuId, Context*) override {}
  // A signal frame without FP records; sigreturn restores none.
  StateImage signal_deliver(Agent&, CpuId, Context&) override { return StateImage{}; }
  void sigreturn(Agent&, CpuId, Context&, const StateImage&) override {}
  void fork(Agent&, CpuId, Context&, Context&) override {}
  void exec(Agent&, CpuId, Context&) override {}
  void exit(Agent&, CpuId, Context&) override {}
  void state_read(Agent&, CpuId, Context&) override {}
  void state_written(Agent&, Context&, ComponentMask, bool) override {}
  void za_disabled(Agent&, Context&) override {}
  void set_vl(Agent&, CpuId, Context& ctx, unsigned) override { panic("arm64: VL change of " + ctx.name + " without FP"); }
  void set_svl(Agent&, CpuId, Context& ctx, unsigned) override {
    panic("arm64: SME VL change of " + ctx.name + " without FP");
  }
  bool save_sve_for_current(const Context&) const override { return false; }
};

class NoFpKvm final : public KvmScheme {
 public:
  bool sve_vcpus() const override { return false; }
  bool sme_aware() const override { return true; }
  bool runs_protected() const override { return true; }  // nothing to save either way
  // kvm_arch_vcpu_load_fp(): "if (!system_supports_fpsimd()) return;"
  void vcpu_load(Agent&, CpuId, Vcpu& v, Context&) override { v.fp_owner = FpOwner::kFree; }
  void ctxflush(Agent&, CpuId, Vcpu&, Context&) override {}
  bool guest_fp_trapped(const Agent&, CpuId, const Vcpu&) const override { return true; }
  void guest_trap(Agent&, CpuId, Vcpu& v, Context&) override { panic("arm64: guest FP trap of " + v.name + " without FP"); }
  void exit(Agent&, CpuId, Vcpu&, Context&) override {}
  void ctxsync(Agent&, CpuId, Vcpu&, Context&) override {}
  void vcpu_put(Agent&, CpuId, Vcpu&, Context&) override {}
};

}  // namespace

std::unique_ptr<Policy> make_no_fp_policy() { return std::make_unique<NoFpPolicy>(); }
std::unique_ptr<KvmScheme> make_no_fp_kvm() { return std::make_unique<NoFpKvm>(); }

}  // namespace fpusim::arm64
