// The Winograd tile transforms built for AVX2 (see conv_winograd_transforms.h): the whole translation unit
// is compiled for the ISA, so only code the dispatch reaches on such a CPU lives here.
#include <cstring>

#include "kernels/cpu/conv_winograd_transforms.h"

#if defined(__x86_64__) || defined(__i386__)
#pragma GCC target("avx2,fma")
#define TINT_WINO_VW 8
#define TINT_WINO_TABLE transforms_avx2
#include "kernels/cpu/conv_winograd_transforms.inc"
#else
namespace tint::cpu::winograd {
const Transforms& transforms_avx2(int m, int r) {
  return transforms_generic(m, r);
}
}  // namespace tint::cpu::winograd
#endif
