// `fpusim explore`: every sequence of abstract events up to a bound on a
// small system (a few CPUs, tasks and vCPUs), breadth first, on the
// functional core without the SystemC kernel: the same agents, policies and
// checker that replay traces. A state whose key (ArchAgent::state_key, with
// interchangeable tasks and CPUs folded) was seen is not explored again. A
// sequence that ends in a checker violation is a counterexample: the first
// one found of each kind of violation is the shortest there is,
// and is written out as a scenario with an "expect" block that `fpusim
// check` reproduces.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "sim/input/presets.h"

namespace fpusim {

struct ExploreOptions {
  std::string machine = "intel-sapphire-rapids";  // preset name or path
  std::string costs;                              // "": the architecture's (ExploreParts::costs)
  std::string policy;                             // a spelling: "deferred", "deferred --bug 59c4bd8"
  std::vector<std::string> bugs;                  // --bug
  unsigned cpus = 2, contexts = 2, vcpus = 0;
  unsigned kthreads = 0;  // kernel threads K0.. (no user state; switched in like tasks)
  unsigned depth = 6;
  std::vector<std::string> events;  // the "ev" kinds to use; empty: all
  std::string out_dir;              // DIR/counterexamples/KIND.json, DIR/explore.json; "": nothing written
  unsigned jobs = 1;                // threads
  bool symmetry = true;             // fold interchangeable tasks and CPUs
  std::uint64_t max_states = 0;     // stop after this many distinct states (0: no limit)
  // Self-check of the state key: after the search, up to `verify` pairs of
  // sequences that reached one key are each extended by random suffixes
  // (of up to `depth` letters), and their futures must agree (the same
  // letters possible, the same violations, the same keys).
  unsigned verify = 0;
  std::uint64_t seed = 1;           // of verify's sample and suffixes
  // For the test of verify itself: the trace rules' part of the key left
  // out (whether a task has run, which decides whether it may be a fork's
  // child), an unsound key that verify must catch.
  bool weak_key = false;
  std::vector<Override> sets;       // --set: machine.X, costs.X
  // Checker rules off during the search (--disable-rule), so that it goes
  // on past their violations; the scenarios written expect what every rule
  // finds.
  std::vector<ViolationKind> disabled_rules;
};

// Exit code: 0 the bound was exhausted without a violation, 1 violations
// found (their scenarios written under out_dir), 4 stopped at max_states
// without one; throws InputError for bad options (exit 2) and InternalError
// if verify finds two futures that differ.
int run_explore(const ExploreOptions& o, std::ostream& out, std::ostream& progress);

}  // namespace fpusim
