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

#define NZMM 32
#define NK 8

struct avx512_image {
  uint64_t zmm[NZMM][8];  // 64 bytes each
  uint64_t k[NK];
} __attribute__((aligned(64)));

static uint64_t next_rand(uint64_t* state) {  // xorshift64*
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

// Integer compare (no memcmp: glibc's uses vector registers).
static int same(const struct avx512_image* a, const struct avx512_image* b) {
  const uint64_t* p = &a->zmm[0][0];
  const uint64_t* q = &b->zmm[0][0];
  for (size_t i = 0; i < sizeof(*a) / 8; ++i)
    if (p[i] != q[i]) return 0;
  return 1;
}

// Load zmm0-31 and k0-7 from img. No clobbers are declared on purpose: the
// values must stay in the registers until store_regs() reads them back.
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
