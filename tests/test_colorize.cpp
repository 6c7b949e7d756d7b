// The colorizer's inference library (models/colorizer.h): sizes kept, the input's L kept through a PNG
// round trip, nothing read from the padding's prediction, batches equal to one image at a time, bilinear
// upsampling against a plane it must reproduce exactly, and an F16 model file against its F32 original.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "data/image.h"
#include "engine/io.h"
#include "models/colorizer.h"
#include "models/model_file.h"
#include "test_data_fixtures.h"

using namespace tint;

namespace {

// CIE L of an 8-bit sRGB pixel, in double, written out here from IEC 61966-2-1 and CIE 15 rather than taken
// from data/colour.h, so that the tests do not check the code against itself.
double reference_L(const uint8_t* p) {
  double lin[3];
  for (int c = 0; c < 3; ++c) {
    const double v = p[c] / 255.0;
    lin[c] = v <= 0.04045 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4);
  }
  const double Y = 0.2126729 * lin[0] + 0.7151522 * lin[1] + 0.0721750 * lin[2];
  return Y > 216.0 / 24389.0 ? 116.0 * std::cbrt(Y) - 16.0 : 24389.0 / 27.0 * Y;
}

Image grey_ramp(int w, int h) {  // every grey level, left to right, repeated down
  Image img;
  img.width = w;
  img.height = h;
  img.grey = true;
  img.rgb.resize(size_t(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const uint8_t v = uint8_t((x * 255) / std::max(1, w - 1));
      for (int c = 0; c < 3; ++c) img.rgb[(size_t(y) * w + x) * 3 + c] = v;
    }
  return img;
}

Image random_colour(int w, int h, uint32_t seed) {
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.resize(size_t(w) * h * 3);
  uint32_t s = seed * 2654435761u + 1u;
  for (auto& v : img.rgb) {
    s = s * 1664525u + 1013904223u;
    v = uint8_t(s >> 24);
  }
  return img;
}

// Saturated a/b everywhere (|a|, |b| up to 0.9 * 110), varying across the plane, so that much of it lies
// outside the sRGB gamut at most L.
std::vector<float> saturated_ab(int size, uint32_t seed) {
  std::vector<float> ab(2 * size_t(size) * size);
  uint32_t s = seed;
  for (auto& v : ab) {
    s = s * 1664525u + 1013904223u;
    v = float(int(s >> 8) % 1801 - 900) / 1000.f;
  }
  return ab;
}

models::UNet small_unet(int width, int levels, uint64_t seed) {
  Rng rng(seed);
  return models::UNet({width, levels}, rng);
}

// The largest |L(output) - L(input)| after writing `out` as PNG and decoding it again.
double max_L_change_through_png(const Image& input, const Image& out, const std::string& path) {
  save_image(out, path);
  const Image back = load_image(path);
  REQUIRE(back.width == input.width);
  REQUIRE(back.height == input.height);
  double worst = 0;
  for (int64_t i = 0; i < input.pixels(); ++i)
    worst = std::max(
        worst, std::fabs(reference_L(&back.rgb[size_t(i) * 3]) - reference_L(&input.rgb[size_t(i) * 3])));
  return worst;
}

}  // namespace

TEST_CASE("colorize keeps every image's own width and height", "[colorize]") {
  auto unet = small_unet(4, 2, 1);
  const std::vector<Image> images = {random_colour(50, 30, 1), grey_ramp(17, 61), random_colour(32, 32, 2),
                                     random_colour(100, 7, 3), grey_ramp(1, 1)};
  const std::vector<Image> out = models::colorize(unet, Device::cpu(), 32, images);
  REQUIRE(out.size() == images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    CHECK(out[i].width == images[i].width);
    CHECK(out[i].height == images[i].height);
    CHECK(out[i].rgb.size() == images[i].rgb.size());
  }
}

TEST_CASE("colorize keeps the input's L within the 8-bit rounding of the output", "[colorize]") {
  // Bound: each output channel is rounded to 8 bits (+-0.5/255), which moves L by at most
  // sum_c |dL/dc| * 0.5/255. Over the whole 8-bit sRGB cube that is largest for dark greens, 0.260 (at
  // (0, 29, 0), where Y is just below CIE epsilon and L = kappa * Y is steepest); for greys it is 0.137.
  // So 0.27 (the bound plus float error) holds for any output; a gamut clip would move L by tens.
  const double bound = 0.27;
  test::TempDir dir("colorize_L");
  const int size = 32;
  const std::vector<Image> inputs = {grey_ramp(256, 3), random_colour(61, 23, 7), grey_ramp(40, 90)};
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Image& in = inputs[i];
    const std::vector<float> ab = saturated_ab(size, uint32_t(11 + i));
    int w = 0, h = 0;
    const auto prepared = models::prepare_colorize_input(in, size);
    w = prepared.real_width;
    h = prepared.real_height;
    const Image out =
        models::combine_with_original(in, ab.data(), ab.data() + size_t(size) * size, size, w, h);
    const double worst = max_L_change_through_png(in, out, dir / ("out" + std::to_string(i) + ".png"));
    INFO("input " << i << " (" << (in.grey ? "grey" : "colour") << "): max |dL| = " << worst);
    WARN("L kept, saturated ab, input " << i << ": max |dL| = " << worst);
    CHECK(worst <= bound);
    // And the colour really changed: a test that passes on grey output proves nothing.
    int coloured = 0;
    for (int64_t p = 0; p < out.pixels(); ++p) {
      const uint8_t* q = &out.rgb[size_t(p) * 3];
      coloured += std::max({q[0], q[1], q[2]}) - std::min({q[0], q[1], q[2]}) > 20;
    }
    CHECK(coloured > out.pixels() / 4);
  }
}

TEST_CASE("colorize through a U-Net keeps L, and zero a/b on a grey input gives the input back exactly",
          "[colorize]") {
  test::TempDir dir("colorize_L_unet");
  auto unet = small_unet(4, 2, 5);
  const std::vector<Image> inputs = {grey_ramp(70, 20), random_colour(33, 47, 9)};
  const std::vector<Image> out = models::colorize(unet, Device::cpu(), 32, inputs);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const double worst =
        max_L_change_through_png(inputs[i], out[i], dir / ("u" + std::to_string(i) + ".png"));
    INFO("input " << i << ": max |dL| = " << worst);
    CHECK(worst <= 0.27);  // the bound of the test above
  }
  // With no colour at all the pipeline must be the identity on grey pixels: L -> Lab -> sRGB returns the
  // same 8-bit grey (this is what 'L kept exactly' means for grey inputs before any chroma is added).
  const Image grey = grey_ramp(256, 2);
  std::vector<float> zero(2 * 32 * 32, 0.f);
  const auto prepared = models::prepare_colorize_input(grey, 32);
  const Image same = models::combine_with_original(grey, zero.data(), zero.data() + 32 * 32, 32,
                                                   prepared.real_width, prepared.real_height);
  CHECK(same.rgb == grey.rgb);
}

TEST_CASE("colorize reads only the real region of the prediction, never the padding", "[colorize]") {
  const int size = 32;
  // Landscape pads rows below the image, portrait pads columns to its right: both layouts.
  for (const bool portrait : {false, true}) {
    const Image in = portrait ? random_colour(18, 45, 4) : random_colour(45, 18, 4);
    const auto prepared = models::prepare_colorize_input(in, size);
    const int rw = prepared.real_width, rh = prepared.real_height;
    REQUIRE(rw == (portrait ? 13 : 32));
    REQUIRE(rh == (portrait ? 32 : 13));
    // The padding of L is black (scaled -1), as in training.
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x)
        if (x >= rw || y >= rh) REQUIRE(prepared.L[size_t(y) * size + x] == -1.f);
    // A constant chroma in the real region and NaN in the padding: any leak of the padding shows up as
    // garbage, and the real region's colour must come out as that chroma at each pixel's own L.
    std::vector<float> ab(2 * size_t(size) * size, std::numeric_limits<float>::quiet_NaN());
    for (int y = 0; y < rh; ++y)
      for (int x = 0; x < rw; ++x) {
        ab[size_t(y) * size + x] = 0.15f;                        // a = 16.5
        ab[size_t(size) * size + size_t(y) * size + x] = -0.1f;  // b = -11
      }
    const Image out =
        models::combine_with_original(in, ab.data(), ab.data() + size_t(size) * size, size, rw, rh);
    int checked = 0;
    for (int64_t p = 0; p < in.pixels(); ++p) {
      const double L = reference_L(&in.rgb[size_t(p) * 3]);
      if (L < 30 || L > 80) continue;  // where (16.5, -11) is inside sRGB: no gamut mapping to account for
      // Expected colour from Lab in double (CIE 15 inverse, IEC 61966-2-1 matrix and curve), written out
      // here.
      const double fy = (L + 16) / 116, fx = fy + 16.5 / 500, fz = fy + 11.0 / 200;
      auto finv = [](double f) {
        return f * f * f > 216.0 / 24389.0 ? f * f * f : (116 * f - 16) / (24389.0 / 27.0);
      };
      const double X = 0.95047 * finv(fx), Y = finv(fy), Z = 1.08883 * finv(fz);
      const double lin[3] = {3.2404542 * X - 1.5371385 * Y - 0.4985314 * Z,
                             -0.9692660 * X + 1.8760108 * Y + 0.0415560 * Z,
                             0.0556434 * X - 0.2040259 * Y + 1.0572252 * Z};
      for (int c = 0; c < 3; ++c) {
        REQUIRE(lin[c] > 0);
        REQUIRE(lin[c] < 1);
        const double v = lin[c] <= 0.0031308 ? 12.92 * lin[c] : 1.055 * std::pow(lin[c], 1 / 2.4) - 0.055;
        INFO("portrait " << portrait << " pixel " << p << " channel " << c << " L " << L);
        CHECK(std::fabs(out.rgb[size_t(p) * 3 + c] - v * 255) <= 0.51);
      }
      ++checked;
    }
    CHECK(checked > 100);
  }
}

TEST_CASE("a batch of differently sized images gives the same bytes as one image at a time", "[colorize]") {
  auto unet = small_unet(4, 2, 3);
  const std::vector<Image> images = {random_colour(40, 25, 1), grey_ramp(9, 31), random_colour(32, 32, 2)};
  const std::vector<Image> together = models::colorize(unet, Device::cpu(), 32, images);
  for (size_t i = 0; i < images.size(); ++i) {
    const std::vector<Image> alone = models::colorize(unet, Device::cpu(), 32, {images[i]});
    INFO("image " << i);
    CHECK(alone[0].rgb == together[i].rgb);
  }
  // And the batch really holds different predictions (a model that ignored its input would pass the above).
  CHECK(together[0].rgb != models::colorize(unet, Device::cpu(), 32, {random_colour(40, 25, 99)})[0].rgb);
}

TEST_CASE("bilinear upsampling of the prediction reproduces a linear ramp at pixel-centre positions",
          "[colorize]") {
  // f(x, y) = 2x + 3y sampled at the centres of a 5 x 4 source (inside a stride-7 canvas). Bilinear
  // interpolation is exact on a linear function, so output (X, Y) must equal f at the source position
  // clamp((X + 0.5) * 5 / 13 - 0.5), clamp((Y + 0.5) * 4 / 9 - 0.5), computed here in double.
  const int sw = 5, sh = 4, stride = 7, dw = 13, dh = 9;
  std::vector<float> src(size_t(stride) * sh, 1e6f);  // columns 5 and 6 are padding: must not be read
  for (int y = 0; y < sh; ++y)
    for (int x = 0; x < sw; ++x) src[size_t(y) * stride + x] = float(2 * x + 3 * y);
  std::vector<float> dst(size_t(dw) * dh);
  models::resize_plane_bilinear(src.data(), stride, sw, sh, dst.data(), dw, dh);
  for (int y = 0; y < dh; ++y)
    for (int x = 0; x < dw; ++x) {
      const double sx = std::clamp((x + 0.5) * sw / dw - 0.5, 0.0, double(sw - 1));
      const double sy = std::clamp((y + 0.5) * sh / dh - 0.5, 0.0, double(sh - 1));
      INFO("x " << x << " y " << y);
      CHECK(std::fabs(dst[size_t(y) * dw + x] - (2 * sx + 3 * sy)) < 1e-5);
    }
}

TEST_CASE("the size the network runs at: the model's, else 256, a multiple of 2^levels", "[colorize]") {
  models::ModelInfo info;
  info.path = "m.safetensors";
  info.config = {8, 2};
  info.image_size = 64;
  CHECK(models::colorize_size(info, 0) == 64);
  CHECK(models::colorize_size(info, 96) == 96);
  info.image_size = 0;
  CHECK(models::colorize_size(info, 0) == 256);
  CHECK_THROWS_WITH(models::colorize_size(info, 30),
                    Catch::Contains("multiple of 4") && Catch::Contains("m.safetensors"));
  info.config.levels = 6;
  CHECK_THROWS_WITH(models::colorize_size(info, 32), Catch::Contains("multiple of 64"));
}

TEST_CASE("an F16 export of a model colorizes almost exactly as the F32 original", "[colorize][io]") {
  // Bound: half keeps 11 significant bits (relative rounding <= 2^-12), so each weight moves by < 2.5e-4 of
  // itself; through this small U-Net the scaled a/b move by well under 1e-3 (1/110 of an a/b unit), and the
  // 8-bit outputs by at most one level. The measured values are printed.
  test::TempDir dir("colorize_f16");
  auto unet = small_unet(8, 2, 17);
  std::map<std::string, std::string> meta = models::model_metadata(unet.config());
  meta["image_size"] = "32";
  models::save_unet(dir / "f32.safetensors", unet, meta);
  models::save_unet(dir / "f16.safetensors", unet, meta, io::FileDtype::f16);
  const io::NamedTensors half = io::load_safetensors(dir / "f16.safetensors");
  CHECK(half.metadata.at("dtype") == "f16");
  CHECK(half.metadata.at("image_size") == "32");
  models::ModelInfo i32, i16;
  auto m32 = models::load_unet(dir / "f32.safetensors", Device::cpu(), &i32);
  auto m16 = models::load_unet(dir / "f16.safetensors", Device::cpu(), &i16);
  CHECK(i16.image_size == 32);
  const std::vector<Image> images = {random_colour(48, 40, 3), grey_ramp(64, 20)};
  std::vector<models::ColorizeInput> in;
  for (auto& img : images) in.push_back(models::prepare_colorize_input(img, 32));
  const auto p32 = models::predict_ab(*m32, Device::cpu(), 32, {&in[0], &in[1]});
  const auto p16 = models::predict_ab(*m16, Device::cpu(), 32, {&in[0], &in[1]});
  double ab_diff = 0, ab_max = 0;
  for (size_t i = 0; i < p32.size(); ++i)
    for (size_t k = 0; k < p32[i].size(); ++k) {
      ab_diff = std::max(ab_diff, double(std::fabs(p32[i][k] - p16[i][k])));
      ab_max = std::max(ab_max, double(std::fabs(p32[i][k])));
    }
  WARN("F16 vs F32 model: max |d ab| (scaled) = " << ab_diff << " (max |ab| " << ab_max << ")");
  CHECK(ab_diff > 0);  // the weights really were rounded
  CHECK(ab_diff < 1e-3);
  const auto o32 = models::colorize(*m32, Device::cpu(), 32, images);
  const auto o16 = models::colorize(*m16, Device::cpu(), 32, images);
  int worst = 0;
  for (size_t i = 0; i < images.size(); ++i)
    for (size_t k = 0; k < o32[i].rgb.size(); ++k)
      worst = std::max(worst, std::abs(o32[i].rgb[k] - o16[i].rgb[k]));
  WARN("F16 vs F32 model: max 8-bit difference = " << worst);
  CHECK(worst <= 1);
}
