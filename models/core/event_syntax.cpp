#include "models/core/event_syntax.h"

#include <iterator>

namespace fpusim {

std::string_view core_event_kind_name(EventKind k) {
  static constexpr std::string_view names[] = {"switch", "use",       "syscall", "return_to_user", "kernel_fpu",
                                               "irq",    "signal",    "sigreturn", "fork",         "exec",
                                               "exit",   "",          "state_read", "state_write"};
  const auto i = static_cast<size_t>(k);
  return i < std::size(names) && is_core_event(k) ? names[i] : std::string_view();
}

std::string_view EventSyntax::kind_name(EventKind k) const {
  if (is_core_event(k)) return core_event_kind_name(k);
  for (const ArchKind& a : kinds()) {
    if (a.kind == k) return a.name;
  }
  return {};
}

}  // namespace fpusim
