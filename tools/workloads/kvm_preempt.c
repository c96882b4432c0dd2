// kvm_preempt: a vCPU thread and an FP thread share one CPU, so that the
// vCPU thread gets preempted (also while the guest FPU is loaded) and the two
// user FPU states and the guest FPU state take turns in the registers.
//
//   vCPU thread  one VM, one vCPU in 16-bit real mode at 0x1000 running
//                    mov dx, 0x10
//                L:  mov ecx, COUNT ; M: dec ecx ; jnz M   (busy in the guest)
//                    out dx, al ; inc al ; jmp L
//                so every KVM_RUN spends a while in the guest and then ends
//                with one KVM_EXIT_IO to user space. It keeps its own
//                AVX-512 state (zmm0-31, k0-7) live across every KVM_RUN and
//                checks it (and the port and value of the exit) after each.
//   FP thread    AVX-512 state live, busy integer work, checks its registers
//                every few microseconds until the vCPU thread is done.
// Both are pinned to CPU (default 1) and CPU-bound, so the scheduler switches
// between them at the tick (involuntary switches, counted with
// getrusage(RUSAGE_THREAD) and printed).
//
// Used by tools/capture_fpu_trace.sh -K to record real kvm:kvm_fpu and
// x86_fpu tracepoints for fpusim (tests/fixtures/real/kvm_preempt.trace.txt).
//
// Build by hand (not part of the meson build):
//   gcc -O2 -mgeneral-regs-only -pthread -o kvm_preempt kvm_preempt.c
// -mgeneral-regs-only keeps the compiler's own code off the vector registers,
// so only the inline asm below touches zmm/k and any corruption is the
// kernel's. ioctl() is a plain syscall wrapper.
//
// Usage: kvm_preempt [N [CPU [COUNT]]]   (N KVM_RUNs, default 30; CPU 1;
//        COUNT guest loop iterations per run, default 1000000)  (needs /dev/kvm)
// Prints "[OK] ..." and exits 0 when every check passed, 1 otherwise.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "avx512_state.h"

static int runs = 30;
static volatile int vcpu_done;
static pthread_barrier_t start;

struct result {
  pid_t tid;
  int checks, errors;
  long nvcsw, nivcsw;
};
static struct result vres, fres;
static int vcpu_fd;
static struct kvm_run* run;
static int io_errors;

static void usage_of(struct result* r) {
  struct rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  r->nvcsw = ru.ru_nvcsw;
  r->nivcsw = ru.ru_nivcsw;
}

static void* vcpu_thread(void* arg) {
  (void)arg;
  static struct avx512_image expect, got;
  uint64_t rng = 0x9e3779b97f4a7c15ull;
  vres.tid = (pid_t)syscall(SYS_gettid);
  pthread_barrier_wait(&start);
  fill_random(&expect, &rng);
  load_regs(&expect);
  for (int i = 0; i < runs; ++i) {
    if (ioctl(vcpu_fd, KVM_RUN, NULL) < 0) {
      io_errors++;
      break;
    }
    store_regs(&got);
    vres.checks++;
    if (!same(&got, &expect)) vres.errors++;
    if (run->exit_reason != KVM_EXIT_IO || run->io.port != 0x10 ||
        *((uint8_t*)run + run->io.data_offset) != (uint8_t)i)
      io_errors++;
    fill_random(&expect, &rng);
    load_regs(&expect);
  }
  usage_of(&vres);
  vcpu_done = 1;
  return NULL;
}

static void* fp_thread(void* arg) {
  (void)arg;
  static struct avx512_image expect, got;
  uint64_t rng = 0x3c6ef372fe94f82bull;
  volatile uint64_t sink = 0;
  fres.tid = (pid_t)syscall(SYS_gettid);
  pthread_barrier_wait(&start);
  fill_random(&expect, &rng);
  load_regs(&expect);
  while (!vcpu_done) {
    for (int j = 0; j < 20000; ++j) sink += (uint64_t)j * 2654435761u;  // busy, integer only
    store_regs(&got);
    fres.checks++;
    if (!same(&got, &expect)) fres.errors++;
    fill_random(&expect, &rng);
    load_regs(&expect);
  }
  usage_of(&fres);
  return NULL;
}

int main(int argc, char** argv) {
  runs = argc > 1 ? atoi(argv[1]) : 30;
  int cpu = argc > 2 ? atoi(argv[2]) : 1;
  uint32_t count = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 0) : 1000000u;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  // Pin before creating the threads: they inherit the affinity.
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    perror("sched_setaffinity");
    return 2;
  }
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) { perror("open /dev/kvm"); return 2; }
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) { perror("KVM_CREATE_VM"); return 2; }
  // mov dx,0x10; L: mov ecx,COUNT; M: dec ecx; jnz M; out dx,al; inc al; jmp L
  uint8_t code[] = {0xba, 0x10, 0x00,                    // 0: mov dx, 0x10
                    0x66, 0xb9, 0, 0, 0, 0,              // 3: mov ecx, imm32 (L)
                    0x66, 0x49,                          // 9: dec ecx (M)
                    0x75, 0xfc,                          // 11: jnz M
                    0xee,                                // 13: out dx, al
                    0xfe, 0xc0,                          // 14: inc al
                    0xeb, 0xf1};                         // 16: jmp L
  memcpy(code + 5, &count, 4);
  uint8_t* mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) { perror("mmap"); return 2; }
  memcpy(mem, code, sizeof(code));
  struct kvm_userspace_memory_region region = {.slot = 0, .guest_phys_addr = 0x1000, .memory_size = 0x1000,
                                               .userspace_addr = (uint64_t)mem};
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) { perror("KVM_SET_USER_MEMORY_REGION"); return 2; }
  vcpu_fd = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu_fd < 0) { perror("KVM_CREATE_VCPU"); return 2; }
  int sz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, NULL);
  run = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd, 0);
  if (run == MAP_FAILED) { perror("mmap kvm_run"); return 2; }
  struct kvm_sregs sregs;
  if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0) { perror("KVM_GET_SREGS"); return 2; }
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0) { perror("KVM_SET_SREGS"); return 2; }
  struct kvm_regs regs = {.rip = 0x1000, .rax = 0, .rflags = 0x2};
  if (ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0) { perror("KVM_SET_REGS"); return 2; }

  pthread_barrier_init(&start, NULL, 2);
  pthread_t tv, tf;
  if (pthread_create(&tv, NULL, vcpu_thread, NULL) != 0 || pthread_create(&tf, NULL, fp_thread, NULL) != 0) {
    perror("pthread_create");
    return 2;
  }
  pthread_join(tv, NULL);
  pthread_join(tf, NULL);
  int bad = vres.errors + fres.errors + io_errors;
  printf("%s kvm_preempt: %d KVM_RUNs of %u guest loops on CPU %d, %d io errors; vCPU thread %d: %d checks, %d incorrect, %ld voluntary / %ld involuntary switches; FP thread %d: %d checks, %d incorrect, %ld voluntary / %ld involuntary switches (pid %d)\n",
         bad ? "[FAIL]" : "[OK]", runs, count, cpu, io_errors, vres.tid, vres.checks, vres.errors, vres.nvcsw, vres.nivcsw,
         fres.tid, fres.checks, fres.errors, fres.nvcsw, fres.nivcsw, (int)getpid());
  return bad ? 1 : 0;
}
