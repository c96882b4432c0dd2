// How traces write the x86 events (traces/README.md): the keys, kinds and
// component names the shared decoders (sim/input) take from the
// architecture, the VM and vCPU name lookups, and the checks of binary
// records' `sub` / `arg` fields.
#include "models/x86/events.h"

#include "models/x86/kvm.h"
#include "models/x86/xstate.h"

namespace fpusim::x86 {

namespace {

// Indices in X86EventSyntax::keys().
enum Key : unsigned { kFeatures, kVcpu, kVm, kReason, kMsr, kValue, kXcr0, kIndex, kSlot, kOsxsave };

bool names_vcpu(EventKind k) {
  return k == ev::kKvmRun || k == ev::kVcpuSaveState || k == ev::kVcpuLoadState || k == ev::kKvmSetXsave;
}

class X86RecordCheck final : public RecordCheck {
 public:
  explicit X86RecordCheck(const std::unordered_map<std::string, ContextId>& names) {
    for (const auto& [name, id] : names) {
      if (name.rfind(kVmKeyPrefix, 0) == 0) {
        ++vms_;
      } else if (name.rfind(kVcpuKeyPrefix, 0) == 0) {
        if (id >= is_vcpu_.size()) is_vcpu_.resize(id + 1, false);
        is_vcpu_[id] = true;
      }
    }
  }

  std::string check(const Event& e) const override {
    const char* const malformed = "malformed record";
    switch (static_cast<unsigned>(e.kind)) {
      case static_cast<unsigned>(ev::kVmCreate):
      case static_cast<unsigned>(ev::kVmDestroy):
        if (e.arg < 0 || static_cast<std::uint64_t>(e.arg) >= vms_) return "VM index out of range";
        break;
      case static_cast<unsigned>(ev::kVmExit):  // sub: the reason
        if (e.sub >= static_cast<unsigned>(VmExitReason::kCount) || e.arg) return malformed;
        break;
      case static_cast<unsigned>(ev::kGuestWrmsr):  // sub: the MSR
      case static_cast<unsigned>(ev::kGuestRdmsr):
        if (e.sub > 1 || e.arg) return malformed;
        break;
      case static_cast<unsigned>(ev::kGuestXsetbv):  // arg: ECX
        if (e.sub || e.arg < 0 || e.arg > 0xffffffffll) return malformed;
        break;
      case static_cast<unsigned>(ev::kGuestCr4):  // sub: OSXSAVE
        if (e.sub > 1 || e.arg) return malformed;
        break;
      case static_cast<unsigned>(ev::kVcpuSaveState):  // arg: the slot; kvm_set_xsave: -1 = new values
      case static_cast<unsigned>(ev::kVcpuLoadState):
      case static_cast<unsigned>(ev::kKvmSetXsave):
        if (e.sub || e.arg < (e.kind == ev::kKvmSetXsave ? -1 : 0) || e.arg > 0x7fffffffll ||
            (e.kind == ev::kKvmSetXsave && (e.arg < 0) != (e.write != 0))) {
          return malformed;
        }
        break;
      default:
        if (e.sub || e.arg) return malformed;
        break;
    }
    if (names_vcpu(e.kind) && (e.ctx >= is_vcpu_.size() || !is_vcpu_[e.ctx])) {
      return "context " + std::to_string(e.ctx) + " is not a vCPU";
    }
    return {};
  }

 private:
  std::uint64_t vms_ = 0;       // VMs the scenario declares
  std::vector<bool> is_vcpu_;   // per context: a vCPU's guest state
};

class X86EventSyntax final : public EventSyntax {
 public:
  X86EventSyntax() {
    for (unsigned i = 0; i < kNumXfeatures; ++i) component_names_.push_back(component_name(i));
    for (unsigned i = 0; i < kNumXfeatures; ++i) components_.push_back({component_names_[i], bit(i)});
    components_.insert(components_.end(),
                       {{"avx", bit(kYMM)}, {"avx512", kMaskAvx512}, {"amx", kMaskAmx}, {"fpu", kMaskFpSse}});
  }

  const std::vector<std::string_view>& keys() const override {
    static const std::vector<std::string_view> k = {"features", "vcpu",  "vm",    "reason", "msr",
                                                    "value",    "xcr0",  "index", "slot",   "osxsave"};
    return k;
  }

  const std::vector<ArchKind>& kinds() const override {
    constexpr std::uint8_t ctx = kFieldCtx, write = kFieldWrite, ext = kFieldSubArg;
    static const std::vector<ArchKind> k = {
        {ev::kXcompPerm, "xcomp_perm", {"features"}, {"features"}, write, write},
        {ev::kXcompGuestPerm, "xcomp_guest_perm", {"features"}, {"features"}, write, write},
        {ev::kVmCreate, "vm_create", {"vm"}, {"vm"}, ext, 0},  // arg: the VM (its index in "vms")
        {ev::kVmDestroy, "vm_destroy", {"vm"}, {"vm"}, ext, 0},
        {ev::kKvmRun, "kvm_run", {"vcpu"}, {"vcpu"}, ctx, ctx},  // ctx: the vCPU's guest context
        {ev::kVmEntry, "vm_entry", {}, {}, 0, 0},
        {ev::kVmExit, "vm_exit", {"reason"}, {"reason"}, ext, 0},  // sub: the reason
        {ev::kKvmReturn, "kvm_return", {}, {}, 0, 0},
        // sub: the MSR; the value may be 0
        {ev::kGuestWrmsr, "guest_wrmsr", {"msr", "value"}, {"msr", "value"}, write | ext, 0},
        {ev::kGuestRdmsr, "guest_rdmsr", {"msr"}, {"msr"}, ext, 0},
        // arg: ECX; XCR0 may be 0
        {ev::kGuestXsetbv, "guest_xsetbv", {"xcr0", "index"}, {"xcr0"}, write | ext, 0},
        {ev::kGuestCr4, "guest_cr4", {"osxsave"}, {"osxsave"}, ext, 0},  // sub: OSXSAVE
        {ev::kVcpuSaveState, "vcpu_save_state", {"vcpu", "slot"}, {"vcpu", "slot"}, ctx | ext, ctx},
        {ev::kVcpuLoadState, "vcpu_load_state", {"vcpu", "slot"}, {"vcpu", "slot"}, ctx | ext, ctx},
        // arg: the slot, -1 with new values in `write`
        {ev::kKvmSetXsave, "kvm_set_xsave", {"vcpu", "slot", "write"}, {"vcpu"}, ctx | write | ext, ctx},
    };
    return k;
  }

  const std::vector<ComponentName>& components() const override { return components_; }
  std::string_view components_hint() const override {
    return "x87, sse, ymm (avx), opmask, zmm_hi256, hi16_zmm (avx512), pkru, xtilecfg, xtiledata (amx), apx, "
           "bndregs, bndcsr or a supervisor component";
  }

  void decode_key(unsigned key, EventInput& in, Event& out) const override {
    switch (key) {
      case kFeatures:
      case kValue:
      case kXcr0: out.write = in.components(); break;
      case kVcpu:
      case kVm: in.string(); break;  // a name, resolved in finish()
      case kReason: {
        const std::string_view r = in.string();
        VmExitReason reason;
        if (!vm_exit_reason_by_name(r, &reason)) {
          in.fail("/reason", "unknown VM exit reason \"" + std::string(r) +
                                 "\"; expected external_interrupt, hlt, io, mmio, msr, xsetbv, nm or other");
        }
        out.sub = static_cast<std::uint8_t>(reason);
        break;
      }
      case kMsr: {
        const std::string_view m = in.string();
        if (m == "xfd") out.sub = static_cast<std::uint8_t>(GuestMsr::kXfd);
        else if (m == "xfd_err") out.sub = static_cast<std::uint8_t>(GuestMsr::kXfdErr);
        else in.fail("/msr", "expected \"xfd\" (IA32_XFD) or \"xfd_err\" (IA32_XFD_ERR), got \"" + std::string(m) + "\"");
        break;
      }
      case kIndex: out.arg = static_cast<std::int64_t>(in.u64(0xffffffffu)); break;
      case kSlot: out.arg = static_cast<std::int64_t>(in.u64(0x7fffffffu)); break;
      case kOsxsave: out.sub = in.boolean(); break;
    }
  }

  void finish(const EventInput& in, Event& out) const override {
    switch (static_cast<unsigned>(out.kind)) {
      case static_cast<unsigned>(ev::kXcompPerm):
      case static_cast<unsigned>(ev::kXcompGuestPerm):
        if (!out.write) in.fail("/features", "expected at least one feature");
        break;
      case static_cast<unsigned>(ev::kKvmRun):
      case static_cast<unsigned>(ev::kVcpuSaveState):
      case static_cast<unsigned>(ev::kVcpuLoadState):
      case static_cast<unsigned>(ev::kKvmSetXsave): {
        const std::string name(in.text("vcpu"));
        const ContextId* id = in.find(kVcpuKeyPrefix + name);
        if (!id) in.fail("/vcpu", "unknown vCPU \"" + name + "\" (declare it in /vms/*/vcpus)");
        out.ctx = *id;
        if (out.kind == ev::kKvmSetXsave) {
          const bool slot = in.has("slot");
          if (!slot) out.arg = -1;
          if (slot == in.has("write")) {
            in.fail("", "a \"kvm_set_xsave\" event needs either \"slot\" (a saved state) or \"write\" (new values)");
          }
        }
        break;
      }
      case static_cast<unsigned>(ev::kVmCreate):
      case static_cast<unsigned>(ev::kVmDestroy): {
        const std::string name(in.text("vm"));
        const ContextId* id = in.find(kVmKeyPrefix + name);
        if (!id) in.fail("/vm", "unknown VM \"" + name + "\" (declare it in /vms)");
        out.arg = *id;
        break;
      }
      default: break;
    }
  }

  std::unique_ptr<RecordCheck> record_check(const std::unordered_map<std::string, ContextId>& names) const override {
    return std::make_unique<X86RecordCheck>(names);
  }
  bool own_name(std::string_view entry) const override {
    return entry.substr(0, kVmKeyPrefix.size()) == kVmKeyPrefix ||
           entry.substr(0, kVcpuKeyPrefix.size()) == kVcpuKeyPrefix;
  }

 private:
  std::vector<std::string> component_names_;
  std::vector<ComponentName> components_;  // views of component_names_, then the group aliases
};

}  // namespace

const EventSyntax& event_syntax() {
  static const X86EventSyntax s;
  return s;
}

}  // namespace fpusim::x86
