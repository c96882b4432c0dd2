#include "sim/app/plugins.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>

#include <algorithm>

#include "models/plugin.h"

namespace fpusim {

namespace {

std::vector<std::string>& loaded() {
  static std::vector<std::string> v;
  return v;
}

// Plugin policies are listed after every built-in one (order keys below
// 1000), in load order.
int next_order = 1000;

class Registrar final : public PluginRegistrar {
 public:
  explicit Registrar(std::string file) : file_(std::move(file)) {}
  void add_policy(x86::PolicyInfo info) override {
    if (!error_.empty()) return;
    if (info.name.empty() || !info.make || !info.kvm) {
      error_ = "a policy needs a name, a factory (make) and a KVM behaviour (kvm)";
      return;
    }
    if (x86::find_policy(info.name)) {
      error_ = "policy \"" + info.name + "\" is already registered (built in or by an earlier plugin)";
      return;
    }
    pending_.push_back(std::move(info));
  }
  // All or nothing: a plugin whose registrations fail adds none.
  void commit() {
    if (!error_.empty()) throw InputError{file_, "", "plugin rejected: " + error_};
    if (pending_.empty()) throw InputError{file_, "", "plugin rejected: it registers no policy"};
    for (auto& p : pending_) x86::policy_registry().add(next_order++, std::move(p));
  }

 private:
  std::string file_;
  std::string error_;
  std::vector<x86::PolicyInfo> pending_;
};

}  // namespace

void load_plugin(const std::string& path) {
  char buf[PATH_MAX];
  if (!::realpath(path.c_str(), buf)) throw InputError{path, "", "cannot load plugin: no such file"};
  const std::string abs = buf;
  if (std::find(loaded().begin(), loaded().end(), abs) != loaded().end()) return;
  // RTLD_NOW: an unresolved symbol (a plugin built against another fpusim)
  // fails here, not in the middle of a run.
  void* h = ::dlopen(abs.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) throw InputError{path, "", std::string("cannot load plugin: ") + ::dlerror()};
  const auto* abi = static_cast<const int*>(::dlsym(h, "fpusim_plugin_abi"));
  auto* init = reinterpret_cast<void (*)(PluginRegistrar&)>(::dlsym(h, "fpusim_plugin_init"));
  if (!abi || !init) {
    ::dlclose(h);
    throw InputError{path, "", "not an fpusim plugin (it defines no FPUSIM_PLUGIN; see models/plugin.h)"};
  }
  if (*abi != kPluginAbi) {
    const int got = *abi;
    ::dlclose(h);
    throw InputError{path, "", "plugin built for plugin ABI " + std::to_string(got) + "; this fpusim has ABI " +
                                   std::to_string(kPluginAbi) + ": rebuild it against this version's headers"};
  }
  Registrar r(path);
  init(r);
  r.commit();
  loaded().push_back(abs);
}

const std::vector<std::string>& loaded_plugins() { return loaded(); }

}  // namespace fpusim
