// `fpusim sweep --slurm`: a sweep's points as one Slurm job array.
//
// The sweep writes every point's directory and run.sh as for a local run
// (sweep.cpp); this part submits the points not yet done as
//   sbatch --array=0-(T-1)%P DIR/slurm/array.sh DIR DIR/slurm/tasks-N.txt
// where task i runs the points on line i+1 of the tasks file (one point a
// task, or several when the cluster's MaxArraySize is smaller than the
// number of points), each through its run.sh, its output in the point's
// stderr.txt and its exit code in the point's exit_code file. It then polls
// squeue until the array has left the queue, printing progress on stderr;
// the files are the ground truth (a report: done; an exit code without a
// report: failed), sacct adds the state of tasks that ended without one
// (cancelled, timed out) where the cluster keeps accounting.
//
// The submissions of a sweep are recorded in DIR/slurm/jobs.json; a rerun
// while the last one is still queued waits for it instead of submitting.
// The Slurm commands are found on PATH and read SLURM_CONF like any client.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace fpusim {

struct SlurmOptions {
  std::string partition;                 // --partition
  unsigned max_parallel = 0;             // --max-parallel: the array's %P (0: no limit)
  std::string time;                      // --time: each task's time limit (sbatch --time)
  std::vector<std::string> sbatch_args;  // --sbatch-arg: passed on to sbatch as they are
  unsigned points_per_task = 1;          // --points-per-task: points one array task runs, one after another
  bool wait = true;                      // false (--no-wait): submit, print the job id, return
  double poll_seconds = 5;               // --poll: seconds between two squeue calls
};

struct SlurmPoint {
  std::string id;   // DIR/points/<id>
  std::string dir;  // absolute
  std::string report;
};

struct SlurmRun {
  std::string job_id;      // the job waited for ("" if none)
  int interrupted = 0;     // the signal that stopped the wait (the job goes on), or 0
  bool still_queued = false;  // not waited for (--no-wait): the job is in the queue
  // Points of the job that ended without a report: why, and where to look.
  std::map<size_t, std::string> failures;
};

// Whether the last submission of the sweep in `out_dir` still has tasks
// queued or running (`job` names it): kUnknown where squeue ran but failed
// (`why`), kNone where there is none or squeue is not found at all (a sweep
// directory copied off the cluster).
enum class SlurmJobState { kNone, kQueued, kUnknown };
SlurmJobState slurm_job_state(const std::string& out_dir, std::string* job, std::string* why);

// Submits `todo` (indices into `points`) unless a previous submission is
// still queued, in which case that one is taken; then, if options.wait,
// waits for it. `name` names the sweep in the job name and in messages.
// Throws InputError for what the user can fix (no sbatch on PATH, sbatch
// refusing the options: its own message), exit code 2.
SlurmRun slurm_run(const std::string& out_dir, const std::string& name, const std::vector<SlurmPoint>& points,
                   const std::vector<size_t>& todo, const SlurmOptions& options);

// Waits for the sweep's last submission, if any is still queued (or, with
// wait false, only says how far it is), and reports its points that failed.
SlurmRun slurm_wait_recorded(const std::string& out_dir, const std::vector<SlurmPoint>& points,
                             const SlurmOptions& options);

}  // namespace fpusim
