// Backward-weight of a stride-1 convolution as one GEMM per kernel tap, on channels-last copies of x and dY
// that the micro-kernel reads in place: the "taps" algorithm.
//
// Why: the packed GEMM (conv_fast.cpp) builds col(x) transposed for backward-weight, an im2col gather plus
// a transpose per element of a K x P matrix (K = c_in*kh*kw), and uses each packed element c_out times. With
// c_out = 64 the packing costs about as much as the multiply-adds (perf: micro-kernel 66%, transposes,
// memmove and packing most of the rest). Here x and dY are each transposed once, and no im2col is built:
//
//   dW[o][c][p][q] = sum over b, i, j of dY[b][o][i][j] * xpad[b][c][i+p][j+q]
//
// Layout, per image b (wp = w_in + 2 pad_w, the padded row), each blocked by channels the way the
// micro-kernel's packed panels are (gemm_micro.h), so that a tap's panels are plain offsets into them:
//   xt[cb][ii][jj][c]  (kNR channels per block): xpad[cb*kNR + c][ii][jj] for ii < h_in + 2 pad_h, and one
//                      more zero row; zero in the padding and for channels past c_in
//   dyt[ob][i][jj][o]  (kMR channels per block): dY[ob*kMR + o][i][jj] for jj < w_out; zero for
//                      w_out <= jj < wp and for channels past c_out
// With the pixel index k = i*wp + jj of dyt, tap (p, q) reads xt at k + p*wp + q: a constant offset per tap.
// So for one tap the whole image is one GEMM over k: A = a block of dyt, B = a block of xt shifted by
// the tap's offset, both read in place by the micro-kernel. The zero columns jj >= w_out of dyt make the
// wrap into the next row add nothing; they cost (kw-1)/wp of the multiply-adds. The extra row keeps the last row's wrap in bounds
// (stride 1: h_in + 2 pad_h = h_out + kh - 1).
//
// Work split: tasks are (block of kNR input channels, group of taps); each sums its dW elements over images
// and blocks of pixels in one fixed order, so the bits do not depend on the thread count.
#pragma once

#include "engine/backend.h"
#include "kernels/cpu/gemm_micro.h"

namespace tint {
class ThreadPool;
}

namespace tint::cpu {

// Stride 1 on both axes (any kernel size and padding the shape allows).
bool taps_takes(const Conv2dShape& s);

// dw (c_out, c_in, kh, kw) from x (n, c_in, h_in, w_in) and dy (n, c_out, h_out, w_out).
void conv2d_backward_weight_taps(ThreadPool* pool, float* dw, const float* x, const float* dy, const Conv2dShape& s,
                                 Isa isa);

}  // namespace tint::cpu
