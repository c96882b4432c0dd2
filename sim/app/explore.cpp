#include "sim/app/explore.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <cstdlib>
#include <functional>
#include <iomanip>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "models/core/arch.h"
#include "sim/input/event.h"
#include "sim/input/json_input.h"
#include "sim/input/paths.h"
#include "sim/input/trace_rules.h"
#include "sim/output/atomic_file.h"

namespace fpusim {

namespace {

// Events are this far apart: longer than all the events of a sequence
// cost together (write_counterexample checks), so that each is processed at
// its own time, in order, on every CPU, and no time rule (a CPU busy with
// the previous event, a context leaving a CPU while another takes it)
// decides anything. The scenarios written use the same times.
constexpr Cycles kGap = 100000;
constexpr Cycles kDur = 100;  // kernel_fpu sections and interrupts
constexpr std::uint32_t kNoParent = ~std::uint32_t{0};

struct Letter {
  Json json;  // the event as a scenario writes it, without "t"
  Event e;
  std::string ev;
};

struct Hash128 {
  std::uint64_t a = 0, b = 0;
  bool operator==(const Hash128& o) const { return a == o.a && b == o.b; }
};
struct HashOf {
  size_t operator()(const Hash128& h) const { return h.a; }
};
// Two independent 64-bit hashes of the key: a collision of both (which
// would merge two different states) is out of reach at any state count
// explore can hold.
Hash128 hash_key(const std::string& s) {
  Hash128 h;
  h.a = std::hash<std::string>{}(s);
  std::uint64_t f = 14695981039346656037ull;
  for (unsigned char c : s) f = (f ^ c) * 1099511628211ull;
  h.b = f;
  return h;
}

// One run's state: the agent, its checker, the trace-time rules.
struct State {
  std::unique_ptr<Checker> checker;
  std::unique_ptr<ArchAgent> agent;
  std::unique_ptr<TraceRules> rules;
};

// The kinds of the violations a state has met (bits of ViolationKind).
std::uint32_t violation_bits(const State& st) {
  std::uint32_t b = 0;
  for (const Violation& v : st.checker->violations()) b |= 1u << static_cast<unsigned>(v.kind);
  return b;
}

// The tree of sequences explored: each node is its parent's sequence and
// one more letter.
struct Node {
  std::uint32_t parent;
  std::uint32_t letter;
};

// A successor found by a worker: the letter, and the state's key, or the
// violation kinds it ended in.
struct Succ {
  std::uint32_t letter;
  std::uint32_t violations;  // bits of ViolationKind; 0: a state
  Hash128 key;
};

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::uint64_t peak_rss_kib() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<std::uint64_t>(ru.ru_maxrss);
}

// JSON on one line as the project's scenarios write it: ", " and ": ";
// `first` keys (those present) before the others.
std::string inline_json(const Json& j, const std::vector<std::string>& first = {}) {
  if (j.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < j.size(); ++i) out += (i ? ", " : "") + inline_json(j[i]);
    return out + "]";
  }
  if (!j.is_object()) return j.dump();
  std::vector<std::string> keys;
  for (const std::string& k : first) {
    if (j.contains(k)) keys.push_back(k);
  }
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (std::find(first.begin(), first.end(), it.key()) == first.end()) keys.push_back(it.key());
  }
  std::string out = "{";
  for (size_t i = 0; i < keys.size(); ++i) out += (i ? ", " : "") + Json(keys[i]).dump() + ": " + inline_json(j[keys[i]]);
  return out + "}";
}

// A scenario document as the project writes them: its keys in the usual
// order, one context, event and expectation per line.
std::string format_scenario(const Json& doc) {
  static const std::vector<std::string> order = {"format", "version", "name", "description", "machine", "costs",
                                                 "policy", "cpus",    "contexts", "vms",      "events", "expect"};
  std::string out = "{\n";
  bool first = true;
  for (const std::string& key : order) {
    if (!doc.contains(key)) continue;
    const Json& v = doc[key];
    out += first ? "" : ",\n";
    first = false;
    out += "  " + Json(key).dump() + ": ";
    if (key == "events" || key == "contexts" || key == "expect") {
      const bool obj = v.is_object();
      out += obj ? "{\n" : "[\n";
      size_t i = 0;
      for (auto e = v.begin(); e != v.end(); ++e, ++i) {
        out += "    " + (obj ? Json(e.key()).dump() + ": " : std::string()) + inline_json(*e, {"t", "cpu", "ev", "totals"});
        out += i + 1 < v.size() ? ",\n" : "\n";
      }
      out += obj ? "  }" : "  ]";
    } else {
      out += inline_json(v);
    }
  }
  return out + "\n}\n";
}

class Explorer {
 public:
  Explorer(const ExploreOptions& o, std::ostream& out, std::ostream& progress)
      : o_(o), out_(out), progress_(progress) {}

  int run();

 private:
  void setup();
  void add_letter(Json j, unsigned cpu);
  // A run at the start; `search`: with the rules the search switches off.
  std::unique_ptr<State> make_root(const PolicyDesc& policy, Stats& stats, bool search = true) const;
  std::unique_ptr<State> copy(const State& s, Stats& stats) const {
    auto c = std::make_unique<State>();
    c->checker = std::make_unique<Checker>(*s.checker, &stats);
    c->agent = s.agent->clone(stats, *c->checker);
    c->rules = std::make_unique<TraceRules>(*s.rules);
    return c;
  }
  // Applies letter `l` as the event at `step` of the sequence; false if
  // the trace rules or the agent refuse it (the state is then spoiled).
  bool apply(State& st, const Letter& l, size_t step, Cycles* cost = nullptr) const;
  // The canonical key (the least over the permutations tried) and which
  // permutation gave it.
  struct Renaming {
    std::vector<ContextId> ctx;  // per context: its number in the key
    std::vector<CpuId> cpu;      // per CPU
  };
  Hash128 key(const State& st, StateKey& k, std::string& best, Renaming* chosen = nullptr) const;
  std::vector<std::uint32_t> path(std::uint32_t node) const {
    std::vector<std::uint32_t> p;
    for (; nodes_[node].parent != kNoParent; node = nodes_[node].parent) p.push_back(nodes_[node].letter);
    std::reverse(p.begin(), p.end());
    return p;
  }
  std::unique_ptr<State> replay(const std::vector<std::uint32_t>& p, Stats& stats) const;
  void expand(std::uint32_t node, Stats& stats, std::vector<Succ>& out) const;
  // Writes the sequence of `node`, which ends in violations of `kinds`.
  void write_counterexample(const std::string& name, std::uint32_t node, const std::string& kinds, Json& summary);
  void verify(Json& summary);

  const ExploreOptions& o_;
  std::ostream& out_;
  std::ostream& progress_;
  Json doc_;  // the scenario every counterexample starts from
  Scenario s_;
  const Arch* arch_ = nullptr;
  std::unordered_map<std::string, ContextId> ids_;
  std::vector<std::string> names_;
  std::vector<Letter> letters_;
  std::vector<std::string> refused_;  // letters the architecture does not decode
  unsigned tasks_ = 0;
  // The interchangeable contexts: the tasks, then the kernel threads.
  struct Group {
    ContextId first;
    unsigned count;
  };
  std::vector<Group> groups_;
  Stats stats_proto_;
  std::unique_ptr<State> root_;
  std::vector<Node> nodes_;
  std::unordered_map<Hash128, std::uint32_t, HashOf> seen_;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> merged_;  // (node, node) pairs that met: verify's
};

void Explorer::add_letter(Json j, unsigned cpu) {
  j["cpu"] = cpu;
  Json one = j;
  one["t"] = 0;
  Letter l;
  l.ev = j["ev"].get<std::string>();
  if (!o_.events.empty() && std::find(o_.events.begin(), o_.events.end(), l.ev) == o_.events.end()) return;
  try {
    const Json events = Json::array({one});  // the source reads it in place
    auto src = make_inline_source(*arch_, events, "fpusim explore", &ids_, s_.machine->cpus);
    if (!src->next(l.e)) panic("explore: letter " + j.dump() + " decoded to nothing");
  } catch (const InputError& e) {
    // The architecture has no such event (arm64: a faulting signal frame).
    const std::string d = j.dump();
    if (cpu == 0) refused_.push_back(d + " (" + e.message + ")");
    return;
  }
  l.json = std::move(j);
  letters_.push_back(std::move(l));
}

void Explorer::setup() {
  if (o_.cpus == 0 || o_.cpus > 4) throw InputError{"fpusim explore", "--cpus", "expected 1 to 4"};
  if (o_.contexts == 0 || o_.contexts > 5) throw InputError{"fpusim explore", "--contexts", "expected 1 to 5"};
  if (o_.vcpus > 2) throw InputError{"fpusim explore", "--vcpus", "expected 0 to 2"};
  if (o_.kthreads > 3) throw InputError{"fpusim explore", "--kthreads", "expected 0 to 3"};
  if (o_.depth == 0 || o_.depth > 64) throw InputError{"fpusim explore", "--depth", "expected 1 to 64"};
  if (o_.jobs == 0) throw InputError{"fpusim explore", "-j", "expected at least 1"};
  if (o_.policy.empty()) throw InputError{"fpusim explore", "--policy", "missing (fpusim list policies)"};

  // The machine first: its architecture says what else the scenario has.
  std::string machine = o_.machine;
  const std::string mfile = preset_path("machines", machine, "");
  if (machine.find('/') != std::string::npos || mfile != config_dir() + "/machines/" + machine + ".json") {
    char* abs = ::realpath(mfile.c_str(), nullptr);
    if (!abs) throw InputError{mfile, "", "--machine: cannot be opened"};
    machine = abs;
    std::free(abs);
  }
  Json mdoc = load_json_file(mfile);
  apply_overrides(mdoc, o_.sets, "machine");
  const Arch& arch = arch_of_machine(mdoc, mfile);
  std::shared_ptr<MachineBase> m = arch.load_machine(mdoc, mfile);
  if (o_.cpus > m->cpus) {
    throw InputError{"fpusim explore", "--cpus",
                     cpus_text(o_.cpus) + ", but machine " + m->name + " has " + cpus_text(m->cpus)};
  }
  std::string policy = o_.policy;
  for (const std::string& b : o_.bugs) policy += " --bug " + b;
  const ExploreParts parts = arch.explore_parts(*m, resolve_policy(arch, policy, "fpusim explore", "--policy"), o_.vcpus);

  tasks_ = o_.contexts;
  Json contexts = Json::array();
  std::vector<std::string> task_names;
  for (unsigned i = 0; i < tasks_; ++i) {
    task_names.push_back(std::string(1, static_cast<char>('A' + i)));
    contexts.push_back({{"name", task_names.back()}});
  }
  std::vector<std::string> kthread_names;
  for (unsigned i = 0; i < o_.kthreads; ++i) {
    kthread_names.push_back("K" + std::to_string(i));
    contexts.push_back({{"name", kthread_names.back()}, {"kind", "kthread"}});
  }
  groups_ = {{0, tasks_}, {tasks_, o_.kthreads}};
  for (const std::string& t : parts.threads) contexts.push_back({{"name", t}, {"process", "vmm"}});
  doc_ = Json::object();
  doc_["format"] = "fpusim-scenario";
  doc_["version"] = 1;
  doc_["name"] = "explore";
  doc_["description"] = "fpusim explore";
  doc_["machine"] = machine;
  doc_["costs"] = o_.costs.empty() ? parts.costs : o_.costs;
  doc_["policy"] = policy;
  doc_["cpus"] = o_.cpus;
  doc_["contexts"] = contexts;
  if (!parts.vms.empty()) doc_["vms"] = Json::parse(parts.vms);
  doc_["events"] = Json::array();
  std::vector<Override> sets;  // the machine's and the costs' (the scenario's own keys are explore's)
  for (const Override& v : o_.sets) {
    if (v.key.rfind("machine.", 0) == 0 || v.key.rfind("costs.", 0) == 0) {
      sets.push_back(v);
    } else {
      throw InputError{"fpusim explore", "--set " + v.key,
                       "explore takes machine.KEY and costs.KEY overrides; the scenario is its own"};
    }
  }
  s_ = load_scenario_doc(doc_, "fpusim explore", sets);
  // The scenarios written must replay without the command line: what the
  // overrides changed goes into them, resolved.
  for (const Override& v : sets) {
    if (v.key.rfind("machine.", 0) == 0) doc_["machine"] = s_.machine_json;
    if (v.key.rfind("costs.", 0) == 0) doc_["costs"] = s_.costs_json;
  }
  arch_ = find_arch(s_.arch);
  ids_ = name_table(s_);
  for (const auto& c : s_.contexts) names_.push_back(c.name);

  // The alphabet: the core events on every CPU, then the architecture's.
  std::vector<Json> core;
  std::vector<std::string> switchable = task_names;
  switchable.insert(switchable.end(), kthread_names.begin(), kthread_names.end());
  switchable.insert(switchable.end(), parts.threads.begin(), parts.threads.end());
  for (const std::string& n : switchable) core.push_back({{"ev", "switch"}, {"next", n}});
  core.push_back({{"ev", "switch"}, {"next", nullptr}});
  for (const std::string& u : parts.uses) core.push_back({{"ev", "use"}, {"write", Json::parse(u)}});
  core.push_back({{"ev", "syscall"}});
  core.push_back({{"ev", "return_to_user"}});
  core.push_back({{"ev", "kernel_fpu"}, {"in", "task"}, {"dur", kDur}});
  core.push_back({{"ev", "kernel_fpu"}, {"in", "softirq"}, {"dur", kDur}});
  core.push_back({{"ev", "irq"}, {"kernel_fpu", true}, {"dur", kDur}});
  core.push_back({{"ev", "signal"}});
  core.push_back({{"ev", "signal"}, {"fault", "retry"}});
  core.push_back({{"ev", "sigreturn"}});
  core.push_back({{"ev", "sigreturn"}, {"fault", "retry"}});
  core.push_back({{"ev", "sigreturn"}, {"fault", "fatal"}});
  for (const std::string& n : task_names) core.push_back({{"ev", "fork"}, {"child", n}});
  core.push_back({{"ev", "exec"}});
  core.push_back({{"ev", "exec"}, {"to_user", false}});
  core.push_back({{"ev", "exit"}});
  for (const std::string& n : task_names) {
    core.push_back({{"ev", "state_read"}, {"target", n}});
    core.push_back({{"ev", "state_write"}, {"target", n}, {"write", Json::parse(parts.uses.front())}});
    // A write whose header the kernel must reject (x86: reserved bits,
    // ptrace07); an architecture without XSAVE headers refuses the key.
    core.push_back({{"ev", "state_write"}, {"target", n}, {"write", Json::parse(parts.uses.front())},
                    {"invalid_header", true}});
  }
  for (const std::string& l : parts.letters) core.push_back(Json::parse(l));
  for (const std::string& n : task_names) {
    for (const std::string& l : parts.task_letters) {
      Json j = Json::parse(l);
      j["target"] = n;
      core.push_back(std::move(j));
    }
  }
  std::vector<std::string> kinds;
  for (const Json& j : core) {
    const std::string ev = j["ev"].get<std::string>();
    if (std::find(kinds.begin(), kinds.end(), ev) == kinds.end()) kinds.push_back(ev);
  }
  for (const std::string& e : o_.events) {
    if (e.empty()) throw InputError{"fpusim explore", "--events", "an empty kind; expected KIND,... of: " + join(kinds, ", ")};
    if (std::find(kinds.begin(), kinds.end(), e) == kinds.end()) {
      throw InputError{"fpusim explore", "--events",
                       "no event kind \"" + e + "\" on this machine; kinds: " + join(kinds, ", ")};
    }
  }
  for (unsigned c = 0; c < o_.cpus; ++c) {
    for (const Json& j : core) add_letter(j, c);
  }
  if (letters_.empty()) throw InputError{"fpusim explore", "--events", "no event of these kinds can be explored here"};

  root_ = make_root(*s_.policy, stats_proto_);

  // Last, once the options are known to be good: the output directory,
  // before any exploring.
  if (!o_.out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o_.out_dir, ec);
    if (ec || ::access(o_.out_dir.c_str(), W_OK | X_OK) != 0) {
      throw InputError{o_.out_dir, "", "-o: cannot write in this directory" + (ec ? ": " + ec.message() : "")};
    }
  }
}

std::unique_ptr<State> Explorer::make_root(const PolicyDesc& policy, Stats& stats, bool search) const {
  auto st = std::make_unique<State>();
  st->checker = std::make_unique<Checker>(s_.machine->cpus, arch_->component_bytes(s_), s_.machine->lazyfp_vulnerable,
                                          &stats);
  if (search) {
    for (ViolationKind k : o_.disabled_rules) st->checker->disable(k);
  }
  st->agent = arch_->make_agent(s_, policy, stats, *st->checker, ids_, {});
  st->rules = std::make_unique<TraceRules>(s_.machine->cpus, s_.contexts.size(), &names_);
  st->rules->set_guest_threads(st->agent->runner_threads());
  return st;
}

bool Explorer::apply(State& st, const Letter& l, size_t step, Cycles* cost) const {
  Event e = l.e;
  e.t = (step + 1) * kGap;
  e.index = step;
  std::uint64_t turn = 0;
  try {
    st.rules->check(e, EventOrigin{"fpusim explore", false}, turn);
    const Cycles c = st.agent->handle(e.cpu, e.t, e);
    if (cost) *cost += c;
  } catch (const InputError&) {
    return false;
  } catch (const SemanticError&) {
    return false;
  }
  return true;
}

// The key of the least serialization over the renamings of the
// interchangeable contexts (the tasks, each a process of its own, declared
// alike; the kernel threads; vCPU threads and guests keep their numbers) and
// CPUs that keep each group in the order of their signatures
// (StateKey::reset_signature): a renaming of a state has the same
// signatures, renamed, so the same candidates and the same least one; equal
// signatures (tasks that never ran) are tried in every order.
Hash128 Explorer::key(const State& st, StateKey& k, std::string& best, Renaming* chosen) const {
  const size_t n = s_.contexts.size(), ncpu = o_.cpus;
  auto write = [&] {
    st.agent->state_key(k);
    if (!o_.weak_key) st.rules->state_key(k);
  };
  // Each group's members (and the CPUs) in their order in the key, sorted
  // by signature; a signature is indexed by context or CPU id.
  std::vector<std::vector<std::uint32_t>> orders;
  std::vector<std::string> ctx_sig(n), cpu_sig(ncpu);
  for (const Group& g : groups_) {
    std::vector<std::uint32_t> order(g.count);
    for (unsigned i = 0; i < g.count; ++i) order[i] = g.first + i;
    orders.push_back(order);
  }
  std::vector<std::uint32_t> cpus(ncpu);
  for (unsigned i = 0; i < ncpu; ++i) cpus[i] = i;
  if (o_.symmetry) {
    for (const Group& g : groups_) {
      for (unsigned i = 0; i < g.count && g.count > 1; ++i) {
        k.reset_signature({g.first + i}, {}, n, ncpu);
        write();
        ctx_sig[g.first + i] = k.bytes();
      }
    }
    for (unsigned c = 0; c < ncpu && ncpu > 1; ++c) {
      k.reset_signature({}, {c}, n, ncpu);
      write();
      cpu_sig[c] = k.bytes();
    }
  }
  // Sorted by signature, each run of equal ones by id (next_permutation's
  // first order).
  auto sort_by = [](std::vector<std::uint32_t>& order, const std::vector<std::string>& sig) {
    std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
      return sig[a] != sig[b] ? sig[a] < sig[b] : a < b;
    });
  };
  // The next order within the runs of equal signatures; false (and the
  // first order again) after the last.
  auto next_within_ties = [](std::vector<std::uint32_t>& order, const std::vector<std::string>& sig) {
    for (size_t end = order.size(); end > 0;) {
      size_t begin = end - 1;
      while (begin > 0 && sig[order[begin - 1]] == sig[order[end - 1]]) --begin;
      if (std::next_permutation(order.begin() + begin, order.begin() + end)) return true;
      end = begin;  // this run is back in its first order: carry into the previous one
    }
    return false;
  };
  for (auto& o : orders) sort_by(o, ctx_sig);
  sort_by(cpus, cpu_sig);
  // Every combination: the CPUs' orders, then each group's, like an odometer.
  auto advance = [&] {
    if (!o_.symmetry) return false;
    if (next_within_ties(cpus, cpu_sig)) return true;
    for (size_t g = orders.size(); g-- > 0;) {
      if (next_within_ties(orders[g], ctx_sig)) return true;
    }
    return false;
  };
  Renaming r;
  r.ctx.resize(n);
  r.cpu.resize(ncpu);
  for (ContextId c = 0; c < n; ++c) r.ctx[c] = c;
  bool first = true;
  do {
    for (size_t g = 0; g < groups_.size(); ++g) {
      for (unsigned p = 0; p < groups_[g].count; ++p) r.ctx[orders[g][p]] = groups_[g].first + p;
    }
    for (unsigned p = 0; p < ncpu; ++p) r.cpu[cpus[p]] = p;
    k.reset(r.ctx, r.cpu);
    write();
    if (first || k.bytes() < best) {
      best = k.bytes();
      first = false;
      if (chosen) *chosen = r;
    }
  } while (advance());
  return hash_key(best);
}

std::unique_ptr<State> Explorer::replay(const std::vector<std::uint32_t>& p, Stats& stats) const {
  auto st = copy(*root_, stats);
  for (size_t i = 0; i < p.size(); ++i) {
    if (!apply(*st, letters_[p[i]], i)) {
      panic("explore: a sequence it found no longer replays at event " + std::to_string(i) + " (" +
            letters_[p[i]].json.dump() + "): the model is not deterministic");
    }
  }
  return st;
}

void Explorer::expand(std::uint32_t node, Stats& stats, std::vector<Succ>& out) const {
  const std::vector<std::uint32_t> p = path(node);
  const auto st = replay(p, stats);
  StateKey k;
  std::string best;
  for (std::uint32_t li = 0; li < letters_.size(); ++li) {
    const auto c = copy(*st, stats);
    if (!apply(*c, letters_[li], p.size())) continue;
    Succ s{li, violation_bits(*c), {}};
    if (!s.violations) {
      s.key = key(*c, k, best);
    }
    out.push_back(s);
  }
}

int Explorer::run() {
  const auto t0 = std::chrono::steady_clock::now();
  setup();
  const PolicyDesc& policy = *s_.policy;
  out_ << "fpusim explore: " << s_.arch << " " << s_.machine->name << ", policy " << policy.name << "; "
       << cpus_text(o_.cpus) << ", " << tasks_ << (tasks_ == 1 ? " task" : " tasks")
       << (o_.kthreads ? ", " + std::to_string(o_.kthreads) + " kernel thread" + (o_.kthreads == 1 ? "" : "s")
                       : std::string())
       << (o_.vcpus ? ", " + std::to_string(o_.vcpus) + " vCPU" + (o_.vcpus == 1 ? "" : "s") : std::string())
       << "; " << letters_.size() << " events to choose from at each step; depth " << o_.depth
       << (o_.symmetry ? "" : "; symmetry not folded");
  for (ViolationKind k : o_.disabled_rules) out_ << "; rule " << violation_kind_name(k) << " off";
  out_ << "\n";
  for (const std::string& r : refused_) out_ << "  not explored (the architecture refuses it): " << r << "\n";

  StateKey k;
  std::string best;
  nodes_.push_back({kNoParent, 0});
  seen_.emplace(key(*root_, k, best), 0);
  std::vector<std::uint32_t> frontier{0};
  std::map<unsigned, std::uint32_t> found;  // violation kind -> the node of its first (shortest) counterexample
  std::uint64_t transitions = 0, merges = 0;
  std::mt19937_64 sample_rng(o_.seed);
  unsigned depth = 0;
  bool stopped = false;
  Json levels = Json::array();
  out_ << "  depth  new states  transitions\n";
  std::vector<Stats> worker_stats(o_.jobs, stats_proto_);
  auto last_progress = std::chrono::steady_clock::now();
  while (depth < o_.depth && !frontier.empty() && !stopped) {
    ++depth;
    std::vector<std::vector<Succ>> succ(frontier.size());
    std::vector<std::uint32_t> enabled(frontier.size());  // per state: its transitions, seen or new
    std::atomic<size_t> next{0};
    std::exception_ptr error;
    std::mutex error_mu;
    auto work = [&](unsigned w) {
      try {
        for (size_t i; (i = next.fetch_add(1)) < frontier.size();) {
          expand(frontier[i], worker_stats[w], succ[i]);
          // Progress within a long level (the first thread says it).
          if (w == 0 && (i & 1023) == 0) {
            const auto now = std::chrono::steady_clock::now();
            if (now - last_progress > std::chrono::seconds(5)) {
              last_progress = now;
              progress_ << "fpusim explore: depth " << depth << ": " << i << " of " << frontier.size()
                        << " states expanded, " << seen_.size() << " distinct so far, "
                        << static_cast<std::uint64_t>(std::chrono::duration<double>(now - t0).count()) << " s\n";
            }
          }
          enabled[i] = static_cast<std::uint32_t>(succ[i].size());
          // Drop what is already known (seen_ is read-only until the merge).
          auto& v = succ[i];
          v.erase(std::remove_if(v.begin(), v.end(),
                                 [&](const Succ& s) { return !s.violations && seen_.count(s.key) && !o_.verify; }),
                  v.end());
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (!error) error = std::current_exception();
        next = frontier.size();
      }
    };
    std::vector<std::thread> threads;
    for (unsigned w = 1; w < o_.jobs; ++w) threads.emplace_back(work, w);
    work(0);
    for (auto& t : threads) t.join();
    if (error) std::rethrow_exception(error);

    // Merged in frontier order, letters in order: the same result with any
    // number of threads, and the first sequence of a kind is a shortest.
    std::vector<std::uint32_t> next_frontier;
    std::uint64_t level_transitions = 0;
    for (size_t i = 0; i < frontier.size() && !stopped; ++i) {
      level_transitions += enabled[i];
      for (const Succ& s : succ[i]) {
        if (s.violations) {
          bool added = false;
          for (unsigned kind = 0; kind < kNumViolationKinds; ++kind) {
            if (!(s.violations >> kind & 1) || found.count(kind)) continue;
            if (!added) nodes_.push_back({frontier[i], s.letter});
            added = true;
            found[kind] = static_cast<std::uint32_t>(nodes_.size() - 1);
          }
          continue;
        }
        auto [it, fresh] = seen_.emplace(s.key, 0);
        if (!fresh) {
          // verify's sample: `verify` pairs drawn evenly from every merge
          // (reservoir sampling), so deep states are checked as well.
          if (o_.verify && (merged_.size() < o_.verify || sample_rng() % (merges + 1) < o_.verify)) {
            nodes_.push_back({frontier[i], s.letter});
            const std::pair<std::uint32_t, std::uint32_t> pair{it->second,
                                                               static_cast<std::uint32_t>(nodes_.size() - 1)};
            if (merged_.size() < o_.verify) merged_.push_back(pair);
            else merged_[sample_rng() % o_.verify] = pair;
          }
          ++merges;
          continue;
        }
        nodes_.push_back({frontier[i], s.letter});
        it->second = static_cast<std::uint32_t>(nodes_.size() - 1);
        next_frontier.push_back(it->second);
        if (o_.max_states && seen_.size() >= o_.max_states) {
          stopped = true;
          break;
        }
      }
    }
    transitions += level_transitions;
    frontier = std::move(next_frontier);
    out_ << "  " << std::setw(5) << depth << "  " << std::setw(10) << frontier.size() << "  " << std::setw(11)
         << level_transitions << "\n";
    levels.push_back({{"depth", depth}, {"new_states", frontier.size()}, {"transitions", level_transitions}});
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (secs > 2) {
      progress_ << "fpusim explore: depth " << depth << ", " << seen_.size() << " distinct states, " << transitions
                << " transitions, " << static_cast<std::uint64_t>(secs) << " s\n";
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Closed: nothing new after the last depth, and nothing left unexpanded
  // (a state that ended in a violation is not explored further).
  const bool closed = frontier.empty() && !stopped && found.empty();
  const bool exhausted = !stopped;
  std::ostringstream bound;
  if (stopped) {
    bound << "not exhausted: stopped at " << seen_.size() << " distinct states (--max-states) in depth " << depth;
  } else if (closed) {
    bound << "exhausted, and closed: no new state after depth " << depth
          << " (every reachable state of this system explored)";
  } else {
    bound << "exhausted: every sequence of up to " << o_.depth << " events";
  }
  out_ << "bound " << bound.str() << "\n";
  const std::uint64_t rss = peak_rss_kib();
  out_ << "states: " << seen_.size() << " distinct, " << transitions << " explored (transitions) in "
       << std::fixed << std::setprecision(2) << secs << " s, " << std::setprecision(0)
       << (secs > 0 ? transitions / secs : 0.0) << " states/s with " << o_.jobs << (o_.jobs == 1 ? " thread" : " threads")
       << "; peak RSS " << std::setprecision(1) << rss / 1024.0 << " MiB\n";
  out_.unsetf(std::ios::floatfield);
  out_ << std::setprecision(6);

  Json summary = {{"machine", s_.machine->name},
                  {"arch", s_.arch},
                  {"policy", policy.name},
                  {"cpus", o_.cpus},
                  {"tasks", tasks_},
                  {"kthreads", o_.kthreads},
                  {"vcpus", o_.vcpus},
                  {"depth_bound", o_.depth},
                  {"letters", letters_.size()},
                  {"symmetry", o_.symmetry},
                  {"depth_reached", depth},
                  {"exhausted", exhausted},
                  {"closed", closed},
                  {"distinct_states", seen_.size()},
                  {"transitions", transitions},
                  {"seconds", secs},
                  {"peak_rss_kib", rss},
                  {"levels", levels},
                  {"violations", Json::array()}};
  if (found.empty()) {
    out_ << "violations: none\n";
  } else {
    out_ << "violations: " << found.size() << (found.size() == 1 ? " kind" : " kinds") << "\n";
  }
  // One scenario per kind; a sequence that ends in several kinds is
  // written once, named after all of them.
  std::map<std::uint32_t, std::vector<std::string>> by_node;
  for (const auto& [kind, node] : found) {
    by_node[node].push_back(std::string(violation_kind_name(static_cast<ViolationKind>(kind))));
  }
  for (const auto& [node, kinds] : by_node) {
    const std::string name = join(kinds, "_");
    write_counterexample(name, node, join(kinds, ", "), summary);
  }
  if (o_.verify) verify(summary);
  if (!o_.out_dir.empty()) write_file_atomic(o_.out_dir + "/explore.json", summary.dump(2) + "\n");
  if (!found.empty()) return 1;
  return stopped ? 4 : 0;
}

void Explorer::write_counterexample(const std::string& name, std::uint32_t node, const std::string& kinds,
                                    Json& summary) {
  const std::vector<std::uint32_t> p = path(node);
  Json events = Json::array();
  for (size_t i = 0; i < p.size(); ++i) {
    Json e = Json::object();
    e["t"] = (i + 1) * kGap;
    for (auto it = letters_[p[i]].json.begin(); it != letters_[p[i]].json.end(); ++it) e[it.key()] = it.value();
    events.push_back(e);
  }
  // What each run gives on this sequence: the one explored and, with bugs,
  // the policy they break.
  std::vector<const PolicyDesc*> runs{s_.policy};
  if (s_.policy->base) runs.push_back(s_.policy->base);
  Json expect = Json::object();
  std::string outcome, detail;
  for (const PolicyDesc* pol : runs) {
    Stats stats = stats_proto_;
    stats.total = {};
    for (auto& c : stats.per_context) c = {};
    auto st = make_root(*pol, stats, /*search=*/false);  // every rule: what `fpusim check` sees
    size_t refused_at = p.size();
    Cycles cost = 0;
    for (size_t i = 0; i < p.size(); ++i) {
      if (!apply(*st, letters_[p[i]], i, &cost)) {
        refused_at = i;
        break;
      }
    }
    // The platform delays a CPU's later events by the cycles it spent: the
    // events keep their order on every CPU as long as all of them together
    // cost less than the gap between two.
    if (cost >= kGap) {
      throw InternalError{"explore: the events of a counterexample cost " + std::to_string(cost) +
                          " cycles, more than the " + std::to_string(kGap) +
                          " between two; the scenario might replay in another order"};
    }
    if (refused_at < p.size()) {
      outcome += " Under " + pol->name + " event " + std::to_string(refused_at) + " is not possible.";
      continue;
    }
    Json totals = {{"saves", stats.get(Stat::saves)}, {"restores", stats.get(Stat::restores)},
                   {"traps", stats.get(Stat::traps)}};
    Json viol = Json::object();
    std::string counts;
    for (const ViolationKindInfo& k : violation_kinds()) {
      viol[std::string(k.name)] = stats.get(k.stat);
      if (stats.get(k.stat)) counts += (counts.empty() ? "" : ", ") + std::string(k.name) + " " + std::to_string(stats.get(k.stat));
    }
    expect[pol->name] = {{"totals", totals}, {"violations", viol}};
    outcome += " Under " + pol->name + ": " + (counts.empty() ? "no violation" : counts) + "; saves " +
               std::to_string(stats.get(Stat::saves)) + ", restores " + std::to_string(stats.get(Stat::restores)) +
               ", traps " + std::to_string(stats.get(Stat::traps)) + ".";
    // The violation the search stopped at: the first of a rule it had on
    // (event i runs from (i + 1) * kGap).
    const Violation* first = nullptr;
    for (const Violation& v : st->checker->violations()) {
      if (std::find(o_.disabled_rules.begin(), o_.disabled_rules.end(), v.kind) == o_.disabled_rules.end()) {
        first = &v;
        break;
      }
    }
    if (pol == s_.policy && first) {
      const Violation& v = *first;
      detail = std::string(violation_kind_name(v.kind)) + " at event " + std::to_string(v.time / kGap - 1) + " on CPU " +
               std::to_string(v.cpu) + ", " + (v.context < names_.size() ? names_[v.context] : std::string("the kernel")) +
               ": " + v.detail;
    }
  }
  std::ostringstream cmd;
  cmd << "fpusim explore --machine " << o_.machine << " --policy '" << s_.policy->name << "' --cpus " << o_.cpus
      << " --contexts " << o_.contexts << " --vcpus " << o_.vcpus << " --depth " << o_.depth;
  if (o_.kthreads) cmd << " --kthreads " << o_.kthreads;
  if (!o_.events.empty()) cmd << " --events " << join(o_.events, ",");
  if (!o_.costs.empty()) cmd << " --costs " << o_.costs;
  for (const Override& v : o_.sets) cmd << " --set " << v.key << "=" << v.value;
  for (ViolationKind k : o_.disabled_rules) cmd << " --disable-rule " << violation_kind_name(k);
  Json doc = doc_;
  doc["name"] = "explore_" + name;
  doc["description"] = "Found by `" + cmd.str() + "`: a shortest sequence of events (" + std::to_string(p.size()) +
                       ") that ends in " + kinds + " at a " + letters_[nodes_[node].letter].ev + " event. " + detail +
                       "." + outcome;
  doc["events"] = events;
  doc["expect"] = expect;
  std::string file;
  if (!o_.out_dir.empty()) {
    file = o_.out_dir + "/counterexamples/" + name + ".json";
    std::filesystem::create_directories(o_.out_dir + "/counterexamples");
    write_file_atomic(file, format_scenario(doc));
  }
  out_ << "  " << kinds << " at " << letters_[nodes_[node].letter].ev << " (" << p.size() << " events)"
       << (file.empty() ? "" : ": " + file) << "\n    " << detail << "\n   " << outcome << "\n";
  summary["violations"].push_back({{"kinds", kinds},
                                   {"event", letters_[nodes_[node].letter].ev},
                                   {"length", p.size()},
                                   {"file", file},
                                   {"detail", detail},
                                   {"expect", expect}});
}

// Two sequences whose states met under one key must have the same futures.
// The second state is the first with contexts and CPUs renamed (tau, from
// the permutations that gave each its key); a letter on the first is
// mapped through tau for the second.
void Explorer::verify(Json& summary) {
  std::mt19937_64 rng(o_.seed);
  Stats stats = stats_proto_;
  StateKey k;
  std::string best1, best2;
  std::uint64_t steps = 0;
  const size_t nc = s_.contexts.size();
  // A letter's index by (kind, cpu, ctx, and the rest of its event).
  auto same_but = [](const Event& a, const Event& b) {
    return a.kind == b.kind && a.write == b.write && a.read == b.read && a.release == b.release && a.dur == b.dur &&
           a.arg == b.arg && a.where == b.where && a.kernel_fpu == b.kernel_fpu && a.sub == b.sub;
  };
  for (const auto& [n1, n2] : merged_) {
    auto s1 = replay(path(n1), stats);
    auto s2 = replay(path(n2), stats);
    Renaming r1, r2;
    if (!(key(*s1, k, best1, &r1) == key(*s2, k, best2, &r2))) panic("explore --verify: a merged pair has two keys");
    const auto& cm1 = r1.ctx;
    const auto& um1 = r1.cpu;
    const auto& cm2 = r2.ctx;
    const auto& um2 = r2.cpu;
    std::vector<ContextId> inv_c2(nc);
    for (ContextId c = 0; c < nc; ++c) inv_c2[cm2[c]] = c;
    std::vector<CpuId> inv_u2(um2.size());
    for (CpuId c = 0; c < um2.size(); ++c) inv_u2[um2[c]] = c;
    std::vector<std::uint32_t> tau(letters_.size());
    for (std::uint32_t i = 0; i < letters_.size(); ++i) {
      const Event& e = letters_[i].e;
      const CpuId cpu = inv_u2[um1[e.cpu]];
      const ContextId ctx = e.ctx < nc ? inv_c2[cm1[e.ctx]] : e.ctx;
      tau[i] = kNoParent;
      for (std::uint32_t j = 0; j < letters_.size(); ++j) {
        const Event& f = letters_[j].e;
        if (f.cpu == cpu && f.ctx == ctx && same_but(e, f)) tau[i] = j;
      }
      // The alphabet is closed under renaming tasks and CPUs.
      if (tau[i] == kNoParent) panic("explore --verify: letter " + letters_[i].json.dump() + " has no image");
    }
    size_t step1 = path(n1).size(), step2 = path(n2).size();
    for (unsigned d = 0; d < o_.depth; ++d) {
      std::vector<std::uint32_t> enabled;
      for (std::uint32_t i = 0; i < letters_.size(); ++i) {
        auto c1 = copy(*s1, stats), c2 = copy(*s2, stats);
        const bool e1 = apply(*c1, letters_[i], step1), e2 = apply(*c2, letters_[tau[i]], step2);
        if (e1 && e2 && violation_bits(*c1) != violation_bits(*c2)) {
          throw InternalError{"explore --verify: two states under one key differ in their violations after " +
                              letters_[i].json.dump()};
        }
        if (e1 != e2) {
          throw InternalError{"explore --verify: two states under one key differ: " + letters_[i].json.dump() +
                              (e1 ? " is possible after " : " is not possible after ") + std::to_string(step1) +
                              " events, its image " + letters_[tau[i]].json.dump() + (e2 ? " is" : " is not")};
        }
        if (e1) enabled.push_back(i);
      }
      if (enabled.empty()) break;
      const std::uint32_t l = enabled[rng() % enabled.size()];
      apply(*s1, letters_[l], step1++);
      apply(*s2, letters_[tau[l]], step2++);
      ++steps;
      const std::uint32_t v1 = violation_bits(*s1), v2 = violation_bits(*s2);
      if (v1 != v2) {
        throw InternalError{"explore --verify: two states under one key differ in their violations after " +
                            letters_[l].json.dump()};
      }
      if (v1) break;
      if (!(key(*s1, k, best1) == key(*s2, k, best2))) {
        throw InternalError{"explore --verify: two states under one key have different keys after " +
                            letters_[l].json.dump()};
      }
    }
  }
  out_ << "verify: " << merged_.size() << " pairs of sequences that met under one key, " << steps
       << " random steps each way: the same futures\n";
  summary["verified_pairs"] = merged_.size();
  summary["verified_steps"] = steps;
}

}  // namespace

int run_explore(const ExploreOptions& o, std::ostream& out, std::ostream& progress) {
  Explorer e(o, out, progress);
  return e.run();
}

}  // namespace fpusim
