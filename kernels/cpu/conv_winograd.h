// Winograd convolutions for the `cpu` backend: 3x3 or 2x2 kernels, stride 1, padding below the kernel size,
// all three products, as the "winograd4" (F(4x4,3x3)) and "winograd2" (F(2x2,3x3)) entries of conv_algos.h,
// and on the 2x2 kernels that the phase split makes of the 4x4 stride-2 convolutions (conv_phase.h) as
// "phase-winograd4" (F(4x4,2x2)) and "phase-winograd2" (F(2x2,2x2)).
//
// The math below is written for 3x3 kernels; an r x r kernel reads a = m + r - 1 input rows and columns per
// tile, with G a x r.
//
// Per output tile of m x m pixels (m = 4 or 2) read from an a x a input tile d (a = m + 2):
//   forward          Y  = A^T [ (G g G^T) (.) (B^T d B) ] A
//   backward-weight  dg = G^T [ (B^T d B) (.) (A dY A^T) ] G   (forward's adjoint in g), summed over tiles
//   backward-data    stride 1: the forward convolution of dY with the weights turned 180 degrees and c_in,
//                    c_out swapped, padding 2 - pad (no weight copy: the weight transform reads them so)
// The a*a element-wise products of a tile, over all channels and tiles, are a*a GEMMs
//   forward          M[xi](c_out x tiles) = U[xi](c_out x c_in) * V[xi](c_in x tiles)
//   backward-weight  S[xi](c_out x c_in)  = sum over tiles of Yhat[xi](c_out x tiles) * V[xi](tiles x c_in)
// run on the shared register micro-kernel (gemm_micro.h); the transforms write its packed layouts directly.
//
// Matrices (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016, section 4;
// interpolation points 0, 1, -1, 2, -2 and infinity for F(4x4,3x3), 0, 1, -1 and infinity for F(2x2,3x3)):
//
//   F(4,3)  B^T = | 4  0 -5  0  1  0 |   G = | 1/4     0     0  |   A^T = | 1  1  1  1  1  0 |
//                 | 0 -4 -4  1  1  0 |       | -1/6 -1/6  -1/6  |         | 0  1 -1  2 -2  0 |
//                 | 0  4 -4 -1  1  0 |       | -1/6  1/6  -1/6  |         | 0  1  1  4  4  0 |
//                 | 0 -2 -1  2  1  0 |       | 1/24  1/12  1/6  |         | 0  1 -1  8 -8  1 |
//                 | 0  2 -1 -2  1  0 |       | 1/24 -1/12  1/6  |
//                 | 0  4  0 -5  0  1 |       |  0     0     1   |
//
//   F(2,3)  B^T = | 1  0 -1  0 |   G = |  1    0    0  |   A^T = | 1  1  1  0 |
//                 | 0  1  1  0 |       | 1/2  1/2  1/2 |         | 0  1 -1 -1 |
//                 | 0 -1  1  0 |       | 1/2 -1/2  1/2 |
//                 | 0  1  0 -1 |       |  0    0    1  |
//
// The 2x2 ones follow the same construction (Toom-Cook on points 0, 1, -1, 2 and infinity for F(4,2), 0, 1
// and infinity for F(2,2); A^T's columns are the points' powers, G's rows the kernel's powers over the
// product of the point's differences to the others, B^T solved for exactly; derived with rational
// arithmetic, checked by test_winograd's 1-D correlation):
//
//   F(4,2)  B^T = | 2 -1 -2  1  0 |   G = | 1/2   0  |   A^T = | 1  1  1  1  0 |
//                 | 0  2  1 -1  0 |       | 1/2  1/2 |         | 0  1 -1  2  0 |
//                 | 0  2 -3  1  0 |       | -1/6 1/6 |         | 0  1  1  4  0 |
//                 | 0 -1  0  1  0 |       | 1/6  1/3 |         | 0  1 -1  8  1 |
//                 | 0  2 -1 -2  1 |       |  0    1  |
//
//   F(2,2)  B^T = | 1 -1  0 |   G = | 1  0 |   A^T = | 1  1  0 |
//                 | 0  1  0 |       | 1  1 |         | 0  1  1 |
//                 | 0 -1  1 |       | 0  1 |
//
// Numerical error: max |out - double reference| / max |reference|, with inputs and output gradients
// uniform in [-1, 1] and weights at PyTorch's initial scale, on every 3x3 layer of the default U-Net
// (test_winograd, "winograd error against a double reference"; 2026-11-30, AVX2):
//   winograd4  at 128 px, batch 1: forward 1.6e-5, backward-data 1.3e-5, backward-weight 1.4e-5 at worst
//              (at 16 px, batch 2: 1.3e-5, 1.0e-5, 3.4e-6 with the vector transforms: backward-weight's
//              grows with the tiles summed)
//   winograd2  at 128 px, batch 1: 7e-7, 6e-7, 8e-7 at worst, below the packed GEMM's own rounding
// Their `tolerance` (conv_algos.cpp) is 5e-5 and 5e-6, about three and six times that; the GEMM's is 2e-5.
// winograd4's error comes from the transforms' large entries (8 in A^T, 5 in B^T) and from 1/6 and 1/24
// not being exact in float.
//
// Work split: forward by blocks of tiles (over the whole batch) and, when there are too few for the
// threads, by blocks of output channels; backward-weight by chunks of tiles (a count fixed by the shape,
// each summed apart, then added in order) and blocks of (c_out, c_in), so the results are the same bits
// for any thread count. Scratch lives in thread-local buffers kept between calls.
#pragma once

#include "engine/backend.h"
#include "kernels/cpu/conv_epilogue.h"
#include "kernels/cpu/gemm_micro.h"

namespace tint {
class ThreadPool;
}

namespace tint::cpu {

// Whether the Winograd products take s: kernel 3x3 or 2x2, stride 1, padding 0..r-1 on each axis.
bool winograd_takes(const Conv2dShape& s);

// tile_m: 4 or 2, F(m x m, r x r) with r the shape's kernel size (3 or 2). pool == nullptr runs on the
// calling thread. ep: the bias and ReLU applied to each output tile after its output transform (the
// transposed convolution's forward is backward-data, so that product takes one too).
void conv2d_forward_winograd(int tile_m, ThreadPool* pool, float* y, const float* x, const float* w,
                             const Conv2dShape& s, Isa isa, const ConvEpilogue& ep = {});
void conv2d_backward_data_winograd(int tile_m, ThreadPool* pool, float* dx, const float* dy, const float* w,
                                   const Conv2dShape& s, Isa isa, const ConvEpilogue& ep = {});
void conv2d_backward_weight_winograd(int tile_m, ThreadPool* pool, float* dw, const float* x, const float* dy,
                                     const Conv2dShape& s, Isa isa);

// The transform matrices of F(m, r), row-major, for tests that check them against a direct correlation:
// B^T is a x a, G is a x r, A^T is m x a (a = m + r - 1).
struct WinogradMatrices {
  int m, a, r;
  const float *bt, *g, *at;
};
WinogradMatrices winograd_matrices(int tile_m, int r = 3);

}  // namespace tint::cpu
