// yield_pair: two threads pinned to one CPU, each with live AVX-512 state
// (zmm0-31, k0-7), alternate N times each with sched_yield(). After every
// yield a thread checks that its registers still hold what it loaded, then
// loads new random values. Nothing blocks: every switch between the two is a
// voluntary switch of a runnable task (prev_state R), the FPU hand-off of a
// yield rather than of a sleep.
//
// Used by tools/capture_fpu_trace.sh to record real x86_fpu tracepoints for
// fpusim (tests/fixtures/real/yield_pair.trace.txt).
//
// Build by hand (not part of the meson build):
//   gcc -O2 -mgeneral-regs-only -pthread -o yield_pair yield_pair.c
// -mgeneral-regs-only keeps the compiler's own code off the vector registers,
// so only the inline asm below touches zmm/k and any corruption is the
// kernel's. The checks use an integer loop, not memcmp().
//
// Usage: yield_pair [N [CPU]]   (N = yields per thread, default 20; CPU = 1)
// Prints "[OK] ..." and exits 0 when every check passed, 1 otherwise.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "avx512_state.h"

struct worker {
  int id;
  int n;
  pid_t tid;
  int checks, errors, handoffs;
  uint64_t rng;
  struct avx512_image expect, got;
};

static pthread_barrier_t start;
static volatile int last_runner = -1;  // which thread ran last (integer only)

static void* run_worker(void* arg) {
  struct worker* w = arg;
  w->tid = (pid_t)syscall(SYS_gettid);
  pthread_barrier_wait(&start);
  fill_random(&w->expect, &w->rng);
  load_regs(&w->expect);
  for (int i = 0; i < w->n; ++i) {
    last_runner = w->id;
    sched_yield();
    store_regs(&w->got);
    w->checks++;
    if (last_runner != w->id) w->handoffs++;  // the other thread ran meanwhile
    if (!same(&w->got, &w->expect)) {
      w->errors++;
      fprintf(stderr, "[FAIL] thread %d yield %d: AVX-512 state corrupted\n", w->id, i);
    }
    fill_random(&w->expect, &w->rng);
    load_regs(&w->expect);
  }
  last_runner = w->id;
  return NULL;
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20;
  int cpu = argc > 2 ? atoi(argv[2]) : 1;
  if (n < 1) n = 1;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  // Pin before creating the threads: they inherit the affinity.
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    perror("sched_setaffinity");
    return 2;
  }
  pthread_barrier_init(&start, NULL, 2);
  static struct worker w[2];
  pthread_t th[2];
  for (int i = 0; i < 2; ++i) {
    w[i].id = i;
    w[i].n = n;
    w[i].rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
    if (pthread_create(&th[i], NULL, run_worker, &w[i]) != 0) {
      perror("pthread_create");
      return 2;
    }
  }
  for (int i = 0; i < 2; ++i) pthread_join(th[i], NULL);
  int errors = w[0].errors + w[1].errors;
  printf("%s yield_pair: %d yields per thread on CPU %d, %d checks, %d incorrect, %d+%d yields found the other thread had run (threads %d %d, main %d)\n",
         errors ? "[FAIL]" : "[OK]", n, cpu, w[0].checks + w[1].checks, errors, w[0].handoffs, w[1].handoffs,
         w[0].tid, w[1].tid, (int)getpid());
  return errors ? 1 : 0;
}
