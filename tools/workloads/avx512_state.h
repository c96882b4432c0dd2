// The AVX-512 register state the workloads keep live and check (zmm0-31,
// k0-7): an image type, a per-thread xorshift64* generator, an integer
// compare (glibc's memcmp uses vector registers), and the inline asm that
// loads and stores the registers. Shared by the workloads of this folder,
// which are built with -mgeneral-regs-only so that only this asm touches
// the vector registers.
#pragma once

#include <stddef.h>
#include <stdint.h>

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
