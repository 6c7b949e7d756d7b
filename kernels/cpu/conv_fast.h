// The fast float convolutions of the `cpu` backend: the three products of engine/backend.h as one packed,
// cache-blocked GEMM each, with the im2col done while packing (no full im2col matrix is ever built).
//
//   forward          Y_b[c_out, P]   = W[c_out, K]   * col(x_b)[K, P]        K = c_in*kh*kw, P = h_out*w_out
//   backward-data    dcol[K, P]      = W^T[K, c_out] * dY_b[c_out, P]        then col2im adds dcol into dx_b
//   backward-weight  dW[c_out, K]    = sum_b dY_b[c_out, P] * col(x_b)^T[P, K]
//
// Work is split into tasks that own disjoint outputs (forward: image x pixel block x c_out block;
// backward-data: image x input-channel group; backward-weight: c_out block x K block), and every output
// element is summed in an order that does not depend on the split, so the results are the same bits for
// any thread count. Scratch (packed panels) lives in thread-local buffers owned by conv_fast.cpp that grow
// to the largest shape seen and are kept: the contract's workspace is not used (workspace_bytes is 0).
// The operand every task reads the same way (W forward, W^T backward-data, dY backward-weight) is packed
// once per call into the calling thread's buffer, on the pool, before the tasks run, when enough tasks
// would otherwise each pack it again (conv_fast.cpp says when).
#pragma once

#include "engine/backend.h"
#include "kernels/cpu/conv_epilogue.h"
#include "kernels/cpu/gemm_micro.h"

namespace tint {
class ThreadPool;
}

namespace tint::cpu {

// pool == nullptr runs on the calling thread. isa: the micro-kernel to use (tests exercise every one the
// machine has; best_isa() otherwise).
// ep: the bias and ReLU applied to each tile of y after its last depth block, while it is in cache.
void conv2d_forward_fast(ThreadPool* pool, float* y, const float* x, const float* w, const Conv2dShape& s,
                         Isa isa = best_isa(), const ConvEpilogue& ep = {});
void conv2d_backward_data_fast(ThreadPool* pool, float* dx, const float* dy, const float* w,
                               const Conv2dShape& s, Isa isa = best_isa());
void conv2d_backward_weight_fast(ThreadPool* pool, float* dw, const float* x, const float* dy,
                                 const Conv2dShape& s, Isa isa = best_isa());

}  // namespace tint::cpu
