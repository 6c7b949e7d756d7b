// Element-wise kernels: fills, copies, add/scale/axpy, broadcast of a device scalar, ReLU and tanh with their
// backwards. All are memory-bound, so one templated grid-stride kernel does the loop: float4 accesses when
// every pointer is 16-byte aligned (a scalar tail finishes n % 4), plain floats otherwise.
#include "kernels/cuda/cuda_compat.h"

#include <cstdint>

#include "kernels/common/pointwise.h"
#include "kernels/cuda/ops.h"

namespace tint {
namespace TINT_CUDA_NS {

namespace {

// Op: `__device__ float operator()(float y_old, float a, float b) const`; y_old is read only when kReadsY.
template <class Op, bool kReadsA, bool kReadsB, bool kReadsY>
__global__ void map_kernel(float* __restrict__ y, const float* __restrict__ a, const float* __restrict__ b,
                           int64_t n, int64_t n_vec4, Op op) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t first = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  for (int64_t i = first; i < n_vec4; i += stride) {
    const float4 va = kReadsA ? reinterpret_cast<const float4*>(a)[i] : make_float4(0.f, 0.f, 0.f, 0.f);
    const float4 vb = kReadsB ? reinterpret_cast<const float4*>(b)[i] : make_float4(0.f, 0.f, 0.f, 0.f);
    const float4 vy = kReadsY ? reinterpret_cast<const float4*>(y)[i] : make_float4(0.f, 0.f, 0.f, 0.f);
    reinterpret_cast<float4*>(y)[i] =
        make_float4(op(vy.x, va.x, vb.x), op(vy.y, va.y, vb.y), op(vy.z, va.z, vb.z), op(vy.w, va.w, vb.w));
  }
  for (int64_t i = n_vec4 * 4 + first; i < n; i += stride)
    y[i] = op(kReadsY ? y[i] : 0.0f, kReadsA ? a[i] : 0.0f, kReadsB ? b[i] : 0.0f);
}

inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <bool kReadsA, bool kReadsB, bool kReadsY, class Op>
void run_map(const Stream& s, float* y, const float* a, const float* b, int64_t n, Op op) {
  if (n <= 0) return;
  const bool vec = aligned16(y) && (!kReadsA || aligned16(a)) && (!kReadsB || aligned16(b));
  const int64_t n_vec4 = vec ? n / 4 : 0;
  const unsigned grid = grid_for(n_vec4 > 0 ? n_vec4 : n, 256);
  TINT_LAUNCH((map_kernel<Op, kReadsA, kReadsB, kReadsY>), grid, 256, 0, stream_of(s), y, a, b, n, n_vec4, op);
}

struct FillOp {
  float value;
  __device__ float operator()(float, float, float) const { return value; }
};
struct CopyOp {
  __device__ float operator()(float, float a, float) const { return a; }
};
struct AddOp {
  __device__ float operator()(float, float a, float b) const { return a + b; }
};
struct ScaleOp {
  float alpha;
  __device__ float operator()(float, float a, float) const { return alpha * a; }
};
struct AxpyOp {
  float alpha;
  __device__ float operator()(float y, float a, float) const { return fmaf(alpha, a, y); }
};
struct BroadcastOp {
  const float* s;
  float alpha;
  __device__ float operator()(float, float, float) const { return alpha * s[0]; }
};
struct ReluOp {
  __device__ float operator()(float, float x, float) const { return pointwise::relu(x); }
};
struct ReluBackwardOp {  // a = dy, b = x
  __device__ float operator()(float, float dy, float x) const { return pointwise::relu_backward(dy, x); }
};
struct TanhOp {
  __device__ float operator()(float, float x, float) const { return tanhf(x); }
};
struct TanhBackwardOp {  // a = dy, b = y
  __device__ float operator()(float, float dy, float y) const { return pointwise::tanh_backward(dy, y); }
};

}  // namespace

void fill(const Stream& s, float* y, float value, int64_t n) {
  run_map<false, false, false>(s, y, nullptr, nullptr, n, FillOp{value});
}
void copy(const Stream& s, float* y, const float* x, int64_t n) {
  run_map<true, false, false>(s, y, x, nullptr, n, CopyOp{});
}
void add(const Stream& s, float* y, const float* a, const float* b, int64_t n) {
  run_map<true, true, false>(s, y, a, b, n, AddOp{});
}
void scale(const Stream& s, float* y, const float* x, float alpha, int64_t n) {
  run_map<true, false, false>(s, y, x, nullptr, n, ScaleOp{alpha});
}
void axpy(const Stream& s, float* y, const float* x, float alpha, int64_t n) {
  run_map<true, false, true>(s, y, x, nullptr, n, AxpyOp{alpha});
}
void broadcast_scalar(const Stream& s, float* y, const float* scalar, float alpha, int64_t n) {
  run_map<false, false, false>(s, y, nullptr, nullptr, n, BroadcastOp{scalar, alpha});
}
void relu_forward(const Stream& s, float* y, const float* x, int64_t n) {
  run_map<true, false, false>(s, y, x, nullptr, n, ReluOp{});
}
void relu_backward(const Stream& s, float* dx, const float* dy, const float* x, int64_t n) {
  run_map<true, true, false>(s, dx, dy, x, n, ReluBackwardOp{});
}
void tanh_forward(const Stream& s, float* y, const float* x, int64_t n) {
  run_map<true, false, false>(s, y, x, nullptr, n, TanhOp{});
}
void tanh_backward(const Stream& s, float* dx, const float* dy, const float* y, int64_t n) {
  run_map<true, true, false>(s, dx, dy, y, n, TanhBackwardOp{});
}

}  // namespace TINT_CUDA_NS
}  // namespace tint
