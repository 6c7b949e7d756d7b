// sRGB <-> CIE Lab (D65), exactly as DESIGN.md's Numerics states, as per-pixel formulas usable from host code
// and from CUDA kernels (colorize output, on-device augmentation later). Templated on the scalar so that tests
// compute references in double and the pipeline runs in float.
//
//   sRGB 8-bit -> [0,1] -> linear (IEC 61966-2-1 piecewise curve) -> XYZ (D65 matrix)
//   -> Lab with white Xn 0.95047, Yn 1.0, Zn 1.08883 and the CIE epsilon = 216/24389, kappa = 24389/27 form.
//   Network scaling: L/50 - 1, a/110, b/110.
//
// The matrix is the 7-digit form of IEC 61966-2-1's: its rows sum to the white point, so white maps to
// a = b = 0 to float precision (the 4-digit form leaves a ~ -0.03 on white).
#pragma once

#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define TINT_HD __host__ __device__ inline
#else
#define TINT_HD inline
#endif

namespace tint::colour {

// D65 reference white.
constexpr double kWhiteX = 0.95047, kWhiteY = 1.0, kWhiteZ = 1.08883;
constexpr double kEpsilon = 216.0 / 24389.0;
constexpr double kKappa = 24389.0 / 27.0;

template <class T>
TINT_HD T cube_root(T x) {
#if defined(__CUDA_ARCH__)
  return cbrt(x);
#else
  return std::cbrt(x);
#endif
}
template <class T>
TINT_HD T power(T x, T y) {
#if defined(__CUDA_ARCH__)
  return pow(x, y);
#else
  return std::pow(x, y);
#endif
}

// c in [0,1], gamma-encoded -> linear light.
template <class T>
TINT_HD T srgb_to_linear(T c) {
  return c <= T(0.04045) ? c / T(12.92) : power((c + T(0.055)) / T(1.055), T(2.4));
}
// Linear light -> gamma-encoded, clamped to [0,1] (Lab can name colours outside the sRGB gamut).
template <class T>
TINT_HD T linear_to_srgb(T c) {
  c = c < T(0) ? T(0) : (c > T(1) ? T(1) : c);
  return c <= T(0.0031308) ? c * T(12.92) : T(1.055) * power(c, T(1) / T(2.4)) - T(0.055);
}

template <class T>
TINT_HD T lab_f(T t) {
  return t > T(kEpsilon) ? cube_root(t) : (T(kKappa) * t + T(16)) / T(116);
}
template <class T>
TINT_HD T lab_f_inverse(T f) {
  const T f3 = f * f * f;
  return f3 > T(kEpsilon) ? f3 : (T(116) * f - T(16)) / T(kKappa);
}

// Linear RGB in [0,1] -> Lab (L in [0,100], a/b roughly [-128,127]).
template <class T>
TINT_HD void linear_rgb_to_lab(T r, T g, T b, T& L, T& A, T& B) {
  const T x = T(0.4124564) * r + T(0.3575761) * g + T(0.1804375) * b;
  const T y = T(0.2126729) * r + T(0.7151522) * g + T(0.0721750) * b;
  const T z = T(0.0193339) * r + T(0.1191920) * g + T(0.9503041) * b;
  const T fx = lab_f(x / T(kWhiteX)), fy = lab_f(y / T(kWhiteY)), fz = lab_f(z / T(kWhiteZ));
  L = T(116) * fy - T(16);
  A = T(500) * (fx - fy);
  B = T(200) * (fy - fz);
}

// Gamma-encoded sRGB in [0,1] -> Lab.
template <class T>
TINT_HD void srgb_to_lab(T r, T g, T b, T& L, T& A, T& B) {
  linear_rgb_to_lab(srgb_to_linear(r), srgb_to_linear(g), srgb_to_linear(b), L, A, B);
}

// Lab -> gamma-encoded sRGB in [0,1], clamped to the gamut.
template <class T>
TINT_HD void lab_to_srgb(T L, T A, T B, T& r, T& g, T& b) {
  const T fy = (L + T(16)) / T(116);
  const T fx = fy + A / T(500);
  const T fz = fy - B / T(200);
  const T x = T(kWhiteX) * lab_f_inverse(fx);
  // Y uses L directly below kappa*epsilon (= 8): same value as lab_f_inverse(fy) in exact arithmetic,
  // better conditioned for dark colours.
  const T y = T(kWhiteY) * (L > T(kKappa * kEpsilon) ? fy * fy * fy : L / T(kKappa));
  const T z = T(kWhiteZ) * lab_f_inverse(fz);
  const T rl = T(3.2404542) * x - T(1.5371385) * y - T(0.4985314) * z;
  const T gl = T(-0.9692660) * x + T(1.8760108) * y + T(0.0415560) * z;
  const T bl = T(0.0556434) * x - T(0.2040259) * y + T(1.0572252) * z;
  r = linear_to_srgb(rl);
  g = linear_to_srgb(gl);
  b = linear_to_srgb(bl);
}

// Network scaling into [-1, 1] and back.
template <class T>
TINT_HD T scale_L(T L) { return L / T(50) - T(1); }
template <class T>
TINT_HD T scale_ab(T v) { return v / T(110); }
template <class T>
TINT_HD T unscale_L(T s) { return (s + T(1)) * T(50); }
template <class T>
TINT_HD T unscale_ab(T s) { return s * T(110); }

// [0,1] -> 8-bit with round-half-up.
template <class T>
TINT_HD uint8_t to_u8(T v) {
  v = v * T(255) + T(0.5);
  return v <= T(0) ? uint8_t(0) : (v >= T(255) ? uint8_t(255) : uint8_t(v));
}

}  // namespace tint::colour

namespace tint {

// Host bulk conversions (data/colour.cpp), used by the loader and by `colorize`.
// n pixels of interleaved 8-bit RGB -> scaled planes L (n), a (n), b (n).
void rgb8_to_lab_scaled(const uint8_t* rgb, int64_t n, float* L, float* a, float* b);
// Scaled planes -> interleaved 8-bit RGB.
void lab_scaled_to_rgb8(const float* L, const float* a, const float* b, int64_t n, uint8_t* rgb);

}  // namespace tint
