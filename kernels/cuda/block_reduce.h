// A block-wide sum in a fixed tree (shared memory, halving strides), so the result is bit-identical on every
// run: the engine's losses, sums and bias gradients promise determinism. Internal to kernels/cuda.
#pragma once

namespace tint {
namespace TINT_CUDA_NS {

// `scratch` holds blockDim.x floats; blockDim.x must be a power of two. Every thread of the block calls it;
// the total is returned to every thread. The trailing barrier lets the caller reuse `scratch` right away.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  const int t = threadIdx.x;
  scratch[t] = v;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (t < half) scratch[t] += scratch[t + half];
    __syncthreads();
  }
  const float total = scratch[0];
  __syncthreads();
  return total;
}

// The sum of `count` floats at `row`, the same bits on every run: thread t adds row[t], row[t + blockDim.x],
// ... in that order, then the tree above. Every thread of the block calls it; the total goes to every thread.
__device__ __forceinline__ float block_sum_row(const float* __restrict__ row, int count, float* scratch) {
  float s = 0.0f;
  for (int i = threadIdx.x; i < count; i += blockDim.x) s += row[i];
  return block_sum(s, scratch);
}

}  // namespace TINT_CUDA_NS
}  // namespace tint
