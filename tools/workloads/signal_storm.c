// signal_storm: a thread with live AVX-512 state (zmm0-31, k0-7) receives N
// SIGUSR1 signals: the even ones it sends itself (tgkill, delivered on the
// return from that syscall), the odd ones come from a second thread on
// another CPU while the main thread spins in user space (delivered after the
// interrupt that kicks it). The handler loads its own AVX-512 values, enters
// the kernel once (getppid) with them live, and checks them; after every
// signal the main thread checks that sigreturn gave it back its own values.
//
// Used by tools/capture_fpu_trace.sh to record real x86_fpu tracepoints for
// fpusim (tests/fixtures/real/signal_storm.trace.txt, and
// signal_storm_nosys.trace.txt recorded with -x).
//
// Build by hand (not part of the meson build):
//   gcc -O2 -mgeneral-regs-only -pthread -o signal_storm signal_storm.c
// -mgeneral-regs-only keeps the compiler's own code off the vector registers,
// so only the inline asm below touches zmm/k and any corruption is the
// kernel's. tgkill and getppid are raw syscall()s.
//
// Usage: signal_storm [N [CPU [SENDER_CPU]]]   (N signals, default 20; the
//        main thread on CPU 1, the sender thread on CPU 0)
// Prints "[OK] ..." and exits 0 when every check passed, 1 otherwise.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "avx512_state.h"

static pid_t pid, main_tid;
static volatile int handled, handler_errors;
static volatile int request = 0;  // > 0: the sender's next signal number; -1: stop
static struct avx512_image h_expect, h_got;

static void on_signal(int sig) {
  (void)sig;
  uint64_t rng = 0xc6a4a7935bd1e995ull + (uint64_t)handled;
  fill_random(&h_expect, &rng);
  load_regs(&h_expect);
  syscall(SYS_getppid);  // a kernel entry with the handler's values live
  store_regs(&h_got);
  if (!same(&h_got, &h_expect)) handler_errors++;
  handled++;
}

static int sender_cpu;
static void* sender(void* arg) {
  (void)arg;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(sender_cpu, &set);
  sched_setaffinity(0, sizeof(set), &set);
  int done = 0;
  for (;;) {
    int r = request;
    if (r < 0) break;
    if (r > done) {
      syscall(SYS_tgkill, pid, main_tid, SIGUSR1);
      done = r;
    }
    asm volatile("pause");
  }
  return NULL;
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 20;
  int cpu = argc > 2 ? atoi(argv[2]) : 1;
  sender_cpu = argc > 3 ? atoi(argv[3]) : (cpu == 0 ? 1 : 0);
  pid = getpid();
  main_tid = (pid_t)syscall(SYS_gettid);
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    perror("sched_setaffinity");
    return 2;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGUSR1, &sa, NULL) != 0) {
    perror("sigaction");
    return 2;
  }
  pthread_t th;
  if (pthread_create(&th, NULL, sender, NULL) != 0) {
    perror("pthread_create");
    return 2;
  }
  static struct avx512_image expect, got;
  uint64_t rng = 0x243f6a8885a308d3ull;
  int errors = 0, timeouts = 0, remote = 0;
  fill_random(&expect, &rng);
  load_regs(&expect);
  for (int i = 0; i < n; ++i) {
    int before = handled;
    if (i % 2 == 0) {
      syscall(SYS_tgkill, pid, main_tid, SIGUSR1);
    } else {
      request = ++remote;
      long spins = 0;
      while (handled == before && ++spins < 2000000000L) asm volatile("pause");
      if (handled == before) timeouts++;
    }
    store_regs(&got);
    if (!same(&got, &expect)) {
      errors++;
      fprintf(stderr, "[FAIL] after signal %d: AVX-512 state corrupted\n", i);
    }
    fill_random(&expect, &rng);
    load_regs(&expect);
  }
  request = -1;
  pthread_join(th, NULL);
  int bad = errors + handler_errors + timeouts + (handled != n);
  printf("%s signal_storm: %d signals (%d self, %d from the sender on CPU %d) to a thread on CPU %d, %d handled, %d incorrect (main %d, handler %d), %d timeouts (pid %d)\n",
         bad ? "[FAIL]" : "[OK]", n, n - remote, remote, sender_cpu, cpu, handled, errors + handler_errors, errors,
         handler_errors, timeouts, (int)pid);
  return bad ? 1 : 0;
}
