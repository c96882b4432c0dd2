// Events files as a run streams them: JSON lines, or the binary trace (.fpt)
// when the input starts with its magic, decoded under each architecture for
// a scenario on 2 CPUs whose contexts are the names the input uses (a
// binary trace's header table, a JSON-lines file's "next", "ctx", "child"
// and "target" values), so that decoding gets past the names to the records.
#include <cstring>
#include <unordered_map>

#include "fuzz/fuzz_target.h"
#include "models/core/arch.h"
#include "sim/input/binary.h"
#include "sim/input/event.h"

namespace {

std::uint32_t u32(const std::uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | static_cast<std::uint32_t>(p[3]) << 24; }

// The context names the input refers to (at most 64).
std::unordered_map<std::string, fpusim::ContextId> names_in(const std::uint8_t* d, std::size_t n) {
  std::unordered_map<std::string, fpusim::ContextId> ids;
  auto add = [&](std::string s) {
    if (ids.size() < 64 && !s.empty()) ids.emplace(std::move(s), static_cast<fpusim::ContextId>(ids.size()));
  };
  if (n >= 8 && std::memcmp(d, "FPUSIMT1", 8) == 0) {
    // magic, version, cpus, count (8), jsonl flag, origin (u32 + bytes), n, names
    std::size_t p = 8 + 4 + 4 + 8 + 1;
    if (p + 4 > n) return ids;
    p += 4 + u32(d + p);
    if (p + 4 > n) return ids;
    const std::uint32_t count = u32(d + p);
    p += 4;
    for (std::uint32_t i = 0; i < count && i < 64 && p + 4 <= n; ++i) {
      const std::uint32_t len = u32(d + p);
      p += 4;
      if (len > n - p) break;
      add(std::string(reinterpret_cast<const char*>(d + p), len));
      p += len;
    }
    return ids;
  }
  const std::string text(reinterpret_cast<const char*>(d), n);
  for (const char* key : {"\"next\"", "\"ctx\"", "\"child\"", "\"target\""}) {
    for (std::size_t p = text.find(key); p != std::string::npos; p = text.find(key, p + 1)) {
      const std::size_t q = text.find('"', text.find(':', p + std::strlen(key)) + 1);
      const std::size_t e = q == std::string::npos ? q : text.find('"', q + 1);
      if (e != std::string::npos && e - q < 80) add(text.substr(q + 1, e - q - 1));
    }
  }
  return ids;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fpusim;
  const std::string path = fuzz::as_file(data, size, ".events");
  const auto ids = names_in(data, size);
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
