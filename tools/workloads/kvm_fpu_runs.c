// kvm_fpu_runs: a minimal KVM program for recording kvm:kvm_fpu (and x86_fpu)
// tracepoints around KVM_RUN (tools/capture_fpu_trace.sh -e "kvm:kvm_fpu ...").
//
// One VM, one vCPU in 16-bit real mode at 0x1000 running
//     mov dx, 0x10 ; L: out dx, al ; inc al ; jmp L
// so every KVM_RUN ends with one KVM_EXIT_IO to user space. The host calls
// KVM_RUN N times (default 5) and prints each exit. Since Linux 4.15 each
// KVM_RUN loads the guest FPU state once (kvm_fpu load) and puts it back
// once before returning to user space (kvm_fpu unload); see
// /work/shared/reference/kernel-tests-and-traces.md S15 and invariant I7.
// Between runs the host thread writes ymm0 (AVX), so its own user FPU state is
// live when it enters KVM_RUN.
//
// Build by hand (not part of the meson build):
//   gcc -O2 -o kvm_fpu_runs kvm_fpu_runs.c
// Usage: kvm_fpu_runs [N]     (needs /dev/kvm)
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <errno.h>
int main(int argc, char** argv) {
  int runs = argc > 1 ? atoi(argv[1]) : 5;
  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) { perror("open /dev/kvm"); return 1; }
  printf("api %d\n", ioctl(kvm, KVM_GET_API_VERSION, 0));
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) { perror("KVM_CREATE_VM"); return 1; }
  // mov dx,0x10; L: out dx,al; inc al; jmp L   (al counts)
  const uint8_t code[] = {0xba, 0x10, 0x00, 0xee, 0xfe, 0xc0, 0xeb, 0xfb};
  uint8_t* mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  memcpy(mem, code, sizeof(code));
  struct kvm_userspace_memory_region region = {.slot = 0, .guest_phys_addr = 0x1000, .memory_size = 0x1000,
                                               .userspace_addr = (uint64_t)mem};
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) { perror("KVM_SET_USER_MEMORY_REGION"); return 1; }
  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) { perror("KVM_CREATE_VCPU"); return 1; }
  int sz = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, NULL);
  struct kvm_run* run = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  struct kvm_sregs sregs;
  if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) { perror("KVM_GET_SREGS"); return 1; }
  sregs.cs.base = 0; sregs.cs.selector = 0;
  if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) { perror("KVM_SET_SREGS"); return 1; }
  struct kvm_regs regs = {.rip = 0x1000, .rax = 0, .rflags = 0x2};
  if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) { perror("KVM_SET_REGS"); return 1; }
  for (int i = 0; i < runs; ++i) {
    uint64_t v[4] = {i, i + 1, i + 2, i + 3};
    asm volatile("vmovdqu %0, %%ymm0" : : "m"(v) : "xmm0");  // host user FP use before KVM_RUN
    if (ioctl(vcpu, KVM_RUN, NULL) < 0) { printf("KVM_RUN: %s\n", strerror(errno)); return 1; }
    if (run->exit_reason == KVM_EXIT_IO)
      printf("run %d: io port 0x%x value %d\n", i, run->io.port, *((uint8_t*)run + run->io.data_offset));
    else { printf("run %d: exit reason %d\n", i, run->exit_reason); if (run->exit_reason != KVM_EXIT_IO) break; }
  }
  return 0;
}
