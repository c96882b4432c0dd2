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

class Registrar final : public PluginRegistrar {
 public:
  explicit Registrar(std::string file) : file_(std::move(file)) {}
  void add(std::string_view arch, std::unique_ptr<PluginPolicy> policy) override {
    if (!error_.empty()) return;
    if (!policy) {
      error_ = "it adds a null policy";
      return;
    }
    const Arch* a = find_arch(arch);
    if (!a) {
      error_ = "no architecture \"" + std::string(arch) + "\" in this build";
      return;
    }
    error_ = a->check_plugin_policy(*policy);
    for (const auto& [other_arch, p] : pending_) {
      if (error_.empty() && p->desc().name == policy->desc().name) {
        error_ = "policy \"" + p->desc().name + "\" is added twice";
      }
    }
    if (error_.empty()) pending_.emplace_back(a, std::move(policy));
  }
  // All or nothing: a plugin whose registrations fail adds none.
  void commit() {
    if (!error_.empty()) throw InputError{file_, "", "plugin rejected: " + error_};
    if (pending_.empty()) throw InputError{file_, "", "plugin rejected: it registers no policy"};
    for (auto& [arch, p] : pending_) arch->add_plugin_policy(std::move(p));
  }

 private:
  std::string file_;
  std::string error_;
  std::vector<std::pair<const Arch*, std::unique_ptr<PluginPolicy>>> pending_;
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
  // A plugin that fails to register (it throws, or adds what cannot be
  // added) adds nothing and is unloaded once the registrar, which may hold
  // objects of its code, is gone.
  std::string failed;
  {
    Registrar r(path);
    try {
      init(r);
      r.commit();
    } catch (const InputError& e) {
      failed = e.message;
    } catch (const std::exception& e) {
      failed = std::string("plugin rejected: its init function threw: ") + e.what();
    } catch (...) {
      failed = "plugin rejected: its init function threw";
    }
  }
  if (!failed.empty()) {
    ::dlclose(h);
    throw InputError{path, "", failed};
  }
  loaded().push_back(abs);
}

const std::vector<std::string>& loaded_plugins() { return loaded(); }

}  // namespace fpusim
