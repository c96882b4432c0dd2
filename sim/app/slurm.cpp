#include "sim/app/slurm.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "models/core/types.h"
#include "sim/app/point_files.h"
#include "sim/input/json_input.h"
#include "sim/output/atomic_file.h"

extern char** environ;

namespace fpusim {

namespace {

using OJson = nlohmann::ordered_json;

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

// ---------------------------------------------------------------------------
// Running a Slurm command: its exit code, stdout and stderr.

struct Cmd {
  bool started = false;  // false: not found on PATH (or not executable)
  int code = -1;         // exit code; -1 if killed
  std::string out, err;
  std::string text() const { return trim(err.empty() ? out : err); }
};

Cmd run_cmd(const std::vector<std::string>& argv) {
  Cmd r;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw InternalError{std::string("pipe: ") + std::strerror(errno)};
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    throw InternalError{std::string("pipe: ") + std::strerror(errno)};
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  // In a process group of its own, so that a Ctrl-C at the terminal reaches
  // fpusim (which decides what happens to the job) and not an sbatch in the
  // middle of a submission; with the signals fpusim may be blocking reset.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, dflt;
  sigemptyset(&none);
  sigemptyset(&dflt);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&dflt, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &dflt);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // Without the variables that would make sbatch wait for the job or submit
  // to another cluster, or squeue and sacct hide tasks: what fpusim asks
  // for must be what they answer.
  std::vector<char*> env;
  for (char** e = environ; *e; ++e) {
    const std::string_view v(*e);
    if (v.rfind("SBATCH_WAIT=", 0) == 0 || v.rfind("SBATCH_CLUSTERS=", 0) == 0 ||
        v.rfind("SLURM_CLUSTERS=", 0) == 0 || v.rfind("SQUEUE_", 0) == 0 || v.rfind("SACCT_", 0) == 0) {
      continue;
    }
    env.push_back(*e);
  }
  env.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &fa, &attr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    r.err = std::strerror(rc);
    return r;
  }
  r.started = true;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sink[2] = {&r.out, &r.err};
  int open = 2;
  char buf[4096];
  while (open > 0) {
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sink[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string joined(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

// ---------------------------------------------------------------------------
// Interruption while waiting: the job goes on in the queue.

volatile sig_atomic_t g_signal = 0;
extern "C" void on_wait_signal(int sig) { g_signal = sig; }

// A signal ignored when fpusim started (nohup: SIGHUP) stays ignored.
struct SignalGuard {
  struct sigaction old[3];
  const int sigs[3] = {SIGINT, SIGTERM, SIGHUP};
  SignalGuard() {
    g_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = on_wait_signal;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3; ++i) {
      ::sigaction(sigs[i], nullptr, &old[i]);
      if (old[i].sa_handler != SIG_IGN) ::sigaction(sigs[i], &sa, nullptr);
    }
  }
  ~SignalGuard() {
    for (int i = 0; i < 3; ++i) ::sigaction(sigs[i], &old[i], nullptr);
  }
};

// Holds INT, TERM and HUP back while a job is submitted and recorded: a job
// in the queue that jobs.json does not name would run twice. Delivered
// (to SignalGuard's handler) when this ends.
struct SignalsHeld {
  sigset_t old;
  SignalsHeld() {
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, sig);
    ::sigprocmask(SIG_BLOCK, &set, &old);
  }
  ~SignalsHeld() { ::sigprocmask(SIG_SETMASK, &old, nullptr); }
};

void nap(double seconds);

// An exclusive lock on DIR/slurm/lock: two `sweep --slurm` of one directory
// at once would both submit. Waiting for it can be interrupted (`locked`
// stays false then); where the file system has no locks (NFS without a
// lock daemon) it says so and goes on without.
struct DirLock {
  int fd = -1;
  bool locked = false;
  explicit DirLock(const std::string& sdir) {
    const std::string f = sdir + "/lock";
    fd = ::open(f.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw InputError{f, "", std::string("cannot create: ") + std::strerror(errno)};
    bool said = false;
    while (!g_signal) {
      if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
        locked = true;
        return;
      }
      if (errno != EWOULDBLOCK && errno != EINTR) {
        std::cerr << "fpusim sweep: cannot lock " << f << " (" << std::strerror(errno)
                  << "); going on without: do not submit this sweep twice at once\n";
        locked = true;
        return;
      }
      if (!said) std::cerr << "fpusim sweep: another fpusim is submitting this sweep; waiting for it\n";
      said = true;
      nap(0.2);
    }
  }
  ~DirLock() { ::close(fd); }
};

// Sleeps `seconds`, in steps of 50 ms, returning early on a signal.
void nap(double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (!g_signal && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

// ---------------------------------------------------------------------------
// The record of the sweep's submissions: DIR/slurm/jobs.json.

struct Submission {
  std::string job_id;
  std::string work_dir;  // sbatch --chdir, as given: what squeue's %Z and sacct's WorkDir print
  std::string tasks_file;
  std::vector<std::vector<size_t>> tasks;  // array index -> point indices
  std::string submitted;                   // UTC, ISO 8601
};

std::string jobs_file(const std::string& out_dir) { return out_dir + "/slurm/jobs.json"; }

std::vector<Submission> read_jobs(const std::string& out_dir) {
  std::vector<Submission> subs;
  const std::string f = jobs_file(out_dir);
  if (!path_exists(f)) return subs;
  const Json doc = load_json_file(f);
  JsonIn in(doc, f);
  JsonIn fmt = in.at("format");
  if (fmt.as_string() != "fpusim-sweep-slurm-jobs") fmt.fail("\"fpusim-sweep-slurm-jobs\"");
  JsonIn ver = in.at("version");
  if (ver.as_u64() != 1) ver.fail("version 1 (written by another fpusim?)");
  JsonIn list = in.at("submissions");
  for (size_t i = 0; i < list.size(); ++i) {
    JsonIn s = list.at(i);
    Submission sub;
    sub.job_id = s.at("job_id").as_string();
    sub.work_dir = s.at("work_dir").as_string();
    sub.tasks_file = s.at("tasks_file").as_string();
    sub.submitted = s.at("submitted").as_string();
    JsonIn tasks = s.at("tasks");
    for (size_t t = 0; t < tasks.size(); ++t) {
      JsonIn task = tasks.at(t);
      std::vector<size_t> pts;
      for (size_t k = 0; k < task.size(); ++k) pts.push_back(static_cast<size_t>(task.at(k).as_u64()));
      sub.tasks.push_back(std::move(pts));
    }
    s.require_all_read();
    subs.push_back(std::move(sub));
  }
  in.require_all_read();
  return subs;
}

void write_jobs(const std::string& out_dir, const std::vector<Submission>& subs) {
  OJson j;
  j["format"] = "fpusim-sweep-slurm-jobs";
  j["version"] = 1;
  OJson list = OJson::array();
  for (const auto& s : subs) {
    OJson o;
    o["job_id"] = s.job_id;
    o["work_dir"] = s.work_dir;
    o["submitted"] = s.submitted;
    o["tasks_file"] = s.tasks_file;
    o["tasks"] = s.tasks;
    list.push_back(o);
  }
  j["submissions"] = list;
  write_file_atomic(jobs_file(out_dir), j.dump(1) + "\n");
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// ---------------------------------------------------------------------------
// Asking Slurm.

// The array tasks of `job` still in the queue (pending, running,
// completing...) by array index, with their state; nullopt-like `ok` false
// when squeue itself failed (the controller unreachable, say).
struct Queue {
  bool ok = false;
  bool no_squeue = false;  // squeue could not be started at all
  std::string error;
  std::map<long, std::string> tasks;  // array index -> state; -1: a pending range not yet split
};

// Only tasks whose working directory is the sweep's (sbatch --chdir) count:
// a job id is a number that a fresh cluster (or one whose state was wiped)
// hands out again, to jobs that are not this sweep's.
Queue squeue(const std::string& job, const std::string& work_dir) {
  Queue q;
  const Cmd c = run_cmd({"squeue", "--noheader", "--array", "--jobs=" + job, "--format=%K %T %Z"});
  if (!c.started) {
    q.no_squeue = true;
    q.error = "squeue: " + c.err;
    return q;
  }
  if (c.code != 0) {
    // A job the controller has already forgotten (MinJobAge passed).
    if (c.text().find("Invalid job id") != std::string::npos) {
      q.ok = true;
      return q;
    }
    q.error = "squeue: " + c.text();
    return q;
  }
  q.ok = true;
  std::istringstream in(c.out);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string idx, state, dir;
    if (!(fields >> idx >> state)) continue;
    std::getline(fields >> std::ws, dir);  // the rest: a path may hold spaces
    if (dir != work_dir) continue;
    char* end = nullptr;
    const long i = std::strtol(idx.c_str(), &end, 10);
    q.tasks[(end && *end == '\0' && !idx.empty()) ? i : -1] = state;
  }
  return q;
}

// sacct's state of each array task of `job` ("CANCELLED by 0", "TIMEOUT",
// "OUT_OF_MEMORY", ...), where the cluster keeps accounting; empty (and
// `why` says why) where it does not.
std::map<long, std::string> sacct_states(const std::string& job, const std::string& work_dir, std::string* why) {
  std::map<long, std::string> states;
  const Cmd c = run_cmd({"sacct", "--noheader", "--parsable2", "--allocations", "--jobs=" + job,
                         "--format=JobID,State,ExitCode,WorkDir"});
  if (!c.started || c.code != 0) {
    *why = c.started ? c.text() : "sacct: " + c.err;
    return states;
  }
  std::istringstream in(c.out);
  std::string line;
  while (std::getline(in, line)) {
    const auto bar1 = line.find('|');
    if (bar1 == std::string::npos) continue;
    const std::string id = line.substr(0, bar1);
    const auto us = id.find('_');
    if (us == std::string::npos) continue;
    char* end = nullptr;
    const long i = std::strtol(id.c_str() + us + 1, &end, 10);
    if (!end || *end != '\0') continue;
    const auto bar2 = line.find('|', bar1 + 1);
    const auto bar3 = bar2 == std::string::npos ? bar2 : line.find('|', bar2 + 1);
    if (bar3 == std::string::npos || line.substr(bar3 + 1) != work_dir) continue;  // another job of that id
    states[i] = line.substr(bar1 + 1, bar2 - bar1 - 1) + ", exit code " + line.substr(bar2 + 1, bar3 - bar2 - 1);
  }
  if (states.empty()) *why = "sacct knows no tasks of job " + job;
  return states;
}

// The cluster's MaxArraySize (an array index must be below it); Slurm's
// default where scontrol does not say.
size_t max_array_size() {
  const Cmd c = run_cmd({"scontrol", "show", "config"});
  if (c.started && c.code == 0) {
    std::istringstream in(c.out);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("MaxArraySize", 0) != 0) continue;
      const auto eq = line.find('=');
      if (eq == std::string::npos) break;
      const long v = std::strtol(line.c_str() + eq + 1, nullptr, 10);
      if (v > 0) return static_cast<size_t>(v);
    }
  }
  return 1001;
}

// The batch script every array task runs (written once into DIR/slurm/).
const char* kArrayScript = R"SH(#!/bin/sh
# One task of an fpusim sweep's Slurm job array (written by fpusim sweep --slurm).
#   sbatch --array=... array.sh DIR TASKS_FILE
# Runs the points named on line SLURM_ARRAY_TASK_ID + 1 of TASKS_FILE, each by
# DIR/points/ID/run.sh, its output in that point's stderr.txt and its exit code
# in its exit_code file (0: ran, 1: ran and found violations, else failed).
# Exits with the first failing point's exit code.
set -u
dir=$1
tasks=$2
line=$(sed -n "$((SLURM_ARRAY_TASK_ID + 1))p" "$tasks")
if [ -z "$line" ]; then
  echo "array.sh: $tasks has no line $((SLURM_ARRAY_TASK_ID + 1))" >&2
  exit 2
fi
# One CPU a task unless --cpus-per-task gave more: then the trace is read on a
# second thread.
reader=off
[ "${SLURM_CPUS_PER_TASK:-1}" -ge 2 ] && reader=auto
status=0
for id in $line; do
  p=$dir/points/$id
  echo "fpusim sweep: point $id on $(hostname), task ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
  rm -f "$p/exit_code"
  "$p/run.sh" --reader-thread="$reader" >"$p/stderr.txt" 2>&1
  rc=$?
  echo "$rc" >"$p/exit_code.tmp" && mv -f "$p/exit_code.tmp" "$p/exit_code"
  echo "fpusim sweep: point $id: exit code $rc"
  case $rc in 0 | 1) ;; *) [ "$status" -eq 0 ] && status=$rc ;; esac
done
exit "$status"
)SH";

std::string task_name(const std::string& job, size_t index) { return job + "_" + std::to_string(index); }

// sbatch options fpusim sets itself (the array, the logs, the working
// directory it recognises its tasks by, the job id it parses) or that would
// make it wait or submit elsewhere than squeue looks.
std::string refused_sbatch_arg(const std::string& a) {
  static const char* kLong[] = {"--array", "--output", "--error", "--chdir", "--wait", "--wrap", "--parsable",
                                "--clusters", "--cluster", "--test-only", "--input", "--export-file"};
  static const char kShort[] = {'a', 'o', 'e', 'D', 'W', 'M', 'i'};
  if (a.rfind("--", 0) == 0) {
    // sbatch (getopt_long) takes any unambiguous prefix: --chd=X is --chdir.
    const std::string name = a.substr(0, a.find('='));
    for (const char* l : kLong) {
      const std::string o(l);
      if (name.size() > 2 && o.rfind(name, 0) == 0) return o;
    }
  }
  if (a.size() >= 2 && a[0] == '-' && a[1] != '-') {
    for (char c : kShort)
      if (a[1] == c) return std::string("-") + c;
  }
  return "";
}

// Waits for `sub` to leave the queue (or, without options.wait, looks once),
// then classifies its points. The caller holds a SignalGuard.
SlurmRun wait_for(const std::string& out_dir, const Submission& sub, const std::vector<SlurmPoint>& points,
                  const SlurmOptions& opt) {
  SlurmRun run;
  run.job_id = sub.job_id;
  std::vector<size_t> mine;
  for (const auto& t : sub.tasks) mine.insert(mine.end(), t.begin(), t.end());
  const auto t0 = std::chrono::steady_clock::now();
  std::string last_line;
  auto last_print = t0;
  int squeue_failures = 0;
  bool no_squeue = false;
  auto interrupted = [&] {
    if (!g_signal) return false;
    run.interrupted = g_signal;
    std::cerr << "fpusim sweep: interrupted; job " << sub.job_id << " goes on in the queue: `fpusim sweep " << out_dir
              << " --merge` waits for it and merges, `scancel " << sub.job_id << "` stops it\n";
    return true;
  };
  while (true) {
    if (interrupted()) return run;
    const Queue q = squeue(sub.job_id, sub.work_dir);
    size_t done = 0, failed = 0;
    for (size_t i : mine) {
      const PointFiles f = read_point_files(points[i].dir);
      done += f.report;
      failed += !f.report && f.has_code && f.code > 1;
    }
    if (q.no_squeue) {
      // Not on a cluster (a sweep directory copied off it): what the files
      // say is all there is.
      std::cerr << "fpusim sweep: job " << sub.job_id << ": " << q.error
                << "; taking the job as ended (the points' files say how they went)\n";
      no_squeue = true;
      break;
    }
    if (!q.ok) {
      // The controller may be restarting: say so, and keep asking, unless
      // every point has ended anyway.
      if (done + failed == mine.size()) break;
      if (!opt.wait) {
        std::cerr << "fpusim sweep: job " << sub.job_id << ": " << q.error << "; cannot say whether it is still queued\n";
        run.still_queued = true;
        return run;
      }
      if (++squeue_failures == 1 || squeue_failures % 12 == 0) {
        std::cerr << "fpusim sweep: job " << sub.job_id << ": " << q.error << " (asking again every "
                  << opt.poll_seconds << " s; Ctrl-C leaves the job to Slurm)\n";
      }
    } else {
      squeue_failures = 0;
      size_t running = 0, pending = 0;
      for (const auto& [idx, state] : q.tasks) {
        if (state == "PENDING" || state == "REQUEUED" || state == "SUSPENDED") ++pending;
        else ++running;
      }
      const auto now = std::chrono::steady_clock::now();
      const long secs = static_cast<long>(std::chrono::duration<double>(now - t0).count());
      std::ostringstream line;
      line << "fpusim sweep: job " << sub.job_id << ": " << done << "/" << mine.size() << " points done, "
           << running << " task" << (running == 1 ? "" : "s") << " running, " << pending << " pending, " << failed
           << " failed";
      if (line.str() != last_line || now - last_print > std::chrono::seconds(60)) {
        std::cerr << line.str() << ", " << secs << " s\n";
        last_line = line.str();
        last_print = now;
      }
      if (q.tasks.empty()) break;
      if (!opt.wait) {
        run.still_queued = true;
        return run;
      }
    }
    nap(opt.poll_seconds);
  }
  // The job has left the queue. A report written on a compute node can take
  // a while to show on this host (NFS attribute caches): points of tasks
  // that started (their log exists) with neither a report nor an exit code
  // are looked at again for 12 polls. Not without waiting or squeue: the
  // files are taken as they are then.
  const double grace = (opt.wait && !no_squeue) ? 12 * opt.poll_seconds : 0;
  const auto g0 = std::chrono::steady_clock::now();
  bool said = false;
  while (grace > 0) {
    size_t open = 0;
    for (size_t t = 0; t < sub.tasks.size(); ++t) {
      if (!path_exists(out_dir + "/slurm/" + task_name(sub.job_id, t) + ".log")) continue;  // never started
      for (size_t i : sub.tasks[t]) {
        const PointFiles f = read_point_files(points[i].dir);
        open += !f.report && !(f.has_code && f.code > 1);
      }
    }
    if (open == 0 || std::chrono::duration<double>(std::chrono::steady_clock::now() - g0).count() >= grace) break;
    if (!said) {
      std::cerr << "fpusim sweep: job " << sub.job_id << " has ended; " << open << " point" << (open == 1 ? "" : "s")
                << " of tasks that ran without a report: looking again for up to " << grace
                << " s (a shared file system may not show it yet)\n";
      said = true;
    }
    nap(opt.poll_seconds);
    if (g_signal) {
      run.interrupted = g_signal;
      std::cerr << "fpusim sweep: interrupted; job " << sub.job_id << " has ended: `fpusim sweep " << out_dir
                << " --merge` merges what its points left\n";
      return run;
    }
  }
  std::string no_sacct;
  std::map<long, std::string> states;
  bool asked = false;
  for (size_t t = 0; t < sub.tasks.size(); ++t) {
    for (size_t i : sub.tasks[t]) {
      const SlurmPoint& p = points[i];
      const PointFiles f = read_point_files(p.dir);
      if (f.report) continue;
      const std::string task = task_name(sub.job_id, t);
      const std::string log = out_dir + "/slurm/" + task + ".log";
      std::string why;
      if (f.has_code && f.local) {
        why = point_failure(p.dir, f);  // a local run since
      } else if (f.has_code) {
        why = point_failure(p.dir, f) + " (array task " + task + ", " + log + ")";
      } else {
        if (!asked) {
          states = sacct_states(sub.job_id, sub.work_dir, &no_sacct);
          asked = true;
        }
        const auto st = states.find(static_cast<long>(t));
        why = "no report and no exit code: array task " + task + " " +
              (st != states.end() ? "ended " + st->second
                                  : "was cancelled, ran out of time or lost its node (sacct: " + no_sacct + ")") +
              " (its log: " + log + ")";
      }
      run.failures[i] = why;
    }
  }
  return run;
}

SlurmRun wait_for_last(const std::string& out_dir, const std::vector<Submission>& subs,
                       const std::vector<SlurmPoint>& points, const SlurmOptions& options) {
  for (const auto& t : subs.back().tasks)
    for (size_t i : t)
      if (i >= points.size())
        throw InputError{jobs_file(out_dir), "", "names point " + std::to_string(i) + ", the sweep has " +
                                                     std::to_string(points.size())};
  return wait_for(out_dir, subs.back(), points, options);
}

}  // namespace

SlurmJobState slurm_job_state(const std::string& out_dir, std::string* job, std::string* why) {
  const std::vector<Submission> subs = read_jobs(out_dir);
  if (subs.empty()) return SlurmJobState::kNone;
  *job = subs.back().job_id;
  const Queue q = squeue(subs.back().job_id, subs.back().work_dir);
  if (q.no_squeue) return SlurmJobState::kNone;  // not on a cluster: nothing of it can be running here
  if (!q.ok) {
    *why = q.error;
    return SlurmJobState::kUnknown;
  }
  return q.tasks.empty() ? SlurmJobState::kNone : SlurmJobState::kQueued;
}

SlurmRun slurm_wait_recorded(const std::string& out_dir, const std::vector<SlurmPoint>& points,
                             const SlurmOptions& options) {
  const std::vector<Submission> subs = read_jobs(out_dir);
  if (subs.empty()) return {};
  SignalGuard guard;
  return wait_for_last(out_dir, subs, points, options);
}

SlurmRun slurm_run(const std::string& out_dir, const std::string& name, const std::vector<SlurmPoint>& points,
                   const std::vector<size_t>& todo, const SlurmOptions& opt) {
  for (const auto& a : opt.sbatch_args) {
    if (const std::string o = refused_sbatch_arg(a); !o.empty()) {
      throw InputError{"--sbatch-arg=" + a, "", "fpusim sets or cannot follow sbatch's " + o +
                                                    " (the array, its logs and the directory it knows its tasks by)"};
    }
  }
  // sbatch expands %-patterns in --output, and none at all after a
  // backslash: the task logs would not be where fpusim says.
  if (out_dir.find('\\') != std::string::npos) {
    throw InputError{out_dir, "", "-o: a directory name with a backslash, which stops sbatch from naming the task "
                                  "logs (%A_%a); use another -o DIR"};
  }
  const std::string sdir = out_dir + "/slurm";
  if (::mkdir(sdir.c_str(), 0777) != 0 && errno != EEXIST) {
    throw InputError{sdir, "", std::string("cannot create: ") + std::strerror(errno)};
  }
  SignalGuard guard;
  SlurmRun stopped;
  auto lock = std::make_unique<DirLock>(sdir);
  if (!lock->locked) {
    stopped.interrupted = g_signal;
    std::cerr << "fpusim sweep: interrupted while waiting for the other submitter; nothing submitted\n";
    return stopped;
  }
  std::vector<Submission> subs = read_jobs(out_dir);
  if (!subs.empty()) {
    const Queue q = squeue(subs.back().job_id, subs.back().work_dir);
    if (!q.ok && !q.no_squeue) {
      throw InputError{jobs_file(out_dir), "", "cannot ask Slurm whether job " + subs.back().job_id +
                                                   " of this sweep is still queued: " + q.error};
    }
    if (!q.tasks.empty()) {
      std::cerr << "fpusim sweep: job " << subs.back().job_id
                << " of this sweep is still in the queue: nothing submitted, "
                << (opt.wait ? "waiting for it" : "it goes on") << "\n";
      lock.reset();
      return wait_for_last(out_dir, subs, points, opt);
    }
  }
  if (todo.empty()) return {};
  // No job of this sweep runs now: what a killed run left is stale.
  for (size_t i : todo) {
    remove_stale_temporaries(points[i].dir);
    std::remove((points[i].dir + "/exit_code").c_str());
  }

  const std::string script = sdir + "/array.sh";
  write_if_changed(script, kArrayScript);
  ::chmod(script.c_str(), 0755);

  // T tasks: one per point, or per --points-per-task points, and no more
  // than the cluster's MaxArraySize allows; task i runs todo[i],
  // todo[i + T], ...
  const size_t per = std::max(1u, opt.points_per_task);
  const size_t ntasks = std::min((todo.size() + per - 1) / per, std::max<size_t>(1, max_array_size() - 1));
  Submission sub;
  sub.tasks.resize(ntasks);
  for (size_t k = 0; k < todo.size(); ++k) sub.tasks[k % ntasks].push_back(todo[k]);
  sub.tasks_file = sdir + "/tasks-" + std::to_string(subs.size() + 1) + ".txt";
  sub.work_dir = out_dir;
  std::string text;
  for (const auto& t : sub.tasks) {
    std::string line;
    for (size_t i : t) line += (line.empty() ? "" : " ") + points[i].id;
    text += line + "\n";
  }
  write_file_atomic(sub.tasks_file, text);

  std::string array = "--array=0-" + std::to_string(ntasks - 1);
  if (opt.max_parallel) array += "%" + std::to_string(opt.max_parallel);
  std::string job_name = "fpusim-sweep";
  if (!name.empty()) job_name += ":" + name.substr(0, 64);
  for (char& c : job_name)
    if (std::isspace(static_cast<unsigned char>(c))) c = '_';
  std::string log_pattern;  // "%" is sbatch's escape character there
  for (char c : sdir) log_pattern += c == '%' ? std::string("%%") : std::string(1, c);
  log_pattern += "/%A_%a.log";
  // The user's options first: for sbatch the last of an option wins.
  std::vector<std::string> argv = {"sbatch"};
  if (!opt.partition.empty()) argv.push_back("--partition=" + opt.partition);
  if (!opt.time.empty()) argv.push_back("--time=" + opt.time);
  for (const auto& a : opt.sbatch_args) argv.push_back(a);
  for (const std::string& a : {std::string("--parsable"), array, "--job-name=" + job_name, "--output=" + log_pattern,
                               "--chdir=" + sub.work_dir}) {
    argv.push_back(a);
  }
  argv.push_back(script);
  argv.push_back(out_dir);
  argv.push_back(sub.tasks_file);

  // From here until the job is in jobs.json, INT, TERM and HUP wait; one
  // that came before is taken now, and nothing is submitted.
  auto held = std::make_unique<SignalsHeld>();
  sigset_t pending;
  sigpending(&pending);
  if (g_signal || sigismember(&pending, SIGINT) || sigismember(&pending, SIGTERM) || sigismember(&pending, SIGHUP)) {
    held.reset();
    stopped.interrupted = g_signal;
    std::cerr << "fpusim sweep: interrupted; nothing submitted\n";
    return stopped;
  }
  const Cmd c = run_cmd(argv);
  if (!c.started) {
    throw InputError{"--slurm", "", "cannot run sbatch: " + c.err +
                                        " (are Slurm's client commands on PATH? Debian: slurm-client)"};
  }
  if (c.code != 0) throw InputError{"--slurm", "", "sbatch refused the job: " + c.text() + " (" + joined(argv) + ")"};
  std::string id = trim(c.out);
  if (const auto semi = id.find(';'); semi != std::string::npos) id.resize(semi);  // "jobid;cluster"
  if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
    throw InputError{"--slurm", "", "sbatch --parsable printed \"" + trim(c.out) + "\", not a job id; nothing is "
                                    "recorded (" + joined(argv) + ")"};
  }
  sub.job_id = id;
  sub.submitted = utc_now();
  subs.push_back(sub);
  try {
    write_jobs(out_dir, subs);
  } catch (...) {
    std::cerr << "fpusim sweep: job " << id << " was submitted but cannot be recorded in " << jobs_file(out_dir)
              << ": a rerun would submit its points again; `scancel " << id << "` stops it\n";
    throw;
  }
  lock.reset();
  held.reset();  // a signal that came meanwhile is taken now (g_signal)
  std::cerr << "fpusim sweep: submitted job " << id << ": " << todo.size() << " point" << (todo.size() == 1 ? "" : "s")
            << " as " << ntasks << " array task" << (ntasks == 1 ? "" : "s")
            << (opt.max_parallel ? ", at most " + std::to_string(opt.max_parallel) + " at once" : std::string())
            << "; task logs in " << sdir << "/\n";
  if (!opt.wait) {
    SlurmRun r;
    r.job_id = id;
    r.still_queued = true;
    return r;
  }
  return wait_for(out_dir, sub, points, opt);
}

}  // namespace fpusim
