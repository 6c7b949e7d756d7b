// Internal to kernels/cuda: the entries each op-family file defines, gathered into the Backend table by
// backend.cu. Include after kernels/cuda/cuda_compat.h (it uses TINT_CUDA_NS).
#pragma once

#include <cstdint>

#include "engine/backend.h"

namespace tint {
namespace TINT_CUDA_NS {

inline cudaStream_t stream_of(const Stream& s) { return static_cast<cudaStream_t>(s.handle); }

// Grid of a grid-stride loop: enough blocks to fill the device, never more than the work needs.
inline unsigned grid_for(int64_t work_items, int threads) {
  const int64_t blocks = (work_items + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 2048 ? 2048 : blocks));
}

// conv2d.cu
void conv2d_forward(const Stream&, float* y, const float* x, const float* w, const Conv2dShape&);
void conv2d_backward_data(const Stream&, float* dx, const float* dy, const float* w, const Conv2dShape&);
// The two above with the bias (nullptr: none) and the ReLU applied as each output element is stored; false
// where the variant (naive) stored the plain product instead (engine/backend.h).
bool conv2d_forward_epilogue(const Stream&, float* y, const float* x, const float* w, const float* bias, bool relu,
                             const Conv2dShape&);
bool conv2d_backward_data_epilogue(const Stream&, float* dx, const float* dy, const float* w, const float* bias,
                                   bool relu, const Conv2dShape&);
void conv2d_backward_weight(const Stream&, float* dw, const float* x, const float* dy, const Conv2dShape&);
size_t conv2d_workspace_bytes(const Conv2dShape&);

// elementwise.cu
void fill(const Stream&, float* y, float value, int64_t n);
void copy(const Stream&, float* y, const float* x, int64_t n);
void add(const Stream&, float* y, const float* a, const float* b, int64_t n);
void scale(const Stream&, float* y, const float* x, float alpha, int64_t n);
void axpy(const Stream&, float* y, const float* x, float alpha, int64_t n);
void broadcast_scalar(const Stream&, float* y, const float* s, float alpha, int64_t n);
void relu_forward(const Stream&, float* y, const float* x, int64_t n);
void relu_backward(const Stream&, float* dx, const float* dy, const float* x, int64_t n);
void tanh_forward(const Stream&, float* y, const float* x, int64_t n);
void tanh_backward(const Stream&, float* dx, const float* dy, const float* y, int64_t n);

// channels.cu: bias and skip connections
void bias_add(const Stream&, float* y, const float* bias, int n, int c, int64_t hw);
void bias_backward(const Stream&, float* dbias, const float* dy, int n, int c, int64_t hw);
void bias_relu_forward(const Stream&, float* y, const float* bias, int n, int c, int64_t hw);
void bias_relu_backward(const Stream&, float* dz, float* dbias, const float* dy, const float* y, int n, int c,
                        int64_t hw);
void concat_channels(const Stream&, float* y, const float* a, const float* b, int n, int ca, int cb, int64_t hw);
void split_channels(const Stream&, float* da, float* db, const float* dy, int n, int ca, int cb, int64_t hw);

// reduce_loss.cu
// The "tree" reductions (kernels/cuda/reduce.h) run when selected and `partial_bytes` of partials fit in the
// stream's workspace; otherwise the one-block kernels run.
bool reduce_in_tree(const Stream&, size_t partial_bytes);
// Loads in flight per thread in the tree's first pass: 1 under "tree", 4 under "tree4".
int reduce_tree_unroll();
// A launch's partials: one float per block of a grid sized from the shape alone. This cap keeps the
// partials of every variant inside kReductionWorkspaceBytes.
inline constexpr int kTreeMaxPartials = int(kReductionWorkspaceBytes / sizeof(float)) / 2;
void sum(const Stream&, float* out, const float* x, int64_t n);
void l1_loss_forward(const Stream&, float* loss_out2, const float* pred, const float* target, const float* mask,
                     int n, int c, int64_t hw);
void l1_loss_backward(const Stream&, float* dpred, const float* grad_loss, const float* loss_out2,
                      const float* pred, const float* target, const float* mask, int n, int c, int64_t hw);
void mse_loss_forward(const Stream&, float* loss_out2, const float* pred, const float* target, const float* mask,
                      int n, int c, int64_t hw);
void mse_loss_backward(const Stream&, float* dpred, const float* grad_loss, const float* loss_out2,
                       const float* pred, const float* target, const float* mask, int n, int c, int64_t hw);

// classification.cu
void softmax_ce_forward(const Stream&, float* loss_out2, const float* logits, const float* target,
                        const float* weight, const float* mask, int n, int k, int64_t hw);
void softmax_ce_backward(const Stream&, float* dlogits, const float* grad_loss, const float* loss_out2,
                         const float* logits, const float* target, const float* weight, const float* mask,
                         int n, int k, int64_t hw);
void annealed_mean_decode(const Stream&, float* ab, const float* logits, const float* centres,
                          float temperature, int n, int k, int64_t hw);

// adam.cu
void adam_step(const Stream&, float* param, const float* grad, float* m, float* v, int64_t n, const AdamHyper&);

}  // namespace TINT_CUDA_NS
}  // namespace tint
