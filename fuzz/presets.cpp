// Machine and cost presets of every architecture: the input is loaded as a
// machine and, under each architecture, as costs.
#include "fuzz/fuzz_target.h"
#include "models/core/arch.h"
#include "sim/input/json_input.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fpusim;
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::run([&] {
    const Json doc = parse_json_text(text, "<machine>");
    arch_of_machine(doc, "<machine>").load_machine(doc, "<machine>");
  });
  for (const Arch* a : archs()) {
    fuzz::run([&] {
      const Json doc = parse_json_text(text, "<costs>");
      a->load_costs(doc, "<costs>");
    });
  }
  return 0;
}
