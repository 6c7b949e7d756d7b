// sRGB <-> Lab against published reference values and an independent double-precision implementation, the
// 8-bit round trip over a dense sample of the cube, and the histogram-intersection metric.
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

#include "data/colour.h"
#include "data/metrics.h"

namespace {

// Written out again from the textbook formulas, in double, sharing no code with data/colour.h.
void reference_lab(int R, int G, int B, double& L, double& a, double& b) {
  auto lin = [](int v) {
    const double c = v / 255.0;
    return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
  };
  const double r = lin(R), g = lin(G), bl = lin(B);
  const double X = (0.4124564 * r + 0.3575761 * g + 0.1804375 * bl) / 0.95047;
  const double Y = (0.2126729 * r + 0.7151522 * g + 0.0721750 * bl) / 1.0;
  const double Z = (0.0193339 * r + 0.1191920 * g + 0.9503041 * bl) / 1.08883;
  const double eps = 216.0 / 24389.0, kappa = 24389.0 / 27.0;
  auto f = [&](double t) { return t > eps ? std::cbrt(t) : (kappa * t + 16.0) / 116.0; };
  L = 116.0 * f(Y) - 16.0;
  a = 500.0 * (f(X) - f(Y));
  b = 200.0 * (f(Y) - f(Z));
}

struct Known {
  int r, g, b;
  double L, a, bb;
};

}  // namespace

TEST_CASE("colour: published reference colours, double and float paths within 0.01") {
  // Values as published for sRGB/D65 (e.g. DESIGN.md: red is 53.24, 80.09, 67.20).
  const std::vector<Known> known = {
      {255, 0, 0, 53.2408, 80.0925, 67.2032},      {0, 255, 0, 87.7347, -86.1827, 83.1793},
      {0, 0, 255, 32.2970, 79.1875, -107.8602},   {255, 255, 255, 100.0, 0.0, 0.0},
      {0, 0, 0, 0.0, 0.0, 0.0},                   {128, 128, 128, 53.5850, 0.0, 0.0},
      {255, 255, 0, 97.1393, -21.5537, 94.4780},  {0, 255, 255, 91.1132, -48.0875, -14.1312},
      {255, 0, 255, 60.3242, 98.2343, -60.8249},
  };
  for (const auto& k : known) {
    INFO("sRGB " << k.r << "," << k.g << "," << k.b);
    double L, a, b;
    tint::colour::srgb_to_lab(k.r / 255.0, k.g / 255.0, k.b / 255.0, L, a, b);
    CHECK(std::abs(L - k.L) < 0.01);
    CHECK(std::abs(a - k.a) < 0.01);
    CHECK(std::abs(b - k.bb) < 0.01);
    const uint8_t px[3] = {uint8_t(k.r), uint8_t(k.g), uint8_t(k.b)};
    float Ls, as, bs;
    tint::rgb8_to_lab_scaled(px, 1, &Ls, &as, &bs);
    CHECK(std::abs((Ls + 1) * 50 - k.L) < 0.01);
    CHECK(std::abs(as * 110 - k.a) < 0.01);
    CHECK(std::abs(bs * 110 - k.bb) < 0.01);
  }
}

TEST_CASE("colour: float bulk path matches an independent double implementation over the cube") {
  std::vector<uint8_t> rgb;
  for (int r = 0; r < 256; r += 15)
    for (int g = 0; g < 256; g += 15)
      for (int b = 0; b < 256; b += 15) rgb.insert(rgb.end(), {uint8_t(r), uint8_t(g), uint8_t(b)});
  const int64_t n = int64_t(rgb.size() / 3);
  std::vector<float> L(n, NAN), a(n, NAN), b(n, NAN);
  tint::rgb8_to_lab_scaled(rgb.data(), n, L.data(), a.data(), b.data());
  double worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    double rL, ra, rb;
    reference_lab(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2], rL, ra, rb);
    worst = std::max({worst, std::abs((L[i] + 1.0) * 50.0 - rL), std::abs(a[i] * 110.0 - ra), std::abs(b[i] * 110.0 - rb)});
    REQUIRE(L[i] >= -1.0001f);
    REQUIRE(L[i] <= 1.0001f);
  }
  CHECK(worst < 0.01);
}

TEST_CASE("colour: 8-bit sRGB -> Lab -> sRGB returns every sampled colour within one level") {
  // Every 5th level of each channel plus the top level: 53^3 colours, all corners and edges of the cube.
  std::vector<int> levels;
  for (int v = 0; v < 256; v += 5) levels.push_back(v);
  levels.push_back(255);
  std::vector<uint8_t> rgb;
  for (int r : levels)
    for (int g : levels)
      for (int b : levels) rgb.insert(rgb.end(), {uint8_t(r), uint8_t(g), uint8_t(b)});
  for (int v = 0; v < 256; ++v) rgb.insert(rgb.end(), {uint8_t(v), uint8_t(v), uint8_t(v)});  // every grey
  const int64_t n = int64_t(rgb.size() / 3);
  std::vector<float> L(n), a(n), b(n);
  tint::rgb8_to_lab_scaled(rgb.data(), n, L.data(), a.data(), b.data());
  std::vector<uint8_t> back(rgb.size(), 0);
  tint::lab_scaled_to_rgb8(L.data(), a.data(), b.data(), n, back.data());
  int worst = 0;
  int64_t exact = 0;
  for (size_t i = 0; i < rgb.size(); ++i) {
    const int d = std::abs(int(rgb[i]) - int(back[i]));
    worst = std::max(worst, d);
    exact += d == 0;
  }
  CHECK(worst <= 1);
  CHECK(exact > int64_t(rgb.size() * 0.99));  // one level is the rounding allowance, not the norm
}

TEST_CASE("colour: white and greys map to a = b = 0 to float precision, scaling bounds") {
  for (int v : {0, 1, 17, 128, 200, 255}) {
    const uint8_t px[3] = {uint8_t(v), uint8_t(v), uint8_t(v)};
    float L, a, b;
    tint::rgb8_to_lab_scaled(px, 1, &L, &a, &b);
    CHECK(std::abs(a * 110) < 1e-3);
    CHECK(std::abs(b * 110) < 1e-3);
  }
  CHECK(tint::colour::scale_L(100.0) == 1.0);
  CHECK(tint::colour::scale_L(0.0) == -1.0);
  CHECK(tint::colour::unscale_ab(tint::colour::scale_ab(-86.0)) == Approx(-86.0));
}

TEST_CASE("metrics: histogram bins are centred on whole numbers") {
  using H = tint::AbHistogram;
  CHECK(H::bin_of(0.0f) == 128);
  CHECK(H::bin_of(-0.002f) == 128);
  CHECK(H::bin_of(0.005f) == 128);
  CHECK(H::bin_of(0.49f) == 128);
  CHECK(H::bin_of(-0.5f) == 128);  // floor(-0.5 + 0.5) = 0
  CHECK(H::bin_of(0.5f) == 129);
  CHECK(H::bin_of(-0.51f) == 127);
  CHECK(H::bin_of(-128.0f) == 0);
  CHECK(H::bin_of(127.0f) == 255);
  CHECK(H::bin_of(-500.0f) == 0);   // clamped
  CHECK(H::bin_of(500.0f) == 255);  // clamped
}

TEST_CASE("metrics: histogram intersection pooled over masked pixels") {
  tint::AbHistogram truth, same, half, disjoint;
  const float a1[4] = {0.f, 1.f, 2.f, 3.f}, b1[4] = {0.f, 0.f, 0.f, 0.f};
  const float mask[4] = {1, 1, 1, 0};  // the last pixel is padding and must not count
  truth.add(a1, b1, mask, 4);
  same.add(a1, b1, mask, 4);
  CHECK(truth.pixels == 3);
  auto hi = tint::histogram_intersection(same, truth);
  CHECK(hi.a == Approx(1.0));
  CHECK(hi.b == Approx(1.0));
  // Pooling: adding the same pixels twice does not change a normalised histogram.
  same.add(a1, b1, mask, 4);
  CHECK(tint::histogram_intersection(same, truth).a == Approx(1.0));
  const float a2[2] = {1.2f, 40.f}, b2[2] = {0.3f, 0.1f};  // a: half in bin 1, half far away
  half.add(a2, b2, nullptr, 2);
  hi = tint::histogram_intersection(half, truth);
  CHECK(hi.a == Approx(1.0 / 3.0));  // min(1/2, 1/3) in bin 1
  CHECK(hi.b == Approx(1.0));
  const float a3[1] = {-50.f}, b3[1] = {60.f};
  disjoint.add(a3, b3, nullptr, 1);
  hi = tint::histogram_intersection(disjoint, truth);
  CHECK(hi.a == 0.0);
  CHECK(hi.mean() == 0.0);
  // Scaled input lands in the same bins.
  tint::AbHistogram scaled;
  const float as[4] = {0.f, 1.f / 110, 2.f / 110, 3.f / 110}, bs[4] = {0, 0, 0, 0};
  scaled.add_scaled(as, bs, mask, 4);
  CHECK(scaled.a == truth.a);
  CHECK(tint::histogram_intersection(tint::AbHistogram{}, truth).a == 0.0);
}
