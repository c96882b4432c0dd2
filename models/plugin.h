// The public header for policy plugins: a shared library that fpusim loads
// with `--plugin FILE.so` and that adds one or more policies. Build one
// against an installed fpusim:
//
//   c++ -std=c++17 -O2 -shared -fPIC -o my_policy.so my_policy.cpp $(pkg-config --cflags --libs fpusim)
//
// and define, in one of its files, the plugin's init function, which adds
// its policies through an architecture's plugin header (today x86's,
// models/x86/plugin.h):
//
//   #include "models/x86/plugin.h"
//   FPUSIM_PLUGIN(registrar) {
//     fpusim::x86::add_policy(registrar, fpusim::x86::PolicyInfo{...});
//   }
//
// See plugins/xfd_lazy_amx/ for a complete one, and README "Write your own
// policy". This header is architecture-neutral.
#pragma once

#include <memory>
#include <string_view>

#include "models/core/arch.h"

namespace fpusim {

// Bumped whenever this header, an architecture's plugin header, or one they
// include, changes in a way that a plugin built against the old one would
// misread. fpusim refuses a plugin
// built for another version.
constexpr int kPluginAbi = 3;  // 3: violations_foreign_regs; x86 Policy signal/sigreturn fault hooks (2: violations_kernel_trap, _trap_config)

// What a plugin's init function is given.
class PluginRegistrar {
 public:
  virtual ~PluginRegistrar() = default;
  // Adds a policy of the architecture `arch` (Arch::name()), listed after
  // the built-in ones in the order added. A policy that is not of that
  // architecture's type, incomplete, or whose name is taken makes loading
  // the plugin fail, and none of its policies is added.
  virtual void add(std::string_view arch, std::unique_ptr<PluginPolicy> policy) = 0;
};

}  // namespace fpusim

// Defines the plugin's entry points: its ABI version, then the body of its
// init function, which fpusim calls once after loading it.
#define FPUSIM_PLUGIN(registrar)                                                                   \
  extern "C" __attribute__((visibility("default"))) const int fpusim_plugin_abi = ::fpusim::kPluginAbi; \
  extern "C" __attribute__((visibility("default"))) void fpusim_plugin_init(::fpusim::PluginRegistrar& registrar)
