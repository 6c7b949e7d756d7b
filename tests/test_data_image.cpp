// Decoding every supported format into 8-bit RGB, the documented conversions (grey, 16-bit, alpha), and the
// bad-input corpus: each bad file refused with the right reason and its name in the message.
#include <catch2/catch.hpp>

#include <webp/encode.h>

#include <unistd.h>

#include <chrono>
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

namespace {

// The reason and detail a file is refused with; "accepted" when it decodes.
std::pair<std::string, std::string> verdict(const std::string& path, int64_t max_pixels = kDefaultMaxPixels) {
  try {
    load_image(path, max_pixels);
  } catch (const BadImage& e) {
    return {std::string(reason_name(e.reason)), e.detail};
  }
  return {"accepted", ""};
}

std::vector<uint8_t> cut(const std::vector<uint8_t>& v, size_t keep) { return std::vector<uint8_t>(v.begin(), v.begin() + long(keep)); }

uint32_t le32_at(const std::vector<uint8_t>& v, size_t at) {
  return uint32_t(v[at]) | uint32_t(v[at + 1]) << 8 | uint32_t(v[at + 2]) << 16 | uint32_t(v[at + 3]) << 24;
}

}  // namespace

TEST_CASE("image: truncated files of every format are refused as truncated, with the exact reason") {
  TempDir dir("image_truncated");
  const Image img = test::pattern_image(40, 30, 9);
  const auto write = [&](const std::string& name, const std::vector<uint8_t>& bytes) {
    test::write_bytes(dir / name, bytes);
    return dir / name;
  };
  using V = std::pair<std::string, std::string>;
  const char* kCorrupt = "corrupt or truncated";

  // Every writer's output decodes: the cuts below are what makes them fail.
  for (const char* f : {"jpeg", "png", "gif", "bmp", "tga", "tga-raw", "webp"}) {
    INFO(f);
    const std::string ext = std::string(f).substr(0, 3) == "tga" ? "tga" : f;  // TGA is known by its name only
    CHECK(verdict(write(std::string("whole_") + f + "." + ext, test::encode_image(img, f))).first == "accepted");
  }
  const auto png = test::encode_image(img, "png");
  // Cut inside the IDAT chunk, and cut just before IEND (the 12 bytes of an empty chunk).
  CHECK(verdict(write("a.png", cut(png, png.size() / 2))) == V{kCorrupt, "PNG chunk runs past the end of the file (truncated)"});
  CHECK(verdict(write("b.png", cut(png, png.size() - 12))) == V{kCorrupt, "PNG ends before its IEND chunk (truncated)"});

  // A GIF cut anywhere inside its one frame: stb_image used to return the frame with its tail blank.
  const auto gif = test::encode_image(img, "gif");
  for (size_t keep : {gif.size() - 2, gif.size() - 40, size_t(800 + 13 + 10)}) {
    INFO("gif cut to " << keep);
    CHECK(verdict(write("a.gif", cut(gif, keep))) == V{kCorrupt, "GIF ends inside its first frame (truncated)"});
  }
  CHECK(verdict(write("b.gif", cut(gif, gif.size() - 1))).first == "accepted");  // only the trailer is missing

  const auto bmp = test::encode_image(img, "bmp");
  // 40x30 at 24 bits: rows of 120 bytes, 3600 bytes of pixels after a 54-byte header.
  CHECK(verdict(write("a.bmp", cut(bmp, bmp.size() - 1))) ==
        V{kCorrupt, fmt::format("BMP pixel data needs 3654 bytes, the file has {} (truncated)", bmp.size() - 1)});

  const auto tga_raw = test::encode_image(img, "tga-raw");
  CHECK(verdict(write("a.tga", cut(tga_raw, 18 + 3600 - 1))) == V{kCorrupt, "TGA pixel data runs past the end of the file (truncated)"});
  const auto tga = test::encode_image(img, "tga");
  CHECK(verdict(write("b.tga", cut(tga, tga.size() - 1))) ==
        V{kCorrupt, "TGA run-length data runs past the end of the file (truncated)"});

  const auto webp = test::encode_image(img, "webp");
  CHECK(verdict(write("a.webp", cut(webp, webp.size() - 1))) ==
        V{kCorrupt, fmt::format("WebP header says {} bytes, the file has {} (truncated)", le32_at(webp, 4) + 8, webp.size() - 1)});

  // A small JPEG with a comment holding FF D9 right after SOI, cut in the middle of its entropy-coded data:
  // the old check found "an end marker" in the comment and let stb_image pad the rest with grey.
  const auto jpg = test::encode_image(img, "jpeg");
  std::vector<uint8_t> commented = {0xFF, 0xD8, 0xFF, 0xFE, 0x00, 0x06, 'e', 0xFF, 0xD9, 'x'};
  commented.insert(commented.end(), jpg.begin() + 2, jpg.end());
  CHECK(verdict(write("whole_comment.jpg", commented)).first == "accepted");
  CHECK(verdict(write("a.jpg", cut(commented, commented.size() - 100))) ==
        V{kCorrupt, "JPEG data ends before its end-of-image marker (truncated)"});
  // Cut, then an end-of-image marker appended: the structure is whole, the scan is short.
  std::vector<uint8_t> short_scan = cut(jpg, jpg.size() - 100);
  test::append(short_scan, {0xFF, 0xD9});
  const V short_verdict = verdict(write("b.jpg", short_scan));
  if (std::string(jpeg_decoder_name()) == "libjpeg-turbo")
    CHECK(short_verdict == V{kCorrupt, "jpeg decoder: Corrupt JPEG data: premature end of data segment"});
  else
    WARN("stb_image decodes a JPEG whose scan was cut and closed by an end-of-image marker: " << short_verdict.first);
}

TEST_CASE("image: headers claiming huge sizes are oversized in every format, before any decoding") {
  TempDir dir("image_oversized");
  const Image img = test::pattern_image(4, 4, 2);
  using V = std::pair<std::string, std::string>;
  const auto claim = [&](const std::string& name, std::vector<uint8_t> bytes) {
    test::write_bytes(dir / name, bytes);
    return verdict(dir / name);
  };
  const std::string huge = "100000x100000 = 10000.0 megapixels, limit 64.0";
  const std::string max16 = "65535x65535 = 4294.8 megapixels, limit 64.0";
  CHECK(claim("a.png", test::make_png(100000, 100000, 8, 2, {})) == V{"oversized", huge});
  auto gif = test::encode_image(img, "gif");
  for (int i : {6, 7, 8, 9}) gif[size_t(i)] = 0xFF;
  CHECK(claim("a.gif", gif) == V{"oversized", max16});
  auto bmp = test::encode_image(img, "bmp");
  for (size_t at : {18u, 22u}) bmp[at] = 0xA0, bmp[at + 1] = 0x86, bmp[at + 2] = 0x01, bmp[at + 3] = 0;  // 100000
  CHECK(claim("a.bmp", bmp) == V{"oversized", huge});
  auto tga = test::encode_image(img, "tga");
  for (int i : {12, 13, 14, 15}) tga[size_t(i)] = 0xFF;
  CHECK(claim("a.tga", tga) == V{"oversized", max16});
  CHECK(claim("a.jpg", test::jpeg_header(0xC0, 3, 65535, 65535)) == V{"oversized", max16});
  // WebP: an extended header (VP8X) whose canvas is 16384 x 16384 (fields hold size - 1, 24 bits each).
  std::vector<uint8_t> webp = {'R', 'I', 'F', 'F', 22, 0, 0, 0, 'W', 'E', 'B', 'P', 'V', 'P', '8', 'X', 10, 0, 0, 0,
                               0, 0, 0, 0, 0xFF, 0x3F, 0, 0xFF, 0x3F, 0};
  CHECK(claim("a.webp", webp) == V{"oversized", "16384x16384 = 268.4 megapixels, limit 64.0"});
}

TEST_CASE("image: a 5 GB sparse file is refused from its first bytes, fast and without reading it") {
  TempDir dir("image_sparse");
  const auto png = test::encode_image(test::pattern_image(8, 8, 1), "png");
  test::write_bytes(dir / "big.png", png);
  REQUIRE(::truncate((dir / "big.png").c_str(), int64_t(5) << 30) == 0);
  test::write_bytes(dir / "zeros.jpg", {});
  REQUIRE(::truncate((dir / "zeros.jpg").c_str(), int64_t(5) << 30) == 0);
  const auto t0 = std::chrono::steady_clock::now();
  CHECK(verdict(dir / "big.png") == std::pair<std::string, std::string>{"oversized", "file is 5.0 GiB, limit 321.2 MiB"});
  CHECK(verdict(dir / "zeros.jpg") ==
        std::pair<std::string, std::string>{"not an image", "bytes match no supported image format"});
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
  // The plain whole-file reader refuses it by size too, before allocating.
  CHECK_THROWS_WITH(read_file_bytes(dir / "big.png"), Catch::Contains("oversized (file is 5.0 GiB, limit 1.0 GiB)"));
}

TEST_CASE("image: JPEG speed settings decode close to the source, each one really applied, bad data refused") {
  TempDir dir("image_jpeg_settings");
  // Chroma that changes across the image, saved at quality 85, where stb_image_write subsamples the chroma
  // 2x2: plain upsampling then has chroma edges to treat differently from fancy upsampling.
  Image src;
  src.width = 96;
  src.height = 64;
  for (int y = 0; y < src.height; ++y)
    for (int x = 0; x < src.width; ++x) {
      src.rgb.push_back(uint8_t(128 + 90 * std::sin(x * 0.11)));
      src.rgb.push_back(uint8_t(120 + 80 * std::cos(y * 0.17)));
      src.rgb.push_back(uint8_t(40 + 2 * x));
    }
  test::write_jpg(dir / "a.jpg", src, 85);
  const auto bytes = test::read_bytes(dir / "a.jpg");
  const JpegOptions settings[] = {{false, true}, {true, true}, {false, false}, {true, false}};
  std::vector<Image> decoded;
  for (const JpegOptions& o : settings) {
    INFO("fast_idct " << o.fast_idct << ", fancy_upsampling " << o.fancy_upsampling);
    const Image img = decode_image(bytes, dir / "a.jpg", kDefaultMaxPixels, 0, o);
    REQUIRE(img.width == src.width);
    REQUIRE(img.height == src.height);
    // Against the source pixels, not another decode: a swapped channel or a row shift costs tens.
    double err = 0;
    for (size_t i = 0; i < img.rgb.size(); ++i) err += std::abs(int(img.rgb[i]) - int(src.rgb[i]));
    CHECK(err / double(img.rgb.size()) < 4.0);
    decoded.push_back(img);
  }
  if (std::string(jpeg_decoder_name()) == "libjpeg-turbo") {
    // Each setting reaches libjpeg: a setting that was dropped would decode bit for bit like the default.
    CHECK(decoded[1].rgb != decoded[0].rgb);
    CHECK(decoded[2].rgb != decoded[0].rgb);
    CHECK(decoded[3].rgb != decoded[1].rgb);
    CHECK(decoded[3].rgb != decoded[2].rgb);
  }
  // Truncated (no end-of-image marker), and cut inside the scan but closed with FF D9 (libjpeg's own
  // "premature end of data"): refused under every setting, at full size and reduced.
  std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + bytes.size() * 2 / 3);
  std::vector<uint8_t> closed = cut;
  closed.push_back(0xFF);
  closed.push_back(0xD9);
  for (const JpegOptions& o : settings)
    for (int reduce_to : {0, 8})
      for (const auto* bad : {&cut, &closed}) {
        INFO("fast_idct " << o.fast_idct << ", fancy_upsampling " << o.fancy_upsampling << ", reduce_to " << reduce_to
                          << ", " << (bad == &cut ? "truncated" : "cut and closed"));
        try {
          decode_image(*bad, dir / "bad.jpg", kDefaultMaxPixels, reduce_to, o);
          FAIL("a damaged JPEG was accepted");
        } catch (const BadImage& e) {
          CHECK(e.reason == BadImageReason::corrupt);
          CHECK(std::string(e.what()).find(dir / "bad.jpg") != std::string::npos);
        }
      }
}
