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
