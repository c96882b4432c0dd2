// mixed: a small mixed workload on one CPU, for recording real x86_fpu
// tracepoints (tools/capture_fpu_trace.sh -> traces/real_mixed.json).
//
//   main (pinned to CPU, default 1) creates three threads (they inherit the
//   affinity):
//     zmm   AVX-512 (zmm0-31, k0-7) kept in the registers across nanosleep(),
//           checked after every sleep; ITER iterations, 150 us sleeps
//     ymm   AVX2 (ymm0-15) the same way; ITER iterations, 230 us sleeps
//     int   no FP/SIMD at all (integer work), ITER iterations, 310 us sleeps
//   then main loads its own xmm0-15, raises SIGUSR1 (the handler clobbers
//   xmm0-15; sigreturn must restore main's values), forks a child process that
//   loads ymm0-15, sleeps, checks them and _exit()s, waits for it, joins the
//   threads and checks its xmm0-15 again.
//
// The sleeps let the CPU go idle, so a thread often resumes with its registers
// still loaded (no XRSTOR on return to user: fpregs_state_valid()), which the
// handoff workload never shows.
//
// Build by hand (not part of the meson build):
//   gcc -O2 -mgeneral-regs-only -pthread -o mixed mixed.c
// Usage: mixed [ITER [CPU]]   (default 12 iterations, CPU 1)
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int iters = 12;
static volatile int errors;

static uint64_t next_rand(uint64_t* s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545f4914f6cdd1dull;
}

static void sleep_us(long us) {
  struct timespec ts = {0, us * 1000};
  nanosleep(&ts, NULL);
}

// ---- AVX-512: zmm0-31 + k0-7 (no clobbers declared: the values must stay)
struct zimg {
  uint64_t z[32][8];
  uint64_t k[8];
} __attribute__((aligned(64)));
#define ZL(n) "vmovdqu64 " #n "*64(%0), %%zmm" #n "\n\t"
#define ZS(n) "vmovdqu64 %%zmm" #n ", " #n "*64(%0)\n\t"
#define KL(n) "kmovq " #n "*8(%1), %%k" #n "\n\t"
#define KS(n) "kmovq %%k" #n ", " #n "*8(%1)\n\t"
static void zload(const struct zimg* m) {
  asm volatile(ZL(0) ZL(1) ZL(2) ZL(3) ZL(4) ZL(5) ZL(6) ZL(7) ZL(8) ZL(9) ZL(10) ZL(11) ZL(12) ZL(13) ZL(14)
                   ZL(15) ZL(16) ZL(17) ZL(18) ZL(19) ZL(20) ZL(21) ZL(22) ZL(23) ZL(24) ZL(25) ZL(26) ZL(27)
                       ZL(28) ZL(29) ZL(30) ZL(31) KL(0) KL(1) KL(2) KL(3) KL(4) KL(5) KL(6) KL(7)
               :
               : "r"(m->z), "r"(m->k)
               : "memory");
}
static void zstore(struct zimg* m) {
  asm volatile(ZS(0) ZS(1) ZS(2) ZS(3) ZS(4) ZS(5) ZS(6) ZS(7) ZS(8) ZS(9) ZS(10) ZS(11) ZS(12) ZS(13) ZS(14)
                   ZS(15) ZS(16) ZS(17) ZS(18) ZS(19) ZS(20) ZS(21) ZS(22) ZS(23) ZS(24) ZS(25) ZS(26) ZS(27)
                       ZS(28) ZS(29) ZS(30) ZS(31) KS(0) KS(1) KS(2) KS(3) KS(4) KS(5) KS(6) KS(7)
               :
               : "r"(m->z), "r"(m->k)
               : "memory");
}

// ---- AVX2: ymm0-15 (VEX encoding: also zeroes bits 511:256 of zmm0-15)
struct yimg {
  uint64_t y[16][4];
} __attribute__((aligned(32)));
#define YL(n) "vmovdqu " #n "*32(%0), %%ymm" #n "\n\t"
#define YS(n) "vmovdqu %%ymm" #n ", " #n "*32(%0)\n\t"
static void yload(const struct yimg* m) {
  asm volatile(YL(0) YL(1) YL(2) YL(3) YL(4) YL(5) YL(6) YL(7) YL(8) YL(9) YL(10) YL(11) YL(12) YL(13) YL(14)
                   YL(15)
               :
               : "r"(m->y)
               : "memory");
}
static void ystore(struct yimg* m) {
  asm volatile(YS(0) YS(1) YS(2) YS(3) YS(4) YS(5) YS(6) YS(7) YS(8) YS(9) YS(10) YS(11) YS(12) YS(13) YS(14)
                   YS(15)
               :
               : "r"(m->y)
               : "memory");
}

// ---- SSE: xmm0-15
struct ximg {
  uint64_t x[16][2];
} __attribute__((aligned(16)));
#define XL(n) "movdqu " #n "*16(%0), %%xmm" #n "\n\t"
#define XS(n) "movdqu %%xmm" #n ", " #n "*16(%0)\n\t"
static void xload(const struct ximg* m) {
  asm volatile(XL(0) XL(1) XL(2) XL(3) XL(4) XL(5) XL(6) XL(7) XL(8) XL(9) XL(10) XL(11) XL(12) XL(13) XL(14)
                   XL(15)
               :
               : "r"(m->x)
               : "memory");
}
static void xstore(struct ximg* m) {
  asm volatile(XS(0) XS(1) XS(2) XS(3) XS(4) XS(5) XS(6) XS(7) XS(8) XS(9) XS(10) XS(11) XS(12) XS(13) XS(14)
                   XS(15)
               :
               : "r"(m->x)
               : "memory");
}

static void fill(uint64_t* p, size_t n, uint64_t* s) {
  for (size_t i = 0; i < n; ++i) p[i] = next_rand(s);
}

static void fail(const char* who, int it) {
  __sync_fetch_and_add(&errors, 1);
  fprintf(stderr, "[FAIL] %s iteration %d: register state corrupted\n", who, it);
}

static void* zmm_thread(void* arg) {
  (void)arg;
  static struct zimg want, got;
  uint64_t s = 0x1234567;
  fill(&want.z[0][0], sizeof(want) / 8, &s);
  zload(&want);
  for (int i = 0; i < iters; ++i) {
    sleep_us(150);
    zstore(&got);
    if (memcmp(&got, &want, sizeof(got))) fail("zmm", i);
    fill(&want.z[0][0], sizeof(want) / 8, &s);
    zload(&want);
  }
  return NULL;
}

static void* ymm_thread(void* arg) {
  (void)arg;
  static struct yimg want, got;
  uint64_t s = 0x7654321;
  fill(&want.y[0][0], sizeof(want) / 8, &s);
  yload(&want);
  for (int i = 0; i < iters; ++i) {
    sleep_us(230);
    ystore(&got);
    if (memcmp(&got, &want, sizeof(got))) fail("ymm", i);
    fill(&want.y[0][0], sizeof(want) / 8, &s);
    yload(&want);
  }
  return NULL;
}

static void* int_thread(void* arg) {
  (void)arg;
  uint64_t s = 99, acc = 0;
  for (int i = 0; i < iters; ++i) {
    sleep_us(310);
    for (int j = 0; j < 2000; ++j) acc += next_rand(&s);
  }
  return (void*)(uintptr_t)(acc & 1);
}

static void on_usr1(int sig) {
  (void)sig;
  static struct ximg junk;
  uint64_t s = 42;
  fill(&junk.x[0][0], sizeof(junk) / 8, &s);
  xload(&junk);  // clobber xmm0-15 inside the handler
}

int main(int argc, char** argv) {
  if (argc > 1) iters = atoi(argv[1]);
  int cpu = argc > 2 ? atoi(argv[2]) : 1;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set)) {
    perror("sched_setaffinity");
    return 2;
  }
  pthread_t th[3];
  void* (*fn[3])(void*) = {zmm_thread, ymm_thread, int_thread};
  for (int i = 0; i < 3; ++i) {
    if (pthread_create(&th[i], NULL, fn[i], NULL)) {
      perror("pthread_create");
      return 2;
    }
  }
  static struct ximg mine, got;
  uint64_t s = 0xabcdef;
  fill(&mine.x[0][0], sizeof(mine) / 8, &s);
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  xload(&mine);
  // tgkill through the assembly syscall() wrapper: glibc's raise() might touch xmm.
  syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGUSR1);  // handler clobbers xmm
  xstore(&got);
  if (memcmp(&got, &mine, sizeof(got))) fail("main after signal", 0);

  pid_t child = fork();
  if (child == 0) {
    static struct yimg want, cgot;
    uint64_t cs = 0x5555;
    fill(&want.y[0][0], sizeof(want) / 8, &cs);
    yload(&want);
    sleep_us(400);
    ystore(&cgot);
    _exit(memcmp(&cgot, &want, sizeof(cgot)) ? 1 : 0);
  }
  int st = 0;
  waitpid(child, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st)) fail("child", 0);
  xload(&mine);
  for (int i = 0; i < 3; ++i) pthread_join(th[i], NULL);
  xstore(&got);
  if (memcmp(&got, &mine, sizeof(got))) fail("main after join", 0);
  printf("%s mixed: %d iterations on CPU %d, %d incorrect (main %d, child %d)\n", errors ? "[FAIL]" : "[OK]", iters,
         cpu, errors, (int)getpid(), (int)child);
  return errors ? 1 : 0;
}
