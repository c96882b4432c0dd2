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
