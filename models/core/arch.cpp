#include "models/core/arch.h"

#include <algorithm>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

namespace fpusim {

namespace {
std::vector<const Arch*>& registry() {
  static std::vector<const Arch*> r;
  return r;
}
const StatInfo* find_stat_in(const std::vector<const StatInfo*>& v, std::string_view name) {
  for (const StatInfo* s : v) {
    if (s->name == name) return s;
  }
  return nullptr;
}
}  // namespace

void register_arch(const Arch* a) { registry().push_back(a); }

const Arch* find_arch(std::string_view name) {
  for (const Arch* a : registry()) {
    if (a->name() == name) return a;
  }
  return nullptr;
}

std::vector<const Arch*> archs() { return registry(); }

const Arch& arch_of_machine(const nlohmann::json& doc, const std::string& file) {
  if (doc.is_object() && doc.contains("arch") && doc["arch"].is_string()) {
    if (const Arch* a = find_arch(doc["arch"].get<std::string>())) return *a;
  }
  if (registry().size() == 1) return *registry().front();
  std::string names;
  for (const Arch* a : registry()) names += (names.empty() ? "" : ", ") + std::string(a->name());
  std::string got = " (missing)";
  if (doc.is_object() && doc.contains("arch")) got = ", got " + doc["arch"].dump();
  throw InputError{file, "/arch", "expected the machine's architecture: one of " + names + got};
}

const Arch& arch_named(std::string_view name, const std::string& file, const std::string& path) {
  if (const Arch* a = find_arch(name)) return *a;
  throw InputError{file, path, "no architecture \"" + std::string(name) + "\" in this build"};
}

namespace {

// "NAME --bug A --bug B" split into the name and the bug names; false if it
// is not of that shape.
bool split_spelling(std::string_view spelling, std::string_view* name, std::vector<std::string_view>* bugs) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < spelling.size()) {
    if (spelling[i] == ' ') {
      ++i;
      continue;
    }
    const size_t end = std::min(spelling.find(' ', i), spelling.size());
    words.push_back(spelling.substr(i, end - i));
    i = end;
  }
  if (words.empty() || words.size() % 2 == 0) return false;
  *name = words[0];
  for (size_t w = 1; w < words.size(); w += 2) {
    if (words[w] != "--bug") return false;
    bugs->push_back(words[w + 1]);
  }
  return true;
}

// A registered policy of `arch`, or the run a bug's alias names; null.
const PolicyDesc* find_named(const Arch& arch, std::string_view name) {
  if (const PolicyDesc* p = arch.find_policy(name)) return p;
  for (const BugDesc& b : arch.bugs()) {
    if (!b.alias.empty() && b.alias == name) {
      const PolicyDesc* base = arch.find_policy(b.breaks.at(0));
      if (!base) panic("bug " + b.name + ": alias " + b.alias + " of unknown policy " + b.breaks.at(0));
      return &policy_with_bugs(arch, *base, {&b}, "", "");
    }
  }
  return nullptr;
}

std::string bug_names(const Arch& arch) {
  std::string names;
  for (const BugDesc& b : arch.bugs()) names += (names.empty() ? "" : ", ") + b.name;
  return names.empty() ? "none on " + std::string(arch.name()) : names;
}

}  // namespace

std::uint32_t bug_bits(const Arch& arch, const PolicyDesc& policy) {
  const std::vector<BugDesc>& all = arch.bugs();
  std::uint32_t bits = 0;
  for (const BugDesc* b : policy.bugs) {
    if (all.empty() || b < &all.front() || b > &all.back()) {
      panic("bug " + b->name + " is not one of " + std::string(arch.name()) + "'s");
    }
    bits |= 1u << b->bit;
  }
  return bits;
}

bool bug_breaks(const BugDesc& bug, const PolicyDesc& policy) {
  const std::string& name = policy.registered().name;
  return std::find(bug.breaks.begin(), bug.breaks.end(), name) != bug.breaks.end();
}

const BugDesc* find_bug(const Arch& arch, std::string_view name, const std::string& file, const std::string& path) {
  const BugDesc* found = nullptr;
  for (const BugDesc& b : arch.bugs()) {
    if (b.name == name) return &b;
    if (name.size() >= 7 && b.name.compare(0, name.size(), name) == 0) {
      if (found) throw InputError{file, path, "bug \"" + std::string(name) + "\" is ambiguous: " + found->name + " or " + b.name};
      found = &b;
    }
  }
  return found;
}

const BugDesc& resolve_bug(const Arch& arch, std::string_view name, const std::string& file, const std::string& path) {
  if (const BugDesc* b = find_bug(arch, name, file, path)) return *b;
  throw InputError{file, path, "unknown bug \"" + std::string(name) + "\" on " + std::string(arch.name()) +
                                   "; bugs: " + bug_names(arch) + " (fpusim list bugs)"};
}

const PolicyDesc& policy_with_bugs(const Arch& arch, const PolicyDesc& policy, const std::vector<const BugDesc*>& bugs,
                                   const std::string& file, const std::string& path) {
  if (bugs.empty()) return policy;
  std::vector<const BugDesc*> all = policy.bugs;
  for (const BugDesc* b : bugs) {
    if (!bug_breaks(*b, policy)) {
      std::string on;
      for (const std::string& p : b->breaks) on += (on.empty() ? "" : ", ") + p;
      throw InputError{file, path, "bug " + b->name + " does not break policy " + policy.registered().name +
                                       " (it breaks " + on + ")"};
    }
    if (std::find(all.begin(), all.end(), b) == all.end()) all.push_back(b);
  }
  // The architecture's order, whatever order they were given in.
  std::vector<const BugDesc*> ordered;
  for (const BugDesc& b : arch.bugs()) {
    if (std::find(all.begin(), all.end(), &b) != all.end()) ordered.push_back(&b);
  }
  const PolicyDesc& base = policy.registered();
  std::string name = base.name;
  for (const BugDesc* b : ordered) name += " --bug " + b->name;
  // One object per run spelling for the process's life: reports and
  // expectations compare policies by address.
  static std::map<std::string, std::unique_ptr<PolicyDesc>> runs;
  std::unique_ptr<PolicyDesc>& p = runs[std::string(arch.name()) + ":" + name];
  if (!p) {
    p = std::make_unique<PolicyDesc>();
    p->name = name;
    p->kernels = base.kernels;
    p->description = base.description;
    for (const BugDesc* b : ordered) {
      p->kernels += "; with bug " + b->name + " (" + b->kernels + ")";
      p->description = "BUGGY, without " + b->name + " (\"" + b->title + "\"): " + b->broke + ". " + p->description;
    }
    p->base = &base;
    p->bugs = ordered;
  }
  return *p;
}

std::vector<const PolicyDesc*> apply_cli_bugs(const Arch& arch, const std::vector<const PolicyDesc*>& policies,
                                              const std::vector<std::string>& names) {
  std::vector<const BugDesc*> bugs;
  for (const std::string& n : names) bugs.push_back(&resolve_bug(arch, n, "--bug", ""));
  std::vector<const PolicyDesc*> out;
  std::vector<bool> used(bugs.size(), false);
  for (const PolicyDesc* p : policies) {
    std::vector<const BugDesc*> mine;
    for (size_t i = 0; i < bugs.size(); ++i) {
      if (bug_breaks(*bugs[i], *p)) {
        mine.push_back(bugs[i]);
        used[i] = true;
      }
    }
    out.push_back(&policy_with_bugs(arch, *p, mine, "--bug", ""));
  }
  for (size_t i = 0; i < bugs.size(); ++i) {
    if (used[i]) continue;
    std::string on, run;
    for (const std::string& b : bugs[i]->breaks) on += (on.empty() ? "" : ", ") + b;
    for (const PolicyDesc* p : policies) run += (run.empty() ? "" : ", ") + p->name;
    throw InputError{"--bug", "", "bug " + bugs[i]->name + " breaks none of the policies run (" + run + "); it breaks " + on};
  }
  return out;
}

const PolicyDesc& resolve_policy(const Arch& arch, std::string_view spelling, const std::string& file,
                                 const std::string& path) {
  std::string_view name;
  std::vector<std::string_view> bug_words;
  if (!split_spelling(spelling, &name, &bug_words)) {
    throw InputError{file, path, "expected a policy name, optionally followed by \"--bug NAME\" (repeatable), got \"" +
                                     std::string(spelling) + "\""};
  }
  const PolicyDesc* p = find_named(arch, name);
  if (!p) throw InputError{file, path, "unknown policy \"" + std::string(name) + "\"; policies: " + arch.policy_names()};
  std::vector<const BugDesc*> bugs;
  for (std::string_view b : bug_words) bugs.push_back(&resolve_bug(arch, b, file, path));
  return policy_with_bugs(arch, *p, bugs, file, path);
}

const PolicyDesc& resolve_policy_any(std::string_view spelling, const std::string& file, const std::string& path) {
  std::string_view name;
  std::vector<std::string_view> bug_words;
  std::string names;
  if (split_spelling(spelling, &name, &bug_words)) {
    for (const Arch* a : registry()) {
      if (find_named(*a, name)) return resolve_policy(*a, spelling, file, path);
      names += (names.empty() ? "" : "; ") + a->policy_names();
    }
    throw InputError{file, path, "unknown policy \"" + std::string(name) + "\"; policies: " + names};
  }
  return resolve_policy(*registry().front(), spelling, file, path);  // says what the shape should be
}

StatSet stat_set(const Arch& a) {
  std::vector<const StatGroup*> g{&core_stat_group()};
  for (const StatGroup* x : a.stat_groups()) g.push_back(x);
  return StatSet(std::move(g));
}

std::vector<const StatInfo*> all_stats() {
  std::vector<const StatInfo*> out;
  auto add = [&](const StatGroup& g) {
    for (const StatInfo& s : g.stats) {
      if (!find_stat_in(out, s.name)) out.push_back(&s);
    }
  };
  add(core_stat_group());
  for (const Arch* a : registry()) {
    for (const StatGroup* g : a->stat_groups()) add(*g);
  }
  return out;
}

const StatInfo* find_stat(std::string_view name) {
  static const std::vector<const StatInfo*> all = all_stats();
  return find_stat_in(all, name);
}

void add_explore_vm(ExploreParts& p, unsigned vcpus, std::string_view exit_reason, const std::string& vm_keys) {
  std::string list;
  for (unsigned i = 0; i < vcpus; ++i) {
    const std::string v = "vcpu" + std::to_string(i), t = "vmm" + std::to_string(i);
    p.threads.push_back(t);
    list += std::string(i ? ", " : "") + R"({"name": ")" + v + R"(", "thread": ")" + t + R"("})";
    p.letters.push_back(R"({"ev": "kvm_run", "vcpu": ")" + v + R"("})");
  }
  p.vms = R"([{"name": "vm0", )" + (vm_keys.empty() ? "" : vm_keys + ", ") + R"("vcpus": [)" + list + "]}]";
  p.letters.push_back(R"({"ev": "vm_entry"})");
  p.letters.push_back(R"({"ev": "vm_exit", "reason": ")" + std::string(exit_reason) + R"("})");
  p.letters.push_back(R"({"ev": "kvm_return"})");
}

}  // namespace fpusim
