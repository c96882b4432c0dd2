#include "sim/app/runner.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <exception>
#include <iterator>
#include <iostream>
#include <map>

#include "models/core/types.h"
#include "sim/input/replayer.h"

namespace fpusim {

namespace {

constexpr int kExitInternal = 3;
constexpr int kStopSignals[] = {SIGINT, SIGTERM, SIGHUP};

volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_signal(int sig) { g_signal = sig; }
extern "C" void on_child(int) {}  // only wakes sigsuspend()

// The runner's handlers for the stop signals and SIGCHLD while it runs,
// with those signals blocked except inside sigsuspend(): a Ctrl-C or a
// child's exit that comes while the runner is busy stays pending and wakes
// the next wait, so none is missed between a check and the wait. The
// previous handlers and mask come back when it returns or throws.
class StopSignals {
 public:
  StopSignals() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    g_signal = 0;
    for (size_t i = 0; i < std::size(kStopSignals); ++i) ::sigaction(kStopSignals[i], &sa, &old_[i]);
    // SIGCHLD's default disposition discards it, which would not wake
    // sigsuspend(): a handler that does nothing.
    sa.sa_handler = on_child;
    sa.sa_flags = SA_NOCLDSTOP;
    ::sigaction(SIGCHLD, &sa, &old_child_);
    sigset_t block;
    sigemptyset(&block);
    for (int sig : kStopSignals) sigaddset(&block, sig);
    sigaddset(&block, SIGCHLD);
    ::sigprocmask(SIG_BLOCK, &block, &original_);
    waiting_ = original_;
    for (int sig : kStopSignals) sigdelset(&waiting_, sig);
    sigdelset(&waiting_, SIGCHLD);
  }
  ~StopSignals() {
    ::sigprocmask(SIG_SETMASK, &original_, nullptr);
    for (size_t i = 0; i < std::size(kStopSignals); ++i) ::sigaction(kStopSignals[i], &old_[i], nullptr);
    ::sigaction(SIGCHLD, &old_child_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  // The mask before the runner: what its children run with.
  const sigset_t& original() const { return original_; }
  // Sleeps until one of the runner's signals comes (or is pending already).
  void wait() const { ::sigsuspend(&waiting_); }

 private:
  struct sigaction old_[std::size(kStopSignals)] {};
  struct sigaction old_child_ {};
  sigset_t original_{}, waiting_{};
};

void write_all(int fd, const std::string& text, int* code) {
  size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *code = kExitInternal;
      return;
    }
    off += static_cast<size_t>(n);
  }
}

std::string read_all(int fd) {
  std::string out;
  char buf[65536];
  off_t off = 0;
  while (true) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return out;
}

// The child's side; never returns.
[[noreturn]] void child(const Job& job, const std::vector<char*>& argv, int out_fd, Replayer::ReaderThread reader,
                        const sigset_t& mask, const std::string& name, pid_t parent) {
  // A runner killed outright (SIGKILL, which it cannot catch to stop its
  // children) takes them with it: SIGTERM when it dies (kept across
  // execve); if it died before this line, at once.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::_exit(128 + SIGTERM);
  for (int sig : kStopSignals) ::signal(sig, SIG_DFL);
  ::signal(SIGCHLD, SIG_DFL);
  ::sigprocmask(SIG_SETMASK, &mask, nullptr);
  if (job.fn) {
    Replayer::set_reader_thread(reader);
    int code = kExitInternal;
    std::string out;
    try {
      code = job.fn(out);
    } catch (const std::exception& e) {
      std::cerr << "fpusim: internal error: " << e.what() << "\n";
    } catch (...) {
      std::cerr << "fpusim: internal error: an unknown exception\n";
    }
    write_all(out_fd, out, &code);
    std::cout.flush();
    std::cerr.flush();
    ::_exit(code);
  }
  const int in = ::open("/dev/null", O_RDONLY);
  const int log = ::open(job.log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (in >= 0) ::dup2(in, 0);
  if (log >= 0) {
    ::dup2(log, 1);
    ::dup2(log, 2);
  }
  ::execv(argv[0], argv.data());
  const std::string msg = name + ": cannot execute " + job.argv[0] + ": " + std::strerror(errno) + "\n";
  if (::write(2, msg.data(), msg.size()) < 0) {
  }
  ::_exit(127);
}

struct Running {
  size_t index;
  int out_fd;  // a forked function's output (a memfd), or -1
  std::chrono::steady_clock::time_point start;
};

}  // namespace

JobsRun run_jobs(const std::vector<Job>& jobs, const RunnerOptions& options,
                 const std::function<void(size_t, const JobResult&)>& done) {
  const unsigned limit = std::max(1u, options.limit);
  const Replayer::ReaderThread reader =
      Replayer::share_cores(static_cast<unsigned>(std::min<size_t>(limit, jobs.size())));
  JobsRun run;
  run.results.resize(jobs.size());
  std::map<pid_t, Running> running;
  StopSignals stop;

  // On an error (fork, a callback's exception) no child is left behind.
  auto stop_children = [&]() {
    for (const auto& [pid, r] : running) ::kill(pid, SIGTERM);
    for (const auto& [pid, r] : running) {
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      if (r.out_fd >= 0) ::close(r.out_fd);
    }
    running.clear();
  };

  auto start = [&](size_t i) {
    const Job& job = jobs[i];
    int out_fd = -1;
    std::vector<std::string> args = job.argv;
    std::vector<char*> argv;
    if (job.fn) {
      // A file, not a pipe: a child never blocks on a full pipe while the
      // parent waits for another one.
      out_fd = ::memfd_create("fpusim-job", MFD_CLOEXEC);
      if (out_fd < 0) throw InternalError{std::string("memfd_create: ") + std::strerror(errno)};
    } else {
      if (args.empty()) throw InternalError{"run_jobs: a job with neither a function nor a command"};
      if (job.fpusim_run && reader == Replayer::ReaderThread::kOff) args.push_back("--reader-thread=off");
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
    }
    // The stop signals are blocked (StopSignals) until the child has its
    // default handlers back and the mask it had before the runner (a Ctrl-C
    // in between would only set the child's flag).
    std::cout.flush();
    std::cerr.flush();
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) child(job, argv, out_fd, reader, stop.original(), options.name, parent);
    const int fork_errno = errno;
    if (pid < 0) {
      if (out_fd >= 0) ::close(out_fd);
      throw InternalError{std::string("fork: ") + std::strerror(fork_errno)};
    }
    running.emplace(pid, Running{i, out_fd, std::chrono::steady_clock::now()});
    run.results[i].started = true;
    run.results[i].pid = pid;
  };

  try {
    size_t next = 0;
    while ((next < jobs.size() && !g_signal) || !running.empty()) {
      if (next < jobs.size() && running.size() < limit && !g_signal) {
        start(next++);
        continue;
      }
      if (g_signal) {
        for (const auto& [pid, r] : running) ::kill(pid, SIGTERM);
      }
      int status = 0;
      const pid_t pid = ::waitpid(-1, &status, WNOHANG);
      if (pid == 0) {  // nobody has finished: sleep until a child or a stop signal
        stop.wait();
        continue;
      }
      if (pid < 0) {
        if (errno == EINTR) continue;
        throw InternalError{std::string("waitpid: ") + std::strerror(errno)};
      }
      const auto it = running.find(pid);
      if (it == running.end()) continue;
      const Running r = it->second;
      running.erase(it);
      JobResult& res = run.results[r.index];
      res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - r.start).count();
      res.exited = WIFEXITED(status);
      res.code = res.exited ? WEXITSTATUS(status) : 0;
      res.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
      if (r.out_fd >= 0) {
        res.output = read_all(r.out_fd);
        ::close(r.out_fd);
      }
      res.interrupted = g_signal;
      if (done) done(r.index, res);
    }
  } catch (...) {
    stop_children();
    throw;
  }
  run.interrupted = g_signal;
  return run;
}

void die_of_signal(int sig) {
  std::cout.flush();
  std::cerr.flush();
  std::signal(sig, SIG_DFL);
  std::raise(sig);
  ::_exit(128 + sig);
}

}  // namespace fpusim
