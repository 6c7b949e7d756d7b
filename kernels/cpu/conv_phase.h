// Strided convolutions as stride-1 ones (conv_algos.h algorithm "phase"): space-to-depth on the input,
// then gemm's stride-1 path, whose im2col is a memcpy and whose col2im is a vectorised row add, where the
// strided ones are a gather and a scatter-add with a bounds test per element.
//
// Takes the shapes whose kernel is a multiple of the stride on both axes (kh % sh == 0, kw % sw == 0) with
// one stride above 1; the U-Net's 4x4 stride-2 pad-1 down convs and its up convs (whose forward is this
// backward-data) are the ones that matter.
//
// Index algebra. Let xpad be x with pad_h rows and pad_w columns of zeros around it (and zeros beyond), so
// xpad[r][t] = x[r - pad_h][t - pad_w]. The convolution reads
//   y[o][oi][oj] = sum over (c, p, q) of w[o][c][p][q] * xpad[c][sh*oi + p][sw*oj + q].
// Write p = sh*p' + a and q = sw*q' + b (a < sh, b < sw, p' < kh' = kh/sh, q' < kw' = kw/sw): the input row
// is sh*(oi + p') + a. With the s*s phases of each channel as channels of their own,
//   x'[c'][i][j] = xpad[c][sh*i + a][sw*j + b],      c' = (c*sh + a)*sw + b,
//   w'[o][c'][p'][q'] = w[o][c][sh*p' + a][sw*q' + b],
// the sum is y[o][oi][oj] = sum over (c', p', q') of w'[o][c'][p'][q'] * x'[c'][oi + p'][oj + q']: a
// stride-1, unpadded (k/s)x(k/s) convolution of x' with c_in*sh*sw input channels and the same depth K =
// c_in*kh*kw. x' needs rows i < h' = h_out + kh' - 1 and columns j < w' = w_out + kw' - 1, whatever h_in and
// w_in are: rows of xpad past the input (h_in + 2*pad_h not a multiple of sh, or rows the output never
// reaches when the shape's h_out is smaller) are read as zeros or not at all. The output size is the shape's
// h_out x w_out.
//
// The three products, each one pass of gemm on the derived shape (phase_shape) plus one re-layout pass:
//   forward          x -> x' (zeros for padding), w -> w', y = conv_s1(x', w')
//   backward-data    w -> w', dx' = conv_s1_backward_data(dY, w'), then depth-to-space: dx[c][r][t] =
//                    dx'[c'][i][j] with r + pad_h = sh*i + a, t + pad_w = sw*j + b; each x element is one x'
//                    element (the phases partition xpad), so this is a gather, not a sum; an x element
//                    past x' (never read by the convolution) gets 0, the padding ring of dx' is dropped
//   backward-weight  x -> x', dW' = conv_s1_backward_weight(x', dY), then dW[o][c][p][q] = dW'[o][c'][p'][q']
// Each sum runs inside gemm in an order that does not depend on the split, and the re-layouts only move
// values, so the bits do not depend on the thread count. x', w' and dW' live in buffers kept by the calling
// thread, grown to the largest shape seen (no allocation per call in the steady state); the re-layouts run
// on the pool, one task per (image, channel) plane or per output channel.
#pragma once

#include "engine/backend.h"
#include "kernels/cpu/conv_epilogue.h"
#include "kernels/cpu/gemm_micro.h"

namespace tint {
class ThreadPool;
}

namespace tint::cpu {

// Whether the phase split applies: kernel a multiple of the stride on both axes, some stride above 1.
bool phase_takes(const Conv2dShape& s);
// The stride-1 unpadded shape of x' (c_in*sh*sw channels of h' x w', kernel kh/sh x kw/sw) giving s's output.
Conv2dShape phase_shape(const Conv2dShape& s);

// Whether the phase split's stride-1 shape takes Winograd (conv_winograd.h): a 2x2 or 3x3 kernel after the
// split, as the 4x4 stride-2 convolutions' 2x2.
bool phase_winograd_takes(const Conv2dShape& s);

// pool == nullptr runs on the calling thread. s must satisfy phase_takes. winograd_m = 0 runs the stride-1
// convolution through gemm ("phase"); 4 or 2 through Winograd F(m x m, k/s x k/s) ("phase-winograd4",
// "phase-winograd2"), which needs phase_winograd_takes. The same signature as the Winograd products'. ep:
// the bias and ReLU, applied by the stride-1 convolution as it stores (forward), or by the depth-to-space
// as it writes each row of dx (backward-data, a transposed convolution's forward).
void conv2d_forward_phase(int winograd_m, ThreadPool* pool, float* y, const float* x, const float* w,
                          const Conv2dShape& s, Isa isa, const ConvEpilogue& ep = {});
void conv2d_backward_data_phase(int winograd_m, ThreadPool* pool, float* dx, const float* dy, const float* w,
                                const Conv2dShape& s, Isa isa, const ConvEpilogue& ep = {});
void conv2d_backward_weight_phase(int winograd_m, ThreadPool* pool, float* dw, const float* x, const float* dy,
                                  const Conv2dShape& s, Isa isa);

}  // namespace tint::cpu
