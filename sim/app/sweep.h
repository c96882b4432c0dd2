// `fpusim sweep`: runs a scenario over a grid of policies and --set values,
// one process per point (fork + exec of this binary's `run`), at most N at
// a time, resumable, and collects every point's totals into one CSV/JSON.
// The grid format (configs/schema/sweep.schema.json) is described in
// traces/README.md, section "Sweeps".
#pragma once

#include <string>
#include <vector>

#include "sim/app/slurm.h"
#include "sim/input/presets.h"

namespace fpusim {

struct SweepOptions {
  std::string grid_file;          // the grid JSON
  std::string out_dir;            // -o DIR
  unsigned jobs = 2;              // -j N: points simulated at once
  std::vector<Override> sets;     // command-line --set, applied to every point
  std::vector<std::string> bugs;  // command-line --bug, applied to the policies each breaks
  bool slurm = false;             // --slurm: the points as a Slurm job array (slurm.h), not -j
  SlurmOptions slurm_options;     // also --merge's (wait, poll)
  bool merge = false;             // --merge: out_dir is a sweep's directory; merge what its points left
};

// Validates the grid (and every point's scenario) up front, throwing
// InputError on bad input (exit code 2); writes DIR/sweep.json (the plan)
// and a directory per point; then runs the points not yet done (here, or
// with `slurm` as a Slurm job array) and writes DIR/results.csv and
// DIR/results.json. Returns 0 if every point ran (violations are data
// here), 1 if some point failed, 128 + signal if interrupted (SIGINT,
// SIGTERM, SIGHUP; a Slurm job goes on). With `merge`, only the last step
// (and the wait for a Slurm job still queued), from DIR/sweep.json.
int run_sweep(const SweepOptions& options);

// Reads and checks a grid file alone (not its points' scenarios): InputError
// on bad input. For the fuzz target of the grid loader.
void load_sweep_grid(const std::string& path);

}  // namespace fpusim
