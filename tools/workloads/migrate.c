// migrate: one thread with live AVX-512 state (zmm0-31, k0-7) moves itself
// between two CPUs (default 0 and 1) N times with sched_setaffinity(); after
// every move it checks (getcpu) that it runs on the new CPU and that its
// registers still hold what it loaded on the old one, then loads new values.
// The state saved on one CPU must be restored on the other (the old CPU's
// registers are no longer valid for it).
//
// Used by tools/capture_fpu_trace.sh -A (every CPU recorded, no taskset) to
// record real x86_fpu tracepoints for fpusim
// (tests/fixtures/real/migrate.trace.txt).
//
// Build by hand (not part of the meson build):
//   gcc -O2 -mgeneral-regs-only -pthread -o migrate migrate.c
// -mgeneral-regs-only keeps the compiler's own code off the vector registers,
// so only the inline asm below touches zmm/k and any corruption is the
// kernel's. sched_setaffinity and getcpu are raw syscall()s.
//
// Usage: migrate [N [CPU_A [CPU_B]]]   (N moves, default 20; CPUs 0 and 1)
// Prints "[OK] ..." and exits 0 when every check passed, 1 otherwise.
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "avx512_state.h"

static int move_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return (int)syscall(SYS_sched_setaffinity, 0, sizeof(set), &set);
}

static int cpu_now(void) {
  unsigned cpu = ~0u;
  syscall(SYS_getcpu, &cpu, NULL, NULL);
  return (int)cpu;
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20;
  int cpus[2] = {argc > 2 ? atoi(argv[2]) : 0, argc > 3 ? atoi(argv[3]) : 1};
  if (move_to(cpus[0]) != 0) {
    perror("sched_setaffinity");
    return 2;
  }
  static struct avx512_image expect, got;
  uint64_t rng = 0x243f6a8885a308d3ull;
  int errors = 0, wrong_cpu = 0;
  fill_random(&expect, &rng);
  load_regs(&expect);
  for (int i = 1; i <= n; ++i) {
    int to = cpus[i % 2];
    if (move_to(to) != 0) {
      perror("sched_setaffinity");
      return 2;
    }
    int on = cpu_now();
    store_regs(&got);
    if (on != to) wrong_cpu++;
    if (!same(&got, &expect)) {
      errors++;
      fprintf(stderr, "[FAIL] move %d to CPU %d: AVX-512 state corrupted\n", i, to);
    }
    fill_random(&expect, &rng);
    load_regs(&expect);
  }
  printf("%s migrate: %d moves between CPU %d and %d, %d incorrect, %d times not on the new CPU (pid %d)\n",
         errors + wrong_cpu ? "[FAIL]" : "[OK]", n, cpus[0], cpus[1], errors, wrong_cpu, (int)getpid());
  return errors + wrong_cpu ? 1 : 0;
}
