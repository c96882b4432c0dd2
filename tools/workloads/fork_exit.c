// fork_exit: a process with live AVX-512 state (zmm0-31, k0-7) forks N
// children one after the other. Each child first checks that it inherited the
// parent's registers (fork copies the FPU state), loads its own values, enters
// the kernel once (sched_yield), checks them again and exits; the parent waits
// for it and checks that its own registers survived. Every child is a new
// task that gets a copy of the parent's state and drops its own at exit.
//
// Used by tools/capture_fpu_trace.sh to record real x86_fpu tracepoints for
// fpusim (tests/fixtures/real/fork_exit.trace.txt).
//
// Build by hand (not part of the meson build):
//   gcc -O2 -mgeneral-regs-only -pthread -o fork_exit fork_exit.c
// -mgeneral-regs-only keeps the compiler's own code off the vector registers,
// so only the inline asm below touches zmm/k and any corruption is the
// kernel's. fork, wait4 and exit are raw syscall()s so that no glibc code
// (atfork handlers, stdio) runs between the loads and the checks.
//
// Usage: fork_exit [N [CPU]]   (N children, default 20; CPU 1)
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

static struct avx512_image expect, got, mine;

static void child(int i) {
  int code = 0;
  store_regs(&got);
  if (!same(&got, &expect)) code |= 1;  // the copy of the parent's state
  uint64_t rng = 0xc6a4a7935bd1e995ull + (uint64_t)i;
  fill_random(&mine, &rng);
  load_regs(&mine);
  syscall(SYS_sched_yield);
  store_regs(&got);
  if (!same(&got, &mine)) code |= 2;  // its own state
  syscall(SYS_exit_group, code);
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20;
  int cpu = argc > 2 ? atoi(argv[2]) : 1;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    perror("sched_setaffinity");
    return 2;
  }
  fflush(stdout);
  uint64_t rng = 0x243f6a8885a308d3ull;
  int errors = 0, inherit_bad = 0, child_bad = 0;
  fill_random(&expect, &rng);
  load_regs(&expect);
  for (int i = 0; i < n; ++i) {
    long pid = syscall(SYS_fork);
    if (pid == 0) child(i);
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
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 4;
    if (code & 1) inherit_bad++;
    if (code & 6) child_bad++;
    if (code) fprintf(stderr, "[FAIL] child %d: status %#x\n", i, status);
    fill_random(&expect, &rng);
    load_regs(&expect);
  }
  errors += inherit_bad + child_bad;
  printf("%s fork_exit: %d children on CPU %d, %d incorrect (parent %d, inherited %d, child's own %d) (pid %d)\n",
         errors ? "[FAIL]" : "[OK]", n, cpu, errors, errors - inherit_bad - child_bad, inherit_bad, child_bad,
         (int)getpid());
  return errors ? 1 : 0;
}
