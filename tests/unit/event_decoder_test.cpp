// EventDecoder (sim/input/event.cpp): every event kind decodes into the
// fields the replayer uses, and every malformed event is one InputError that
// names the file, the JSON path of the offending value and what was expected
// (DESIGN principle 4).
#include <gtest/gtest.h>

#include <simdjson.h>

#include <string>
#include <unordered_map>

#include "models/x86/events.h"
#include "models/x86/kvm.h"
#include "models/x86/xstate.h"
#include "sim/input/event.h"

using namespace fpusim;

namespace {

constexpr ComponentMask kX87 = bit(x86::kX87), kSse = bit(x86::kSSE), kYmm = bit(x86::kYMM);

struct DecoderTest : ::testing::Test {
  std::unordered_map<std::string, ContextId> contexts{{"A", 0}, {"B", 1}};
  EventDecoder dec{x86::event_syntax(), &contexts, 2, EventOrigin{"s.json", false}};
  std::uint64_t index = 0;

  Event decode(const std::string& text) {
    std::string buf = text;
    const size_t len = buf.size();
    buf.append(simdjson::SIMDJSON_PADDING, '\0');
    Event e;
    dec.decode(buf.data(), len, buf.size(), index++, e);
    return e;
  }
  // The error a line produces (fails the test if there is none).
  InputError error(const std::string& text) {
    try {
      decode(text);
    } catch (const InputError& e) {
      return e;
    }
    ADD_FAILURE() << "no error for " << text;
    return {};
  }
};

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << "in: " << (haystack)

// ---------------------------------------------------------------- valid events

TEST_F(DecoderTest, Switch) {
  Event e = decode(R"({"t": 5, "cpu": 1, "ev": "switch", "next": "B"})");
  EXPECT_EQ(e.kind, EventKind::kSwitch);
  EXPECT_EQ(e.t, 5u);
  EXPECT_EQ(e.cpu, 1u);
  EXPECT_EQ(e.ctx, 1u);
  EXPECT_EQ(e.index, 0u);
  e = decode(R"({"t": 5, "cpu": 1, "ev": "switch", "next": null})");
  EXPECT_EQ(e.ctx, kNoContext);  // idle
  EXPECT_EQ(e.index, 1u);
}

TEST_F(DecoderTest, Use) {
  Event e = decode(
      R"({"t": 0, "cpu": 0, "ev": "use", "ctx": "A", "write": ["sse", "avx"], "read": ["x87"], "release": ["avx512", "amx"]})");
  EXPECT_EQ(e.kind, EventKind::kUse);
  EXPECT_EQ(e.ctx, 0u);
  EXPECT_EQ(e.write, kSse | kYmm);
  EXPECT_EQ(e.read, kX87);
  EXPECT_EQ(e.release, x86::kMaskAvx512 | x86::kMaskAmx);
  e = decode(R"({"t": 0, "cpu": 0, "ev": "use", "read": ["fpu"]})");
  EXPECT_EQ(e.ctx, kNoContext);  // "ctx" is optional
  EXPECT_EQ(e.read, kX87 | kSse);
}

TEST_F(DecoderTest, EventsWithoutArguments) {
  const std::pair<const char*, EventKind> kinds[] = {
      {"syscall", EventKind::kSyscall}, {"return_to_user", EventKind::kReturnToUser},
      {"signal", EventKind::kSignal},   {"sigreturn", EventKind::kSigreturn},
      {"exec", EventKind::kExec},       {"exit", EventKind::kExit}};
  for (const auto& [name, kind] : kinds) {
    const Event e = decode(std::string(R"({"t": 1, "cpu": 0, "ev": ")") + name + "\"}");
    EXPECT_EQ(e.kind, kind) << name;
    EXPECT_EQ(x86::event_syntax().kind_name(kind), name);
  }
}

TEST_F(DecoderTest, KernelFpuAndIrq) {
  Event e = decode(R"({"t": 0, "cpu": 0, "ev": "kernel_fpu", "in": "softirq", "dur": 2000, "clobbers": ["sse"]})");
  EXPECT_EQ(e.kind, EventKind::kKernelFpu);
  EXPECT_EQ(e.where, KernelFpuContext::kSoftirq);
  EXPECT_EQ(e.dur, 2000u);
  EXPECT_EQ(e.read, kSse);  // clobbers travel in `read`
  e = decode(R"({"t": 0, "cpu": 0, "ev": "kernel_fpu", "in": "task", "dur": 1})");
  EXPECT_EQ(e.where, KernelFpuContext::kTask);
  EXPECT_EQ(e.read, 0u);  // default clobbers are the agent's business
  e = decode(R"({"t": 0, "cpu": 0, "ev": "kernel_fpu", "in": "hardirq", "dur": 1})");
  EXPECT_EQ(e.where, KernelFpuContext::kHardirq);
  e = decode(R"({"t": 0, "cpu": 1, "ev": "irq", "dur": 800, "kernel_fpu": true, "clobbers": ["ymm"]})");
  EXPECT_EQ(e.kind, EventKind::kIrq);
  EXPECT_TRUE(e.kernel_fpu);
  EXPECT_EQ(e.dur, 800u);
  EXPECT_EQ(e.read, kYmm);
  e = decode(R"({"t": 0, "cpu": 1, "ev": "irq", "dur": 800})");
  EXPECT_FALSE(e.kernel_fpu);
}

TEST_F(DecoderTest, ForkPermAndStateAccess) {
  Event e = decode(R"({"t": 0, "cpu": 0, "ev": "fork", "child": "B"})");
  EXPECT_EQ(e.kind, EventKind::kFork);
  EXPECT_EQ(e.ctx, 1u);
  e = decode(R"({"t": 0, "cpu": 0, "ev": "xcomp_perm", "features": ["xtiledata"]})");
  EXPECT_EQ(e.kind, x86::ev::kXcompPerm);
  EXPECT_EQ(e.write, bit(x86::kXtileData));
  e = decode(R"({"t": 0, "cpu": 1, "ev": "state_read", "target": "A"})");
  EXPECT_EQ(e.kind, EventKind::kStateRead);
  EXPECT_EQ(e.ctx, 0u);
  e = decode(R"({"t": 0, "cpu": 1, "ev": "state_write", "target": "A", "write": ["ymm"]})");
  EXPECT_EQ(e.kind, EventKind::kStateWrite);
  EXPECT_EQ(e.ctx, 0u);
  EXPECT_EQ(e.write, kYmm);
}

TEST_F(DecoderTest, EqualTimesAreFine) {
  decode(R"({"t": 100, "cpu": 0, "ev": "syscall"})");
  EXPECT_NO_THROW(decode(R"({"t": 100, "cpu": 1, "ev": "syscall"})"));
}

// ---------------------------------------------------------------- errors

TEST_F(DecoderTest, UnknownKey) {
  const InputError e = error(R"({"t": 0, "cpu": 0, "ev": "syscall", "nxt": "A"})");
  EXPECT_EQ(e.file, "s.json");
  EXPECT_EQ(e.path, "/events/0/nxt");
  EXPECT_CONTAINS(e.message, "unknown key \"nxt\"");
  EXPECT_EQ(e.what(), "s.json: /events/0/nxt: " + e.message);
}

TEST_F(DecoderTest, KeyOfAnotherKind) {
  const InputError e = error(R"({"t": 0, "cpu": 0, "ev": "syscall", "next": "A"})");
  EXPECT_EQ(e.path, "/events/0/next");
  EXPECT_CONTAINS(e.message, "does not belong to a \"syscall\" event");
}

TEST_F(DecoderTest, WrongType) {
  InputError e = error(R"({"t": "5", "cpu": 0, "ev": "syscall"})");
  EXPECT_EQ(e.path, "/events/0/t");
  EXPECT_CONTAINS(e.message, "expected a non-negative integer, got a string");
  e = error(R"({"t": 0, "cpu": 0, "ev": "switch", "next": 3})");
  EXPECT_EQ(e.path, "/events/1/next");
  EXPECT_CONTAINS(e.message, "expected a string, got an integer");
  e = error(R"({"t": 0, "cpu": 0, "ev": "use", "write": "sse"})");
  EXPECT_EQ(e.path, "/events/2/write");
  EXPECT_CONTAINS(e.message, "expected an array of component names, got a string");
  e = error(R"({"t": 0, "cpu": 0, "ev": "irq", "dur": 1, "kernel_fpu": 1})");
  EXPECT_EQ(e.path, "/events/3/kernel_fpu");
  EXPECT_CONTAINS(e.message, "expected true or false");
  e = error(R"({"t": 0, "cpu": 0, "ev": "kernel_fpu", "in": "thread", "dur": 1})");
  EXPECT_EQ(e.path, "/events/4/in");
  EXPECT_CONTAINS(e.message, "\"task\", \"softirq\" or \"hardirq\"");
  e = error(R"({"t": 0, "cpu": 0, "ev": "use", "write": ["sse", 2]})");
  EXPECT_EQ(e.path, "/events/5/write/1");
}

TEST_F(DecoderTest, NegativeAndFractionalNumbers) {
  InputError e = error(R"({"t": -5, "cpu": 0, "ev": "syscall"})");
  EXPECT_EQ(e.path, "/events/0/t");
  EXPECT_CONTAINS(e.message, "non-negative integer, got -5");
  e = error(R"({"t": 0, "cpu": 0, "ev": "irq", "dur": 1.5})");
  EXPECT_EQ(e.path, "/events/1/dur");
  EXPECT_CONTAINS(e.message, "fractional");
}

TEST_F(DecoderTest, UnknownComponent) {
  const InputError e = error(R"({"t": 0, "cpu": 0, "ev": "use", "write": ["sse", "ymmx"]})");
  EXPECT_EQ(e.path, "/events/0/write/1");
  EXPECT_CONTAINS(e.message, "unknown component \"ymmx\"");
}

TEST_F(DecoderTest, UnknownContext) {
  InputError e = error(R"({"t": 0, "cpu": 0, "ev": "switch", "next": "C"})");
  EXPECT_EQ(e.path, "/events/0/next");
  EXPECT_CONTAINS(e.message, "unknown context \"C\"");
  e = error(R"({"t": 0, "cpu": 0, "ev": "fork", "child": "idle"})");
  EXPECT_EQ(e.path, "/events/1/child");
  e = error(R"({"t": 0, "cpu": 0, "ev": "use", "ctx": "Z", "read": ["sse"]})");
  EXPECT_EQ(e.path, "/events/2/ctx");
}

TEST_F(DecoderTest, CpuOutOfRange) {
  const InputError e = error(R"({"t": 0, "cpu": 2, "ev": "syscall"})");
  EXPECT_EQ(e.path, "/events/0/cpu");
  EXPECT_CONTAINS(e.message, "CPU 2 does not exist");
  EXPECT_CONTAINS(e.message, "0..1");
}

TEST_F(DecoderTest, TimeGoingBackwards) {
  decode(R"({"t": 1000, "cpu": 0, "ev": "syscall"})");
  const InputError e = error(R"({"t": 900, "cpu": 1, "ev": "syscall"})");
  EXPECT_EQ(e.path, "/events/1/t");
  EXPECT_CONTAINS(e.message, "time goes backwards: 900 after 1000");
}

TEST_F(DecoderTest, MissingOrUnknownKind) {
  InputError e = error(R"({"t": 0, "cpu": 0})");
  EXPECT_EQ(e.path, "/events/0");
  EXPECT_CONTAINS(e.message, "missing required key \"ev\"");
  e = error(R"({"t": 0, "cpu": 0, "ev": "swtch", "next": "A"})");
  EXPECT_EQ(e.path, "/events/1/ev");
  EXPECT_CONTAINS(e.message, "unknown event kind \"swtch\"");
  e = error(R"({"t": 0, "cpu": 0, "ev": "switch"})");
  EXPECT_CONTAINS(e.message, "a \"switch\" event needs \"next\"");
  e = error(R"({"t": 0, "cpu": 0, "ev": "use"})");
  EXPECT_CONTAINS(e.message, "needs \"write\", \"read\" or \"release\"");
  e = error(R"({"t": 0, "cpu": 0, "ev": "xcomp_perm", "features": []})");
  EXPECT_EQ(e.path, "/events/4/features");
}

TEST_F(DecoderTest, MalformedInput) {
  InputError e = error(R"({"t": 0, "cpu": 0, "ev": "syscall", "t": 1})");
  EXPECT_CONTAINS(e.message, "duplicate key \"t\"");
  e = error(R"({"t": 0, "cpu": 0, "ev": )");
  EXPECT_CONTAINS(e.message, "invalid JSON");
  e = error(R"([1, 2])");
  EXPECT_CONTAINS(e.message, "expected an event object");
}

// The architecture's keys, kinds and component names come from its
// EventSyntax; the messages are those the decoder gave when it knew them
// itself, word for word.
TEST_F(DecoderTest, ArchitectureKeyOnAnotherKind) {
  InputError e = error(R"({"t": 0, "cpu": 0, "ev": "syscall", "features": ["sse"]})");
  EXPECT_EQ(e.path, "/events/0/features");
  EXPECT_EQ(e.message, "key \"features\" does not belong to a \"syscall\" event");
  // Several keys that do not belong: the lowest key bit is reported, and
  // "features" (the architecture's first key, bit 13) comes before "target".
  e = error(R"({"t": 0, "cpu": 0, "ev": "syscall", "target": "A", "features": ["sse"]})");
  EXPECT_EQ(e.path, "/events/1/features");
  e = error(R"({"t": 0, "cpu": 0, "ev": "vm_entry", "write": ["sse"], "vcpu": "A"})");
  EXPECT_EQ(e.path, "/events/2/write");
  EXPECT_EQ(e.message, "key \"write\" does not belong to a \"vm_entry\" event");
  e = error(R"({"t": 0, "cpu": 0, "ev": "guest_wrmsr"})");
  EXPECT_EQ(e.path, "/events/3");
  EXPECT_EQ(e.message, "a \"guest_wrmsr\" event needs \"msr\"");
}

TEST_F(DecoderTest, UnknownKindMessage) {
  const InputError e = error(R"({"t": 0, "cpu": 0, "ev": "vm_enter"})");
  EXPECT_EQ(e.path, "/events/0/ev");
  EXPECT_EQ(e.message,
            "unknown event kind \"vm_enter\"; expected one of switch, use, syscall, return_to_user, kernel_fpu, irq, "
            "signal, sigreturn, fork, exec, exit, xcomp_perm, state_read, state_write, xcomp_guest_perm, vm_create, "
            "vm_destroy, kvm_run, vm_entry, vm_exit, kvm_return, guest_wrmsr, guest_rdmsr, guest_xsetbv, guest_cr4, "
            "vcpu_save_state, vcpu_load_state, kvm_set_xsave");
}

TEST_F(DecoderTest, UnknownComponentMessage) {
  const std::string expected =
      "; expected x87, sse, ymm (avx), opmask, zmm_hi256, hi16_zmm (avx512), pkru, xtilecfg, xtiledata (amx), apx, "
      "bndregs, bndcsr or a supervisor component";
  InputError e = error(R"({"t": 0, "cpu": 0, "ev": "use", "read": ["x87", "avx2"]})");
  EXPECT_EQ(e.path, "/events/0/read/1");
  EXPECT_EQ(e.message, "unknown component \"avx2\"" + expected);
  // The same through one of the architecture's keys.
  e = error(R"({"t": 0, "cpu": 0, "ev": "xcomp_perm", "features": ["tiles"]})");
  EXPECT_EQ(e.path, "/events/1/features/0");
  EXPECT_EQ(e.message, "unknown component \"tiles\"" + expected);
}

TEST_F(DecoderTest, KindNamesThroughTheSyntax) {
  EXPECT_EQ(x86::event_syntax().kind_name(EventKind::kStateWrite), "state_write");
  EXPECT_EQ(x86::event_syntax().kind_name(x86::ev::kXcompPerm), "xcomp_perm");
  EXPECT_EQ(x86::event_syntax().kind_name(x86::ev::kKvmSetXsave), "kvm_set_xsave");
  EXPECT_EQ(x86::event_syntax().kind_name(EventKind{31}), "");
}

TEST(EventDecoderJsonl, ErrorsNameFileAndLine) {
  std::unordered_map<std::string, ContextId> contexts{{"A", 0}};
  EventDecoder dec{x86::event_syntax(), &contexts, 1, EventOrigin{"trace.jsonl", true}};
  std::string buf = R"({"t": 0, "cpu": 0, "ev": "switch", "next": "B"})";
  const size_t len = buf.size();
  buf.append(simdjson::SIMDJSON_PADDING, '\0');
  Event e;
  try {
    dec.decode(buf.data(), len, buf.size(), 12, e);
    ADD_FAILURE() << "no error";
  } catch (const InputError& err) {
    EXPECT_EQ(err.file, "trace.jsonl:13");  // 1-based line
    EXPECT_EQ(err.path, "/next");
    EXPECT_EQ(err.what(), "trace.jsonl:13: /next: " + err.message);
  }
}

}  // namespace

// ---------------------------------------------------------------- KVM events

struct KvmDecoderTest : DecoderTest {
  KvmDecoderTest() {
    contexts.emplace("vcpu0", 2);
    contexts.emplace(kVcpuKeyPrefix + "vcpu0", 2);
    contexts.emplace(kVmKeyPrefix + "vm0", 0);
  }
};

TEST_F(KvmDecoderTest, RunEntryExitReturn) {
  Event e = decode(R"({"t": 1, "cpu": 0, "ev": "kvm_run", "vcpu": "vcpu0"})");
  EXPECT_EQ(e.kind, x86::ev::kKvmRun);
  EXPECT_EQ(e.ctx, 2u);
  EXPECT_EQ(decode(R"({"t": 2, "cpu": 0, "ev": "vm_entry"})").kind, x86::ev::kVmEntry);
  e = decode(R"({"t": 3, "cpu": 0, "ev": "vm_exit", "reason": "hlt"})");
  EXPECT_EQ(e.kind, x86::ev::kVmExit);
  EXPECT_EQ(static_cast<x86::VmExitReason>(e.sub), x86::VmExitReason::hlt);
  EXPECT_EQ(decode(R"({"t": 4, "cpu": 0, "ev": "kvm_return"})").kind, x86::ev::kKvmReturn);
}

TEST_F(KvmDecoderTest, GuestInstructionsAndVmmEvents) {
  Event e = decode(R"({"t": 1, "cpu": 0, "ev": "guest_wrmsr", "msr": "xfd_err", "value": ["xtiledata"]})");
  EXPECT_EQ(static_cast<x86::GuestMsr>(e.sub), x86::GuestMsr::kXfdErr);
  EXPECT_EQ(e.write, bit(x86::kXtileData));
  e = decode(R"({"t": 2, "cpu": 0, "ev": "guest_xsetbv", "xcr0": ["x87", "sse"], "index": 1})");
  EXPECT_EQ(e.write, kX87 | kSse);
  EXPECT_EQ(e.arg, 1);
  e = decode(R"({"t": 3, "cpu": 0, "ev": "guest_xsetbv", "xcr0": ["x87"]})");
  EXPECT_EQ(e.arg, 0);
  e = decode(R"({"t": 4, "cpu": 0, "ev": "guest_cr4", "osxsave": false})");
  EXPECT_EQ(e.sub, 0);
  e = decode(R"({"t": 4, "cpu": 0, "ev": "guest_cr4", "osxsave": true})");
  EXPECT_EQ(e.sub, 1);
  e = decode(R"({"t": 5, "cpu": 0, "ev": "vm_destroy", "vm": "vm0"})");
  EXPECT_EQ(e.arg, 0);
  e = decode(R"({"t": 6, "cpu": 0, "ev": "vcpu_save_state", "vcpu": "vcpu0", "slot": 7})");
  EXPECT_EQ(e.ctx, 2u);
  EXPECT_EQ(e.arg, 7);
  e = decode(R"({"t": 7, "cpu": 0, "ev": "kvm_set_xsave", "vcpu": "vcpu0", "write": ["ymm"]})");
  EXPECT_EQ(e.arg, -1);
  EXPECT_EQ(e.write, kYmm);
  e = decode(R"({"t": 8, "cpu": 0, "ev": "xcomp_guest_perm", "features": ["xtiledata"]})");
  EXPECT_EQ(e.kind, x86::ev::kXcompGuestPerm);
}

TEST_F(KvmDecoderTest, Errors) {
  EXPECT_CONTAINS(error(R"({"t": 1, "cpu": 0, "ev": "kvm_run", "vcpu": "A"})").message, "unknown vCPU \"A\"");
  EXPECT_EQ(error(R"({"t": 1, "cpu": 0, "ev": "kvm_run", "vcpu": "A"})").path, "/events/1/vcpu");
  EXPECT_CONTAINS(error(R"({"t": 1, "cpu": 0, "ev": "vm_create", "vm": "vcpu0"})").message, "unknown VM \"vcpu0\"");
  EXPECT_CONTAINS(error(R"({"t": 1, "cpu": 0, "ev": "vm_exit", "reason": "tea"})").message, "unknown VM exit reason");
  EXPECT_CONTAINS(error(R"({"t": 1, "cpu": 0, "ev": "vm_exit"})").message, "needs \"reason\"");
  EXPECT_CONTAINS(error(R"({"t": 1, "cpu": 0, "ev": "guest_rdmsr", "msr": "pkru"})").message, "expected \"xfd\"");
  EXPECT_CONTAINS(error(R"({"t": 1, "cpu": 0, "ev": "guest_wrmsr", "msr": "xfd"})").message, "needs \"value\"");
  EXPECT_CONTAINS(error(R"({"t": 1, "cpu": 0, "ev": "kvm_set_xsave", "vcpu": "vcpu0", "slot": 1, "write": ["sse"]})")
                      .message,
                  "either \"slot\"");
  EXPECT_CONTAINS(error(R"({"t": 1, "cpu": 0, "ev": "vm_entry", "vcpu": "vcpu0"})").message,
                  "does not belong to a \"vm_entry\" event");
  EXPECT_CONTAINS(error(R"({"t": 1, "cpu": 0, "ev": "vcpu_load_state", "vcpu": "vcpu0", "slot": -1})").message,
                  "non-negative integer");
}
