// Colorization as classification: the fused softmax cross-entropy with soft targets and per-pixel weights,
// and the annealed-mean decode (engine/backend.h states the math).
//
// One thread per pixel: a pixel's classes are hw floats apart, so the threads of a warp, holding adjacent
// pixels, read adjacent addresses for every class (coalesced), and no thread ever needs another's values.
// The forward loss follows reduce_loss.cu's rule for determinism: ONE block of a fixed size, each thread
// summing a fixed strided share of the pixels in order, then the fixed tree of block_reduce.h, so the bits
// never depend on scheduling. That caps the forward at one SM's bandwidth (k reads per pixel, a few ms for a
// batch of 8 at 128 px on an H100); the backward, which writes every logit's gradient, runs on a full grid.
// clang-format off: cuda_compat.h must come first (it defines __device__ and friends for the emulator build).
#include "kernels/cuda/cuda_compat.h"
// clang-format on

#include <cstdint>

#include "kernels/cuda/block_reduce.h"
#include "kernels/cuda/ops.h"

namespace tint {
namespace TINT_CUDA_NS {

namespace {

constexpr int kThreads = 1024;

// The largest of a pixel's k values (stride hw) and sum_c exp((z_c - max) * inv_t).
struct PixelSoftmax {
  float zmax, sum_exp;
};
__device__ __forceinline__ PixelSoftmax pixel_softmax(const float* __restrict__ z, int k, int64_t hw,
                                                      float inv_t) {
  float zmax = z[0];
  for (int c = 1; c < k; ++c) zmax = fmaxf(zmax, z[int64_t(c) * hw]);
  float sum_exp = 0.0f;
  for (int c = 0; c < k; ++c) sum_exp += expf((z[int64_t(c) * hw] - zmax) * inv_t);
  return {zmax, sum_exp};
}

__global__ void softmax_ce_forward_kernel(float* __restrict__ out2, const float* __restrict__ logits,
                                          const float* __restrict__ target, const float* __restrict__ weight,
                                          const float* __restrict__ mask, int n, int k, int64_t hw) {
  __shared__ float scratch[kThreads];
  const int64_t pixels = int64_t(n) * hw;
  float s = 0.0f, m_sum = 0.0f;
  for (int64_t p = threadIdx.x; p < pixels; p += blockDim.x) {
    const int64_t base = (p / hw) * k * hw + p % hw;
    const float* z = logits + base;
    const float* t = target + base;
    const PixelSoftmax sm = pixel_softmax(z, k, hw, 1.0f);
    // ce = -sum_c t_c (z_c - max - log sum_exp) = T log(sum_exp) - sum_c t_c (z_c - max)
    float t_sum = 0.0f, tz = 0.0f;
    for (int c = 0; c < k; ++c) {
      const float tv = t[int64_t(c) * hw];
      t_sum += tv;
      tz += tv * (z[int64_t(c) * hw] - sm.zmax);
    }
    const float m = mask ? mask[p] : 1.0f;
    const float w = weight ? weight[p] : 1.0f;
    s += m * w * (t_sum * logf(sm.sum_exp) - tz);
    m_sum += m;
  }
  const float loss_sum = block_sum(s, scratch);
  // Mask sums are whole numbers, exact in float up to 2^24 pixels.
  const float count = block_sum(m_sum, scratch);
  if (threadIdx.x == 0) {
    out2[0] = count > 0.0f ? loss_sum / count : 0.0f;
    out2[1] = count;
  }
}

__global__ void softmax_ce_backward_kernel(float* __restrict__ dlogits, const float* __restrict__ grad_loss,
                                           const float* __restrict__ out2, const float* __restrict__ logits,
                                           const float* __restrict__ target, const float* __restrict__ weight,
                                           const float* __restrict__ mask, int n, int k, int64_t hw) {
  const float count = out2[1];
  const float g = count > 0.0f ? grad_loss[0] / count : 0.0f;
  const int64_t pixels = int64_t(n) * hw;
  for (int64_t p = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; p < pixels;
       p += int64_t(gridDim.x) * blockDim.x) {
    const int64_t base = (p / hw) * k * hw + p % hw;
    const float* z = logits + base;
    const float* t = target + base;
    const PixelSoftmax sm = pixel_softmax(z, k, hw, 1.0f);
    float t_sum = 0.0f;
    for (int c = 0; c < k; ++c) t_sum += t[int64_t(c) * hw];
    const float scale = g * (mask ? mask[p] : 1.0f) * (weight ? weight[p] : 1.0f);
    const float inv_sum = 1.0f / sm.sum_exp;
    for (int c = 0; c < k; ++c) {
      const int64_t off = int64_t(c) * hw;
      const float prob = expf(z[off] - sm.zmax) * inv_sum;
      dlogits[base + off] = scale * (t_sum * prob - t[off]);
    }
  }
}

__global__ void annealed_mean_decode_kernel(float* __restrict__ ab, const float* __restrict__ logits,
                                            const float* __restrict__ centres, float temperature, int n,
                                            int k, int64_t hw) {
  const int64_t pixels = int64_t(n) * hw;
  for (int64_t p = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; p < pixels;
       p += int64_t(gridDim.x) * blockDim.x) {
    const int64_t img = p / hw, i = p % hw;
    const float* z = logits + img * k * hw + i;
    float* out_a = ab + img * 2 * hw + i;
    if (temperature <= 0.0f) {
      int best = 0;
      for (int c = 1; c < k; ++c)
        if (z[int64_t(c) * hw] > z[int64_t(best) * hw]) best = c;
      out_a[0] = centres[2 * best];
      out_a[hw] = centres[2 * best + 1];
      continue;
    }
    const float inv_t = 1.0f / temperature;
    const PixelSoftmax sm = pixel_softmax(z, k, hw, inv_t);
    float sa = 0.0f, sb = 0.0f;
    for (int c = 0; c < k; ++c) {
      const float q = expf((z[int64_t(c) * hw] - sm.zmax) * inv_t);
      sa += q * centres[2 * c];
      sb += q * centres[2 * c + 1];
    }
    out_a[0] = sa / sm.sum_exp;
    out_a[hw] = sb / sm.sum_exp;
  }
}

}  // namespace

void softmax_ce_forward(const Stream& s, float* out2, const float* logits, const float* target,
                        const float* weight, const float* mask, int n, int k, int64_t hw) {
  TINT_LAUNCH(softmax_ce_forward_kernel, 1, kThreads, 0, stream_of(s), out2, logits, target, weight, mask, n,
              k, hw);
}

void softmax_ce_backward(const Stream& s, float* dlogits, const float* grad_loss, const float* out2,
                         const float* logits, const float* target, const float* weight, const float* mask,
                         int n, int k, int64_t hw) {
  const int64_t pixels = int64_t(n) * hw;
  if (pixels <= 0) return;
  TINT_LAUNCH(softmax_ce_backward_kernel, grid_for(pixels, 256), 256, 0, stream_of(s), dlogits, grad_loss,
              out2, logits, target, weight, mask, n, k, hw);
}

void annealed_mean_decode(const Stream& s, float* ab, const float* logits, const float* centres,
                          float temperature, int n, int k, int64_t hw) {
  const int64_t pixels = int64_t(n) * hw;
  if (pixels <= 0) return;
  TINT_LAUNCH(annealed_mean_decode_kernel, grid_for(pixels, 256), 256, 0, stream_of(s), ab, logits, centres,
              temperature, n, k, hw);
}

}  // namespace TINT_CUDA_NS
}  // namespace tint
