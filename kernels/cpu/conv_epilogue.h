// What a convolution does to each output element as it stores it: add the channel's bias, then the ReLU
// (ops::Activation::relu). Applied while the output is still in cache, it saves the separate pass over the
// output that bias_add and bias_relu_forward make (engine/backend.h: conv2d_forward_epilogue).
//
// epilogue_row gives the bits of the backend's bias_add and bias_relu_forward, which call it too: the same
// float add, then the ReLU as a select that yields +0 wherever the sum is not above 0 (NaN included), as
// pointwise::relu does. GCC's generic vectors of 4 floats spell out what -O2 leaves scalar; the select is a
// bitwise and with the comparison's mask, because written as `m ? a : b` GCC 12 took the vectors apart lane
// by lane through the stack, 10x slower than the two passes it replaced (measured).
#pragma once

#include <cstdint>
#include <cstring>

#include "kernels/common/pointwise.h"

namespace tint::cpu {

struct ConvEpilogue {
  const float* bias = nullptr;  // per output channel, or none
  bool relu = false;
  bool any() const { return bias != nullptr || relu; }
  float bias_of(int64_t channel) const { return bias ? bias[channel] : 0.0f; }
};

namespace epilogue_detail {
using Float4 = float __attribute__((vector_size(16)));
using Int4 = int __attribute__((vector_size(16)));
inline Float4 load4(const float* p) {
  Float4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store4(float* p, Float4 v) { std::memcpy(p, &v, sizeof v); }
// where(keep > 0, v, +0), lane by lane (the ReLU is keep_positive(v, v); its backward keeps dy where y > 0).
inline Float4 keep_positive(Float4 v, Float4 keep) { return (Float4)((Int4)v & (keep > Float4{})); }
}  // namespace epilogue_detail

// y[i] = relu(y[i] + b) (relu) or y[i] + b, for i < n. Without a bias (b = 0) and with the ReLU, + 0
// changes only -0 to +0, which the ReLU maps to +0 either way.
inline void epilogue_row(float* y, int64_t n, float b, bool relu) {
  using namespace epilogue_detail;
  const int64_t whole = n / 8 * 8;  // (a bound GCC can see: `i + 8 <= n` made it warn of overflow)
  if (relu) {
    for (int64_t i = 0; i < whole; i += 8) {
      const Float4 u = load4(y + i) + b, v = load4(y + i + 4) + b;
      store4(y + i, keep_positive(u, u)), store4(y + i + 4, keep_positive(v, v));
    }
    for (int64_t i = whole; i < n; ++i) y[i] = pointwise::relu(y[i] + b);
  } else {
    for (int64_t i = 0; i < whole; i += 8) store4(y + i, load4(y + i) + b), store4(y + i + 4, load4(y + i + 4) + b);
    for (int64_t i = whole; i < n; ++i) y[i] += b;
  }
}

}  // namespace tint::cpu
