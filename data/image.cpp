#include "data/image.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <webp/decode.h>

#if defined(TINT_HAVE_LIBJPEG)
#include <csetjmp>
#include <jpeglib.h>
#endif

#include <stb_image.h>
#include <stb_image_write.h>

namespace tint {

std::string_view reason_name(BadImageReason r) {
  switch (r) {
    case BadImageReason::unreadable: return "unreadable";
    case BadImageReason::empty: return "zero-byte";
    case BadImageReason::not_an_image: return "not an image";
    case BadImageReason::unsupported: return "unsupported";
    case BadImageReason::oversized: return "oversized";
    case BadImageReason::corrupt: return "corrupt or truncated";
  }
  return "?";
}

BadImage::BadImage(BadImageReason r, const std::string& path, const std::string& d)
    : Error(fmt::format("{}: {} ({})", path, reason_name(r), d)), reason(r), detail(d) {}

std::string_view format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::jpeg: return "jpeg";
    case ImageFormat::png: return "png";
    case ImageFormat::gif: return "gif";
    case ImageFormat::bmp: return "bmp";
    case ImageFormat::tga: return "tga";
    case ImageFormat::webp: return "webp";
    case ImageFormat::unknown: break;
  }
  return "unknown";
}

namespace {

std::string lower_extension(std::string_view path) {
  const auto slash = path.find_last_of('/');
  const auto dot = path.find_last_of('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) return {};
  std::string ext(path.substr(dot + 1));
  for (auto& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

// Walks the JPEG marker segments up to the frame header: the only way to refuse CMYK, arithmetic-coded and
// oversized JPEGs before decoding them (stb_image would decode CMYK with a naive transform, and reports
// arithmetic coding only as a generic failure).
ImageInfo probe_jpeg(const std::vector<uint8_t>& b, const std::string& path) {
  size_t pos = 2;
  const size_t n = b.size();
  while (true) {
    while (pos < n && b[pos] != 0xFF) ++pos;  // tolerate junk between segments as libjpeg does
    while (pos < n && b[pos] == 0xFF) ++pos;
    if (pos >= n) throw BadImage(BadImageReason::corrupt, path, "JPEG ends before its frame header");
    const uint8_t marker = b[pos++];
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;  // no length
    if (pos + 2 > n) throw BadImage(BadImageReason::corrupt, path, "JPEG ends inside a marker");
    const size_t length = be16(&b[pos]);
    if (length < 2 || pos + length > n) throw BadImage(BadImageReason::corrupt, path, "JPEG segment runs past the end of the file");
    const bool sof = marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (marker == 0xDA || marker == 0xD9) throw BadImage(BadImageReason::corrupt, path, "JPEG has no frame header");
    if (!sof) {
      pos += length;
      continue;
    }
    if (length < 8) throw BadImage(BadImageReason::corrupt, path, "JPEG frame header too short");
    const int precision = b[pos + 2];
    ImageInfo info{ImageFormat::jpeg, be16(&b[pos + 5]), be16(&b[pos + 3])};
    const int components = b[pos + 7];
    if (marker >= 0xC9) throw BadImage(BadImageReason::unsupported, path, "arithmetic-coded JPEG");
    if (marker == 0xC3 || (marker >= 0xC5 && marker <= 0xC7))
      throw BadImage(BadImageReason::unsupported, path, "lossless or hierarchical JPEG");
    if (precision != 8) throw BadImage(BadImageReason::unsupported, path, fmt::format("{}-bit JPEG", precision));
    if (components == 4) throw BadImage(BadImageReason::unsupported, path, "CMYK JPEG");
    if (components != 1 && components != 3)
      throw BadImage(BadImageReason::unsupported, path, fmt::format("JPEG with {} components", components));
    return info;
  }
}

bool jpeg_has_end_marker(const std::vector<uint8_t>& b) {
  // Writers may append padding or metadata after EOI; look for it in the last few kilobytes.
  const size_t n = b.size();
  const size_t stop = n > 65536 ? n - 65536 : 2;
  for (size_t i = n - 1; i > stop; --i)
    if (b[i] == 0xD9 && b[i - 1] == 0xFF) return true;
  return false;
}

void check_pixels(const ImageInfo& info, const std::string& path, int64_t max_pixels) {
  if (info.width <= 0 || info.height <= 0)
    throw BadImage(BadImageReason::corrupt, path, fmt::format("header says {}x{}", info.width, info.height));
  const int64_t pixels = int64_t(info.width) * info.height;
  if (pixels > max_pixels)
    throw BadImage(BadImageReason::oversized, path,
                   fmt::format("{}x{} = {:.1f} megapixels, limit {:.1f}", info.width, info.height, pixels / 1e6, max_pixels / 1e6));
}

// Interleaved 8-bit with `channels` (1..4) -> RGB, compositing alpha over white.
void to_rgb(const uint8_t* src, int channels, int64_t pixels, Image& out) {
  out.rgb.resize(size_t(pixels) * 3);
  uint8_t* dst = out.rgb.data();
  auto over_white = [](int c, int alpha) { return uint8_t((c * alpha + 255 * (255 - alpha) + 127) / 255); };
  for (int64_t i = 0; i < pixels; ++i, dst += 3) {
    const uint8_t* s = src + i * channels;
    switch (channels) {
      case 1: dst[0] = dst[1] = dst[2] = s[0]; break;
      case 2: dst[0] = dst[1] = dst[2] = over_white(s[0], s[1]); break;
      case 3: dst[0] = s[0], dst[1] = s[1], dst[2] = s[2]; break;
      default:
        dst[0] = over_white(s[0], s[3]);
        dst[1] = over_white(s[1], s[3]);
        dst[2] = over_white(s[2], s[3]);
    }
  }
  out.grey = channels <= 2;
  if (!out.grey) {
    bool grey = true;
    const uint8_t* p = out.rgb.data();
    for (int64_t i = 0; i < pixels && grey; ++i, p += 3) grey = p[0] == p[1] && p[1] == p[2];
    out.grey = grey;
  }
}

#if defined(TINT_HAVE_LIBJPEG)
struct JpegErrors {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}
void jpeg_quiet(j_common_ptr, int) {}  // warnings (benign markers, extra bytes) are not worth a line each

// Decodes with libjpeg at scale 1/denom. libjpeg reports errors by longjmp; this frame holds no object
// with a destructor between setjmp and the jump (out is the caller's), so nothing is skipped.
bool jpeg_decode(const std::vector<uint8_t>& b, int denom, std::vector<uint8_t>& out, int& w, int& h, int& channels,
                 char* message) {
  jpeg_decompress_struct cinfo;
  JpegErrors errors;
  cinfo.err = jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = jpeg_error_exit;
  errors.mgr.emit_message = jpeg_quiet;
  if (setjmp(errors.jump)) {
    std::memcpy(message, errors.message, JMSG_LENGTH_MAX);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, b.data(), static_cast<unsigned long>(b.size()));
  jpeg_read_header(&cinfo, TRUE);
  cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  cinfo.scale_num = 1;
  cinfo.scale_denom = unsigned(denom);
  jpeg_start_decompress(&cinfo);
  w = int(cinfo.output_width);
  h = int(cinfo.output_height);
  channels = cinfo.output_components;
  out.resize(size_t(w) * h * channels);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = &out[size_t(cinfo.output_scanline) * w * channels];
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}
#endif

}  // namespace

const char* jpeg_decoder_name() {
#if defined(TINT_HAVE_LIBJPEG)
  return "libjpeg-turbo";
#else
  return "stb_image";
#endif
}

ImageFormat sniff_format(const uint8_t* d, size_t n, std::string_view path) {
  if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return ImageFormat::jpeg;
  if (n >= 8 && std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) return ImageFormat::png;
  if (n >= 6 && (std::memcmp(d, "GIF87a", 6) == 0 || std::memcmp(d, "GIF89a", 6) == 0)) return ImageFormat::gif;
  if (n >= 12 && std::memcmp(d, "RIFF", 4) == 0 && std::memcmp(d + 8, "WEBP", 4) == 0) return ImageFormat::webp;
  if (n >= 2 && d[0] == 'B' && d[1] == 'M') return ImageFormat::bmp;
  if (lower_extension(path) == "tga") return ImageFormat::tga;
  return ImageFormat::unknown;
}

bool has_image_extension(std::string_view path) {
  static const char* const kExtensions[] = {"jpg", "jpeg", "jpe", "png", "bmp", "tga", "gif", "webp"};
  const std::string ext = lower_extension(path);
  return std::any_of(std::begin(kExtensions), std::end(kExtensions), [&](const char* e) { return ext == e; });
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw BadImage(BadImageReason::unreadable, path, std::strerror(errno));
  std::vector<uint8_t> bytes;
  uint8_t chunk[1 << 16];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof chunk, f.get())) > 0) bytes.insert(bytes.end(), chunk, chunk + got);
  if (std::ferror(f.get())) throw BadImage(BadImageReason::unreadable, path, std::strerror(errno));
  return bytes;
}

ImageInfo probe_image(const std::vector<uint8_t>& b, const std::string& path, int64_t max_pixels) {
  if (b.empty()) throw BadImage(BadImageReason::empty, path, "file is empty");
  ImageInfo info;
  info.format = sniff_format(b.data(), b.size(), path);
  switch (info.format) {
    case ImageFormat::unknown:
      throw BadImage(BadImageReason::not_an_image, path, "bytes match no supported image format");
    case ImageFormat::jpeg:
      info = probe_jpeg(b, path);
      break;
    case ImageFormat::webp: {
      WebPBitstreamFeatures features;
      if (WebPGetFeatures(b.data(), b.size(), &features) != VP8_STATUS_OK)
        throw BadImage(BadImageReason::corrupt, path, "bad WebP header");
      if (features.has_animation) throw BadImage(BadImageReason::unsupported, path, "animated WebP");
      info.width = features.width;
      info.height = features.height;
      break;
    }
    default: {
      int comp = 0;
      if (b.size() > size_t(INT32_MAX) ||
          !stbi_info_from_memory(b.data(), int(b.size()), &info.width, &info.height, &comp))
        throw BadImage(BadImageReason::corrupt, path, fmt::format("bad {} header: {}", format_name(info.format), stbi_failure_reason()));
    }
  }
  check_pixels(info, path, max_pixels);
  return info;
}

Image decode_image(const std::vector<uint8_t>& b, const std::string& path, int64_t max_pixels, int reduce_to) {
  const ImageInfo info = probe_image(b, path, max_pixels);
  Image out;
  if (info.format == ImageFormat::webp) {
    WebPBitstreamFeatures features;
    WebPGetFeatures(b.data(), b.size(), &features);
    int w = 0, h = 0;
    const int channels = features.has_alpha ? 4 : 3;
    uint8_t* pixels = features.has_alpha ? WebPDecodeRGBA(b.data(), b.size(), &w, &h) : WebPDecodeRGB(b.data(), b.size(), &w, &h);
    if (!pixels) throw BadImage(BadImageReason::corrupt, path, "WebP data does not decode");
    std::unique_ptr<uint8_t, void (*)(void*)> hold(pixels, &WebPFree);
    out.width = w;
    out.height = h;
    to_rgb(pixels, channels, out.pixels(), out);
    return out;
  }
  if (info.format == ImageFormat::jpeg && !jpeg_has_end_marker(b))
    throw BadImage(BadImageReason::corrupt, path, "JPEG has no end-of-image marker (truncated?)");
#if defined(TINT_HAVE_LIBJPEG)
  if (info.format == ImageFormat::jpeg) {
    int denom = 1;
    while (denom < 8 && reduce_to > 0 && std::min(info.width, info.height) / (denom * 2) >= 2 * reduce_to) denom *= 2;
    std::vector<uint8_t> pixels;
    int w = 0, h = 0, channels = 0;
    char message[JMSG_LENGTH_MAX] = {0};
    if (!jpeg_decode(b, denom, pixels, w, h, channels, message))
      throw BadImage(BadImageReason::corrupt, path, fmt::format("jpeg decoder: {}", message));
    out.width = w;
    out.height = h;
    to_rgb(pixels.data(), channels, out.pixels(), out);
    return out;
  }
#endif
  int w = 0, h = 0, channels = 0;
  uint8_t* pixels = stbi_load_from_memory(b.data(), int(b.size()), &w, &h, &channels, 0);
  if (!pixels) throw BadImage(BadImageReason::corrupt, path, fmt::format("{} decoder: {}", format_name(info.format), stbi_failure_reason()));
  std::unique_ptr<uint8_t, void (*)(void*)> hold(pixels, &stbi_image_free);
  if (w != info.width || h != info.height)
    throw BadImage(BadImageReason::corrupt, path, fmt::format("header says {}x{}, data {}x{}", info.width, info.height, w, h));
  out.width = w;
  out.height = h;
  to_rgb(pixels, channels, out.pixels(), out);
  return out;
}

Image load_image(const std::string& path, int64_t max_pixels, int reduce_to) {
  return decode_image(read_file_bytes(path), path, max_pixels, reduce_to);
}

void save_image(const Image& image, const std::string& path, int quality) {
  const std::string ext = lower_extension(path);
  TINT_CHECK(image.width > 0 && image.height > 0 && image.rgb.size() == size_t(image.pixels()) * 3,
             "save_image {}: image is {}x{} with {} bytes", path, image.width, image.height, image.rgb.size());
  int ok = 0;
  if (ext == "png")
    ok = stbi_write_png(path.c_str(), image.width, image.height, 3, image.rgb.data(), image.width * 3);
  else if (ext == "jpg" || ext == "jpeg")
    ok = stbi_write_jpg(path.c_str(), image.width, image.height, 3, image.rgb.data(), quality);
  else
    TINT_CHECK(false, "save_image {}: extension must be .png, .jpg or .jpeg", path);
  TINT_CHECK(ok, "save_image {}: cannot write the file", path);
}

}  // namespace tint
