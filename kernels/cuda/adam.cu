// The fused Adam/AdamW step: one launch over the flat parameter buffer (parameters, gradients and both
// moments each live in one contiguous range), reading p, g, m, v and writing p, m, v once: 28 bytes per
// parameter, memory-bound. The per-element update and the per-step constants are kernels/common/pointwise.h,
// shared with the CPU backends.
#include "kernels/cuda/cuda_compat.h"

#include <cmath>
#include <cstdint>

#include "kernels/common/pointwise.h"
#include "kernels/cuda/ops.h"

namespace tint {
namespace TINT_CUDA_NS {

namespace {

using AdamArgs = pointwise::AdamConstants<float>;

__device__ __forceinline__ void adam_one(float& p, float g, float& m, float& v, const AdamArgs& a) {
  pointwise::adam_update(p, g, m, v, a);
}

__global__ void adam_kernel(float* __restrict__ param, const float* __restrict__ grad, float* __restrict__ m,
                            float* __restrict__ v, int64_t n, int64_t n_vec4, AdamArgs a) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t first = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  for (int64_t i = first; i < n_vec4; i += stride) {
    float4 p = reinterpret_cast<float4*>(param)[i];
    const float4 g = reinterpret_cast<const float4*>(grad)[i];
    float4 mm = reinterpret_cast<float4*>(m)[i];
    float4 vv = reinterpret_cast<float4*>(v)[i];
    adam_one(p.x, g.x, mm.x, vv.x, a);
    adam_one(p.y, g.y, mm.y, vv.y, a);
    adam_one(p.z, g.z, mm.z, vv.z, a);
    adam_one(p.w, g.w, mm.w, vv.w, a);
    reinterpret_cast<float4*>(param)[i] = p;
    reinterpret_cast<float4*>(m)[i] = mm;
    reinterpret_cast<float4*>(v)[i] = vv;
  }
  for (int64_t i = n_vec4 * 4 + first; i < n; i += stride) adam_one(param[i], grad[i], m[i], v[i], a);
}

}  // namespace

void adam_step(const Stream& s, float* param, const float* grad, float* m, float* v, int64_t n, const AdamHyper& h) {
  if (n <= 0) return;
  const AdamArgs a = pointwise::adam_constants<float>(h);
  const auto al = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  const int64_t n_vec4 = al(param) && al(grad) && al(m) && al(v) ? n / 4 : 0;
  TINT_LAUNCH(adam_kernel, grid_for(n_vec4 > 0 ? n_vec4 : n, 256), 256, 0, stream_of(s), param, grad, m, v, n, n_vec4,
              a);
}

}  // namespace TINT_CUDA_NS
}  // namespace tint
