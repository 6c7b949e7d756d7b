// Reading one image file into 8-bit RGB, and the reasons a file can be refused.
//
// Formats: JPEG, PNG, BMP, TGA, GIF (first frame) through stb_image; WebP through libwebp. The format is
// sniffed from the bytes, not the name (ImageNet holds PNGs and CMYK JPEGs named .JPEG).
// Conversions, one documented way each:
//  - grey (and grey+alpha) images become three equal channels and are flagged grey; so are colour files
//    whose every pixel has R == G == B;
//  - 16-bit PNGs keep their high byte;
//  - alpha is composited over white (what a viewer shows); the colour under transparent pixels is arbitrary.
// Refused before decoding, from the header: zero-byte files, unrecognised bytes, CMYK / arithmetic-coded /
// lossless / 12-bit JPEGs, animated WebPs, and images above max_pixels. Refused after: anything the decoder
// rejects, and JPEGs without an end-of-image marker (stb_image pads truncated JPEG data silently).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/error.h"

namespace tint {

struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // height rows of width interleaved R,G,B
  bool grey = false;
  int64_t pixels() const { return int64_t(width) * height; }
};

enum class BadImageReason { unreadable, empty, not_an_image, unsupported, oversized, corrupt };
std::string_view reason_name(BadImageReason r);  // "unreadable", "zero-byte", ...
constexpr int kBadImageReasons = 6;

// A file that cannot be used. what() is one line naming the file and the reason.
struct BadImage : Error {
  BadImage(BadImageReason r, const std::string& path, const std::string& detail);
  BadImageReason reason;
  std::string detail;  // the reason without the file name
};

constexpr int64_t kDefaultMaxPixels = 64'000'000;

enum class ImageFormat { unknown, jpeg, png, gif, bmp, tga, webp };
std::string_view format_name(ImageFormat f);
// From magic bytes; TGA has none, so it is accepted only when the name ends in .tga.
ImageFormat sniff_format(const uint8_t* data, size_t size, std::string_view path);

struct ImageInfo {
  ImageFormat format = ImageFormat::unknown;
  int width = 0, height = 0;
};
// Header checks only (no pixel decoding). Throws BadImage.
ImageInfo probe_image(const std::vector<uint8_t>& bytes, const std::string& path, int64_t max_pixels = kDefaultMaxPixels);

std::vector<uint8_t> read_file_bytes(const std::string& path);  // throws BadImage(unreadable)

// Full decode. Throws BadImage.
// reduce_to > 0 says the caller will shrink the image towards that side: a decoder that can (JPEG through
// libjpeg-turbo) may then return the image reduced by 2, 4 or 8 in the DCT domain, keeping its shorter side
// at least 2 * reduce_to. Other formats and the stb_image path ignore it.
Image decode_image(const std::vector<uint8_t>& bytes, const std::string& path, int64_t max_pixels = kDefaultMaxPixels,
                   int reduce_to = 0);
Image load_image(const std::string& path, int64_t max_pixels = kDefaultMaxPixels, int reduce_to = 0);

// "libjpeg-turbo" when the build found a static libjpeg (faster, scaled decoding), else "stb_image".
const char* jpeg_decoder_name();

// True for the file names the scanner picks up: .jpg .jpeg .jpe .png .bmp .tga .gif .webp, any case.
bool has_image_extension(std::string_view path);

// Writes 8-bit RGB as PNG or JPEG (chosen by the extension; JPEG at `quality`). Throws Error.
void save_image(const Image& image, const std::string& path, int quality = 92);

}  // namespace tint
