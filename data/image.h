// Reading one image file into 8-bit RGB, and the reasons a file can be refused.
//
// Formats: JPEG, PNG, BMP, TGA, GIF (first frame) through stb_image; WebP through libwebp. The format is
// sniffed from the bytes, not the name (ImageNet holds PNGs and CMYK JPEGs named .JPEG).
// Conversions, one documented way each:
//  - grey (and grey+alpha) images become three equal channels and are flagged grey; so are colour files
//    whose every pixel has R == G == B;
//  - 16-bit PNGs keep their high byte;
//  - alpha is composited over white (what a viewer shows); the colour under transparent pixels is arbitrary.
// Refused before reading the whole file: anything that is not a regular file (FIFOs, sockets, devices: never
// opened in a blocking way), zero-byte files, unrecognised bytes, CMYK / arithmetic-coded / lossless / 12-bit
// JPEGs, animated WebPs, headers claiming more than max_pixels (every format: "oversized"), and files larger
// than max_file_bytes(max_pixels). Refused before decoding: truncation found from the file's structure (the
// JPEG's end-of-image marker reached through its segments and entropy-coded data, PNG chunks up to IEND,
// the first GIF frame's data blocks, BMP/TGA pixel data, the WebP RIFF size), because stb_image pads missing
// data with zeros. Refused after: anything the decoder rejects, and libjpeg's "premature end of data".
// Every refusal carries a non-empty reason.
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

// The largest file accepted for images of at most max_pixels: room for an uncompressed 32-bit BMP of that
// size plus 16 MiB of metadata. Larger files are refused as oversized before they are read.
int64_t max_file_bytes(int64_t max_pixels);

// The whole file. Throws BadImage: unreadable (cannot open; not a regular file, e.g. a FIFO, socket or
// device, which is refused without blocking), empty, or oversized (above max_bytes, checked before reading).
std::vector<uint8_t> read_file_bytes(const std::string& path, int64_t max_bytes = int64_t(1) << 30);

// An image file's bytes, read the careful way: the first 64 KiB are sniffed and their header probed, so that
// a file that is not an image, is unsupported or claims too many pixels is refused without reading or
// allocating the rest; then the size limit max_file_bytes(max_pixels); then the rest. Throws BadImage.
std::vector<uint8_t> read_image_file(const std::string& path, int64_t max_pixels = kDefaultMaxPixels);

// libjpeg-turbo's speed settings (the stb_image path ignores them). Every caller keeps the defaults, libjpeg's
// own (the accurate integer IDCT, fancy upsampling of the chroma): on the photos of README "Data" the other
// settings were measured no faster with libjpeg-turbo's SIMD IDCT (Huffman decoding dominates), and the fast
// IDCT moved the a/b histograms (intersection 0.95-0.98 against the default). benchmarks/bench_jpeg_decode
// measures them again.
struct JpegOptions {
  bool fast_idct = false;        // JDCT_IFAST: the AAN integer IDCT with less precise multipliers
  bool fancy_upsampling = true;  // false: chroma upsampled by replication instead of triangular filtering
};

// Full decode. Throws BadImage.
// reduce_to > 0 says the caller will shrink the image towards that side: a decoder that can (JPEG through
// libjpeg-turbo) may then return the image reduced by 2, 4 or 8 in the DCT domain, keeping its shorter side
// at least 2 * reduce_to. Other formats and the stb_image path ignore it.
Image decode_image(const std::vector<uint8_t>& bytes, const std::string& path, int64_t max_pixels = kDefaultMaxPixels,
                   int reduce_to = 0, JpegOptions jpeg = {});
Image load_image(const std::string& path, int64_t max_pixels = kDefaultMaxPixels, int reduce_to = 0,
                 JpegOptions jpeg = {});

// "libjpeg-turbo" when the build found a static libjpeg (faster, scaled decoding), else "stb_image".
const char* jpeg_decoder_name();

// True for the file names the scanner picks up: .jpg .jpeg .jpe .png .bmp .tga .gif .webp, any case.
bool has_image_extension(std::string_view path);

// Writes 8-bit RGB as PNG or JPEG (chosen by the extension; JPEG at `quality`). Throws Error.
void save_image(const Image& image, const std::string& path, int quality = 92);

}  // namespace tint
