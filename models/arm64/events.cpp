// How traces write the arm64 events (traces/README.md): the component names
// the "sve_set_vl" kind with its "vl" key, and the KVM kinds.
#include "models/arm64/events.h"

#include "models/arm64/machine.h"

namespace fpusim::arm64 {

namespace {

enum Key : unsigned { kVl, kVcpu, kReason, kSm, kZa };

// kvm_exit's reasons as the arm64 model names them (ESR_EL2 classes and
// interrupts); informational: every exit is handled alike.
constexpr const char* kExitReasons[] = {"irq", "wfx", "hvc", "mmio", "sysreg", "other"};
constexpr unsigned kNumExitReasons = sizeof kExitReasons / sizeof kExitReasons[0];

class Arm64RecordCheck final : public RecordCheck {
 public:
  explicit Arm64RecordCheck(const std::unordered_map<std::string, ContextId>& names) {
    for (const auto& [name, id] : names) {
      if (name.rfind(kVcpuKeyPrefix, 0) != 0) continue;
      if (id >= is_vcpu_.size()) is_vcpu_.resize(id + 1, false);
      is_vcpu_[id] = true;
    }
  }
  std::string check(const Event& e) const override {
    switch (static_cast<unsigned>(e.kind)) {
      case static_cast<unsigned>(ev::kSveSetVl):
      case static_cast<unsigned>(ev::kSmeSetVl):
        if (e.sub || !valid_vl(static_cast<std::uint64_t>(e.arg)) || e.arg < 0) {
          return "malformed record (vl must be a multiple of 128 from 128 to 2048)";
        }
        return {};
      case static_cast<unsigned>(ev::kKvmRun):
        if (e.ctx >= is_vcpu_.size() || !is_vcpu_[e.ctx]) return "kvm_run names a context that is not a vCPU";
        return {};
      case static_cast<unsigned>(ev::kVmExit):
        if (e.sub >= kNumExitReasons || e.arg) return "malformed record";
        return {};
      case static_cast<unsigned>(ev::kVmEntry):
      case static_cast<unsigned>(ev::kKvmReturn): return {};
      case static_cast<unsigned>(ev::kSmstart):
      case static_cast<unsigned>(ev::kSmstop):
        if (e.sub == 0 || e.sub > (ev::kSmBit | ev::kZaBit) || e.arg) return "malformed record";
        return {};
      case static_cast<unsigned>(ev::kZaDisable):
        if (e.sub || e.arg) return "malformed record";
        if (e.ctx < is_vcpu_.size() && is_vcpu_[e.ctx]) return "za_disable names a vCPU, not a task";
        return {};
      case static_cast<unsigned>(ev::kSsveWrite):
        if (e.sub || e.arg || !e.write || (e.write & ~kMaskVec)) {
          return "malformed record (ssve_write writes fpsimd, sve_z, sve_p or sve_ffr)";
        }
        if (e.ctx < is_vcpu_.size() && is_vcpu_[e.ctx]) return "ssve_write names a vCPU, not a task";
        return {};
    }
    return "malformed record";
  }

 private:
  std::vector<bool> is_vcpu_;
};

class Arm64EventSyntax final : public EventSyntax {
 public:
  Arm64EventSyntax() {
    for (unsigned i = 0; i < kNumComponents; ++i) names_.push_back(component_name(i));
    for (unsigned i = 0; i < kNumComponents; ++i) components_.push_back({names_[i], bit(i)});
    components_.push_back({"sve", kMaskVec});  // a full SVE register-state write: Z (with V), P, FFR
    components_.push_back({"sme", kMaskZa});   // ZA and ZT0
  }
  const std::vector<std::string_view>& keys() const override {
    static const std::vector<std::string_view> k = {"vl", "vcpu", "reason", "sm", "za"};
    return k;
  }
  const std::vector<ArchKind>& kinds() const override {
    static const std::vector<ArchKind> k = {
        {ev::kSveSetVl, "sve_set_vl", {"vl"}, {"vl"}, kFieldSubArg, kFieldSubArg},
        {ev::kSmeSetVl, "sme_set_vl", {"vl"}, {"vl"}, kFieldSubArg, kFieldSubArg},
        {ev::kKvmRun, "kvm_run", {"vcpu"}, {"vcpu"}, kFieldCtx, kFieldCtx},  // ctx: the vCPU's guest context
        {ev::kVmEntry, "vm_entry", {}, {}, 0, 0},
        {ev::kVmExit, "vm_exit", {"reason"}, {"reason"}, kFieldSubArg, 0},  // sub: the reason
        {ev::kKvmReturn, "kvm_return", {}, {}, 0, 0},
        {ev::kSmstart, "smstart", {"sm", "za"}, {}, kFieldSubArg, kFieldSubArg},  // sub: kSmBit | kZaBit
        {ev::kSmstop, "smstop", {"sm", "za"}, {}, kFieldSubArg, kFieldSubArg},
        {ev::kZaDisable, "za_disable", {"target"}, {"target"}, kFieldCtx, kFieldCtx},  // ctx: the tracee
        {ev::kSsveWrite, "ssve_write", {"target", "write"}, {"target", "write"}, kFieldCtx | kFieldWrite,
         kFieldCtx | kFieldWrite},
    };
    return k;
  }
  const std::vector<ComponentName>& components() const override { return components_; }
  std::string_view components_hint() const override {
    return "fpsimd, sve_z, sve_p, sve_ffr, sve (all four), za, zt0, sme (both) or fpmr";
  }

  void decode_key(unsigned key, EventInput& in, Event& out) const override {
    if (key == kVl) {
      const std::uint64_t vl = in.u64(2048);
      if (!valid_vl(vl)) in.fail("/vl", "a vector length in bits: a multiple of 128 from 128 to 2048");
      out.arg = static_cast<std::int64_t>(vl);
    } else if (key == kVcpu) {
      in.string();  // a name, resolved in finish()
    } else if (key == kSm || key == kZa) {
      // "true" sets its bit; with neither key both are meant (finish()).
      if (in.boolean()) out.sub |= key == kSm ? ev::kSmBit : ev::kZaBit;
    } else if (key == kReason) {
      const std::string_view r = in.string();
      for (unsigned i = 0; i < kNumExitReasons; ++i) {
        if (r == kExitReasons[i]) {
          out.sub = static_cast<std::uint8_t>(i);
          return;
        }
      }
      in.fail("/reason", "unknown arm64 VM exit reason \"" + std::string(r) + "\"; expected irq, wfx, hvc, mmio, sysreg or other");
    }
  }
  void finish(const EventInput& in, Event& out) const override {
    if (out.kind == ev::kSmstart || out.kind == ev::kSmstop) {
      if (!in.has("sm") && !in.has("za")) out.sub = ev::kSmBit | ev::kZaBit;  // SMSTART / SMSTOP: both
      if (!out.sub) in.fail("", "an \"" + std::string(out.kind == ev::kSmstart ? "smstart" : "smstop") +
                                    "\" needs \"sm\" or \"za\" true (or neither key, for both)");
      return;
    }
    if (out.kind == ev::kZaDisable || out.kind == ev::kSsveWrite) {
      const std::string name(in.text("target"));
      const ContextId* id = in.find(name);
      if (!id || name.rfind(kVcpuKeyPrefix, 0) == 0) in.fail("/target", "unknown context \"" + name + "\" (declare it in /contexts)");
      out.ctx = *id;
      if (out.kind == ev::kSsveWrite && (out.write & ~kMaskVec)) {
        in.fail("/write", "the NT_ARM_SSVE regset's registers: fpsimd (the FPSIMD format), sve_z, sve_p, sve_ffr or sve");
      }
      return;
    }
    if (out.kind != ev::kKvmRun) return;
    const std::string name(in.text("vcpu"));
    const ContextId* id = in.find(kVcpuKeyPrefix + name);
    if (!id) in.fail("/vcpu", "unknown vCPU \"" + name + "\" (declare it in /vms/*/vcpus)");
    out.ctx = *id;
  }

  std::unique_ptr<RecordCheck> record_check(const std::unordered_map<std::string, ContextId>& names) const override {
    return std::make_unique<Arm64RecordCheck>(names);
  }
  bool own_name(std::string_view entry) const override {
    return entry.substr(0, kVmKeyPrefix.size()) == kVmKeyPrefix ||
           entry.substr(0, kVcpuKeyPrefix.size()) == kVcpuKeyPrefix;
  }

 private:
  std::vector<std::string> names_;
  std::vector<ComponentName> components_;
};

}  // namespace

const EventSyntax& event_syntax() {
  static const Arm64EventSyntax s;
  return s;
}

}  // namespace fpusim::arm64
