// The process runner (sim/app/runner): the jobs limit, exit codes and
// outputs, commands, signals, and an interruption leaving no child behind.
#include "sim/app/runner.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "sim/app/cores.h"

namespace fpusim {
namespace {

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/fpusim-runner-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    const std::string cmd = "rm -rf '" + dir_ + "' '" + dir_ + ".started'";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
  }
  std::string dir_;
};

size_t entries(const std::string& dir) {
  size_t n = 0;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
    ::closedir(d);
  }
  return n;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// Each job marks itself running with a file, counts the marks (itself
// included) and reports the count; the runner starts a job only after
// reaping one that ended, by which time its mark is gone. A job samples for
// 200 ms, and on (up to 5 s) until it has seen `expect` marks or every job
// has started (counted in DIR.started), so that a loaded machine, slow to
// start the others, does not fail the test.
std::vector<Job> counting_jobs(const std::string& dir, size_t n, size_t expect = 1) {
  std::vector<Job> jobs(n);
  const std::string reset = "rm -rf '" + dir + ".started' && mkdir '" + dir + ".started'";
  if (std::system(reset.c_str()) != 0) ADD_FAILURE() << reset;
  for (auto& j : jobs) {
    j.fn = [dir, n, expect](std::string& out) {
      const std::string mark = dir + "/" + std::to_string(::getpid());
      std::ofstream(mark).put('x');
      std::ofstream(dir + ".started/" + std::to_string(::getpid())).put('x');
      size_t most = entries(dir);
      for (int i = 0; i < 20 || (most < expect && entries(dir + ".started") < n && i < 500); ++i) {
        sleep_ms(10);
        most = std::max(most, entries(dir));
      }
      std::remove(mark.c_str());
      out = std::to_string(most);
      return 0;
    };
  }
  return jobs;
}

size_t most_at_once(const JobsRun& run) {
  size_t most = 0;
  for (const auto& r : run.results) most = std::max<size_t>(most, std::stoul(r.output));
  return most;
}

TEST_F(RunnerTest, NeverMoreChildrenThanTheLimit) {
  for (unsigned limit : {1u, 2u, 3u}) {
    RunnerOptions o;
    o.limit = limit;
    const JobsRun run = run_jobs(counting_jobs(dir_, 7, limit), o);
    ASSERT_EQ(run.interrupted, 0);
    for (const auto& r : run.results) {
      ASSERT_TRUE(r.started && r.exited);
      EXPECT_EQ(r.code, 0);
    }
    EXPECT_LE(most_at_once(run), limit) << "limit " << limit;
    // ... and uses it (200 ms each: the first `limit` overlap).
    EXPECT_EQ(most_at_once(run), limit) << "limit " << limit;
    EXPECT_EQ(entries(dir_), 0u);
  }
}

TEST_F(RunnerTest, ExitCodesAndOutputsInJobOrder) {
  std::vector<Job> jobs(6);
  for (size_t i = 0; i < jobs.size(); ++i) {
    jobs[i].fn = [i](std::string& out) {
      sleep_ms(static_cast<int>(60 - 10 * i));  // later jobs end first
      out = std::string(100000 * i, 'a' + static_cast<char>(i));  // beyond a pipe's buffer
      return static_cast<int>(i);
    };
  }
  RunnerOptions o;
  o.limit = 3;
  std::vector<size_t> ended;
  const JobsRun run = run_jobs(jobs, o, [&](size_t i, const JobResult& r) {
    ended.push_back(i);
    EXPECT_EQ(r.code, static_cast<int>(i));
  });
  ASSERT_EQ(ended.size(), jobs.size());
  std::vector<size_t> sorted = ended;
  std::sort(sorted.begin(), sorted.end());
  for (size_t i = 0; i < sorted.size(); ++i) EXPECT_EQ(sorted[i], i);
  for (size_t i = 0; i < jobs.size(); ++i) {
    const JobResult& r = run.results[i];
    EXPECT_TRUE(r.exited);
    EXPECT_EQ(r.code, static_cast<int>(i));
    EXPECT_EQ(r.output, std::string(100000 * i, 'a' + static_cast<char>(i)));
  }
}

TEST_F(RunnerTest, ExceptionsAndSignalsInForkedChildren) {
  std::vector<Job> jobs(2);
  jobs[0].fn = [](std::string&) -> int { throw std::runtime_error("boom"); };
  jobs[1].fn = [](std::string&) -> int {
    ::raise(SIGKILL);
    return 0;
  };
  RunnerOptions o;
  o.limit = 2;
  const JobsRun run = run_jobs(jobs, o);
  EXPECT_TRUE(run.results[0].exited);
  EXPECT_EQ(run.results[0].code, 3);
  EXPECT_FALSE(run.results[1].exited);
  EXPECT_EQ(run.results[1].signal, SIGKILL);
}

TEST_F(RunnerTest, CommandsLogAndExitCodes) {
  std::vector<Job> jobs(3);
  jobs[0].argv = {"/bin/sh", "-c", "echo out; echo err >&2; read x || exit 7"};  // stdin is /dev/null
  jobs[0].log_file = dir_ + "/0.log";
  jobs[1].argv = {dir_ + "/no-such-program"};
  jobs[1].log_file = dir_ + "/1.log";
  jobs[2].argv = {"/bin/sh", "-c", "kill -TERM $$"};
  jobs[2].log_file = dir_ + "/2.log";
  RunnerOptions o;
  o.limit = 2;
  o.name = "runner-test";
  const JobsRun run = run_jobs(jobs, o);
  EXPECT_TRUE(run.results[0].exited);
  EXPECT_EQ(run.results[0].code, 7);
  EXPECT_EQ(slurp(dir_ + "/0.log"), "out\nerr\n");
  EXPECT_EQ(run.results[1].code, 127);
  EXPECT_EQ(slurp(dir_ + "/1.log").rfind("runner-test: cannot execute " + dir_ + "/no-such-program: ", 0), 0u)
      << slurp(dir_ + "/1.log");
  EXPECT_FALSE(run.results[2].exited);
  EXPECT_EQ(run.results[2].signal, SIGTERM);
}

// The reader-thread option goes to `fpusim run` commands only when the
// children at once would share the usable cores, unless the user chose.
TEST_F(RunnerTest, ReaderThreadOptionForFpusimRunCommands) {
  const char* had = std::getenv("FPUSIM_READER_THREAD");
  const std::string user = had ? had : "";
  ::unsetenv("FPUSIM_READER_THREAD");
  const unsigned cores = usable_cores();
  auto args_of = [&](unsigned limit, size_t n) {
    std::vector<Job> jobs(n);
    for (size_t i = 0; i < n; ++i) {
      jobs[i].argv = {"/bin/sh", "-c", "echo \"$@\"", "sh", "run"};
      jobs[i].log_file = dir_ + "/" + std::to_string(i) + ".log";
      jobs[i].fpusim_run = true;
    }
    RunnerOptions o;
    o.limit = limit;
    run_jobs(jobs, o);
    return slurp(dir_ + "/0.log");
  };
  EXPECT_EQ(args_of(2 * cores, 2 * cores), "run --reader-thread=off\n");
  EXPECT_EQ(args_of(2 * cores, 1), cores >= 2 ? "run\n" : "run --reader-thread=off\n");
  ::setenv("FPUSIM_READER_THREAD", "1", 1);
  EXPECT_EQ(args_of(2 * cores, 2 * cores), "run\n");
  if (had) ::setenv("FPUSIM_READER_THREAD", user.c_str(), 1);
  else ::unsetenv("FPUSIM_READER_THREAD");
}

// SIGINT (Ctrl-C) to the runner: nothing more starts, the running children
// are killed and reaped, the finished job's output is kept, and the previous
// handler is back.
TEST_F(RunnerTest, InterruptStopsEveryChild) {
  struct sigaction before {};
  ASSERT_EQ(::sigaction(SIGINT, nullptr, &before), 0);
  std::vector<Job> jobs(5);
  jobs[0].fn = [](std::string& out) {
    out = "done";
    return 0;
  };
  for (size_t i = 1; i < jobs.size(); ++i) {
    jobs[i].fn = [i, dir = dir_](std::string&) {
      std::ofstream(dir + "/" + std::to_string(i)).put('x');
      if (i == 2) {
        sleep_ms(300);
        ::kill(::getppid(), SIGINT);
      }
      sleep_ms(20000);  // ended by the runner long before
      return 0;
    };
  }
  RunnerOptions o;
  o.limit = 3;
  const auto t0 = std::chrono::steady_clock::now();
  const JobsRun run = run_jobs(jobs, o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(run.interrupted, SIGINT);
  EXPECT_LT(secs, 10.0);
  EXPECT_EQ(run.results[0].output, "done");
  size_t started = 0;
  for (size_t i = 1; i < jobs.size(); ++i) {
    const JobResult& r = run.results[i];
    if (!r.started) continue;
    ++started;
    EXPECT_FALSE(r.exited) << "job " << i;
    EXPECT_EQ(r.signal, SIGTERM) << "job " << i;
    EXPECT_EQ(r.interrupted, SIGINT) << "job " << i;
    errno = 0;
    EXPECT_EQ(::kill(r.pid, 0), -1) << "job " << i << " (pid " << r.pid << ") still exists";
    EXPECT_EQ(errno, ESRCH);
  }
  // Jobs 1 and 2 ran with job 0, then job 3 in its place; job 4 never started.
  EXPECT_EQ(started, 3u);
  EXPECT_FALSE(run.results[4].started);
  struct sigaction after {};
  ASSERT_EQ(::sigaction(SIGINT, nullptr, &after), 0);
  EXPECT_EQ(after.sa_handler, before.sa_handler);
}

}  // namespace
}  // namespace fpusim
