// The register-tiled micro-kernel under the fast convolutions, in three builds chosen at run time:
// AVX-512 (24 zmm accumulators), AVX2+FMA (the same tile as four 6x16 passes, 12 ymm accumulators) and
// portable C++ (whatever the compiler vectorises for the baseline x86-64).
//
// One call computes a full MR x NR tile C (+)= A * B over a depth of kc:
//   a: packed A, kc steps of MR floats (a[k*MR + r] = A[r][k])
//   b: packed B, kc steps of NR floats (b[k*NR + j] = B[k][j])
//   c: row-major tile with row stride ldc; accumulate = false overwrites it.
// Packing both operands into these layouts is the callers' job (conv_fast.cpp); it is what lets one
// kernel serve the three convolution products.
#pragma once

#include <cstdint>

namespace tint::cpu {

constexpr int kMR = 12;
constexpr int kNR = 32;

using MicroKernel = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate);

enum class Isa { generic, avx2, avx512 };

// A partial tile at the edge of C: the same product, but only its rows x cols corner (1 <= rows <= kMR,
// 1 <= cols <= kNR) of c is read or written; the panels are packed (and zero-padded) as for a full tile.
// A kernel may skip the multiply-adds of rows or columns it does not need (the AVX2 one does whole 6x16
// blocks), which is what an edge is for: a c_out of 64 is five full tiles of rows and one of 4.
using EdgeKernel = void (*)(int64_t rows, int64_t cols, int64_t kc, const float* a, const float* b, float* c,
                            int64_t ldc, bool accumulate);

Isa best_isa();                      // what this machine supports, or TINT_CPU_ISA=generic|avx2|avx512 if lower
MicroKernel micro_kernel(Isa isa);   // the kernel for an ISA (the caller must know the machine supports it)
EdgeKernel edge_kernel(Isa isa);     // its partial-tile form
const char* isa_name(Isa isa);

// Both forms for one ISA: a rows x cols tile goes to the micro-kernel when it is full, to the edge form
// otherwise, so that a loop over a C whose sides are not multiples of the tile calls one thing.
struct TileKernel {
  MicroKernel full;
  EdgeKernel edge;
  explicit TileKernel(Isa isa) : full(micro_kernel(isa)), edge(edge_kernel(isa)) {}
  void operator()(int64_t rows, int64_t cols, int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                  bool accumulate) const {
    if (rows == kMR && cols == kNR)
      full(kc, a, b, c, ldc, accumulate);
    else
      edge(rows, cols, kc, a, b, c, ldc, accumulate);
  }
};

}  // namespace tint::cpu
