// Events files as a run streams them: JSON lines, or the binary trace (.fpt)
// when the input starts with its magic, decoded for a scenario with contexts
// A, B and C on 2 CPUs, under each architecture.
#include <unordered_map>

#include "fuzz/fuzz_target.h"
#include "models/core/arch.h"
#include "sim/input/binary.h"
#include "sim/input/event.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fpusim;
  const std::string path = fuzz::as_file(data, size, ".events");
  static const std::unordered_map<std::string, ContextId> ids = {{"A", 0}, {"B", 1}, {"C", 2}};
  for (const Arch* a : archs()) {
    fuzz::run([&] {
      auto src = make_file_source(*a, path, &ids, 2);
      Event e;
      for (int n = 0; n < 1000000 && src->next(e); ++n) {
      }
    });
  }
  return 0;
}
