// sleep_valid: one thread with live AVX-512 state (zmm0-31, k0-7) sleeps
// (nanosleep, default 200 us) N times on an otherwise idle CPU and checks its
// registers after every sleep. Only the idle task runs on the CPU while it
// sleeps, so the registers are saved at the switch-out but still hold the
// thread's values when it comes back: the return to user space needs no
// XRSTOR (fpregs_state_valid()).
//
// Used by tools/capture_fpu_trace.sh to record real x86_fpu tracepoints for
// fpusim (tests/fixtures/real/sleep_valid.trace.txt).
//
// Build by hand (not part of the meson build):
//   gcc -O2 -mgeneral-regs-only -pthread -o sleep_valid sleep_valid.c
// -mgeneral-regs-only keeps the compiler's own code off the vector registers,
// so only the inline asm below touches zmm/k and any corruption is the
// kernel's. glibc's nanosleep() wrapper does not touch vector registers.
//
// Usage: sleep_valid [N [CPU [US]]]   (N sleeps, default 20; CPU 1; US 200)
// Prints "[OK] ..." and exits 0 when every check passed, 1 otherwise.
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "avx512_state.h"

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20;
  int cpu = argc > 2 ? atoi(argv[2]) : 1;
  long us = argc > 3 ? atol(argv[3]) : 200;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    perror("sched_setaffinity");
    return 2;
  }
  static struct avx512_image expect, got;
  uint64_t rng = 0x243f6a8885a308d3ull;
  int errors = 0;
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
  fill_random(&expect, &rng);
  load_regs(&expect);
  for (int i = 0; i < n; ++i) {
    nanosleep(&ts, NULL);
    store_regs(&got);
    if (!same(&got, &expect)) {
      errors++;
      fprintf(stderr, "[FAIL] sleep %d: AVX-512 state corrupted\n", i);
    }
    fill_random(&expect, &rng);
    load_regs(&expect);
  }
  printf("%s sleep_valid: %d sleeps of %ld us on CPU %d, %d incorrect (pid %d)\n", errors ? "[FAIL]" : "[OK]", n, us,
         cpu, errors, (int)getpid());
  return errors ? 1 : 0;
}
