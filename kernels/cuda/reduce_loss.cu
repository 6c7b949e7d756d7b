// sum and the masked L1/L2 losses. Determinism first: no float atomics, and a fixed order for every launch of
// a shape, so the bits never depend on scheduling. Two variants (kernels/cuda/reduce.h):
//   "block": ONE block of a fixed size, each thread summing a fixed strided share in order,
//     then a fixed tree (block_reduce.h). One block caps the bandwidth (10-40 GB/s measured on an H200,
//     benchmarks/results/2026-11-26-h200-igemm2), which is why "tree" exists.
//   "tree": a first pass over a grid sized from the shape alone (never from the device) writes one partial
//     per block into Stream::workspace; a one-block second pass adds the partials in a fixed tree. The
//     default (measured 18-57x faster than "block" on an H200, benchmarks/results/2026-11-30-h200-winograd).
//   "tree4": the same two passes with four independent loads in flight per thread and 4x the work per
//     block (sum reached 64% of the copy bandwidth under "tree": too few loads in flight, and a block tree
//     per 16 KB). Its own fixed order: four accumulators per thread, added in order before the block tree.
#include "kernels/cuda/cuda_compat.h"

#include <atomic>
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

#include "kernels/common/pointwise.h"
#include "kernels/cuda/block_reduce.h"
#include "kernels/cuda/ops.h"
#include "kernels/cuda/reduce.h"

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

// ---- "tree": two passes through the workspace ----------------------------------------------------------

constexpr int kTreeThreads = 256;
// Elements a first-pass thread adds at least, before the grid may grow: enough work per block to hide its
// launch and tree, few enough blocks that the second pass stays short.
constexpr int64_t kTreeItemsPerThread = 16;

const char* const kReduceVariantNames[] = {"block", "tree", "tree4"};
std::atomic<int> g_reduce_variant{1};  // "tree": reduce.h has the measurement

int blocks_for(int64_t items, int64_t cap, int unroll) {
  const int64_t per_block = int64_t(kTreeThreads) * kTreeItemsPerThread * unroll;
  const int64_t blocks = (items + per_block - 1) / per_block;
  return int(blocks < 1 ? 1 : (blocks > cap ? cap : blocks));
}

// U: loads in flight per thread (the elements first + (k*U + u) * stride go to accumulator u).
template <int U>
__global__ void sum_partials_kernel(float* __restrict__ partial, const float* __restrict__ x, int64_t n,
                                    bool vec) {
  __shared__ float scratch[kTreeThreads];
  const int64_t first = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  float acc[U] = {};
  int64_t done = 0;
  if (vec) {
    const float4* x4 = reinterpret_cast<const float4*>(x);
    const int64_t n4 = n / 4;
    for (int64_t i = first; i < n4; i += U * stride) {
      float4 v[U];
#pragma unroll
      for (int u = 0; u < U; ++u) v[u] = i + u * stride < n4 ? x4[i + u * stride] : make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
      for (int u = 0; u < U; ++u) acc[u] += (v[u].x + v[u].y) + (v[u].z + v[u].w);
    }
    done = n4 * 4;
  }
  for (int64_t i = done + first; i < n; i += stride) acc[0] += x[i];
  float s = acc[0];
#pragma unroll
  for (int u = 1; u < U; ++u) s += acc[u];
  const float total = block_sum(s, scratch);
  if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

__global__ void sum_combine_kernel(float* __restrict__ out, const float* __restrict__ partial, int count) {
  __shared__ float scratch[kTreeThreads];
  const float total = block_sum_row(partial, count, scratch);
  if (threadIdx.x == 0) out[0] = total;
}

// Grid (splits, n): block (s, b) takes the pixels s * blockDim.x + t of image b, striding over the splits,
// and adds the loss of all c channels of each pixel (the mask is read once per pixel). Partials: the loss
// sums first, then the mask sums, both at b * splits + s.
template <class F, int U>
__global__ void loss_partials_kernel(float* __restrict__ partial, const float* __restrict__ pred,
                                     const float* __restrict__ target, const float* __restrict__ mask, int c,
                                     int64_t hw) {
  __shared__ float scratch[kTreeThreads];
  const int b = blockIdx.y;
  const float* p = pred + int64_t(b) * c * hw;
  const float* q = target + int64_t(b) * c * hw;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  float sa[U] = {}, ma[U] = {};  // per pixel slot u of each step, added in order below
  for (int64_t i0 = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i0 < hw; i0 += U * stride) {
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t i = i0 + u * stride;
      if (i >= hw) break;
      float v = 0.0f;
      for (int ch = 0; ch < c; ++ch) v += F::value(p[ch * hw + i] - q[ch * hw + i]);
      if (mask) {
        const float w = mask[int64_t(b) * hw + i];
        sa[u] += w * v;
        ma[u] += w;
      } else {
        sa[u] += v;
      }
    }
  }
  float s = sa[0], m = ma[0];
#pragma unroll
  for (int u = 1; u < U; ++u) s += sa[u], m += ma[u];
  const int blocks = int(gridDim.x * gridDim.y), slot = b * int(gridDim.x) + int(blockIdx.x);
  const float loss_sum = block_sum(s, scratch);
  const float mask_sum = block_sum(m, scratch);
  if (threadIdx.x == 0) {
    partial[slot] = loss_sum;
    partial[blocks + slot] = mask_sum;
  }
}

__global__ void loss_combine_kernel(float* __restrict__ out2, const float* __restrict__ partial, int blocks,
                                    bool masked, int c, int64_t total) {
  __shared__ float scratch[kTreeThreads];
  const float loss_sum = block_sum_row(partial, blocks, scratch);
  // Mask sums are whole numbers, exact in float up to 2^24 pixels, in any order.
  const float mask_sum = block_sum_row(partial + blocks, blocks, scratch);
  const float count = masked ? float(c) * mask_sum : float(total);
  if (threadIdx.x == 0) {
    out2[0] = count > 0.0f ? loss_sum / count : 0.0f;
    out2[1] = count;
  }
}

template <class F>
void loss_forward(const Stream& s, float* out2, const float* pred, const float* target, const float* mask, int n,
                  int c, int64_t hw) {
  // Splits per image from hw alone; n * splits slots, each with a loss and a mask partial.
  const int unroll = reduce_tree_unroll();
  const int splits = blocks_for(hw, n <= kTreeMaxPartials ? kTreeMaxPartials / n : 1, unroll);
  const int64_t slots = int64_t(n) * splits;
  if (n > 0 && hw > 0 && reduce_in_tree(s, size_t(2 * slots) * sizeof(float))) {
    float* partial = static_cast<float*>(s.workspace);
    const dim3 grid(static_cast<unsigned>(splits), static_cast<unsigned>(n));
    if (unroll == 4)
      TINT_LAUNCH((loss_partials_kernel<F, 4>), grid, kTreeThreads, 0, stream_of(s), partial, pred, target, mask, c, hw);
    else
      TINT_LAUNCH((loss_partials_kernel<F, 1>), grid, kTreeThreads, 0, stream_of(s), partial, pred, target, mask, c, hw);
    TINT_LAUNCH(loss_combine_kernel, 1, kTreeThreads, 0, stream_of(s), out2, partial, int(slots),
                mask != nullptr, c, int64_t(n) * c * hw);
    return;
  }
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

// The selected tree variant's loads in flight per thread (tree 1, tree4 4); it also scales the items per
// thread, so the grid (and with it the bits) depends on the shape and the variant alone.
int reduce_tree_unroll() { return g_reduce_variant.load() == 2 ? 4 : 1; }

bool reduce_in_tree(const Stream& s, size_t partial_bytes) {
  return g_reduce_variant.load() >= 1 && s.workspace && reinterpret_cast<uintptr_t>(s.workspace) % 16 == 0 &&
         s.workspace_bytes >= partial_bytes && partial_bytes <= kReductionWorkspaceBytes;
}

const std::vector<std::string>& reduce_variants() {
  static const std::vector<std::string> names(std::begin(kReduceVariantNames), std::end(kReduceVariantNames));
  return names;
}

std::string reduce_variant() {
  return kReduceVariantNames[g_reduce_variant.load()];
}

void set_reduce_variant(const std::string& name) {
  const std::vector<std::string>& names = reduce_variants();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) {
      g_reduce_variant.store(int(i));
      return;
    }
  std::string valid;
  for (const std::string& v : names) valid += (valid.empty() ? "" : ", ") + v;
  raise_error(format_message("%s: unknown reduce variant '%s' (valid: %s)", TINT_BACKEND_NAME, name.c_str(),
                             valid.c_str()));
}

void sum(const Stream& s, float* out, const float* x, int64_t n) {
  const bool vec = reinterpret_cast<uintptr_t>(x) % 16 == 0;
  const int unroll = reduce_tree_unroll();
  const int blocks = blocks_for(n, kTreeMaxPartials, unroll);
  if (n > 0 && reduce_in_tree(s, size_t(blocks) * sizeof(float))) {
    // One block writes the result itself: the same sum a second pass over one partial would give.
    float* partial = blocks > 1 ? static_cast<float*>(s.workspace) : out;
    if (unroll == 4)
      TINT_LAUNCH(sum_partials_kernel<4>, unsigned(blocks), kTreeThreads, 0, stream_of(s), partial, x, n, vec);
    else
      TINT_LAUNCH(sum_partials_kernel<1>, unsigned(blocks), kTreeThreads, 0, stream_of(s), partial, x, n, vec);
    if (blocks > 1) TINT_LAUNCH(sum_combine_kernel, 1, kTreeThreads, 0, stream_of(s), out, partial, blocks);
    return;
  }
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
