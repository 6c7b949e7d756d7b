// Backward-data as an implicit convolution of dY (conv_algos.h algorithm "implicit"), without col2im.
//
// dx[c, i, j] = sum of dY[o, oi, oj] * W[o, c, p, q] over (o, p, q) with i = oi*sh - pad_h + p and
// j = oj*sw - pad_w + q. For a fixed stride phase of dx, (i + pad_h) % sh = rh and (j + pad_w) % sw = rw,
// only the taps p = rh + th*sh and q = rw + tw*sw reach it, and dY is read at row (i + pad_h - rh)/sh - th:
// a stride-1 correlation of dY with that phase's sub-kernel, flipped. Each phase is one GEMM
//
//   dX_phase[c_in, P_phase] = W_phase^T[c_in, c_out*nth*ntw] * col(dY)[c_out*nth*ntw, P_phase]
//
// with col(dY) built while packing (as gemm's forward does for x), so every dx element is written once and
// nothing is scattered-added. Stride 1 is the single phase with the whole kernel (dY convolved with W rotated
// by 180 degrees, channels swapped, padding kh-1-pad); the U-Net's 4x4 stride-2 layers are four phases with
// a 2x2 sub-kernel each. A phase that no tap reaches (kernel smaller than the stride) is written as zeros.
//
// Work is split into tasks that own disjoint dx elements (image x phase x pixel block x input-channel
// block); each task sums its block in a phase buffer over the whole depth in a fixed order, then writes it
// into dx in one interleaving pass, so the bits do not depend on the thread count. Scratch is thread-local
// and kept between calls.
#pragma once

#include "engine/backend.h"
#include "kernels/cpu/gemm_micro.h"

namespace tint {
class ThreadPool;
}

namespace tint::cpu {

// pool == nullptr runs on the calling thread. Takes every Conv2dShape.
void conv2d_backward_data_implicit(ThreadPool* pool, float* dx, const float* dy, const float* w,
                                   const Conv2dShape& s, Isa isa = best_isa());

}  // namespace tint::cpu
