// Plugins that fpusim must refuse (tests/plugin_test.sh), one per build:
// BAD_ABI: built for another plugin ABI; TAKEN: a policy name that is built
// in; NONE: registers nothing; INCOMPLETE: a policy without a factory;
// THROWS: its init throws; NULL_POLICY: adds a null policy; TWICE: adds one
// name twice; OTHER_ARCH: a policy for an architecture not in the build.
#include <stdexcept>

#include "models/x86/plugin.h"

#ifdef BAD_ABI
extern "C" __attribute__((visibility("default"))) const int fpusim_plugin_abi = ::fpusim::kPluginAbi + 100;
extern "C" __attribute__((visibility("default"))) void fpusim_plugin_init(::fpusim::PluginRegistrar&) {}
#else
FPUSIM_PLUGIN(registrar) {
  using namespace fpusim::x86;
#if defined(TAKEN)
  add_policy(registrar, PolicyInfo{{"deferred", "", "a second deferred"}, make_deferred_policy, &kvm_eager()});
#elif defined(INCOMPLETE)
  add_policy(registrar, PolicyInfo{{"no-factory", "", "no make"}, nullptr, &kvm_eager()});
#elif defined(THROWS)
  add_policy(registrar, PolicyInfo{{"fine", "", "added before the throw"}, make_deferred_policy, &kvm_eager()});
  throw std::runtime_error("boom");
#elif defined(NULL_POLICY)
  registrar.add("x86_64", nullptr);
#elif defined(TWICE)
  add_policy(registrar, PolicyInfo{{"same", "", "first"}, make_deferred_policy, &kvm_eager()});
  add_policy(registrar, PolicyInfo{{"same", "", "second"}, make_deferred_policy, &kvm_eager()});
#elif defined(OTHER_ARCH)
  registrar.add("riscv", std::make_unique<PluginPolicy>(
                             PolicyInfo{{"rv-lazy", "", "not an x86 policy"}, make_deferred_policy, &kvm_eager()}));
#else
  (void)registrar;
#endif
}
#endif
