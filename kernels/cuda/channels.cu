// Per-channel kernels: bias add and its gradient, channel concat (the U-Net's skip connections) and split.
// The vector paths need hw % 4 == 0 so that a float4 never straddles two channels.
#include "kernels/cuda/cuda_compat.h"

#include <algorithm>
#include <cstdint>

#include "kernels/common/pointwise.h"
#include "kernels/cuda/block_reduce.h"
#include "kernels/cuda/ops.h"

namespace tint {
namespace TINT_CUDA_NS {

namespace {

constexpr int kReduceThreads = 256;

inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// `groups` runs of `group` floats (group = hw, or hw/4 float4s); run r belongs to channel r % c.
// Relu: then max(., 0), the fused bias_relu_forward (bias nullptr: the ReLU alone).
template <class T, bool Relu = false>
__global__ void bias_add_kernel(T* __restrict__ y, const float* __restrict__ bias, int c, int64_t group,
                                int64_t total) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    T v = y[i];
    if (!Relu || bias) {
      const float b = bias[(i / group) % c];
      if constexpr (sizeof(T) == sizeof(float4)) {
        v.x += b, v.y += b, v.z += b, v.w += b;
      } else {
        v += b;
      }
    }
    if constexpr (Relu) {
      if constexpr (sizeof(T) == sizeof(float4)) {
        v.x = pointwise::relu(v.x), v.y = pointwise::relu(v.y), v.z = pointwise::relu(v.z), v.w = pointwise::relu(v.w);
      } else {
        v = pointwise::relu(v);
      }
    }
    y[i] = v;
  }
}

// What the bias gradient sums: dy itself, or (Relu, the fused bias_relu_backward) dz = dy * (y > 0), which
// is also stored. Element i of a row, or float4 i of it.
template <bool Relu>
__device__ inline float grad_at(const float* dy, const float* y, float* dz, int64_t i) {
  if constexpr (!Relu) {
    return dy[i];
  } else {
    const float v = pointwise::relu_backward(dy[i], y[i]);
    dz[i] = v;
    return v;
  }
}
template <bool Relu>
__device__ inline float4 grad4_at(const float* dy, const float* y, float* dz, int64_t i) {
  float4 v = reinterpret_cast<const float4*>(dy)[i];
  if constexpr (Relu) {
    const float4 o = reinterpret_cast<const float4*>(y)[i];
    v = make_float4(pointwise::relu_backward(v.x, o.x), pointwise::relu_backward(v.y, o.y),
                    pointwise::relu_backward(v.z, o.z), pointwise::relu_backward(v.w, o.w));
    reinterpret_cast<float4*>(dz)[i] = v;
  }
  return v;
}

// One block per channel: each thread walks its share of every image in a fixed order, then a fixed tree.
// y and dz: the fused backward's (Relu); unused otherwise.
template <bool Relu = false>
__global__ void bias_backward_kernel(float* __restrict__ dbias, const float* __restrict__ dy,
                                     const float* __restrict__ y, float* __restrict__ dz, int n, int c, int64_t hw,
                                     bool vec) {
  __shared__ float scratch[kReduceThreads];
  for (int ch = blockIdx.x; ch < c; ch += gridDim.x) {
    float s = 0.0f;
    for (int b = 0; b < n; ++b) {
      const int64_t at = (int64_t(b) * c + ch) * hw;
      if (vec) {
        for (int64_t i = threadIdx.x; i < hw / 4; i += blockDim.x) {
          const float4 v = grad4_at<Relu>(dy + at, y + at, dz + at, i);
          s += (v.x + v.y) + (v.z + v.w);
        }
      } else {
        for (int64_t i = threadIdx.x; i < hw; i += blockDim.x) s += grad_at<Relu>(dy + at, y + at, dz + at, i);
      }
    }
    const float total = block_sum(s, scratch);
    if (threadIdx.x == 0) dbias[ch] = total;
  }
}

// The "tree" variant (kernels/cuda/reduce.h): grid (splits, c); block (s, ch) adds its strided share of
// channel ch of every image, in image order, into partial[ch * splits + s]; bias_combine_kernel adds each
// channel's splits in a fixed tree. The splits depend on hw alone, so the bits depend on the shape alone.
// U: loads in flight per thread ("tree4": 4), each into its own accumulator, added in order at the end.
template <int U, bool Relu = false>
__global__ void bias_partials_kernel(float* __restrict__ partial, const float* __restrict__ dy,
                                     const float* __restrict__ y, float* __restrict__ dz, int n, int c, int64_t hw,
                                     bool vec) {
  __shared__ float scratch[kReduceThreads];
  const int ch = blockIdx.y;
  const int64_t first = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  float acc[U] = {};
  for (int b = 0; b < n; ++b) {
    const int64_t at = (int64_t(b) * c + ch) * hw;
    if (vec) {
      const int64_t n4 = hw / 4;
      for (int64_t i = first; i < n4; i += U * stride) {
        float4 v[U];
#pragma unroll
        for (int u = 0; u < U; ++u)
          v[u] = i + u * stride < n4 ? grad4_at<Relu>(dy + at, y + at, dz + at, i + u * stride)
                                     : make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
        for (int u = 0; u < U; ++u) acc[u] += (v[u].x + v[u].y) + (v[u].z + v[u].w);
      }
    } else {
      for (int64_t i = first; i < hw; i += U * stride)
#pragma unroll
        for (int u = 0; u < U; ++u)
          if (i + u * stride < hw) acc[u] += grad_at<Relu>(dy + at, y + at, dz + at, i + u * stride);
    }
  }
  float s = acc[0];
#pragma unroll
  for (int u = 1; u < U; ++u) s += acc[u];
  const float total = block_sum(s, scratch);
  if (threadIdx.x == 0) partial[int64_t(ch) * gridDim.x + blockIdx.x] = total;
}

__global__ void bias_combine_kernel(float* __restrict__ dbias, const float* __restrict__ partial,
                                    int splits) {
  __shared__ float scratch[kReduceThreads];
  const float total = block_sum_row(partial + int64_t(blockIdx.x) * splits, splits, scratch);
  if (threadIdx.x == 0) dbias[blockIdx.x] = total;
}

// y (n, ca+cb, run) from a (n, ca, run) and b (n, cb, run); `run` counted in T (float or float4).
template <class T>
__global__ void concat_kernel(T* __restrict__ y, const T* __restrict__ a, const T* __restrict__ b, int ca, int cb,
                              int64_t run, int64_t total) {
  const int64_t per_img = int64_t(ca + cb) * run, a_len = int64_t(ca) * run, b_len = int64_t(cb) * run;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t img = i / per_img, r = i - img * per_img;
    y[i] = r < a_len ? a[img * a_len + r] : b[img * b_len + (r - a_len)];
  }
}

template <class T>
__global__ void split_kernel(T* __restrict__ da, T* __restrict__ db, const T* __restrict__ dy, int ca, int cb,
                             int64_t run, int64_t total) {
  const int64_t per_img = int64_t(ca + cb) * run, a_len = int64_t(ca) * run, b_len = int64_t(cb) * run;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t img = i / per_img, r = i - img * per_img;
    if (r < a_len) {
      if (da) da[img * a_len + r] = dy[i];
    } else if (db) {
      db[img * b_len + (r - a_len)] = dy[i];
    }
  }
}

}  // namespace

namespace {

template <bool Relu>
void bias_add_launch(const Stream& s, float* y, const float* bias, int n, int c, int64_t hw) {
  const int64_t total = int64_t(n) * c * hw;
  if (total <= 0) return;
  if (hw % 4 == 0 && aligned16(y)) {
    TINT_LAUNCH((bias_add_kernel<float4, Relu>), grid_for(total / 4, 256), 256, 0, stream_of(s),
                reinterpret_cast<float4*>(y), bias, c, hw / 4, total / 4);
  } else {
    TINT_LAUNCH((bias_add_kernel<float, Relu>), grid_for(total, 256), 256, 0, stream_of(s), y, bias, c, hw, total);
  }
}

// bias_backward, or (Relu) the fused bias_relu_backward: the same grid and order, so dbias gets the same
// bits as bias_backward run on dz (when vec is the same: dy, y and dz all 16-byte aligned, as the engine's
// tensors are).
template <bool Relu>
void bias_backward_launch(const Stream& s, float* dbias, const float* dy, const float* y, float* dz, int n, int c,
                          int64_t hw) {
  if (c <= 0) return;
  const bool vec = hw % 4 == 0 && aligned16(dy) && (!Relu || (aligned16(y) && aligned16(dz)));
  // Each thread of a split adds at least 16 floats of every image's row (whatever `vec`, for the same bits).
  const int unroll = reduce_tree_unroll();
  const int64_t per_split = int64_t(kReduceThreads) * 16 * unroll, cap = std::max(1, kTreeMaxPartials * 2 / c);
  const int splits = int(std::min<int64_t>(std::max<int64_t>((hw + per_split - 1) / per_split, 1), cap));
  if (n > 0 && c <= 65535 && reduce_in_tree(s, size_t(c) * splits * sizeof(float))) {
    // One split: its partial is the sum itself.
    float* partial = splits > 1 ? static_cast<float*>(s.workspace) : dbias;
    const dim3 grid(static_cast<unsigned>(splits), static_cast<unsigned>(c));
    if (unroll == 4)
      TINT_LAUNCH((bias_partials_kernel<4, Relu>), grid, kReduceThreads, 0, stream_of(s), partial, dy, y, dz, n, c,
                  hw, vec);
    else
      TINT_LAUNCH((bias_partials_kernel<1, Relu>), grid, kReduceThreads, 0, stream_of(s), partial, dy, y, dz, n, c,
                  hw, vec);
    if (splits > 1)
      TINT_LAUNCH(bias_combine_kernel, unsigned(c), kReduceThreads, 0, stream_of(s), dbias, partial, splits);
    return;
  }
  const unsigned grid = static_cast<unsigned>(c < 65535 ? c : 65535);
  TINT_LAUNCH((bias_backward_kernel<Relu>), grid, kReduceThreads, 0, stream_of(s), dbias, dy, y, dz, n, c, hw, vec);
}

}  // namespace

void bias_add(const Stream& s, float* y, const float* bias, int n, int c, int64_t hw) {
  bias_add_launch<false>(s, y, bias, n, c, hw);
}

void bias_backward(const Stream& s, float* dbias, const float* dy, int n, int c, int64_t hw) {
  bias_backward_launch<false>(s, dbias, dy, nullptr, nullptr, n, c, hw);
}

void bias_relu_forward(const Stream& s, float* y, const float* bias, int n, int c, int64_t hw) {
  bias_add_launch<true>(s, y, bias, n, c, hw);
}

void bias_relu_backward(const Stream& s, float* dz, float* dbias, const float* dy, const float* y, int n, int c,
                        int64_t hw) {
  if (!dbias) return relu_backward(s, dz, dy, y, int64_t(n) * c * hw);
  bias_backward_launch<true>(s, dbias, dy, y, dz, n, c, hw);
}

void concat_channels(const Stream& s, float* y, const float* a, const float* b, int n, int ca, int cb, int64_t hw) {
  const int64_t total = int64_t(n) * (ca + cb) * hw;
  if (total <= 0) return;
  if (hw % 4 == 0 && aligned16(y) && aligned16(a) && aligned16(b)) {
    TINT_LAUNCH(concat_kernel<float4>, grid_for(total / 4, 256), 256, 0, stream_of(s), reinterpret_cast<float4*>(y),
                reinterpret_cast<const float4*>(a), reinterpret_cast<const float4*>(b), ca, cb, hw / 4, total / 4);
  } else {
    TINT_LAUNCH(concat_kernel<float>, grid_for(total, 256), 256, 0, stream_of(s), y, a, b, ca, cb, hw, total);
  }
}

void split_channels(const Stream& s, float* da, float* db, const float* dy, int n, int ca, int cb, int64_t hw) {
  const int64_t total = int64_t(n) * (ca + cb) * hw;
  if (total <= 0 || (!da && !db)) return;
  if (hw % 4 == 0 && aligned16(dy) && aligned16(da) && aligned16(db)) {
    TINT_LAUNCH(split_kernel<float4>, grid_for(total / 4, 256), 256, 0, stream_of(s), reinterpret_cast<float4*>(da),
                reinterpret_cast<float4*>(db), reinterpret_cast<const float4*>(dy), ca, cb, hw / 4, total / 4);
  } else {
    TINT_LAUNCH(split_kernel<float>, grid_for(total, 256), 256, 0, stream_of(s), da, db, dy, ca, cb, hw, total);
  }
}

}  // namespace TINT_CUDA_NS
}  // namespace tint
