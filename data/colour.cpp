#include "data/colour.h"

#include <array>

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

}  // namespace

void rgb8_to_lab_scaled(const uint8_t* rgb, int64_t n, float* L, float* a, float* b) {
  const auto& lin = linear_table();
  for (int64_t i = 0; i < n; ++i) {
    float l, aa, bb;
    colour::linear_rgb_to_lab(lin[rgb[3 * i]], lin[rgb[3 * i + 1]], lin[rgb[3 * i + 2]], l, aa, bb);
    L[i] = colour::scale_L(l);
    a[i] = colour::scale_ab(aa);
    b[i] = colour::scale_ab(bb);
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
