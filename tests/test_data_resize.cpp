// Resizing with the antialiasing filter, and the pad / crop / flip / mask layout of one sample.
#include <catch2/catch.hpp>

#include <cmath>

#include "data/colour.h"
#include "data/loader.h"
#include "data/resize.h"
#include "test_data_fixtures.h"

using namespace tint;

namespace {

Image constant_image(int w, int h, uint8_t r, uint8_t g, uint8_t b) {
  Image img;
  img.width = w;
  img.height = h;
  for (int i = 0; i < w * h; ++i) { img.rgb.push_back(r); img.rgb.push_back(g); img.rgb.push_back(b); }
  return img;
}

}  // namespace

TEST_CASE("resize: a one-pixel checkerboard shrunk by 4 becomes mid-grey, not an alias") {
  Image board;
  board.width = board.height = 64;
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) {
      const uint8_t v = ((x + y) & 1) ? 255 : 0;
      board.rgb.resize(board.rgb.size() + 3, v);
    }
  for (int out : {16, 21, 9}) {  // by 4, and by non-integer factors
    INFO("to " << out);
    const Image small = resize_image(board, out, out);
    REQUIRE(small.rgb.size() == size_t(out * out * 3));
    for (uint8_t v : small.rgb) {
      CHECK(v >= 112);  // point sampling gives 0 or 255
      CHECK(v <= 143);
    }
  }
}

TEST_CASE("resize: constant images stay exactly constant, shrinking and enlarging") {
  const Image c = constant_image(97, 61, 37, 200, 90);
  for (auto [w, h] : {std::pair{23, 15}, {97, 61}, {200, 130}, {1, 1}, {96, 7}}) {
    const Image r = resize_image(c, w, h);
    REQUIRE(r.width == w);
    REQUIRE(r.height == h);
    for (size_t i = 0; i < r.rgb.size(); i += 3) {
      REQUIRE(r.rgb[i] == 37);
      REQUIRE(r.rgb[i + 1] == 200);
      REQUIRE(r.rgb[i + 2] == 90);
    }
  }
  const Image tiny = resize_image(constant_image(1, 1, 9, 8, 7), 5, 3);
  CHECK(tiny.rgb[3 * 14] == 9);
}

TEST_CASE("resize: a ramp keeps its pixel-centre positions when shrunk by 4") {
  Image ramp;
  ramp.width = 256;
  ramp.height = 4;
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 256; ++x) { ramp.rgb.push_back(uint8_t(x)); ramp.rgb.push_back(uint8_t(255 - x)); ramp.rgb.push_back(0); }
  const Image r = resize_image(ramp, 64, 1);
  for (int x = 2; x < 62; ++x) {  // away from the edges, where the window is cut
    INFO("x " << x);
    const double expected = (x + 0.5) * 4 - 0.5;
    CHECK(std::abs(r.rgb[3 * x] - expected) <= 0.51);
    CHECK(std::abs(r.rgb[3 * x + 1] - (255 - expected)) <= 0.51);
  }
}

TEST_CASE("resize: big shrinks (box pre-reduction, then the tent) keep positions and smoothness") {
  Image ramp;  // 2040 wide: not a multiple of the box factor, so a partial edge block exists
  ramp.width = 2040;
  ramp.height = 40;
  for (int y = 0; y < 40; ++y)
    for (int x = 0; x < 2040; ++x) {
      ramp.rgb.push_back(uint8_t(x / 8));
      ramp.rgb.push_back(uint8_t(y * 6));
      ramp.rgb.push_back(77);
    }
  const Image r = resize_image(ramp, 60, 2);
  for (int x = 1; x < 59; ++x) {
    INFO("x " << x);
    const double expected = ((x + 0.5) * 34 - 0.5) / 8;  // scale 2040/60 = 34
    CHECK(std::abs(r.rgb[3 * x] - expected) <= 1.0);
    CHECK(r.rgb[3 * x + 2] == 77);
  }
  // Vertically 40 -> 2: the direct tent (radius 20, centres 9.5 and 29.5, cut at the image edges) gives
  // 68.4 and 165.6 for the values y*6; the box-then-tent path must stay within 3 levels of it.
  CHECK(std::abs(r.rgb[1] - 68.44) <= 3.0);
  CHECK(std::abs(r.rgb[60 * 3 + 1] - 165.56) <= 3.0);
}

TEST_CASE("sample: pad mode places the image top-left, mask and padding exact") {
  const int S = 32;
  const Image src = test::pattern_image(40, 20, 7);
  const Image p = prepare_image(src, S, FitMode::pad);
  REQUIRE(p.width == 32);
  REQUIRE(p.height == 16);
  std::vector<float> L(S * S, NAN), ab(2 * S * S, NAN), mask(S * S, NAN);
  write_sample(p, S, false, 0, L.data(), ab.data(), mask.data());
  std::vector<float> rl(32), ra(32), rb(32);
  for (int y = 0; y < S; ++y) {
    if (y < 16) rgb8_to_lab_scaled(&p.rgb[size_t(y) * 32 * 3], 32, rl.data(), ra.data(), rb.data());
    for (int x = 0; x < S; ++x) {
      const int i = y * S + x;
      if (y < 16) {
        REQUIRE(mask[i] == 1.f);
        REQUIRE(L[i] == rl[x]);
        REQUIRE(ab[i] == ra[x]);
        REQUIRE(ab[S * S + i] == rb[x]);
      } else {
        REQUIRE(mask[i] == 0.f);
        REQUIRE(L[i] == -1.f);
        REQUIRE(ab[i] == 0.f);
        REQUIRE(ab[S * S + i] == 0.f);
      }
    }
  }
  // Flip mirrors within the real region; mask and padding unchanged.
  std::vector<float> Lf(S * S, NAN), abf(2 * S * S, NAN), maskf(S * S, NAN);
  write_sample(p, S, true, 0, Lf.data(), abf.data(), maskf.data());
  CHECK(maskf == mask);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 32; ++x) REQUIRE(Lf[y * S + x] == L[y * S + (31 - x)]);
  // A tall image pads on the right.
  const Image tall = prepare_image(test::pattern_image(10, 30, 8), S, FitMode::pad);
  CHECK(tall.height == 32);
  CHECK(tall.width == 11);
  write_sample(tall, S, false, 0, L.data(), ab.data(), mask.data());
  CHECK(mask[5 * S + 10] == 1.f);
  CHECK(mask[5 * S + 11] == 0.f);
}

TEST_CASE("sample: crop mode takes an S x S window of the short-side-S image") {
  const int S = 32;
  const Image src = test::pattern_image(100, 50, 9);
  const Image p = prepare_image(src, S, FitMode::crop);
  REQUIRE(p.height == 32);
  REQUIRE(p.width == 64);
  std::vector<int> offsets;
  for (uint64_t random : {0ull, 123456789ull, ~0ull}) {
    std::vector<float> L(S * S), ab(2 * S * S), mask(S * S);
    write_sample(p, S, false, random, L.data(), ab.data(), mask.data());
    for (float m : mask) REQUIRE(m == 1.f);
    // Find the offset by matching the first row against every candidate window.
    int found = -1;
    std::vector<float> rl(S), ra(S), rb(S);
    for (int ox = 0; ox <= p.width - S && found < 0; ++ox) {
      rgb8_to_lab_scaled(&p.rgb[size_t(ox) * 3], S, rl.data(), ra.data(), rb.data());
      if (std::equal(rl.begin(), rl.end(), L.begin()) && std::equal(ra.begin(), ra.end(), ab.begin())) found = ox;
    }
    REQUIRE(found >= 0);
    offsets.push_back(found);
  }
  CHECK(offsets[0] == 0);
  CHECK(offsets[2] == p.width - S);
  // An image whose short side is under S falls back to padding.
  const Image small = prepare_image(test::pattern_image(50, 20, 10), S, FitMode::crop);
  CHECK(small.width == 32);
  CHECK(small.height == 13);
}

TEST_CASE("resize: every output pixel equals the separable tent filter recomputed in double") {
  // Noise, so that a wrong tap, row or channel shows; shrinks below 4 (no box pre-reduction) and an enlargement.
  Image src;
  src.width = 97;
  src.height = 61;
  uint32_t state = 12345;
  for (int i = 0; i < src.width * src.height * 3; ++i) {
    state = state * 1664525u + 1013904223u;
    src.rgb.push_back(uint8_t(state >> 24));
  }
  // The filter as documented in data/resize.h: output o samples source (o + 0.5) * in / out - 0.5 with a tent
  // of half-width max(1, in / out), weights normalised over the source pixels inside the image.
  auto weights = [](int in, int out, int o) {
    const double scale = double(in) / out, radius = std::max(1.0, scale), centre = (o + 0.5) * scale - 0.5;
    std::vector<double> w(size_t(in), 0.0);
    double sum = 0;
    for (int i = 0; i < in; ++i) sum += w[size_t(i)] = std::max(0.0, 1.0 - std::abs(i - centre) / radius);
    for (double& v : w) v /= sum;
    return w;
  };
  for (auto [ow, oh] : {std::pair{29, 17}, {50, 40}, {160, 90}}) {
    INFO(src.width << "x" << src.height << " -> " << ow << "x" << oh);
    const Image r = resize_image(src, ow, oh);
    REQUIRE(r.width == ow);
    REQUIRE(r.height == oh);
    int worst = 0;
    for (int oy = 0; oy < oh; ++oy) {
      const std::vector<double> wy = weights(src.height, oh, oy);
      for (int ox = 0; ox < ow; ++ox) {
        const std::vector<double> wx = weights(src.width, ow, ox);
        for (int c = 0; c < 3; ++c) {
          double v = 0;
          for (int y = 0; y < src.height; ++y)
            for (int x = 0; x < src.width; ++x)
              v += wy[size_t(y)] * wx[size_t(x)] * src.rgb[(size_t(y) * src.width + x) * 3 + c];
          const int got = r.rgb[(size_t(oy) * ow + ox) * 3 + c];
          // Rounded to the nearest level: float sums may only fall on the other side of a half.
          if (std::abs(got - v) > 0.5 + 1e-3) ++worst;
        }
      }
    }
    CHECK(worst == 0);
  }
}
