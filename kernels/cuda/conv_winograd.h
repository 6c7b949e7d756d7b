// Internal to kernels/cuda: the Winograd convolutions behind conv2d.cu's "winograd4" (F(4x4,3x3)) and
// "winograd2" (F(2x2,3x3)) variants. Include after kernels/cuda/cuda_compat.h.
//
// Shapes: kernel 3x3, stride 1, padding 0..2 on each axis (the U-Net's 3x3 layers). Each product runs as
// four launches, every intermediate in Stream::workspace:
//
//   forward          U[e](c_in x c_out)  = G g G^T            (weight transform; e = 0 .. a*a-1, a = m+2)
//                    V[e](c_in x tiles)  = B^T d B            (input transform, one a x a patch per tile)
//                    M[e](c_out x tiles) = U[e]^T V[e]        (a*a GEMMs, one batched launch)
//                    y                   = A^T M A            (output transform, m x m pixels per tile)
//   backward-data    the forward of dy with the weights turned 180 degrees and c_in, c_out swapped, padding
//                    2 - pad (the weight transform reads w so; no copy)
//   backward-weight  Dy[e](tiles x c_out) = A dY A^T          (dy's m x m tiles, as F(3, m)'s "filter")
//                    X[e](tiles x c_in)   = B^T d B           (the same patches as forward)
//                    S[e](c_out x c_in)   = Dy[e]^T X[e]      (a*a GEMMs, reduction over the tiles, split in
//                                                              fixed K ranges when too few blocks)
//                    dw                   = G^T (sum of the splits of S, in order) G
//
// The GEMM is one kernel for both: C[m][n] = sum_k A[k][m] B[k][n], both operands read along their
// contiguous rows as float4 (row lengths padded to 4 floats, the padding written as zeros by the
// transforms), a 256-thread block computing a (16 TM) x (16 TN) tile through double-buffered shared memory.
// backward-weight's F(3, m) uses F(m, 3)'s matrices transposed (A as the filter transform, G^T as the output
// transform): the same interpolation points, with the roles of filter and output swapped.
//
// Numerical error: as the cpu backend's (kernels/cpu/conv_winograd.h has the matrices and the measured
// error): winograd2 is as exact as the direct GEMM; winograd4 loses a few bits to the transforms' entries
// (8 in A^T, 5 in B^T, 1/6 and 1/24 inexact in float).
#pragma once

#include <cstddef>

#include "engine/backend.h"
#include "kernels/common/pointwise.h"

namespace tint {
namespace TINT_CUDA_NS {

// Whether the Winograd products take s (3x3, stride 1, padding 0..2).
bool winograd_takes(const Conv2dShape& s);

// What a convolution's forward (and backward-data, a transposed convolution's forward) may apply to each
// output element as it stores it: + bias[channel], then max(., 0). The same float operations, in the same
// order, as bias_add / bias_relu_forward after the plain product, so the same bits.
struct ConvEpilogue {
  const float* bias = nullptr;
  bool relu = false;
  __host__ __device__ bool any() const { return bias != nullptr || relu; }
};

__device__ __forceinline__ float apply_epilogue(const ConvEpilogue& e, float v, int channel) {
  if (e.bias) v += e.bias[channel];
  if (e.relu) v = pointwise::relu(v);
  return v;
}

enum class WinoProduct { forward, backward_data, backward_weight };

// Scratch one product needs in Stream::workspace, in bytes (16-byte aligned pieces).
size_t winograd_workspace_bytes(int tile_m, WinoProduct product, const Conv2dShape& s);

// Runs the product (tile_m 4 or 2) and returns true, or returns false without launching anything when the
// stream's workspace is smaller than winograd_workspace_bytes, or when the product's transformed input has
// fewer than 8 channels (measured slower there: conv_winograd.cu), and the caller then runs another variant.
// math: where the GEMMs run; the transforms stay fp32 in every case.
enum class WinoMath {
  fp32,   // FMA units
  tf32,   // tensor cores, operands rounded to TF32 (10 mantissa bits)
  tf32x3  // tensor cores, operands split into two TF32 parts, three products: fp32's accuracy
};
// `epi` applies to the forward and backward-data products' outputs (not to backward-weight's).
bool winograd_run(int tile_m, WinoProduct product, WinoMath math, const Stream& stream, float* out, const float* in0,
                  const float* in1, const Conv2dShape& s, const ConvEpilogue& epi = {});

}  // namespace TINT_CUDA_NS
}  // namespace tint
