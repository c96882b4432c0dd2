// What every fuzz target shares (fuzz/*.cpp; built with libFuzzer by
// `meson setup -Dfuzz=true` with clang, scripts/fuzz.sh; built everywhere
// else with fuzz/standalone_main.cpp, which runs the inputs given on its
// command line, as the regression test of tests/fuzz/regress/ does).
//
// An input may be rejected (InputError, SemanticError: exit code 2 of the
// command line); anything else fpusim would report as an internal error
// (exit code 3), and any crash or sanitizer report, is a finding.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>

#include "models/core/types.h"

// libsystemc.so (linked through libfpusim) wants the symbol (C linkage, as
// <systemc> declares it); nothing runs it.
extern "C" int sc_main(int, char*[]) { return 3; }

namespace fpusim::fuzz {

// The input as a file with this suffix (the loaders take paths), the same
// name for every input of this process.
inline std::string as_file(const std::uint8_t* data, std::size_t size, const char* suffix) {
  const char* tmp = std::getenv("TMPDIR");
  const std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/fpusim-fuzz-" + std::to_string(::getpid()) + suffix;
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  f.close();
  if (!f) {  // every input would be "cannot open": no finding would mean nothing
    std::fprintf(stderr, "fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

// Runs `body`; input errors are answers, everything else aborts.
template <class Body>
int run(Body body) {
  try {
    body();
  } catch (const InputError&) {
  } catch (const SemanticError&) {
  } catch (const InternalError& e) {
    std::fprintf(stderr, "fuzz: internal error: %s\n", e.message.c_str());
    std::abort();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: uncaught exception: %s\n", e.what());
    std::abort();
  }
  return 0;
}

}  // namespace fpusim::fuzz
