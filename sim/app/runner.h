// The process runner of `compare`, `check` and `sweep`: runs jobs in child
// processes, at most N at a time. A job is either a function run in a forked
// child (one simulation per process: the SystemC kernel cannot be restarted)
// or a command executed in one (a sweep point's `fpusim run`).
//
// SIGINT, SIGTERM and SIGHUP (Ctrl-C) stop it: no further job starts, the
// running ones are sent SIGTERM and waited for, and run_jobs returns the
// signal; what the finished jobs produced is kept.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

namespace fpusim {

struct Job {
  // Run in a forked child: the return value is the child's exit code, and
  // what it leaves in `out` becomes JobResult::output. An exception that
  // escapes it is printed on stderr and exits 3 (internal error).
  std::function<int(std::string& out)> fn;
  // Otherwise executed: argv[0] is the program's path; stdin is /dev/null,
  // stdout and stderr go to `log_file` (truncated).
  std::vector<std::string> argv;
  std::string log_file;
  // argv runs `fpusim run`: the runner appends --reader-thread=off when the
  // children share the usable cores (Replayer::share_cores).
  bool fpusim_run = false;
};

struct JobResult {
  bool started = false;  // false: interrupted before it could start
  pid_t pid = -1;
  bool exited = false;   // exited with `code`; otherwise killed by `signal`
  int code = 0;
  int signal = 0;
  std::string output;    // a forked function's `out`
  double seconds = 0;    // from start to end
  int interrupted = 0;   // the signal that interrupted the runner before this job ended, or 0
};

struct JobsRun {
  std::vector<JobResult> results;  // one per job, in the order of the jobs
  int interrupted = 0;             // the signal that stopped the runner, or 0
};

struct RunnerOptions {
  unsigned limit = 1;             // children at once (at least 1)
  std::string name = "fpusim";    // the start of a message about a command that cannot be executed
};

// Runs every job (in order of the list, up to `limit` at once) and calls
// `done`, if given, in the parent as each one ends, in the order they end.
// Forked functions see the reader-thread setting for simulations that share
// the cores (Replayer::share_cores of the number of children at once);
// commands with `fpusim_run` get it as --reader-thread. Throws
// InternalError if a child cannot be started (after stopping the others).
JobsRun run_jobs(const std::vector<Job>& jobs, const RunnerOptions& options,
                 const std::function<void(size_t index, const JobResult&)>& done = nullptr);

// Ends this process by `signal` (as if it had not been caught), after
// flushing std::cout and std::cerr: `compare` and `check` exit this way when
// interrupted, as they did before they caught the signal to stop children.
[[noreturn]] void die_of_signal(int signal);

}  // namespace fpusim
