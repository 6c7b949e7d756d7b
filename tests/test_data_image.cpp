// Decoding every supported format into 8-bit RGB, the documented conversions (grey, 16-bit, alpha), and the
// bad-input corpus: each bad file refused with the right reason and its name in the message.
#include <catch2/catch.hpp>

#include <webp/encode.h>

#include <cmath>

#include "data/dataset.h"
#include "data/image.h"
#include "data/loader.h"
#include "test_data_fixtures.h"

using namespace tint;
using tint::test::TempDir;

namespace {

BadImageReason reason_of(const std::string& path) {
  try {
    load_image(path);
  } catch (const BadImage& e) {
    CHECK(std::string(e.what()).find(path) != std::string::npos);
    return e.reason;
  }
  FAIL("expected " << path << " to be refused");
  return BadImageReason::corrupt;
}

}  // namespace

TEST_CASE("image: PNG, BMP and TGA decode losslessly, JPEG closely") {
  TempDir dir("image_formats");
  const Image img = test::pattern_image(37, 23, 1);
  test::write_png(dir / "a.png", img);
  stbi_write_bmp((dir / "a.bmp").c_str(), img.width, img.height, 3, img.rgb.data());
  stbi_write_tga((dir / "a.tga").c_str(), img.width, img.height, 3, img.rgb.data());
  for (const char* name : {"a.png", "a.bmp", "a.tga"}) {
    INFO(name);
    const Image got = load_image(dir / name);
    CHECK(got.width == 37);
    CHECK(got.height == 23);
    CHECK(got.rgb == img.rgb);
    CHECK_FALSE(got.grey);
  }
  // A smooth image, so that JPEG's loss stays small.
  Image smooth = test::pattern_image(64, 48, 2);
  for (size_t i = 2; i < smooth.rgb.size(); i += 3) smooth.rgb[i] = 90;
  test::write_jpg(dir / "a.JPEG", smooth, 98);
  const Image jpg = load_image(dir / "a.JPEG");
  REQUIRE(jpg.rgb.size() == smooth.rgb.size());
  double err = 0;
  for (size_t i = 0; i < jpg.rgb.size(); ++i) err += std::abs(int(jpg.rgb[i]) - int(smooth.rgb[i]));
  CHECK(err / jpg.rgb.size() < 3.0);
}

TEST_CASE("image: JPEG decoded reduced for a small target matches the full decode once resized") {
  TempDir dir("image_jpeg_scaled");
  Image smooth;  // smooth content, so that JPEG loss and the two downscaling routes stay small
  smooth.width = 1200;
  smooth.height = 1000;
  for (int y = 0; y < smooth.height; ++y)
    for (int x = 0; x < smooth.width; ++x) {
      smooth.rgb.push_back(uint8_t(128 + 100 * std::sin(x * 0.01)));
      smooth.rgb.push_back(uint8_t(128 + 100 * std::cos(y * 0.013)));
      smooth.rgb.push_back(uint8_t((x + y) / 9));
    }
  test::write_jpg(dir / "big.jpg", smooth, 95);
  const Image full = load_image(dir / "big.jpg");
  const Image reduced = load_image(dir / "big.jpg", kDefaultMaxPixels, 64);
  CHECK(full.width == 1200);
  INFO("decoder " << jpeg_decoder_name() << ", reduced to " << reduced.width << "x" << reduced.height);
  if (std::string(jpeg_decoder_name()) == "libjpeg-turbo") {
    CHECK(reduced.width == 300);  // 1/4: 1/8 would take the shorter side to 125 < 2 * 64
    CHECK(reduced.height == 250);
  }
  const Image a = prepare_image(full, 64, FitMode::pad);
  const Image b = prepare_image(reduced, 64, FitMode::pad);
  REQUIRE(a.width == b.width);
  REQUIRE(a.height == b.height);
  double diff = 0;
  for (size_t i = 0; i < a.rgb.size(); ++i) diff += std::abs(int(a.rgb[i]) - int(b.rgb[i]));
  CHECK(diff / double(a.rgb.size()) < 3.0);  // two downscaling routes; a swapped channel or shift gives tens
}

TEST_CASE("image: WebP lossless round trip, WebP with alpha is composited over white") {
  TempDir dir("image_webp");
  const Image img = test::pattern_image(21, 13, 3);
  uint8_t* out = nullptr;
  size_t size = WebPEncodeLosslessRGB(img.rgb.data(), img.width, img.height, img.width * 3, &out);
  REQUIRE(size > 0);
  test::write_bytes(dir / "a.webp", std::vector<uint8_t>(out, out + size));
  WebPFree(out);
  const Image got = load_image(dir / "a.webp");
  CHECK(got.rgb == img.rgb);

  std::vector<uint8_t> rgba = {255, 0, 0, 255, 255, 0, 0, 0, 0, 0, 255, 128, 10, 20, 30, 255};
  size = WebPEncodeLosslessRGBA(rgba.data(), 2, 2, 8, &out);
  test::write_bytes(dir / "alpha.webp", std::vector<uint8_t>(out, out + size));
  WebPFree(out);
  const Image a = load_image(dir / "alpha.webp");
  REQUIRE(a.rgb.size() == 12);
  CHECK(std::vector<uint8_t>(a.rgb.begin(), a.rgb.begin() + 3) == std::vector<uint8_t>{255, 0, 0});
  CHECK(std::vector<uint8_t>(a.rgb.begin() + 3, a.rgb.begin() + 6) == std::vector<uint8_t>{255, 255, 255});
  CHECK(std::vector<uint8_t>(a.rgb.begin() + 6, a.rgb.begin() + 9) == std::vector<uint8_t>{127, 127, 255});
}

TEST_CASE("image: grey, grey+alpha, 16-bit PNGs and GIF") {
  TempDir dir("image_conversions");
  const uint8_t grey[6] = {0, 50, 100, 150, 200, 255};
  stbi_write_png((dir / "grey.png").c_str(), 3, 2, 1, grey, 3);
  Image g = load_image(dir / "grey.png");
  CHECK(g.grey);
  REQUIRE(g.rgb.size() == 18);
  for (int i = 0; i < 6; ++i) {
    CHECK(g.rgb[3 * i] == grey[i]);
    CHECK(g.rgb[3 * i + 1] == grey[i]);
    CHECK(g.rgb[3 * i + 2] == grey[i]);
  }
  // Colour files whose pixels are all neutral count as grey too.
  Image neutral;
  neutral.width = 2;
  neutral.height = 1;
  neutral.rgb = {7, 7, 7, 90, 90, 90};
  test::write_png(dir / "neutral.png", neutral);
  CHECK(load_image(dir / "neutral.png").grey);
  CHECK_FALSE(load_image(dir / "neutral.png").rgb.empty());

  const uint8_t grey_alpha[4] = {0, 0, 200, 255};  // transparent black -> white; opaque 200 stays
  stbi_write_png((dir / "ga.png").c_str(), 2, 1, 2, grey_alpha, 4);
  Image ga = load_image(dir / "ga.png");
  CHECK(ga.grey);
  CHECK(ga.rgb == std::vector<uint8_t>{255, 255, 255, 200, 200, 200});

  // 16-bit RGB, 2x1: the high byte is kept.
  const std::vector<uint8_t> raw = {0, 0x12, 0x34, 0xAB, 0xCD, 0xFF, 0xFF, 0x01, 0x02, 0x80, 0x00, 0x7F, 0xFF};
  test::write_bytes(dir / "deep.png", test::make_png(2, 1, 16, 2, raw));
  Image deep = load_image(dir / "deep.png");
  CHECK(deep.rgb == std::vector<uint8_t>{0x12, 0xAB, 0xFF, 0x01, 0x80, 0x7F});

  // The classic 1x1 GIF (white, its only pixel transparent: composited over white, still white).
  const std::vector<uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, 0xFF, 0xFF, 0xFF, 0, 0, 0,
                                    0x21, 0xF9, 4, 1, 0, 0, 0, 0, 0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 1, 0, 0x3B};
  test::write_bytes(dir / "dot.gif", gif);
  Image dot = load_image(dir / "dot.gif");
  CHECK(dot.width == 1);
  CHECK(dot.rgb == std::vector<uint8_t>{255, 255, 255});
}

TEST_CASE("image: the bad-input corpus is refused with one reason per file") {
  TempDir dir("image_bad");
  const Image img = test::pattern_image(64, 64, 4);
  test::write_jpg(dir / "good.jpg", img);
  test::write_png(dir / "good.png", img);
  auto jpg = test::read_bytes(dir / "good.jpg");
  auto png = test::read_bytes(dir / "good.png");
  test::write_bytes(dir / "truncated.jpg", std::vector<uint8_t>(jpg.begin(), jpg.begin() + jpg.size() / 2));
  test::write_bytes(dir / "truncated.png", std::vector<uint8_t>(png.begin(), png.begin() + png.size() * 6 / 10));
  test::write_bytes(dir / "empty.jpg", {});
  const std::string text = "this is a text file, not a photo\n";
  test::write_bytes(dir / "text.jpg", std::vector<uint8_t>(text.begin(), text.end()));
  test::write_bytes(dir / "cmyk.jpg", test::jpeg_header(0xC0, 4));
  test::write_bytes(dir / "arithmetic.jpg", test::jpeg_header(0xC9, 3));
  test::write_bytes(dir / "huge.jpg", test::jpeg_header(0xC2, 3, 10000, 8000));  // 80 MP, progressive
  test::write_bytes(dir / "huge.png", test::make_png(9000, 9000, 8, 2, {}));     // 81 MP, header only

  CHECK(load_image(dir / "good.jpg").width == 64);
  CHECK(load_image(dir / "good.png").rgb == img.rgb);
  CHECK(reason_of(dir / "truncated.jpg") == BadImageReason::corrupt);
  CHECK(reason_of(dir / "truncated.png") == BadImageReason::corrupt);
  CHECK(reason_of(dir / "empty.jpg") == BadImageReason::empty);
  CHECK(reason_of(dir / "text.jpg") == BadImageReason::not_an_image);
  CHECK(reason_of(dir / "cmyk.jpg") == BadImageReason::unsupported);
  CHECK(reason_of(dir / "arithmetic.jpg") == BadImageReason::unsupported);
  CHECK(reason_of(dir / "huge.jpg") == BadImageReason::oversized);
  CHECK(reason_of(dir / "huge.png") == BadImageReason::oversized);
  CHECK(reason_of(dir / "missing.png") == BadImageReason::unreadable);
  // The limit is a parameter: a 64x64 image is oversized under a 1000-pixel limit.
  CHECK_THROWS_AS(load_image(dir / "good.png", 1000), BadImage);
  try {
    load_image(dir / "cmyk.jpg");
  } catch (const BadImage& e) {
    CHECK(std::string(e.what()).find("CMYK") != std::string::npos);
  }
}

TEST_CASE("dataset: recursive scan is sorted, filters extensions, skips hidden, list files") {
  TempDir dir("scan");
  const Image img = test::pattern_image(8, 8, 5);
  test::write_png(dir / "train/b_class/2.PNG", img);
  test::write_png(dir / "train/a_class/1.png", img);
  test::write_png(dir / "train/a_class/.hidden.png", img);
  test::write_png(dir / "train/.cache/x.png", img);
  test::write_bytes(dir / "train/a_class/notes.txt", {'x'});
  const auto paths = scan_images(dir / "train");
  REQUIRE(paths.size() == 2);
  CHECK(paths[0] == dir / "train/a_class/1.png");
  CHECK(paths[1] == dir / "train/b_class/2.PNG");
  const std::string list = "# a list\ntrain/b_class/2.PNG\n\n" + (dir / "train/a_class/1.png") + "\n";
  test::write_bytes(dir / "list.txt", std::vector<uint8_t>(list.begin(), list.end()));
  const auto listed = scan_images(dir / "list.txt");
  REQUIRE(listed.size() == 2);
  CHECK(listed[0] == dir / "train/b_class/2.PNG");
  CHECK(listed[1] == dir / "train/a_class/1.png");
  CHECK_THROWS_AS(scan_images(dir / "nowhere"), tint::Error);
  CHECK(scan_images(dir / "train/a_class/1.png").size() == 1);
}
