// Real x86 Linux trace -> scenario. What the kernel (6.x, arch/x86/kernel/fpu,
// arch/x86/include/asm/fpu/sched.h) logs, and so what each tracepoint means
// for the model (DeferredPolicy, models/x86/policies/deferred.cpp):
//   * regs_deactivated (load: 1) right after a sched_switch, logged by the
//     outgoing task: switch_fpu() saved its live registers (TIF_NEED_FPU_LOAD
//     clear): one context-switch save.
//   * regs_deactivated (load: 0) with x86_fpu_dropped: fpu__drop() at exit
//     (fpregs_deactivate(): owner = NULL, no save).
//   * regs_activated (load: 1): fpregs_restore_userregs() found
//     !fpregs_state_valid() and did XRSTOR: one restore (return to user,
//     fpu_clone() when the parent's registers are not loaded, signal-frame
//     setup).
//   * regs_activated (load: 0): fpregs_mark_activate() after loading the
//     registers directly: signal delivery (init state, fpu__clear_user_states)
//     and sigreturn (XRSTOR from the user frame): one restore.
//   * copy_dst: fpu_clone() XSAVEs the parent's registers into the child's
//     buffer: one save (fork).
//   * signal_deliver: the frame XSAVE (no tracepoint of its own): one save.
//   * No tracepoint at all: kernel_fpu_begin() (saves current's live
//     registers, sets TIF_NEED_FPU_LOAD, invalidates the CPU's owner).
//
// The rules (the former tools/trace_to_scenario.py's, which this replaces):
//   R1 Contexts. pid 0 is the idle task. A task is a kernel thread if the
//      capture header lists it as PF_KTHREAD or its name is a known kernel
//      thread's, unless it logged a syscall or an x86_fpu event as current.
//      Every other task is a user context COMM-PID.
//   R2 Switches. Every sched_switch becomes a switch; the first line on each
//      CPU switches that CPU to the task running; a task's line on a CPU whose
//      current task is another (its sched_switch unrecorded) switches there.
//   R3 Stand-ins until the first restore. A user task's FPU state is unknown
//      until the kernel provably loads its registers from memory, so each user
//      task is first a stand-in kernel thread COMM-PID:pre; at its first
//      regs_activated (load: 1) a switch on the same CPU at the same time puts
//      the real (never run) context there, whose switch-in restores, as the
//      kernel did. Earlier events of the task are boundary events, excluded
//      from the expectations and counted. A switch-in at the end of the window
//      whose outcome lies after it goes to a stand-in COMM-PID:end.
//   R4 User/kernel mode from raw_syscalls (or syscalls:*): sys_enter is a
//      syscall; sys_exit returns to user, at the regs_activated that follows if
//      the kernel restored. A sys_exit flagged need-resched ('N') followed by
//      the task's own switch-out in state R was preempted before
//      switch_fpu_return(): it returns after its next switch-in. A task
//      switched out in a state other than R, or "R+" (preempt_schedule*()),
//      is in the kernel.
//   R5 FP use: at the first return to user in each time slice, one use of the
//      XSTATE_BV components the kernel printed at the task's next save (minus
//      PKRU and AMX).
//   R6 Saves without a tracepoint: a task with live registers (by the kernel's
//      rules, tracked here) switched out without regs_deactivated, or reloaded
//      at a return while live, was saved by an unlogged kernel_fpu_begin(): a
//      kernel_fpu event is inserted.
//   R7 Invalidations without a tracepoint: a restore where the CPU still held
//      the task's registers means they were invalidated meanwhile: a
//      kernel_fpu in a softirq (no save) is inserted after the task's last
//      switch-out there. A regs_deactivated where no registers were live
//      inserts the missed return.
//   R8 fork at copy_dst with sched_process_fork, exec at the task's next
//      return to user, exit before the final switch-out (state X or Z),
//      signal at signal_deliver, sigreturn at a regs_activated (load: 0) in
//      rt_sigreturn with a frame pending.
// The opposite cases (the model would restore or save where the kernel did
// not) cannot be explained by a missing event: they are reported as
// discrepancies, never papered over.
#include "models/x86/trace_import.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <unordered_map>

#include "models/core/observer.h"
#include "models/core/types.h"
#include "sim/input/json_input.h"
#include "sim/input/presets.h"

namespace fpusim::x86 {

using namespace fpusim::trace_import;
using OJson = nlohmann::ordered_json;

namespace {

const std::vector<OpKind>& kernel_op_kinds() {
  static const std::vector<OpKind> kinds = {
      {"save context_switch", "regs_deactivated (load 1) at a context switch: switch_fpu() XSAVE", true},
      {"save fork", "copy_dst: fpu_clone() XSAVE into the child", true},
      {"save signal", "signal_deliver: XSAVE into the signal frame", true},
      {"save kernel_fpu", "inferred (R6): an unlogged kernel_fpu_begin() saved live registers", true},
      {"restore", "regs_activated (load 1): XRSTOR in fpregs_restore_userregs()", false},
      {"restore signal", "regs_activated (load 0): signal delivery's init state or sigreturn's frame", false},
      {"save kvm_fpu", "implied by kvm_fpu load/unload: fpu_swap_kvm_fpstate() saves live registers (no tracepoint)", true},
      {"restore kvm_fpu", "regs_activated (load 0) at kvm_fpu load/unload: fpu_swap_kvm_fpstate()", false},
      {"restore unmodelled", "regs_activated (load 0) the import could not place", false},
  };
  return kinds;
}

enum class Ev {
  kOther,
  kSwitch,
  kSysEnter,
  kSysExit,
  kActivated,
  kDeactivated,
  kCopyDst,
  kDropped,
  kFork,
  kExec,
  kExit,
  kSignalDeliver,
  kKvmFpu,        // kvm:kvm_fpu load / unload
  kKvmEntry,      // kvm:kvm_entry
  kKvmExit,       // kvm:kvm_exit
};

constexpr long kNrRtSigreturn = 15;  // x86_64

struct Rec {
  size_t i = 0;
  std::uint64_t ns = 0;
  int cpu = 0;
  int pid = 0;
  const TraceRecord* src = nullptr;
  Ev ev = Ev::kOther;
  bool is_fpu_event = false;  // any x86_fpu_*
  // sched_switch / fork
  int prev_pid = 0, next_pid = 0, child_pid = 0;
  std::string_view prev_state, prev_comm, next_comm, child_comm;  // views into src->args
  // x86_fpu
  bool has_fpu = false;
  int load = 0;
  std::uint64_t xfeatures = 0;
  // syscalls
  std::optional<long> nr;
  bool kvm_load = false;   // kvm_fpu: load (else unload)
  const char* exit_reason = "other";  // kvm_exit: the scenario's reason
  bool consumed = false;
};

// A leading integer of `s` (0 if none, or if it does not fit an int).
int to_int(std::string_view s) {
  int v = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() ? v : 0;
}

// "x86/fpu: 0xffff... load: 1 xfeatures: 2e6 xcomp_bv: 80000000000002e7"
bool parse_fpu(std::string_view a, int& load, std::uint64_t& xf) {
  const auto l = a.find("load: ");
  const auto x = a.find("xfeatures: ");
  if (l == std::string_view::npos || x == std::string_view::npos) {
    // The raw fields (trace-cmd report -R, tracefs options/raw): "load_fpu=1 xfeatures=230"
    const std::string_view lf = field(a, "load_fpu"), xv = field(a, "xfeatures");
    if (lf.empty() || xv.empty()) return false;
    load = to_int(lf);
    const bool hex = xv.size() > 2 && xv[0] == '0' && (xv[1] == 'x' || xv[1] == 'X');
    std::uint64_t v = 0;
    const auto r = std::from_chars(xv.data() + (hex ? 2 : 0), xv.data() + xv.size(), v, hex ? 16 : 10);
    if (r.ec != std::errc()) return false;
    xf = v;
    return true;
  }
  load = to_int(a.substr(l + 6));
  xf = 0;
  for (size_t i = x + 11; i < a.size(); ++i) {
    const char c = a[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) break;
    xf = xf * 16 + static_cast<unsigned>(d);
  }
  return true;
}

std::optional<long> syscall_nr_by_name(std::string_view name) {
  static const std::unordered_map<std::string_view, long> nrs = {
      {"rt_sigreturn", 15}, {"execve", 59}, {"execveat", 322}, {"exit", 60}, {"exit_group", 231}};
  auto it = nrs.find(name);
  if (it != nrs.end()) return it->second;
  return -1;  // a syscall, number not needed
}

// "COMM:PID [PRIO] STATE" (trace-cmd's sched_switch plugin, trace-cmd
// report's default); the comm may hold ':'.
void parse_task_plugin(std::string_view s, std::string_view& comm, int& pid, std::string_view* state) {
  const auto br = s.find(" [");
  std::string_view who = s.substr(0, br);
  const auto colon = who.rfind(':');
  if (colon == std::string_view::npos) return;
  comm = who.substr(0, colon);
  pid = to_int(who.substr(colon + 1));
  if (state && br != std::string_view::npos) {
    const auto close = s.find(']', br);
    if (close != std::string_view::npos) {
      std::string_view st = s.substr(close + 1);
      while (!st.empty() && st.front() == ' ') st.remove_prefix(1);
      while (!st.empty() && st.back() == ' ') st.remove_suffix(1);
      *state = st;
    }
  }
}

void parse_switch_plugin(std::string_view a, Rec& r) {
  const auto arrow = a.find(" ==> ");
  if (arrow == std::string_view::npos) return;
  parse_task_plugin(a.substr(0, arrow), r.prev_comm, r.prev_pid, &r.prev_state);
  parse_task_plugin(a.substr(arrow + 5), r.next_comm, r.next_pid, nullptr);
}

// kvm_exit's "reason NAME" (VMX names, SVM's lower-case ones) as the
// scenario's vm_exit reason.
const char* exit_reason(std::string_view a) {
  const auto p = a.find("reason ");
  if (p == std::string_view::npos) return "other";
  std::string_view n = a.substr(p + 7);
  n = n.substr(0, n.find(' '));
  std::string u;
  for (char c : n) u += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (u.find("EXTERNAL_INTERRUPT") != std::string::npos || u == "INTR") return "external_interrupt";
  if (u.find("HLT") != std::string::npos) return "hlt";
  if (u.find("IO") != std::string::npos) return "io";
  if (u.find("EPT") != std::string::npos || u == "NPF") return "mmio";
  if (u.find("MSR") != std::string::npos) return "msr";
  if (u.find("XSETBV") != std::string::npos) return "xsetbv";
  return "other";
}

Rec make_rec(size_t i, const TraceRecord& t) {
  Rec r;
  r.i = i;
  r.ns = t.ns;
  r.cpu = t.cpu;
  r.pid = t.pid;
  r.src = &t;
  const std::string_view e = t.event;
  const std::string_view a = t.args;
  if (e == "sched_switch") {
    r.ev = Ev::kSwitch;
    r.prev_pid = to_int(field(a, "prev_pid"));
    r.next_pid = to_int(field(a, "next_pid"));
    r.prev_state = field(a, "prev_state");
    r.prev_comm = field(a, "prev_comm");
    r.next_comm = field(a, "next_comm");
    if (field(a, "prev_pid").empty()) parse_switch_plugin(a, r);
    if (r.prev_state.empty()) r.prev_state = "R";
  } else if (e == "sys_enter" || e == "sys_exit") {
    r.ev = e == "sys_enter" ? Ev::kSysEnter : Ev::kSysExit;
    if (a.substr(0, 3) == "NR ") r.nr = to_int(a.substr(3));
  } else if (e.rfind("sys_enter_", 0) == 0) {
    r.ev = Ev::kSysEnter;
    r.nr = syscall_nr_by_name(e.substr(10));
  } else if (e.rfind("sys_exit_", 0) == 0) {
    r.ev = Ev::kSysExit;
    r.nr = syscall_nr_by_name(e.substr(9));
  } else if (e.rfind("x86_fpu_", 0) == 0) {
    r.is_fpu_event = true;
    r.has_fpu = parse_fpu(a, r.load, r.xfeatures);
    if (e == "x86_fpu_regs_activated") r.ev = Ev::kActivated;
    else if (e == "x86_fpu_regs_deactivated") r.ev = Ev::kDeactivated;
    else if (e == "x86_fpu_copy_dst") r.ev = Ev::kCopyDst;
    else if (e == "x86_fpu_dropped") r.ev = Ev::kDropped;
  } else if (e == "sched_process_fork") {
    r.ev = Ev::kFork;
    r.child_pid = to_int(field(a, "child_pid"));
    r.child_comm = field(a, "child_comm");
  } else if (e == "sched_process_exec") {
    r.ev = Ev::kExec;
  } else if (e == "sched_process_exit") {
    r.ev = Ev::kExit;
  } else if (e == "signal_deliver") {
    r.ev = Ev::kSignalDeliver;
  } else if (e == "kvm_fpu") {
    r.ev = Ev::kKvmFpu;
    r.kvm_load = a.rfind("load", 0) == 0;
  } else if (e == "kvm_entry") {
    r.ev = Ev::kKvmEntry;
  } else if (e == "kvm_exit") {
    r.ev = Ev::kKvmExit;
    r.exit_reason = exit_reason(a);
  }
  return r;
}

std::string sanitize(const std::string& s) {
  std::string o;
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '.' || c == ':' || c == '+' || c == '-';
    o += ok ? c : '_';
  }
  if (o.size() > 56) o.resize(56);
  return o.empty() ? "task" : o;
}

bool kthread_name(const std::string& comm) {
  static const std::regex re(
      "^(kworker/|ksoftirqd/|migration/|rcu_|rcuo|rcub/|cpuhp/|kthreadd$|watchdog|idle_inject/|irq/|jbd2/|ext4-|"
      "kcompactd|khugepaged$|kswapd|ksmd$|oom_reaper$|kblockd$|writeback$|kauditd$|khungtaskd$|kdevtmpfs$|"
      "kintegrityd$|kthrotld$|xfsaild/|btrfs-|scsi_|card\\d|pr/|kvm-|vhost-|psimon$|napi/|hwrng$|"
      "kstrp$|zswap|mm_percpu_wq$|netns$|inet_frag_wq$|ipv6_addrconf$|md$|edac-poller$|blkcg_punt_bio$|"
      "tpm_dev_wq$|ata_sff$|devfreq_wq$|cryptd$|kmpath|nvme|virtio|dio/|loop\\d|kdmflush|kcryptd|"
      "ttm$|khvcd$|ecryptfs|sugov:|ksgxd$|kpktgend|events|kaluad$|rpciod$|xprtiod$|nfsiod$|cifsiod$)");
  return std::regex_search(comm, re);
}

// x86 XSTATE_BV bits the model's uses write (PKRU is switched by WRPKRU, AMX
// needs a permission these traces do not show).
// One event of the scenario, compact: X86Events::json() prints it.
enum class Out : std::uint8_t {
  kSwitch, kUse, kSyscall, kReturn, kExec, kExit, kFork, kSignal, kSigreturn, kKernelFpu, kIrqKernelFpu,
  kKvmRun, kKvmReturn, kVmEntry, kVmExit,
};
struct OutEvent {
  std::uint64_t t;
  int cpu;
  Out ev;
  std::int32_t name;   // X86Events::names index: switch's next (-1: idle), use's ctx, fork's child, kvm_run's vCPU
  std::uint64_t mask;  // use: the XSTATE_BV bits written
  const char* str;     // kernel_fpu's "in", vm_exit's reason (static strings)
};

const std::pair<int, const char*> kComponentBits[] = {{0, "x87"},       {1, "sse"},       {2, "ymm"},
                                                       {5, "opmask"},    {6, "zmm_hi256"}, {7, "hi16_zmm"}};

std::uint64_t use_mask(std::uint64_t xf) {
  std::uint64_t m = 0;
  for (const auto& [b, name] : kComponentBits) m |= xf & (1ull << b);
  return m;
}

enum class Kind { kUser, kKthread, kIdle };

struct Task {
  int pid = 0;
  std::string comm;
  Kind kind = Kind::kUser;
  bool born = false;
  bool settled = false;
  bool used_standin = false;
  std::string name, standin;
  // The model's view of this context.
  bool in_user = true;
  bool need_load = true;  // TIF_NEED_FPU_LOAD
  std::optional<int> last_cpu;
  bool exited = false, dying = false, ended = false, declared = false;
  int frames = 0;
  // The trace's view.
  bool syscall_open = false;
  std::optional<long> open_nr;
  bool pending_return = false, pending_exec = false, used_in_slice = false;
  bool signal_pending_activate = false;
  // KVM (a thread that logged kvm_fpu): inside KVM_RUN with the guest FPU
  // loaded (kvm_fpu load .. unload), and in guest mode.
  bool vcpu = false, in_run = false, in_guest = false;
  std::optional<int> swap_load;  // the load of the activation before its kvm_fpu line
  std::optional<std::uint64_t> last_xfeatures;
  std::optional<size_t> switch_out_index, slice_start_index;
  std::map<std::string, std::uint64_t> counts;
};

class X86Events final : public EventList {
 public:
  std::vector<OutEvent> events;
  std::vector<std::string> names;
  std::size_t size() const override { return events.size(); }
  std::string json(std::size_t i) const override;
};

class Converter {
 public:
  Converter(const TraceInput& in, const ConvertOptions& o) : in_(in), o_(o) {
    recs_.reserve(in.records.size());
    for (size_t i = 0; i < in.records.size(); ++i) recs_.push_back(make_rec(i, in.records[i]));
    t0_ = recs_.empty() ? 0 : recs_.front().ns;
    for (const Rec& r : recs_) t0_ = std::min(t0_, r.ns);
    std::set<int> cpus;
    for (const Rec& r : recs_) cpus.insert(r.cpu);
    cpus_.assign(cpus.begin(), cpus.end());
    for (const Rec& r : recs_) {
      auto& l = by_cpu_[r.cpu];
      pos_in_cpu_.push_back(l.size());
      if (r.ev == Ev::kDeactivated && r.has_fpu) deact_pos_[{r.cpu, r.pid}].push_back(l.size());
      l.push_back(r.i);
    }
    for (const Rec& r : recs_) {
      has_syscalls_ = has_syscalls_ || r.ev == Ev::kSysEnter || r.ev == Ev::kSysExit;
      has_signal_events_ = has_signal_events_ || r.ev == Ev::kSignalDeliver;
      if (r.ev == Ev::kKvmFpu) vcpu_threads_.insert(r.pid);
      has_kvm_entry_ = has_kvm_entry_ || r.ev == Ev::kKvmEntry;
    }
    // A capture that enabled signal_deliver and saw no signal.
    if (auto it = in.meta.find("events"); it != in.meta.end() && it->second.find("signal:signal_deliver") != std::string::npos) {
      has_signal_events_ = true;
    }
    if (auto it = in.meta.find("kthread pids"); it != in.meta.end()) {
      std::istringstream ss(it->second);
      std::string tok;
      while (ss >> tok) kthread_pids_.insert(to_int(tok.substr(0, tok.find(':'))));
    }
    if (!o.kernel.empty()) {
      int major = 0, minor = 0;
      char dot = 0;
      std::istringstream ks(o.kernel);
      if (ks >> major >> dot >> minor) before_v616_ = major < 6 || (major == 6 && minor < 16);
    }
    classify();
  }

  void run();
  Conversion finish();

 private:
  // ------------------------------------------------------------- setup
  Task& task(int pid, std::optional<std::string_view> comm = {}) {
    auto it = tasks_.find(pid);
    if (it == tasks_.end()) {
      Task t;
      t.pid = pid;
      t.comm = comm ? std::string(*comm) : std::to_string(pid);
      it = tasks_.emplace(pid, std::move(t)).first;
    } else if (comm && *comm != "<...>" && it->second.comm != *comm) {
      it->second.comm = std::string(*comm);
    }
    return it->second;
  }

  void classify() {
    std::set<int> evidence;
    for (const Rec& r : recs_) {
      task(r.pid, r.pid ? std::string_view(r.src->comm) : std::string_view("swapper"));
      if (r.ev == Ev::kSwitch) {
        task(r.prev_pid, r.prev_comm);
        task(r.next_pid, r.next_comm);
      }
      if (r.ev == Ev::kSysEnter || r.ev == Ev::kSysExit || r.is_fpu_event) evidence.insert(r.pid);
      if (r.ev == Ev::kFork) {
        task(r.child_pid, r.child_comm.empty() ? std::optional<std::string_view>() : r.child_comm).born = true;
      }
      if (r.ev == Ev::kExec) task(r.pid).comm = r.src->comm;  // the name after exec
    }
    for (auto& [pid, t] : tasks_) {
      if (pid == 0) t.kind = Kind::kIdle;
      else if (evidence.count(pid)) t.kind = Kind::kUser;
      else if (kthread_pids_.count(pid) || kthread_name(t.comm)) t.kind = Kind::kKthread;
      else t.kind = Kind::kUser;
      t.name = sanitize(t.comm + "-" + std::to_string(pid));
      t.standin = t.name.substr(0, 60) + ":pre";
      t.settled = false;
    }
  }

  // ------------------------------------------------------------- output
  std::uint64_t cyc(std::uint64_t ns) const { return ns < t0_ ? 0 : (ns - t0_) * o_.mhz / 1000; }
  std::uint64_t cyc(const Rec& r) const { return cyc(r.ns); }

  size_t emit(std::uint64_t t, int cpu, Out ev, std::int32_t name = -1, std::uint64_t mask = 0,
              const char* str = nullptr) {
    out_.push_back({t, cpu, ev, name, mask, str});
    return out_.size() - 1;
  }
  // A context name's number in the output's table ("" = none: -1).
  std::int32_t name_id(const std::string& n) {
    if (n.empty()) return -1;
    auto [it, fresh] = name_ids_.emplace(n, static_cast<std::int32_t>(names_.size()));
    if (fresh) names_.push_back(n);
    return it->second;
  }

  // Whose state: inside KVM_RUN the thread's fpu->fpstate is its guest's
  // (fpu_swap_kvm_fpstate()), so saves and restores there are the vCPU's.
  void kernel_op(int cpu, std::uint64_t t, const Task& task, bool save, const char* kind, const Rec& r,
                 std::optional<bool> guest = {}) {
    ops_.push_back({cpu, t, guest.value_or(task.in_run) ? vcpu_name(task) : task.name, save, kind, r.src->line});
  }

  // The scenario context that stands for `pid` now ("" = idle).
  std::string ctx_of(int pid) {
    Task& t = tasks_.at(pid);
    if (t.kind == Kind::kIdle) return "";
    if (t.kind == Kind::kKthread || t.settled) {
      t.declared = true;
      return t.name;
    }
    t.used_standin = true;
    return t.standin;
  }

  // ------------------------------------------------ the kernel's rules
  bool valid(const Task& t, int cpu) const {
    auto it = owner_.find(cpu);
    return it != owner_.end() && it->second == t.pid && t.last_cpu == cpu;
  }
  // The model's load_user_regs(): true if it restores.
  bool track_return(Task& t, int cpu) {
    if (!t.need_load) return false;
    const bool restored = !valid(t, cpu);
    if (restored) {
      owner_[cpu] = t.pid;
      t.last_cpu = cpu;
    }
    t.need_load = false;
    return restored;
  }
  void track_save(Task& t, int cpu) {
    t.need_load = true;
    t.last_cpu = cpu;
  }
  void clear_owner(int cpu) { owner_[cpu] = -1; }

  // ------------------------------------------------------- lookahead
  template <class Pred, class Stop>
  const Rec* next_on_cpu(const Rec& r, Pred pred, Stop stop) {
    const auto& l = by_cpu_[r.cpu];
    for (size_t k = pos_in_cpu_[r.i] + 1; k < l.size(); ++k) {
      const Rec& x = recs_[l[k]];
      if (stop(x)) return nullptr;
      if (pred(x)) return &x;
    }
    return nullptr;
  }
  template <class Pred>
  const Rec* next_on_cpu(const Rec& r, Pred pred) {
    return next_on_cpu(r, pred, [](const Rec&) { return false; });
  }

  // The kernel's regs_activated (load 1) of pid after r, before pid enters
  // the kernel again, is switched out, or forks.
  Rec* restore_follows(const Rec& r, int pid) {
    const Rec* x = next_on_cpu(
        r, [&](const Rec& x) { return x.pid == pid && x.ev == Ev::kActivated && x.has_fpu && x.load == 1; },
        [&](const Rec& x) {
          if (x.ev == Ev::kSwitch && x.prev_pid == pid) return true;
          if (x.pid != pid) return false;
          if (x.ev == Ev::kSysEnter || x.ev == Ev::kCopyDst || x.ev == Ev::kSignalDeliver) return true;
          return x.ev == Ev::kActivated && x.has_fpu && x.load == 0;
        });
    return x ? &recs_[x->i] : nullptr;
  }

  // regs_deactivated logged by the outgoing task right after switch r: the
  // switch's save. Its load is 1 since 730faa15a069 (v6.16: switch_fpu()
  // sets TIF_NEED_FPU_LOAD first); before, switch_fpu_prepare() logged it
  // with the flag still clear (load 0).
  const Rec* deactivated_after_switch(const Rec& r) {
    const auto& l = by_cpu_[r.cpu];
    for (size_t k = pos_in_cpu_[r.i] + 1; k < l.size(); ++k) {
      const Rec& x = recs_[l[k]];
      if (x.pid != r.prev_pid || x.ev == Ev::kSwitch) break;
      if (x.ev == Ev::kDeactivated && x.has_fpu) return &x;
    }
    return nullptr;
  }

  // The XSTATE_BV of pid's next save on r's CPU after r.
  std::uint64_t xfeatures_for_use(const Rec& r, int pid) {
    auto it = deact_pos_.find({r.cpu, pid});
    if (it != deact_pos_.end()) {
      const auto& pos = it->second;
      auto p = std::upper_bound(pos.begin(), pos.end(), pos_in_cpu_[r.i]);
      if (p != pos.end()) return recs_[by_cpu_[r.cpu][*p]].xfeatures;
    }
    const Task& t = tasks_.at(pid);
    return t.last_xfeatures.value_or(0x2);  // default: SSE
  }

  // ----------------------------------------------------------- steps
  void do_return(const Rec& r, Task& t, int cpu, bool kernel_restored, std::optional<std::uint64_t> at = {}) {
    const std::uint64_t tt = at ? *at : cyc(r);
    if (!t.settled || t.in_user) return;
    if (t.pending_exec) {
      // fpu_flush_thread(): TIF_NEED_FPU_LOAD set, registers invalidated.
      t.need_load = true;
      t.last_cpu.reset();
    }
    if (kernel_restored) {
      if (!t.need_load) {
        // R6: live by the tracking, yet reloaded: an unlogged kernel_fpu_begin() saved them.
        emit(tt, cpu, Out::kKernelFpu, -1, 0, "task");
        ++inferred_["kernel_fpu_task_save"];
        ++t.counts["inferred_saves"];
        kernel_op(cpu, tt, t, true, "save kernel_fpu", r);
        track_save(t, cpu);
        clear_owner(cpu);
      } else if (valid(t, cpu)) {
        insert_invalidation(t, cpu);  // R7
      }
    } else if (t.need_load && !valid(t, cpu) && !t.pending_exec) {
      discrepancy(r, t.name + " returns to user without a regs_activated, but by the kernel's rules its registers "
                              "are not valid on this CPU: the model will restore here");
    }
    if (t.pending_exec) {
      emit(tt, cpu, Out::kExec);
      t.pending_exec = false;
      t.used_in_slice = false;  // a new program
    } else {
      emit(tt, cpu, Out::kReturn);
    }
    track_return(t, cpu);
    t.in_user = true;
    maybe_use(r, t, cpu, tt);
  }

  void maybe_use(const Rec& r, Task& t, int cpu, std::uint64_t tt) {
    if (t.used_in_slice || !t.settled || t.exited) return;
    const std::uint64_t comps = use_mask(xfeatures_for_use(r, t.pid));
    if (comps) emit(tt, cpu, Out::kUse, name_id(t.name), comps);
    t.used_in_slice = true;
  }

  void insert_invalidation(Task& t, int cpu) {
    if (!t.switch_out_index) {
      discrepancies_.push_back("cannot place the invalidation for " + t.name + ": no earlier switch-out");
      return;
    }
    const size_t idx = *t.switch_out_index;
    const std::uint64_t tt = idx > 0 ? out_[idx - 1].t : 0;
    insert_at(idx, {OutEvent{tt, cpu, Out::kKernelFpu, -1, 0, "softirq"}});
    clear_owner(cpu);
    ++inferred_["kernel_fpu_invalidation"];
  }

  void insert_at(size_t idx, std::vector<OutEvent> evs) {
    out_.insert(out_.begin() + static_cast<std::ptrdiff_t>(idx), std::make_move_iterator(evs.begin()),
                std::make_move_iterator(evs.end()));
    for (auto& [pid, o] : tasks_) {
      if (o.switch_out_index && *o.switch_out_index > idx) *o.switch_out_index += evs.size();
      if (o.slice_start_index && *o.slice_start_index > idx) *o.slice_start_index += evs.size();
    }
  }

  void ensure_kernel(const Rec& r, Task& t, int cpu) {
    if (t.settled && t.in_user) {
      emit(cyc(r), cpu, Out::kSyscall);
      t.in_user = false;
    }
  }

  // R3: from the stand-in to the real user context.
  void settle(const Rec& r, Task& t, int cpu) {
    if (t.settled || t.kind != Kind::kUser) return;
    t.settled = true;
    t.in_user = true;  // a never-run context starts in user mode: the switch restores
    t.need_load = true;
    t.last_cpu.reset();
    const std::uint64_t tt = cyc(r);
    emit(tt, cpu, Out::kSwitch, name_id(ctx_of(t.pid)));
    track_return(t, cpu);
    ++t.counts["settle_restore"];
    kernel_op(cpu, tt, t, false, "restore", r);
    t.used_in_slice = false;
    t.slice_start_index = out_.size();
    if (t.pending_exec) t.pending_exec = false;  // the fresh context is the exec'd image
    maybe_use(r, t, cpu, tt);
  }

  void discrepancy(const Rec& r, const std::string& what) {
    std::ostringstream s;
    s << "line " << r.src->line << " (cpu " << r.cpu << "): " << what;
    discrepancies_.push_back(s.str());
  }

  // ---------------------------------------------------------- handlers
  void on_switch_record(const Rec& r, int cpu) {
    switch_to(r, r, cpu, r.prev_pid, r.prev_state, r.next_pid, deactivated_after_switch(r));
  }

  // R2: a task's line on a CPU whose current task is another one.
  void implicit_switch(const Rec& r, int cpu, int next_pid) {
    const int prev_pid = cur_[cpu];
    if (prev_pid != 0) notes_.push_back("line " + std::to_string(r.src->line) + ": unrecorded switch from " +
                                        tasks_.at(prev_pid).name);
    ++inferred_[std::string("unrecorded_switch_from_") + (prev_pid == 0 ? "idle" : "task")];
    const size_t k = pos_in_cpu_[r.i];
    const Rec& anchor = k > 0 ? recs_[by_cpu_[cpu][k - 1]] : r;
    switch_to(r, anchor, cpu, prev_pid, "R", next_pid, nullptr);
  }

  // True if nothing of pid follows r on this CPU before the trace ends (or
  // only sys_exit lines, which leave the restore decision open).
  bool runs_off_end(const Rec& r, int pid) {
    return next_on_cpu(r, [&](const Rec& x) {
             return (x.pid == pid && x.ev != Ev::kSysExit) || (x.ev == Ev::kSwitch && x.prev_pid == pid);
           }) == nullptr;
  }

  void hidden_return(const Rec& r, Task& t, int cpu) {
    const size_t idx = t.slice_start_index.value_or(out_.size());
    const std::uint64_t tt = idx > 0 ? out_[idx - 1].t : cyc(r);
    std::vector<OutEvent> evs = {OutEvent{tt, cpu, Out::kReturn, -1, 0, nullptr}};
    const std::uint64_t comps = use_mask(xfeatures_for_use(r, t.pid));
    if (comps && !t.used_in_slice) {
      evs.push_back(OutEvent{tt, cpu, Out::kUse, name_id(t.name), comps, nullptr});
      t.used_in_slice = true;
    }
    insert_at(idx, std::move(evs));
    ++inferred_["hidden_return"];
    if (track_return(t, cpu)) {
      discrepancies_.push_back(t.name + ": hidden return at " + std::to_string(tt) +
                               " needs a restore the kernel did not log");
    }
    t.in_user = true;
  }

  void switch_to(const Rec& r, const Rec& anchor, int cpu, int prev_pid, std::string_view state, int next_pid,
                 const Rec* deact);
  void on_sys_enter(const Rec& r, int cpu);
  void on_sys_exit(const Rec& r, int cpu);
  void on_activated(Rec& r, int cpu);
  void on_signal_deliver(const Rec& r, int cpu);
  void on_copy_dst(const Rec& r, int cpu);
  void on_dropped(const Rec& r, int cpu);
  void on_kvm_fpu(const Rec& r, int cpu);
  void sigreturn(const Rec& r, Task& t, int cpu);
  void leave_guest(const Rec& r, Task& t, int cpu, const char* reason);
  std::string vcpu_name(const Task& t) const { return t.name.substr(0, 58) + ":vcpu"; }

  OJson contexts() const;
  OJson vms() const;

  const TraceInput& in_;
  const ConvertOptions& o_;
  std::vector<Rec> recs_;
  std::map<int, std::vector<size_t>> by_cpu_;
  std::vector<size_t> pos_in_cpu_;
  std::map<std::pair<int, int>, std::vector<size_t>> deact_pos_;  // (cpu, pid) -> positions of its saves there
  std::vector<int> cpus_;
  std::uint64_t t0_ = 0;
  bool has_syscalls_ = false;
  bool before_v616_ = false;  // a kernel before 730faa15a069 (v6.16)
  bool has_signal_events_ = false;
  std::set<int> vcpu_threads_;  // tasks that logged kvm_fpu
  bool has_kvm_entry_ = false;   // kvm_entry / kvm_exit recorded (not on every host: PVM logs none)
  std::set<int> kthread_pids_;
  std::map<int, Task> tasks_;
  std::map<int, int> cur_;          // cpu -> pid running (per the trace)
  std::map<int, int> switch_tail_;  // cpu -> pid just switched out (its trailing lines); -1 none
  std::map<int, int> owner_;        // cpu -> pid whose registers the CPU holds; -1 none
  std::vector<OutEvent> out_;
  std::vector<std::string> names_;
  std::unordered_map<std::string, std::int32_t> name_ids_;
  std::vector<KernelOp> ops_;
  std::map<std::string, std::uint64_t> inferred_;
  std::vector<std::string> notes_, discrepancies_;
};

void Converter::switch_to(const Rec& r, const Rec& anchor, int cpu, int prev_pid, std::string_view state,
                          int next_pid, const Rec* deact) {
  Task& prev = task(prev_pid);
  Task& nxt = task(next_pid);
  const std::uint64_t tt = cyc(r);
  if (prev.kind == Kind::kUser) {
    if (deact) prev.last_xfeatures = deact->xfeatures;
    if (prev.settled) {
      const bool preempted = !state.empty() && state[0] == 'R';
      // "R+" = preempted (preempt_schedule*(): kernel mode); plain "R" =
      // schedule() at the exit-to-user work loop, at the user boundary.
      const bool in_kernel = !preempted || state.back() == '+' || prev.syscall_open || prev.pending_return;
      if (deact) {
        ++prev.counts["deact_switch"];
        kernel_op(cpu, tt, prev, true, "save context_switch", *deact);
        if (prev.need_load) hidden_return(r, prev, cpu);  // R7: a return the rules missed
      } else if (!prev.need_load) {
        // R6: an unlogged save (kernel_fpu_begin() while it was current). If
        // the model has it in user mode, the section ran in an interrupt that
        // then preempted it on the way out (irqentry_exit_to_user_mode()
        // schedules before switch_fpu_return()): enter the kernel first,
        // return after the switch back in.
        if (prev.in_user) {
          emit(tt, cpu, Out::kSyscall);
          prev.in_user = false;
          if (preempted) prev.pending_return = true;
        }
        emit(tt, cpu, Out::kKernelFpu, -1, 0, "task");
        ++inferred_["kernel_fpu_save_before_switch"];
        ++prev.counts["inferred_saves"];
        kernel_op(cpu, tt, prev, true, "save kernel_fpu", r);
        track_save(prev, cpu);
        clear_owner(cpu);
      }
      if (in_kernel) {
        ensure_kernel(r, prev, cpu);
      } else if (!prev.in_user && !prev.pending_return) {
        do_return(r, prev, cpu, false);  // preempted in user mode (an interrupt)
      }
      const char s0 = state.empty() ? 'R' : state[0];
      if ((s0 == 'X' || s0 == 'Z' || prev.dying) && s0 != 'R' && !prev.exited) {
        // R8: the model's exit comes right before the final switch-out.
        emit(tt, cpu, Out::kExit);
        prev.exited = true;
        if (owner_[cpu] == prev.pid) clear_owner(cpu);
      }
      if (!prev.need_load) track_save(prev, cpu);
    } else if (deact) {
      ++prev.counts["boundary_deact"];
    }
  }
  // The switch itself.
  if (nxt.kind == Kind::kUser && nxt.settled && (nxt.in_user || nxt.pending_return) && runs_off_end(anchor, next_pid)) {
    // The kernel's restore decision for this switch-in lies after the
    // window's end: a stand-in, so that the model does not restore either.
    nxt.ended = true;
    notes_.push_back("final switch-in of " + nxt.name + " replaced by " + nxt.name +
                     ":end (outcome after the window)");
  }
  emit(tt, cpu, Out::kSwitch, name_id(nxt.ended ? nxt.name + ":end" : ctx_of(next_pid)));
  prev.switch_out_index = out_.size();
  cur_[cpu] = next_pid;
  if (nxt.ended) return;
  if (nxt.kind == Kind::kUser && nxt.settled) {
    nxt.used_in_slice = false;
    nxt.slice_start_index = out_.size();
    if (nxt.in_user) {
      // The model returns to user as part of the switch.
      if (Rec* k = restore_follows(anchor, next_pid)) {
        k->consumed = true;
        if (valid(nxt, cpu) && nxt.need_load) insert_invalidation(nxt, cpu);
      } else if (!valid(nxt, cpu)) {
        discrepancy(r, nxt.name + " switched in (user mode) without a regs_activated, but its registers are not "
                                  "valid here by the kernel's rules");
      }
      track_return(nxt, cpu);
      maybe_use(anchor, nxt, cpu, tt);
    } else if (nxt.pending_return) {
      nxt.pending_return = false;
      if (Rec* k = restore_follows(anchor, next_pid)) {
        k->consumed = true;
        do_return(*k, nxt, cpu, true);
      } else {
        do_return(r, nxt, cpu, false);
      }
    }
  }
}

void Converter::on_sys_enter(const Rec& r, int cpu) {
  Task& t = tasks_.at(r.pid);
  if (t.kind != Kind::kUser) return;
  if (t.settled && !t.in_user) {
    do_return(r, t, cpu, false);  // R4: it returned to user unseen
    ++inferred_["return_before_sys_enter"];
  }
  if (t.settled) maybe_use(r, t, cpu, cyc(r));
  t.syscall_open = true;
  t.open_nr = r.nr;
  ensure_kernel(r, t, cpu);
}

void Converter::on_sys_exit(const Rec& r, int cpu) {
  Task& t = tasks_.at(r.pid);
  if (t.kind != Kind::kUser) return;
  t.syscall_open = false;
  t.open_nr.reset();
  if (!t.settled) return;
  if (t.in_user && !t.pending_exec) return;
  // Preempted before switch_fpu_return()?
  // The need-resched column of the irq flags ('N', 'n', 'p'; 'L', 'l',
  // 'b', 'B' with PREEMPT_LAZY, 6.13+): anything but '.'.
  const std::string& fl = r.src->flags;
  if (fl.size() >= 2 && fl[1] != '.') {
    const Rec* nx = next_on_cpu(r, [&](const Rec& x) { return x.ev == Ev::kSwitch || x.pid == r.pid; });
    if (nx && nx->ev == Ev::kSwitch && nx->prev_pid == r.pid && !nx->prev_state.empty() && nx->prev_state[0] == 'R') {
      t.pending_return = true;
      return;
    }
  }
  if (Rec* k = restore_follows(r, r.pid)) {
    k->consumed = true;
    do_return(*k, t, cpu, true);
  } else if ((t.pending_exec || (t.need_load && !valid(t, cpu))) && runs_off_end(r, r.pid)) {
    // The window ends before the restore this return needs: it lies after
    // the trace, as does the return.
    notes_.push_back("line " + std::to_string(r.src->line) + ": " + t.name + "'s return to user is after the window");
    ++t.counts["return_after_window"];
  } else {
    do_return(r, t, cpu, false);
  }
}

void Converter::sigreturn(const Rec& r, Task& t, int cpu) {
  emit(cyc(r), cpu, Out::kSigreturn);
  kernel_op(cpu, cyc(r), t, false, "restore signal", r);
  --t.frames;
  t.in_user = true;
  t.need_load = false;
  owner_[cpu] = t.pid;
  t.last_cpu = cpu;
}

void Converter::on_activated(Rec& r, int cpu) {
  Task& t = tasks_.at(r.pid);
  if (t.kind != Kind::kUser) return;
  if (!r.has_fpu) {
    // Neither "load: N xfeatures: X" nor the raw fields: unreadable.
    ++t.counts["unreadable"];
    notes_.push_back("line " + std::to_string(r.src->line) + ": x86_fpu_regs_activated without load and xfeatures");
    return;
  }
  t.last_xfeatures = r.xfeatures;
  // `load` is TIF_NEED_FPU_LOAD when fpregs_activate() logs, not what was
  // done: 1 after a restore from memory, and in the paths below when the
  // task was switched out before them.
  const int load = r.load;
  // The task's next line that matters here (irq and other events, and
  // KVM's entry and exit lines, may come between).
  const Rec* nx = next_on_cpu(r, [&](const Rec& x) {
    return x.pid == r.pid && x.ev != Ev::kOther && x.ev != Ev::kKvmEntry && x.ev != Ev::kKvmExit;
  });
  if (nx && nx->ev == Ev::kKvmFpu) {
    // fpu_swap_kvm_fpstate() (kvm_load_guest_fpu / kvm_put_guest_fpu):
    // XRSTOR of the swapped-in fpstate, then fpregs_mark_activate(); the
    // kvm_fpu line right after it does the rest (on_kvm_fpu). Its load says
    // whether it saved the registers first (load 0: they were live).
    if (t.settled && (nx->kvm_load || t.in_run)) {
      // load: the guest's state in; unload: the thread's back
      kernel_op(cpu, cyc(r), t, false, "restore kvm_fpu", r, nx->kvm_load);
      ++t.counts["act_kvm"];
      t.swap_load = load;
    } else {
      ++t.counts["boundary_kvm"];  // a KVM_RUN that began before the window or before the thread settled
    }
    return;
  }
  if (!nx && vcpu_threads_.count(t.pid)) {
    // A vCPU thread's last line: its kvm_fpu line is after the window.
    ++t.counts["boundary_kvm"];
    return;
  }
  if (t.settled && load == 1 && t.open_nr && *t.open_nr == kNrRtSigreturn && t.frames > 0) {
    // restore_fpregs_from_user() in rt_sigreturn after the task was switched
    // out inside it (its retry path): the sigreturn, logged with load 1.
    ++t.counts["act_load0"];
    sigreturn(r, t, cpu);
    return;
  }
  if (!t.settled) {
    if (load == 1) {
      ++t.counts["act_load1"];
      settle(r, t, cpu);
      r.consumed = true;
    } else {
      ++t.counts["boundary_act"];
    }
    return;
  }
  if (load == 1) {
    ++t.counts["act_load1"];
    kernel_op(cpu, cyc(r), t, false, "restore", r);
    if (r.consumed) return;
    if (t.in_run) {
      // vcpu_enter_guest(): "if (test_thread_flag(TIF_NEED_FPU_LOAD))
      // switch_fpu_return()" reloads the guest fpstate before VM entry (the
      // only restore inside KVM_RUN): the entry, where the kernel does not
      // log kvm_entry, is placed here, and leaves at the thread's next line.
      if (!has_kvm_entry_ && !t.in_guest) {
        emit(cyc(r), cpu, Out::kVmEntry);
        t.in_guest = true;
        ++inferred_["vm_entry_at_guest_fpu_reload"];
        track_return(t, cpu);
      }
      return;
    }
    const Rec* nx = next_on_cpu(r, [&](const Rec& x) { return x.pid == r.pid; });
    if (nx && nx->ev == Ev::kCopyDst && nx->ns - r.ns <= 3000) return;  // fpu_clone()'s own restore
    if (t.in_user && !t.pending_exec) {
      // A restore while the model has the task in user mode: reloaded after
      // kernel_fpu_begin() in an interrupt (R6), or the rules are off.
      if (!t.need_load) {
        emit(cyc(r), cpu, Out::kIrqKernelFpu);
        ++inferred_["kernel_fpu_irq_save"];
        ++t.counts["inferred_saves"];
        kernel_op(cpu, cyc(r), t, true, "save kernel_fpu", r);
        track_save(t, cpu);
        clear_owner(cpu);
        track_return(t, cpu);
      } else {
        discrepancy(r, "unexpected regs_activated of " + t.name);
      }
      return;
    }
    do_return(r, t, cpu, true);
  } else {
    ++t.counts["act_load0"];
    if (!has_signal_events_) {
      // R9: without signal:signal_deliver, the kernel's regs_activated (load
      // 0) of a user task shows the signal deliveries (fpu__clear_user_states())
      // and sigreturns (restore_fpregs_from_user()). With raw_syscalls, one in
      // rt_sigreturn is the sigreturn and any other a delivery; without them
      // they alternate (a signal nested in a handler would look like its
      // sigreturn: counted, so it can be judged).
      const bool delivery = has_syscalls_ ? !(t.open_nr && *t.open_nr == kNrRtSigreturn) : t.frames == 0;
      if (delivery) {
        ++inferred_[has_syscalls_ ? "signal_from_regs_activated" : "signal_from_regs_activated_alternation"];
        if (!t.in_user) {
          // Delivered on the way out of the kernel: the model's signal is
          // taken from user mode.
          t.in_user = true;
          emit(cyc(r), cpu, Out::kReturn);
          track_return(t, cpu);
        }
        emit(cyc(r), cpu, Out::kSignal);
        ++t.counts["signals"];
        kernel_op(cpu, cyc(r), t, true, "save signal", r);
        kernel_op(cpu, cyc(r), t, false, "restore signal", r);
        ++t.frames;
        owner_[cpu] = t.pid;
        t.last_cpu = cpu;
        t.need_load = false;
        return;
      }
      if (!has_syscalls_) ++inferred_["sigreturn_from_regs_activated_alternation"];
    }
    const bool sigret = (t.open_nr && *t.open_nr == kNrRtSigreturn) || (!has_syscalls_ && !t.signal_pending_activate);
    if (sigret && t.frames > 0) {
      sigreturn(r, t, cpu);
    } else if (t.signal_pending_activate) {
      t.signal_pending_activate = false;  // the signal's fpu__clear_user_states()
      kernel_op(cpu, cyc(r), t, false, "restore signal", r);
    } else {
      ++t.counts["act_load0_unmodelled"];
      kernel_op(cpu, cyc(r), t, false, "restore unmodelled", r);
    }
  }
}

void Converter::on_signal_deliver(const Rec& r, int cpu) {
  Task& t = tasks_.at(r.pid);
  if (t.kind != Kind::kUser || !t.settled) return;
  // get_signal() logs signal_deliver before it looks at the action: SIG_DFL
  // (0) and SIG_IGN (1) write no frame (a fatal signal kills the task).
  const std::string_view h = field(r.src->args, "sa_handler");
  if (h == "0" || h == "1" || h == "0x0" || h == "0x1") {
    ++t.counts["signal_without_handler"];
    return;
  }
  if (runs_off_end(r, r.pid)) {
    // get_signal() logs signal_deliver before handle_signal() writes the
    // frame: the window ends before the frame.
    notes_.push_back("line " + std::to_string(r.src->line) + ": " + t.name + "'s signal frame is after the window");
    ++t.counts["signal_after_window"];
    return;
  }
  emit(cyc(r), cpu, Out::kSignal);
  ++t.counts["signals"];
  kernel_op(cpu, cyc(r), t, true, "save signal", r);
  ++t.frames;
  track_return(t, cpu);
  owner_[cpu] = t.pid;
  t.last_cpu = cpu;
  t.in_user = true;
  t.signal_pending_activate = true;
  // fpregs_restore_userregs() inside the frame setup is part of this event
  if (Rec* k = restore_follows(r, r.pid)) k->consumed = true;
}

void Converter::on_copy_dst(const Rec& r, int cpu) {
  Task& t = tasks_.at(r.pid);
  // kernel_clone(): copy_process() (copy_dst), then sched_process_fork,
  // before the syscall returns.
  const Rec* fork = next_on_cpu(
      r, [&](const Rec& x) { return x.pid == r.pid && x.ev == Ev::kFork; },
      [&](const Rec& x) { return x.pid == r.pid && (x.ev == Ev::kSysExit || x.ev == Ev::kCopyDst); });
  if (!fork) {
    ++t.counts["copy_without_fork"];
    notes_.push_back("line " + std::to_string(r.src->line) + ": copy_dst without sched_process_fork (not recorded?)");
    return;
  }
  Task& child = task(fork->child_pid);
  if (t.kind != Kind::kUser || !t.settled) {
    ++t.counts["boundary_copy"];
    return;
  }
  ++t.counts["copy_dst"];
  // x86_fpu_copy_dst traces the child's fpu: the XSAVE writes its buffer.
  kernel_op(cpu, cyc(r), child, true, "save fork", r);
  emit(cyc(r), cpu, Out::kFork, name_id(child.name));
  child.declared = true;
  track_return(t, cpu);  // fpu_clone(): fpregs_restore_userregs() if needed
  child.need_load = true;
  child.last_cpu.reset();
  child.in_user = true;
}

void Converter::on_dropped(const Rec& r, int cpu) {
  // fpu__drop() (6.16+: only when TIF_NEED_FPU_LOAD is clear): fpregs_deactivate().
  Task& t = tasks_.at(r.pid);
  t.dying = true;
  // Only since v6.16 does it log with TIF_NEED_FPU_LOAD clear alone.
  if (t.kind == Kind::kUser && t.settled && t.need_load && !before_v616_) hidden_return(r, t, cpu);  // R7
  if (t.kind == Kind::kUser && t.settled && owner_[cpu] == t.pid) clear_owner(cpu);
}

void Converter::leave_guest(const Rec& r, Task& t, int cpu, const char* reason) {
  emit(cyc(r), cpu, Out::kVmExit, -1, 0, reason);
  t.in_guest = false;
  if (!has_kvm_entry_) ++inferred_["vm_exit_before_thread_line"];
}

// kvm_fpu load: kvm_arch_vcpu_ioctl_run() -> kvm_load_guest_fpu() (once per
// KVM_RUN since 4.15); unload: kvm_put_guest_fpu() before KVM_RUN returns.
// fpu_swap_kvm_fpstate() first saves the live registers ("if
// (!cur_fps->is_confidential && !test_thread_flag(TIF_NEED_FPU_LOAD))
// save_fpregs_to_fpstate()", no tracepoint): a save the kernel's rules imply.
void Converter::on_kvm_fpu(const Rec& r, int cpu) {
  Task& t = tasks_.at(r.pid);
  if (t.kind != Kind::kUser || !t.settled) {
    ++t.counts["boundary_kvm"];
    return;
  }
  if (!r.kvm_load && !t.in_run) {
    ++t.counts["boundary_kvm"];  // KVM_RUN entered before the window or before the thread settled
    return;
  }
  t.vcpu = true;
  const std::uint64_t tt = cyc(r);
  // Saved first if the registers were live: the activation's load 0
  // (TIF_NEED_FPU_LOAD clear), else the kernel's rules tracked here.
  const bool live = t.swap_load ? *t.swap_load == 0 : !t.need_load && valid(t, cpu);
  t.swap_load.reset();
  if (live) {
    kernel_op(cpu, tt, t, true, "save kvm_fpu", r);
    ++t.counts["kvm_implied_saves"];
  }
  if (r.kvm_load) {
    if (t.in_user) {
      // KVM_RUN is an ioctl: without raw_syscalls, its entry is here.
      emit(tt, cpu, Out::kSyscall);
      t.in_user = false;
    }
    emit(tt, cpu, Out::kKvmRun, name_id(vcpu_name(t)));
    t.in_run = true;
  } else {
    if (t.in_guest) leave_guest(r, t, cpu, "other");
    emit(tt, cpu, Out::kKvmReturn);
    t.in_run = false;
    t.in_user = true;  // KVM_RUN returns to user space (the model's kvm_return)
    t.used_in_slice = true;
  }
  // fpregs_mark_activate(): the swapped-in state is in the registers.
  t.need_load = false;
  owner_[cpu] = t.pid;
  t.last_cpu = cpu;
}

void Converter::run() {
  std::set<int> started;
  for (Rec& r : recs_) {
    const int cpu = r.cpu;
    if (!started.count(cpu)) {
      started.insert(cpu);
      const int first = r.ev == Ev::kSwitch ? r.prev_pid : r.pid;
      cur_[cpu] = first;
      owner_.emplace(cpu, -1);
      if (first) {
        Task& t0 = tasks_.at(first);
        emit(cyc(r), cpu, Out::kSwitch, name_id(ctx_of(first)));
        if (t0.settled) {
          track_return(t0, cpu);
          t0.used_in_slice = false;
        }
      }
    }
    const int actual = r.ev == Ev::kSwitch ? r.prev_pid : r.pid;
    auto tail = switch_tail_.find(cpu);
    if (r.ev != Ev::kSwitch && tail != switch_tail_.end() && actual == tail->second) {
      // switch_fpu()'s regs_deactivated, logged by the outgoing task after
      // its sched_switch line (handled with the switch)
      continue;
    }
    switch_tail_[cpu] = -1;
    if (actual != cur_[cpu]) implicit_switch(r, cpu, actual);
    if (r.ev == Ev::kSwitch) switch_tail_[cpu] = actual;
    if (!has_kvm_entry_ && r.ev != Ev::kKvmExit) {
      Task& t = tasks_.at(actual);
      if (t.in_guest) leave_guest(r, t, cpu, "other");  // the guest ran until this line of its thread
    }
    switch (r.ev) {
      case Ev::kSwitch: on_switch_record(r, cpu); break;
      case Ev::kSysEnter: on_sys_enter(r, cpu); break;
      case Ev::kSysExit: on_sys_exit(r, cpu); break;
      case Ev::kActivated: on_activated(r, cpu); break;
      case Ev::kSignalDeliver: on_signal_deliver(r, cpu); break;
      case Ev::kCopyDst: on_copy_dst(r, cpu); break;
      case Ev::kExec: {
        Task& t = tasks_.at(r.pid);
        if (t.kind == Kind::kUser) {
          t.pending_exec = true;
          if (t.settled) t.in_user = false;
        }
        break;
      }
      case Ev::kDeactivated:
        if (r.has_fpu && r.load == 0) ++tasks_.at(r.pid).counts["deact_drop"];
        break;
      case Ev::kDropped: on_dropped(r, cpu); break;
      case Ev::kKvmFpu: on_kvm_fpu(r, cpu); break;
      case Ev::kKvmEntry: {
        Task& t = tasks_.at(r.pid);
        if (t.kind == Kind::kUser && t.settled && t.in_run && !t.in_guest) {
          emit(cyc(r), cpu, Out::kVmEntry);
          t.in_guest = true;
          track_return(t, cpu);
        }
        break;
      }
      case Ev::kKvmExit: {
        Task& t = tasks_.at(r.pid);
        if (t.in_guest) leave_guest(r, t, cpu, r.exit_reason);
        break;
      }
      case Ev::kExit: tasks_.at(r.pid).dying = true; break;
      case Ev::kFork:
      case Ev::kOther: break;
    }
  }
}

// One VM per vCPU thread (the trace does not say which threads share a VM;
// each guest's FPU state is its vCPU's anyway).
OJson Converter::vms() const {
  OJson v = OJson::array();
  for (const auto& [pid, t] : tasks_) {
    if (!t.vcpu) continue;
    v.push_back({{"name", t.name.substr(0, 61) + ":vm"}, {"vcpus", OJson::array({{{"name", vcpu_name(t)}, {"thread", t.name}}})}});
  }
  return v;
}

OJson Converter::contexts() const {
  OJson c = OJson::array();
  for (const auto& [pid, t] : tasks_) {
    if (t.kind == Kind::kIdle) continue;
    if (t.kind == Kind::kKthread) {
      if (t.declared) c.push_back({{"name", t.name}, {"kind", "kthread"}});
      continue;
    }
    if (t.used_standin) c.push_back({{"name", t.standin}, {"kind", "kthread"}});
    if (t.ended) c.push_back({{"name", t.name + ":end"}, {"kind", "kthread"}});
    if (t.settled || t.declared) c.push_back({{"name", t.name}});
  }
  return c;
}

Conversion Converter::finish() {
  Conversion cv;
  std::map<std::string, std::uint64_t> tot;
  for (const auto& [pid, t] : tasks_) {
    for (const auto& [k, v] : t.counts) tot[k] += v;
    if (t.kind == Kind::kUser && (t.settled || t.used_standin)) ++cv.user_tasks;
    if (t.kind == Kind::kKthread && t.declared) ++cv.kthreads;
  }
  for (const TraceRecord& r : in_.records) {
    if (r.event.rfind("x86_fpu_", 0) == 0 || r.event == "sched_switch" || r.event == "signal_deliver") {
      ++cv.kernel_counts[std::string(r.event)];
    }
  }
  cv.saves = tot["deact_switch"] + tot["copy_dst"] + tot["signals"] + tot["inferred_saves"] + tot["kvm_implied_saves"];
  cv.restores = tot["act_load1"] + tot["act_load0"] + tot["act_kvm"];
  // (every restore the kernel logged of a represented task, those the
  // import cannot place too: they show in validate as kernel-only)
  std::uint64_t op_saves = 0, op_restores = 0;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> per_ctx;
  for (const KernelOp& op : ops_) {
    (op.save ? op_saves : op_restores)++;
    (op.save ? per_ctx[op.ctx].first : per_ctx[op.ctx].second)++;
  }
  if (op_saves != cv.saves || op_restores != cv.restores) {
    throw InternalError{"import: kernel operations " + std::to_string(op_saves) + "/" + std::to_string(op_restores) +
                        " differ from the counts " + std::to_string(cv.saves) + "/" + std::to_string(cv.restores)};
  }
  cv.cpus = cpus_;
  cv.inferred = inferred_;
  cv.discrepancies = discrepancies_;
  cv.notes = notes_;
  cv.kernel_ops = std::move(ops_);

  const std::uint64_t span_us = recs_.empty() ? 0 : (recs_.back().ns - recs_.front().ns) / 1000;
  std::uint64_t nsw = 0;
  for (const Rec& r : recs_) nsw += r.ev == Ev::kSwitch;
  auto count = [&](const char* k) { return std::to_string(tot[k]); };
  auto meta = [&](const char* k, const char* dflt) {
    auto it = in_.meta.find(k);
    return it == in_.meta.end() ? std::string(dflt) : it->second;
  };
  std::ostringstream d;
  std::string cpu_list;
  for (int c : cpus_) cpu_list += (cpu_list.empty() ? "" : ",") + std::to_string(c);
  d << "Imported by `fpusim import` from " << o_.source << " (" << in_.format << "; "
    << meta("kernel", in_.kernel.empty() ? "kernel not named" : in_.kernel.c_str()) << "; " << meta("cpu", "CPU not named")
    << "; command: " << meta("command", "?") << "): " << in_.records.size() << " trace records, " << span_us
    << " us, CPU(s) " << cpu_list << ", " << nsw << " sched_switch, " << cv.user_tasks << " user tasks, t = microseconds x "
    << o_.mhz << ". ";
  d << "The kernel logged " << cv.kernel_counts["x86_fpu_regs_deactivated"] << " regs_deactivated and "
    << cv.kernel_counts["x86_fpu_regs_activated"] << " regs_activated. regs_deactivated: " << count("deact_switch")
    << " at context switches of the represented user tasks (one XSAVE each), " << count("deact_drop")
    << " from fpu__drop() at exit (no save), " << count("boundary_deact")
    << " of tasks before their first restore (boundary, rule R3). regs_activated: " << count("act_load1")
    << " with load 1 (XRSTOR), " << count("act_load0") << " with load 0 (signal/sigreturn)";
  if (tot["act_load0_unmodelled"]) d << ", of which " << count("act_load0_unmodelled") << " not modelled";
  if (tot["boundary_act"]) d << ", plus " << count("boundary_act") << " of tasks before their first restore (boundary)";
  d << ". Also " << count("copy_dst") << " copy_dst (fork XSAVE into the child) and " << count("signals")
    << " signal frames. ";
  d << "Expected under deferred (the kernel's policy since 5.2): saves = " << count("deact_switch") << " switch saves + "
    << count("copy_dst") << " fork copies + " << count("signals") << " signal frames + " << count("inferred_saves")
    << " inferred unlogged kernel_fpu_begin() saves = " << cv.saves << "; restores = " << cv.restores
    << "; per task as in expect.deferred.per_context; no lost or leaked state. Inferred events (R2, R6, R7): ";
  if (inferred_.empty()) {
    d << "none";
  } else {
    bool first = true;
    for (const auto& [k, v] : inferred_) d << (first ? "" : ", ") << k << " " << v, first = false;
  }
  d << ". Discrepancies found by the import: " << discrepancies_.size() << ".";
  if (in_.lost_events) d << " The trace lost " << in_.lost_events << " events (ring buffer overrun): counts near there may differ.";

  OJson per_context = OJson::object();
  for (const auto& [ctx, sr] : per_ctx) per_context[ctx] = {{"saves", sr.first}, {"restores", sr.second}};
  OJson expect = {{"deferred",
                   {{"totals", {{"saves", cv.saves}, {"restores", cv.restores}}},
                    {"per_context", per_context},
                    {"violations", {{"lost", 0}, {"leaked", 0}}}}}};
  int max_cpu = cpus_.empty() ? 0 : cpus_.back();
  const unsigned ncpu = std::max<unsigned>(o_.cpus, static_cast<unsigned>(max_cpu + 1));
  OJson ctxs = contexts();
  if (ctxs.empty()) ctxs.push_back({{"name", "idle-only"}, {"kind", "kthread"}});
  const OJson vm_list = vms();
  OJson& sc = cv.scenario;
  sc["format"] = "fpusim-scenario";
  sc["version"] = 1;
  sc["name"] = o_.name;
  sc["description"] = d.str();
  sc["machine"] = o_.machine;
  sc["costs"] = o_.costs;
  sc["cpus"] = ncpu;
  sc["policy"] = "deferred";
  sc["contexts"] = ctxs;
  if (!vm_list.empty()) sc["vms"] = vm_list;
  sc["events"] = nullptr;  // scenario_text() puts the events here
  auto events = std::make_shared<X86Events>();
  events->events = std::move(out_);
  events->names = std::move(names_);
  cv.events = std::move(events);
  sc["expect"] = expect;
  return cv;
}

std::string X86Events::json(std::size_t i) const {
  const OutEvent& e = events[i];
  static const char* const kNames[] = {"switch",     "use",      "syscall", "return_to_user", "exec",
                                       "exit",       "fork",     "signal",  "sigreturn",      "kernel_fpu",
                                       "irq",        "kvm_run",  "kvm_return", "vm_entry",    "vm_exit"};
  std::string o = "{\"t\": " + std::to_string(e.t) + ", \"cpu\": " + std::to_string(e.cpu) + ", \"ev\": \"" +
                  kNames[static_cast<int>(e.ev)] + "\"";
  // Names are sanitized ([A-Za-z0-9_.:+-]): nothing to escape.
  auto name = [&]() { return e.name < 0 ? std::string("null") : "\"" + names.at(static_cast<size_t>(e.name)) + "\""; };
  switch (e.ev) {
    case Out::kSwitch: o += ", \"next\": " + name(); break;
    case Out::kUse: {
      o += ", \"ctx\": " + name() + ", \"write\": [";
      bool first = true;
      for (const auto& [b, comp] : kComponentBits) {
        if (e.mask & (1ull << b)) o += std::string(first ? "" : ", ") + "\"" + comp + "\"", first = false;
      }
      o += "]";
      break;
    }
    case Out::kFork: o += ", \"child\": " + name(); break;
    case Out::kKernelFpu: o += std::string(", \"in\": \"") + e.str + "\", \"dur\": 0"; break;
    case Out::kIrqKernelFpu: o += ", \"dur\": 0, \"kernel_fpu\": true"; break;
    case Out::kKvmRun: o += ", \"vcpu\": " + name(); break;
    case Out::kVmExit: o += std::string(", \"reason\": \"") + e.str + "\""; break;
    default: break;
  }
  return o + "}";
}

std::uint64_t hex(const std::string& s) {
  try {
    return std::stoull(s, nullptr, 16);
  } catch (...) {
    return 0;
  }
}

// "6.18.44-fc-v669" -> {6, 18}; {0, 0} if it is not a release.
std::pair<int, int> release_of(const std::string& k) {
  int major = 0, minor = 0;
  char dot = 0;
  std::istringstream ss(k);
  if (!(ss >> major >> dot >> minor) || dot != '.') return {0, 0};
  return {major, minor};
}

class X86Importer final : public TraceImporter {
 public:
  std::uint64_t recognises(const TraceInput& in) const override {
    std::uint64_t n = 0;
    for (const TraceRecord& r : in.records) n += r.event.rfind("x86_fpu_", 0) == 0 || r.event == "kvm_fpu";
    return n;
  }

  std::string policy_for_kernel(const std::string& k, bool from_trace, const std::string& file,
                                std::vector<std::string>& why) const override {
    if (k.empty()) {
      why.push_back("kernel: not named by the trace (give --kernel); its x86_fpu events are read as Linux >= 5.2's");
      return "deferred";
    }
    const auto [maj, min] = release_of(k);
    if (maj == 0) throw InputError{file, "", "--kernel: expected a release such as 6.18.4, got \"" + k + "\""};
    if (maj < 5 || (maj == 5 && min < 2)) {
      throw InputError{file, "", "kernel " + k + ": the import reads x86_fpu events as Linux >= 5.2 logs them "
                                 "(TIF_NEED_FPU_LOAD, 5f409e20b794); older kernels are not supported"};
    }
    why.push_back("kernel " + k + (from_trace ? " (from the trace)" : " (--kernel)") +
                  ": policy deferred (Linux >= 5.2; 730faa15a069's v6.16 form)");
    return "deferred";
  }

  // The x86 preset whose enabled features (XCR0 | IA32_XSS) cover the
  // xfeatures the kernel logged (and the header's CPU flags), of the vendor
  // the capture header names, with the fewest features beyond.
  MachineChoice choose_machine(const TraceInput& in, std::vector<std::string>& why) const override {
    std::uint64_t need = 0;
    for (const TraceRecord& r : in.records) {
      if (r.event.rfind("x86_fpu_", 0) != 0) continue;
      const auto p = r.args.find("xfeatures: ");
      if (p != std::string::npos) need |= hex(r.args.substr(p + 11, r.args.find(' ', p + 11) - p - 11));
    }
    std::string cpu_line;
    if (auto it = in.meta.find("cpu"); it != in.meta.end()) cpu_line = it->second;
    const std::string vendor = cpu_line.find("AMD") != std::string::npos     ? "amd"
                               : cpu_line.find("Intel") != std::string::npos ? "intel"
                                                                             : "";
    if (cpu_line.find("amx_tile") != std::string::npos) need |= 0x60000;  // XTILECFG | XTILEDATA
    if (cpu_line.find("avx512f") != std::string::npos) need |= 0xe0;
    MachineChoice best;
    int best_extra = 1 << 30;
    bool best_vendor = false;
    for (const std::string& name : list_presets("machines")) {
      Json m;
      try {
        m = load_json_file(preset_path("machines", name, ""));
      } catch (const InputError&) {
        continue;
      }
      if (m.value("arch", "") != "x86_64" || !m.contains("os") || !m["os"].is_object()) continue;
      const std::uint64_t have = hex(m["os"].value("xcr0", "0")) | hex(m["os"].value("xss", "0"));
      if ((need & ~have) != 0) continue;
      const int extra = __builtin_popcountll(have & ~need);
      const bool v = !vendor.empty() && name.rfind(vendor + "-", 0) == 0;
      if ((v && !best_vendor) || (v == best_vendor && extra < best_extra)) {
        best_extra = extra, best_vendor = v;
        best.machine = name;
        best.mhz = m.contains("frequency_mhz") && m["frequency_mhz"].is_number()
                       ? static_cast<std::uint64_t>(m["frequency_mhz"].get<double>())
                       : 0;
      }
    }
    std::ostringstream s;
    s << std::hex << need;
    if (best.machine.empty()) {
      throw InputError{in.file, "", "no x86_64 machine preset enables every state component the kernel logged "
                                    "(xfeatures 0x" + s.str() + "): give --machine"};
    }
    best.costs = default_costs(best.machine);
    why.push_back("machine " + best.machine + ": enables every component the kernel logged (xfeatures 0x" + s.str() +
                  ")" + (best_vendor ? ", of the vendor the capture header names" : "") +
                  "; --machine to choose another");
    return best;
  }

  std::string default_costs(const std::string& machine) const override {
    return machine.rfind("amd-", 0) == 0 ? "amd-zen4" : "intel-like";
  }

  Conversion convert(const TraceInput& in, const ConvertOptions& options) const override {
    Converter c(in, options);
    c.run();
    return c.finish();
  }

  const std::vector<OpKind>& op_kinds() const override { return kernel_op_kinds(); }

  // The kernel logs an XRSTOR from a task's buffer as regs_activated (load
  // 1), the loads of the init state or a signal frame as regs_activated
  // (load 0), fpu_swap_kvm_fpstate()'s as load 0 around kvm_fpu.
  std::string model_row(const OpRecord& op, bool save, std::string_view cause) const override {
    if (save) {
      if (op.op == "sigframe_xsave") return "save signal";
      if (cause == "kvm_run") return "save kvm_fpu";
      return "save " + std::string(cause);
    }
    if (cause == "kvm_run") return "restore kvm_fpu";
    if (op.op == "restore") return "restore";
    if (op.op == "restore_init" || op.op == "sigframe_xrstor") return "restore signal";
    return "restore " + std::string(op.op);
  }
};

}  // namespace

const trace_import::TraceImporter& trace_importer() {
  static const X86Importer importer;
  return importer;
}

}  // namespace fpusim::x86
