// Internal to the Winograd convolutions (conv_winograd*.cpp): the a x a tile transforms, built once per
// ISA (portable, AVX2+FMA, AVX-512) from the same source, conv_winograd_transforms.inc, so that their loops
// over kLanes tiles vectorise at the ISA's width while the binary still runs on any x86-64.
#pragma once

#include <cstdint>

#include "kernels/cpu/gemm_micro.h"

namespace tint::cpu::winograd {

constexpr int kLanes = kNR;  // tiles (or channels) transformed together: one packed panel's width

// Each works on kLanes matrices at once, element (r, c) of lane l at [(r * cols + c) * ld + l], ld (ldi for
// the input, ldo for the output) >= kLanes: kLanes for a tile of its own, more to read or write a packed
// operand or GEMM output in place.
struct Transforms {
  using Fn = void (*)(const float* in, int64_t ldi, float* out, int64_t ldo);
  Fn input;        // V = B^T d B          a x a -> a x a
  Fn output;       // Y = A^T M A          a x a -> m x m
  Fn weight;       // U = G g G^T          r x r -> a x a
  Fn output_grad;  // Yhat = A dY A^T      m x m -> a x a
  Fn weight_grad;  // dg = G^T S G         a x a -> r x r
  // Consecutive tiles of one tile row, lanes l0 .. l0 + lanes - 1 (lanes a multiple of vw), from (split) or
  // to (merge) image rows, with vector shuffles in place of a scalar load and store per element. split:
  // d[r][c][l] = rows[r][m * (l - l0) + c] for r, c < cols (m + r - 1 or m), each row readable for
  // m * lanes + m floats; merge: rows[r][m * (l - l0) + c] = y[r][c][l] for r, c < m, each row writable for
  // m * lanes floats.
  void (*split)(const float* const* rows, int cols, float* d, int l0, int lanes);
  void (*merge)(const float* y, float* const* rows, int l0, int lanes);
  int vw;  // the ISA's vector width in floats: split and merge work on groups of vw tiles
};

// F(m x m, r x r): m = 4 or 2, r = 3 or 2. The AVX2 and AVX-512 tables may only be used where the CPU has
// the ISA (best_isa()).
const Transforms& transforms_generic(int m, int r);
const Transforms& transforms_avx2(int m, int r);
const Transforms& transforms_avx512(int m, int r);

}  // namespace tint::cpu::winograd
