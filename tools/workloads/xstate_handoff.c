// xstate_handoff: two threads pinned to one CPU hand off N times through a
// pipe ring; each keeps private AVX-512 state (zmm0-31, k0-7) in the
// registers across the blocking read() and checks it on every turn.
//
// Modelled on tools/testing/selftests/x86/xstate.c (test_context_switch:
// threads pinned to one CPU, a ring of locks, XSAVE + compare + XRSTOR of new
// random data per turn). Used by tools/capture_fpu_trace.sh to record real
// x86_fpu tracepoints for fpusim (traces/real_xstate_handoff.json).
//
// Build by hand (not part of the meson build):
//   gcc -O2 -mgeneral-regs-only -pthread -o xstate_handoff xstate_handoff.c
// -mgeneral-regs-only keeps the compiler's own code off the vector registers,
// so only the inline asm below touches zmm/k and any corruption is the
// kernel's. glibc's read()/write() wrappers do not touch vector registers.
//
// Usage: xstate_handoff [N [CPU]]   (N = total turns, default 50; CPU = 1)
// Prints "[OK] ..." and exits 0 when every check passed, 1 otherwise.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NZMM 32
#define NK 8

struct avx512_image {
  uint64_t zmm[NZMM][8];  // 64 bytes each
  uint64_t k[NK];
} __attribute__((aligned(64)));

struct worker {
  int id;
  int turns;
  int in_fd;   // read end: our turn
  int out_fd;  // write end: the next thread's turn
  pid_t tid;
  int errors;
  int checks;
  uint64_t rng;
  struct avx512_image expect;
  struct avx512_image got;
};

static uint64_t next_rand(uint64_t* state) {
  // xorshift64*, one generator per thread (no locking, no futex).
  uint64_t x = *state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *state = x;
  return x * 0x2545f4914f6cdd1dull;
}

static void fill_random(struct avx512_image* img, uint64_t* state) {
  for (int i = 0; i < NZMM; ++i)
    for (int j = 0; j < 8; ++j) img->zmm[i][j] = next_rand(state);
  for (int i = 0; i < NK; ++i) img->k[i] = next_rand(state);
}

// Load zmm0-31 and k0-7 from img. No clobbers are declared on purpose: the
// values must stay in the registers until store_regs() of the next turn.
#define LD(n) "vmovdqu64 " #n "*64(%0), %%zmm" #n "\n\t"
#define KLD(n) "kmovq " #n "*8(%1), %%k" #n "\n\t"
static void load_regs(const struct avx512_image* img) {
  asm volatile(LD(0) LD(1) LD(2) LD(3) LD(4) LD(5) LD(6) LD(7) LD(8) LD(9) LD(10) LD(11) LD(12) LD(13)
                   LD(14) LD(15) LD(16) LD(17) LD(18) LD(19) LD(20) LD(21) LD(22) LD(23) LD(24) LD(25)
                       LD(26) LD(27) LD(28) LD(29) LD(30) LD(31) KLD(0) KLD(1) KLD(2) KLD(3) KLD(4) KLD(5)
                           KLD(6) KLD(7)
               :
               : "r"(img->zmm), "r"(img->k)
               : "memory");
}

#define ST(n) "vmovdqu64 %%zmm" #n ", " #n "*64(%0)\n\t"
#define KST(n) "kmovq %%k" #n ", " #n "*8(%1)\n\t"
static void store_regs(struct avx512_image* img) {
  asm volatile(ST(0) ST(1) ST(2) ST(3) ST(4) ST(5) ST(6) ST(7) ST(8) ST(9) ST(10) ST(11) ST(12) ST(13)
                   ST(14) ST(15) ST(16) ST(17) ST(18) ST(19) ST(20) ST(21) ST(22) ST(23) ST(24) ST(25)
                       ST(26) ST(27) ST(28) ST(29) ST(30) ST(31) KST(0) KST(1) KST(2) KST(3) KST(4) KST(5)
                           KST(6) KST(7)
               :
               : "r"(img->zmm), "r"(img->k)
               : "memory");
}

static void* run_worker(void* arg) {
  struct worker* w = arg;
  char tok;
  w->tid = (pid_t)syscall(SYS_gettid);
  fill_random(&w->expect, &w->rng);
  load_regs(&w->expect);
  for (int turn = 0; turn < w->turns; ++turn) {
    if (read(w->in_fd, &tok, 1) != 1) {
      perror("read");
      exit(2);
    }
    // Our turn: the registers must still hold what we loaded last time.
    store_regs(&w->got);
    w->checks++;
    if (memcmp(&w->got, &w->expect, sizeof(w->got)) != 0) {
      w->errors++;
      fprintf(stderr, "[FAIL] thread %d turn %d: AVX-512 state corrupted\n", w->id, turn);
    }
    fill_random(&w->expect, &w->rng);
    load_regs(&w->expect);
    if (write(w->out_fd, &tok, 1) != 1) {
      perror("write");
      exit(2);
    }
  }
  return NULL;
}

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 50;
  int cpu = argc > 2 ? atoi(argv[2]) : 1;
  if (n < 2) n = 2;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  // Pin before creating the threads: they inherit the affinity.
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    perror("sched_setaffinity");
    return 2;
  }
  int p[2][2];
  if (pipe(p[0]) || pipe(p[1])) {
    perror("pipe");
    return 2;
  }
  static struct worker w[2];
  for (int i = 0; i < 2; ++i) {
    w[i].id = i;
    w[i].rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1);
    w[i].turns = n / 2 + (i == 0 ? n % 2 : 0);
    w[i].in_fd = p[i][0];
    w[i].out_fd = p[1 - i][1];
  }
  pthread_t th[2];
  for (int i = 0; i < 2; ++i) {
    if (pthread_create(&th[i], NULL, run_worker, &w[i]) != 0) {
      perror("pthread_create");
      return 2;
    }
  }
  char tok = 'x';
  if (write(p[0][1], &tok, 1) != 1) return 2;  // thread 0 starts the ring
  for (int i = 0; i < 2; ++i) pthread_join(th[i], NULL);
  int errors = w[0].errors + w[1].errors;
  int checks = w[0].checks + w[1].checks;
  printf("%s %d turns on CPU %d, %d checks, %d incorrect (threads %d %d, main %d)\n",
         errors ? "[FAIL]" : "[OK]", n, cpu, checks, errors, w[0].tid, w[1].tid, (int)getpid());
  return errors ? 1 : 0;
}
