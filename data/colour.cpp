#include "data/colour.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace tint {
namespace {

// 8-bit sRGB -> linear light, computed once in double: the curve's pow() is the costly part of a
// conversion, and there are only 256 inputs.
const std::array<float, 256>& linear_table() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int i = 0; i < 256; ++i) t[i] = float(colour::srgb_to_linear(double(i) / 255.0));
    return t;
  }();
  return table;
}

// Lab's f(t) without libm's cbrtf (about 70% of the conversion's time): an exponent-bits first guess, then
// two Halley steps (cubic convergence: ~3e-2 -> ~1e-5 -> below float rounding). Branch-free, so the loop
// below vectorises. Agrees with colour::lab_f<double> to ~1e-7 relative (tested through the Lab values).
inline float fast_lab_f(float t) {
  const float x = t > 1e-30f ? t : 1e-30f;
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  bits = bits / 3 + 0x2a5137a0u;
  float y;
  std::memcpy(&y, &bits, 4);
  for (int k = 0; k < 2; ++k) {
    const float y3 = y * y * y;
    y = y * (y3 + 2.f * x) / (2.f * y3 + x);
  }
  const float linear = (float(colour::kKappa) * t + 16.f) / 116.f;
  return t > float(colour::kEpsilon) ? y : linear;
}

}  // namespace

void rgb8_to_lab_scaled(const uint8_t* rgb, int64_t n, float* L, float* a, float* b) {
  const auto& lin = linear_table();
  constexpr float kX = float(1.0 / colour::kWhiteX), kZ = float(1.0 / colour::kWhiteZ);
  // Two passes per chunk: table lookups (gathers, scalar), then contiguous arithmetic the compiler vectorises.
  constexpr int kChunk = 256;
  alignas(64) float r[kChunk], g[kChunk], bl[kChunk];
  for (int64_t start = 0; start < n; start += kChunk) {
    const int m = int(std::min<int64_t>(kChunk, n - start));
    const uint8_t* p = rgb + 3 * start;
    for (int i = 0; i < m; ++i) {
      r[i] = lin[p[3 * i]];
      g[i] = lin[p[3 * i + 1]];
      bl[i] = lin[p[3 * i + 2]];
    }
    float* Lo = L + start;
    float* ao = a + start;
    float* bo = b + start;
    for (int i = 0; i < m; ++i) {
      // The matrix of colour::linear_rgb_to_lab, with the white point folded in.
      const float fx = fast_lab_f((0.4124564f * r[i] + 0.3575761f * g[i] + 0.1804375f * bl[i]) * kX);
      const float fy = fast_lab_f(0.2126729f * r[i] + 0.7151522f * g[i] + 0.0721750f * bl[i]);
      const float fz = fast_lab_f((0.0193339f * r[i] + 0.1191920f * g[i] + 0.9503041f * bl[i]) * kZ);
      Lo[i] = (116.f * fy - 16.f) * (1.f / 50.f) - 1.f;
      ao[i] = (500.f / 110.f) * (fx - fy);
      bo[i] = (200.f / 110.f) * (fy - fz);
    }
  }
}

void lab_scaled_to_rgb8(const float* L, const float* a, const float* b, int64_t n, uint8_t* rgb) {
  for (int64_t i = 0; i < n; ++i) {
    float r, g, bl;
    colour::lab_to_srgb(colour::unscale_L(L[i]), colour::unscale_ab(a[i]), colour::unscale_ab(b[i]), r, g, bl);
    rgb[3 * i] = colour::to_u8(r);
    rgb[3 * i + 1] = colour::to_u8(g);
    rgb[3 * i + 2] = colour::to_u8(bl);
  }
}

}  // namespace tint
