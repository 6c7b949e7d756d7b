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
  Fn weight;       // U = G g G^T          3 x 3 -> a x a
  Fn output_grad;  // Yhat = A dY A^T      m x m -> a x a
  Fn weight_grad;  // dg = G^T S G         a x a -> 3 x 3
  // kLanes consecutive tiles of one tile row from (split) or to (merge) image rows, with vector shuffles
  // in place of a scalar load and store per element. split: d[r][c][l] = rows[r][m * l + c] for r, c <
  // cols (m + 2 or m), each row readable for m * kLanes + m floats; merge: rows[r][m * l + c] = y[r][c][l]
  // for r, c < m, each row writable for m * kLanes floats.
  void (*split)(const float* const* rows, int cols, float* d);
  void (*merge)(const float* y, float* const* rows);
};

// m = 4 or 2. The AVX2 and AVX-512 tables may only be used where the CPU has the ISA (best_isa()).
const Transforms& transforms_generic(int m);
const Transforms& transforms_avx2(int m);
const Transforms& transforms_avx512(int m);

}  // namespace tint::cpu::winograd
