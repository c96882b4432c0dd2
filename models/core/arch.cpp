#include "models/core/arch.h"

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
  throw InputError{file, "/arch", "expected the machine's architecture: one of " + names};
}

const Arch& arch_named(std::string_view name, const std::string& file, const std::string& path) {
  if (const Arch* a = find_arch(name)) return *a;
  throw InputError{file, path, "no architecture \"" + std::string(name) + "\" in this build"};
}

const PolicyDesc& resolve_policy(const Arch& arch, std::string_view name, const std::string& file,
                                 const std::string& path) {
  if (const PolicyDesc* p = arch.find_policy(name)) return *p;
  throw InputError{file, path, "unknown policy \"" + std::string(name) + "\"; policies: " + arch.policy_names()};
}

const PolicyDesc& resolve_policy_any(std::string_view name, const std::string& file, const std::string& path) {
  std::string names;
  for (const Arch* a : registry()) {
    if (const PolicyDesc* p = a->find_policy(name)) return *p;
    names += (names.empty() ? "" : "; ") + a->policy_names();
  }
  throw InputError{file, path, "unknown policy \"" + std::string(name) + "\"; policies: " + names};
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

}  // namespace fpusim
