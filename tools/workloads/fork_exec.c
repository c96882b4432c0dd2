// fork_exec: a process with live AVX-512 state (zmm0-31, k0-7) forks a child
// that execs /bin/true (or, with "self", this program again with --child,
// which loads AVX-512 values, checks them and exits) N times, one after the
// other; the parent waits for each child and checks that its own registers
// survived. exec() gives the child a fresh FPU state (fpu_flush_thread).
//
// Used by tools/capture_fpu_trace.sh to record real x86_fpu tracepoints for
// fpusim (tests/fixtures/real/fork_exec.trace.txt).
//
// Build by hand (not part of the meson build):
//   gcc -O2 -mgeneral-regs-only -pthread -o fork_exec fork_exec.c
// -mgeneral-regs-only keeps the compiler's own code off the vector registers,
// so only the inline asm below touches zmm/k and any corruption is the
// kernel's. fork, execve and wait4 are raw syscall()s so that no glibc code
// runs between the loads and the checks (the exec'd /bin/true and its dynamic
// loader do use vector registers, in their own fresh state).
//
// Usage: fork_exec [N [CPU [self]]]   (N children, default 20; CPU 1)
//        fork_exec --child            (what "self" execs)
// Prints "[OK] ..." and exits 0 when every check passed, 1 otherwise.
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "avx512_state.h"

extern char** environ;
static struct avx512_image expect, got;

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "--child") == 0) {
    uint64_t rng = 0xc6a4a7935bd1e995ull + (uint64_t)getpid();
    fill_random(&expect, &rng);
    load_regs(&expect);
    syscall(SYS_sched_yield);
    store_regs(&got);
    return same(&got, &expect) ? 0 : 1;
  }
  int n = argc > 1 ? atoi(argv[1]) : 20;
  int cpu = argc > 2 ? atoi(argv[2]) : 1;
  int self = argc > 3 && strcmp(argv[3], "self") == 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    perror("sched_setaffinity");
    return 2;
  }
  static char self_exe[4096];
  ssize_t len = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
  if (len <= 0) {
    perror("readlink /proc/self/exe");
    return 2;
  }
  self_exe[len] = 0;
  char* true_argv[] = {"/bin/true", NULL};
  char* self_argv[] = {self_exe, "--child", NULL};
  char** cargv = self ? self_argv : true_argv;
  fflush(stdout);
  uint64_t rng = 0x243f6a8885a308d3ull;
  int errors = 0, child_bad = 0;
  fill_random(&expect, &rng);
  load_regs(&expect);
  for (int i = 0; i < n; ++i) {
    long pid = syscall(SYS_fork);
    if (pid == 0) {
      syscall(SYS_execve, cargv[0], cargv, environ);
      syscall(SYS_exit_group, 127);
    }
    int status = 0;
    if (pid < 0 || syscall(SYS_wait4, pid, &status, 0, NULL) != pid) {
      perror("fork/wait4");
      return 2;
    }
    store_regs(&got);
    if (!same(&got, &expect)) {
      errors++;
      fprintf(stderr, "[FAIL] parent after child %d: AVX-512 state corrupted\n", i);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      child_bad++;
      fprintf(stderr, "[FAIL] child %d (%s): status %#x\n", i, cargv[0], status);
    }
    fill_random(&expect, &rng);
    load_regs(&expect);
  }
  printf("%s fork_exec: %d children exec'ing %s%s on CPU %d, %d incorrect (parent %d, children %d) (pid %d)\n",
         errors + child_bad ? "[FAIL]" : "[OK]", n, cargv[0], self ? " --child" : "", cpu, errors + child_bad, errors,
         child_bad, (int)getpid());
  return errors + child_bad ? 1 : 0;
}
