// Plugins that fpusim must refuse (tests/plugin_test.sh), one per build:
// BAD_ABI: built for another plugin ABI; TAKEN: a policy name that is built
// in; NONE: registers nothing; INCOMPLETE: a policy without a factory.
#include "models/plugin.h"

#ifdef BAD_ABI
extern "C" __attribute__((visibility("default"))) const int fpusim_plugin_abi = ::fpusim::kPluginAbi + 100;
extern "C" __attribute__((visibility("default"))) void fpusim_plugin_init(::fpusim::PluginRegistrar&) {}
#else
FPUSIM_PLUGIN(registrar) {
  using namespace fpusim::x86;
#if defined(TAKEN)
  registrar.add_policy(PolicyInfo{{"deferred", "", "a second deferred"}, make_deferred_policy, &kvm_eager()});
#elif defined(INCOMPLETE)
  registrar.add_policy(PolicyInfo{{"no-factory", "", "no make"}, nullptr, &kvm_eager()});
#else
  (void)registrar;
#endif
}
#endif
