// sum and the masked L1/L2 losses. Determinism first: every reduction runs in ONE block of a fixed size, each
// thread summing a fixed strided share in order, then a fixed tree (block_reduce.h), so the bits never
// depend on scheduling. One block caps the bandwidth of these passes (a few hundred GB/s on an H100, enough
// for the loss of a colorizer, which reads 2 channels per pixel); a two-pass version over Stream::workspace
// would lift the cap if the profile ever shows it.
#include "kernels/cuda/cuda_compat.h"

#include <cstdint>

#include "kernels/common/pointwise.h"
#include "kernels/cuda/block_reduce.h"
#include "kernels/cuda/ops.h"

namespace tint {
namespace TINT_CUDA_NS {

namespace {

constexpr int kThreads = 1024;

struct L1 {
  __host__ __device__ static float value(float d) { return fabsf(d); }
  __host__ __device__ static float grad(float d) { return pointwise::l1_grad(d); }
};
struct L2 {
  __host__ __device__ static float value(float d) { return d * d; }
  __host__ __device__ static float grad(float d) { return pointwise::mse_grad(d); }
};

__global__ void sum_kernel(float* __restrict__ out, const float* __restrict__ x, int64_t n, bool vec) {
  __shared__ float scratch[kThreads];
  float s = 0.0f;
  int64_t done = 0;
  if (vec) {
    const float4* x4 = reinterpret_cast<const float4*>(x);
    for (int64_t i = threadIdx.x; i < n / 4; i += blockDim.x) {
      const float4 v = x4[i];
      s += (v.x + v.y) + (v.z + v.w);
    }
    done = n / 4 * 4;
  }
  for (int64_t i = done + threadIdx.x; i < n; i += blockDim.x) s += x[i];
  const float total = block_sum(s, scratch);
  if (threadIdx.x == 0) out[0] = total;
}

template <class F>
__global__ void loss_forward_kernel(float* __restrict__ out2, const float* __restrict__ pred,
                                    const float* __restrict__ target, const float* __restrict__ mask, int n, int c,
                                    int64_t hw) {
  __shared__ float scratch[kThreads];
  const int64_t total = int64_t(n) * c * hw;
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < total; i += blockDim.x) {
    const float v = F::value(pred[i] - target[i]);
    if (mask) {
      const int64_t img = i / (int64_t(c) * hw);
      s += mask[img * hw + i % hw] * v;
    } else {
      s += v;
    }
  }
  float m = 0.0f;
  if (mask)
    for (int64_t i = threadIdx.x; i < int64_t(n) * hw; i += blockDim.x) m += mask[i];
  const float loss_sum = block_sum(s, scratch);
  // Mask sums are whole numbers, exact in float up to 2^24 pixels.
  const float count = mask ? float(c) * block_sum(m, scratch) : float(total);
  if (threadIdx.x == 0) {
    out2[0] = count > 0.0f ? loss_sum / count : 0.0f;
    out2[1] = count;
  }
}

template <class F>
__global__ void loss_backward_kernel(float* __restrict__ dpred, const float* __restrict__ grad_loss,
                                     const float* __restrict__ out2, const float* __restrict__ pred,
                                     const float* __restrict__ target, const float* __restrict__ mask, int n, int c,
                                     int64_t hw) {
  const float count = out2[1];
  const float k = count > 0.0f ? grad_loss[0] / count : 0.0f;
  const int64_t total = int64_t(n) * c * hw;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    float g = k * F::grad(pred[i] - target[i]);
    if (mask) g *= mask[i / (int64_t(c) * hw) * hw + i % hw];
    dpred[i] = g;
  }
}

template <class F>
void loss_forward(const Stream& s, float* out2, const float* pred, const float* target, const float* mask, int n,
                  int c, int64_t hw) {
  TINT_LAUNCH(loss_forward_kernel<F>, 1, kThreads, 0, stream_of(s), out2, pred, target, mask, n, c, hw);
}

template <class F>
void loss_backward(const Stream& s, float* dpred, const float* grad_loss, const float* out2, const float* pred,
                   const float* target, const float* mask, int n, int c, int64_t hw) {
  const int64_t total = int64_t(n) * c * hw;
  if (total <= 0) return;
  TINT_LAUNCH(loss_backward_kernel<F>, grid_for(total, 256), 256, 0, stream_of(s), dpred, grad_loss, out2, pred,
              target, mask, n, c, hw);
}

}  // namespace

void sum(const Stream& s, float* out, const float* x, int64_t n) {
  const bool vec = reinterpret_cast<uintptr_t>(x) % 16 == 0;
  TINT_LAUNCH(sum_kernel, 1, kThreads, 0, stream_of(s), out, x, n, vec);
}

void l1_loss_forward(const Stream& s, float* out2, const float* pred, const float* target, const float* mask, int n,
                     int c, int64_t hw) {
  loss_forward<L1>(s, out2, pred, target, mask, n, c, hw);
}
void l1_loss_backward(const Stream& s, float* dpred, const float* grad_loss, const float* out2, const float* pred,
                      const float* target, const float* mask, int n, int c, int64_t hw) {
  loss_backward<L1>(s, dpred, grad_loss, out2, pred, target, mask, n, c, hw);
}
void mse_loss_forward(const Stream& s, float* out2, const float* pred, const float* target, const float* mask, int n,
                      int c, int64_t hw) {
  loss_forward<L2>(s, out2, pred, target, mask, n, c, hw);
}
void mse_loss_backward(const Stream& s, float* dpred, const float* grad_loss, const float* out2, const float* pred,
                       const float* target, const float* mask, int n, int c, int64_t hw) {
  loss_backward<L2>(s, dpred, grad_loss, out2, pred, target, mask, n, c, hw);
}

}  // namespace TINT_CUDA_NS
}  // namespace tint
