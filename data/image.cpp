#include "data/image.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <webp/decode.h>

#if defined(TINT_HAVE_LIBJPEG)
#include <csetjmp>
#include <jpeglib.h>
#include <jerror.h>
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

namespace {
// A library that fails without saying why must still leave a reason a person can act on.
std::string non_empty(const std::string& d) { return d.empty() ? std::string("no detail given") : d; }
}  // namespace

BadImage::BadImage(BadImageReason r, const std::string& path, const std::string& d)
    : Error(fmt::format("{}: {} ({})", path, reason_name(r), non_empty(d))), reason(r), detail(non_empty(d)) {}

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

uint16_t le16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }
uint32_t le32(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24; }
uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }

// Whether the JPEG reaches its end-of-image marker, found by walking the segments and the entropy-coded data
// as a decoder would: an FF D9 byte pair inside a comment or an APPn segment is data, not the end, so a file
// cut after such a segment is still caught. stb_image pads missing data with zeros silently, and libjpeg only
// warns, which is why this check exists at all.
bool jpeg_reaches_end(const std::vector<uint8_t>& b) {
  const size_t n = b.size();
  size_t pos = 2;
  while (true) {
    while (pos < n && b[pos] != 0xFF) ++pos;
    while (pos < n && b[pos] == 0xFF) ++pos;
    if (pos >= n) return false;
    const uint8_t marker = b[pos++];
    if (marker == 0xD9) return true;
    if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) continue;
    if (pos + 2 > n) return false;
    const size_t length = be16(&b[pos]);
    if (length < 2 || pos + length > n) return false;
    pos += length;
    if (marker != 0xDA) continue;
    // Entropy-coded data: FF 00 is a stuffed byte and FF D0..D7 a restart; any other marker ends the scan.
    while (pos + 1 < n) {
      if (b[pos] != 0xFF) {
        ++pos;
        continue;
      }
      const uint8_t next = b[pos + 1];
      if (next == 0x00 || (next >= 0xD0 && next <= 0xD7) || next == 0xFF) {
        pos += next == 0xFF ? 1 : 2;
        continue;
      }
      break;
    }
    if (pos + 1 >= n) return false;
  }
}

// The header parsers below read only the dimensions, so that a header claiming 100000x100000 is called
// oversized before any library is asked (stb_image refuses such sizes with a generic failure).
bool png_dimensions(const std::vector<uint8_t>& b, int64_t& w, int64_t& h) {
  if (b.size() < 24 || std::memcmp(&b[12], "IHDR", 4) != 0) return false;
  w = be32(&b[16]);
  h = be32(&b[20]);
  return true;
}

bool gif_dimensions(const std::vector<uint8_t>& b, int64_t& w, int64_t& h) {
  if (b.size() < 10) return false;
  w = le16(&b[6]);
  h = le16(&b[8]);
  return true;
}

bool bmp_dimensions(const std::vector<uint8_t>& b, int64_t& w, int64_t& h) {
  if (b.size() < 26) return false;
  const uint32_t header = le32(&b[14]);
  if (header == 12) {
    w = le16(&b[18]);
    h = le16(&b[20]);
    return true;
  }
  w = int32_t(le32(&b[18]));
  h = int32_t(le32(&b[22]));
  if (h < 0) h = -h;  // top-down rows
  return true;
}

bool tga_dimensions(const std::vector<uint8_t>& b, int64_t& w, int64_t& h) {
  if (b.size() < 18) return false;
  w = le16(&b[12]);
  h = le16(&b[14]);
  return true;
}

// Every PNG chunk up to IEND must lie inside the file: stb_image reads past a cut as zeros and reports the
// result as an unknown chunk, or decodes what it has.
std::string png_truncation(const std::vector<uint8_t>& b) {
  size_t pos = 8;
  while (pos + 8 <= b.size()) {
    const size_t length = be32(&b[pos]);
    const bool end = std::memcmp(&b[pos + 4], "IEND", 4) == 0;
    if (length > b.size() || pos + 12 + length > b.size()) return "PNG chunk runs past the end of the file (truncated)";
    if (end) return {};
    pos += 12 + length;
  }
  return "PNG ends before its IEND chunk (truncated)";
}

// The first frame (the one decoded) must be complete: stb_image takes a missing sub-block length as the end
// of the image data and returns the frame with the rest left blank.
std::string gif_truncation(const std::vector<uint8_t>& b) {
  const size_t n = b.size();
  if (n < 13) return "GIF ends inside its header (truncated)";
  size_t pos = 13;
  if (b[10] & 0x80) pos += 3u << ((b[10] & 7) + 1);
  auto skip_sub_blocks = [&](size_t& p) {
    while (p < n) {
      const size_t len = b[p++];
      if (len == 0) return true;
      p += len;
    }
    return false;
  };
  while (pos < n) {
    const uint8_t kind = b[pos++];
    if (kind == 0x21) {
      if (pos >= n) break;
      ++pos;  // the extension's label
      if (!skip_sub_blocks(pos)) break;
    } else if (kind == 0x2C) {
      if (pos + 9 > n) break;
      const uint8_t flags = b[pos + 8];
      pos += 9;
      if (flags & 0x80) pos += 3u << ((flags & 7) + 1);
      ++pos;  // LZW minimum code size
      if (pos > n || !skip_sub_blocks(pos)) break;
      return {};
    } else if (kind == 0x3B) {
      return "GIF has no image";
    } else {
      return fmt::format("GIF block of unknown kind 0x{:02x}", kind);
    }
  }
  return "GIF ends inside its first frame (truncated)";
}

std::string bmp_truncation(const std::vector<uint8_t>& b, int64_t w, int64_t h) {
  if (b.size() < 30) return "BMP ends inside its header (truncated)";
  const uint32_t offset = le32(&b[10]);
  const uint32_t header = le32(&b[14]);
  const int bits = header == 12 ? le16(&b[24]) : le16(&b[28]);
  const uint32_t compression = header >= 40 && b.size() >= 34 ? le32(&b[30]) : 0;
  if (compression != 0 && compression != 3) return {};  // RLE: the length follows from the data, stb checks it
  const int64_t row = (w * bits + 31) / 32 * 4;
  if (int64_t(offset) + row * h > int64_t(b.size()))
    return fmt::format("BMP pixel data needs {} bytes, the file has {} (truncated)", int64_t(offset) + row * h, b.size());
  return {};
}

std::string tga_truncation(const std::vector<uint8_t>& b, int64_t w, int64_t h) {
  const int type = b[2];
  const int bits = b[16];
  const int64_t colour_map = b[1] ? int64_t(le16(&b[5])) * ((b[7] + 7) / 8) : 0;
  const size_t start = size_t(18 + b[0] + colour_map);
  const int bytes_per_pixel = (bits + 7) / 8;
  if (bytes_per_pixel <= 0) return {};
  if (type == 1 || type == 2 || type == 3) {
    if (int64_t(start) + w * h * bytes_per_pixel > int64_t(b.size())) return "TGA pixel data runs past the end of the file (truncated)";
    return {};
  }
  if (type == 9 || type == 10 || type == 11) {
    // Run-length packets: a header byte, then one pixel (a run) or count pixels (raw).
    int64_t left = w * h;
    size_t pos = start;
    while (left > 0) {
      if (pos >= b.size()) return "TGA run-length data runs past the end of the file (truncated)";
      const uint8_t head = b[pos++];
      const int64_t count = (head & 0x7F) + 1;
      pos += size_t(head & 0x80 ? bytes_per_pixel : count * bytes_per_pixel);
      left -= count;
    }
    if (pos > b.size()) return "TGA run-length data runs past the end of the file (truncated)";
  }
  return {};
}

std::string webp_truncation(const std::vector<uint8_t>& b) {
  const uint64_t riff = le32(&b[4]);
  if (riff + 8 > b.size()) return fmt::format("WebP header says {} bytes, the file has {} (truncated)", riff + 8, b.size());
  return {};
}

// stb_image's failure text, or one naming the decoder when it gives none.
std::string stb_reason(ImageFormat f) {
  const char* r = stbi_failure_reason();
  if (r && *r) return fmt::format("{} decoder: {}", format_name(f), r);
  return fmt::format("the {} decoder failed without a reason", format_name(f));
}

void check_pixels(int64_t width, int64_t height, const std::string& path, int64_t max_pixels) {
  if (width <= 0 || height <= 0) throw BadImage(BadImageReason::corrupt, path, fmt::format("header says {}x{}", width, height));
  const int64_t pixels = width * height;
  if (pixels > max_pixels)
    throw BadImage(BadImageReason::oversized, path,
                   fmt::format("{}x{} = {:.1f} megapixels, limit {:.1f}", width, height, pixels / 1e6, max_pixels / 1e6));
}

void flag_grey(Image& out, int channels);

// Interleaved 8-bit with `channels` (1..4) -> RGB, compositing alpha over white.
void to_rgb(const uint8_t* src, int channels, int64_t pixels, Image& out) {
  if (channels == 3) {
    // Most photos: one block copy instead of the per-pixel switch below.
    out.rgb.assign(src, src + size_t(pixels) * 3);
    flag_grey(out, channels);
    return;
  }
  out.rgb.resize(size_t(pixels) * 3);
  uint8_t* dst = out.rgb.data();
  auto over_white = [](int c, int alpha) { return uint8_t((c * alpha + 255 * (255 - alpha) + 127) / 255); };
  for (int64_t i = 0; i < pixels; ++i, dst += 3) {
    const uint8_t* s = src + i * channels;
    switch (channels) {
      case 1: dst[0] = dst[1] = dst[2] = s[0]; break;
      case 2: dst[0] = dst[1] = dst[2] = over_white(s[0], s[1]); break;
      default:
        dst[0] = over_white(s[0], s[3]);
        dst[1] = over_white(s[1], s[3]);
        dst[2] = over_white(s[2], s[3]);
    }
  }
  flag_grey(out, channels);
}

// Grey sources, and colour files whose every pixel has R == G == B.
void flag_grey(Image& out, int channels) {
  const int64_t pixels = out.pixels();
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
// Warnings (benign markers, extra bytes) are not worth a line each, but a premature end of the data (of the
// file: JWRN_JPEG_EOF; of a scan, cut and followed by a marker: JWRN_HIT_MARKER) is libjpeg's way of saying
// the image is truncated: it fills the rest with grey and carries on, so both become errors.
void jpeg_warning(j_common_ptr cinfo, int level) {
  const int code = cinfo->err->msg_code;
  if (level < 0 && (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER)) jpeg_error_exit(cinfo);
}

// Decodes with libjpeg at scale 1/denom. libjpeg reports errors by longjmp; this frame holds no object
// with a destructor between setjmp and the jump (out is the caller's), so nothing is skipped.
bool jpeg_decode(const std::vector<uint8_t>& b, int denom, JpegOptions options, std::vector<uint8_t>& out, int& w, int& h,
                 int& channels, char* message) {
  jpeg_decompress_struct cinfo;
  JpegErrors errors;
  cinfo.err = jpeg_std_error(&errors.mgr);
  errors.mgr.error_exit = jpeg_error_exit;
  errors.mgr.emit_message = jpeg_warning;
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
  cinfo.dct_method = options.fast_idct ? JDCT_IFAST : JDCT_ISLOW;
  cinfo.do_fancy_upsampling = options.fancy_upsampling ? TRUE : FALSE;
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

namespace {

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

// An open file that is known to be regular, with its size. Opened non-blocking so that a FIFO (or a device)
// named like an image cannot stall the caller: it is refused after fstat, before any read.
struct OpenFile {
  int fd = -1;
  int64_t size = 0;
  explicit OpenFile(const std::string& path) {
    // stat first: a socket cannot be opened at all (ENXIO), and the reason should say what it is.
    struct stat named {};
    if (::stat(path.c_str(), &named) != 0) throw BadImage(BadImageReason::unreadable, path, std::strerror(errno));
    if (!S_ISREG(named.st_mode))
      throw BadImage(BadImageReason::unreadable, path, fmt::format("{}, not a regular file", file_kind(named.st_mode)));
    fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) throw BadImage(BadImageReason::unreadable, path, std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int e = errno;
      ::close(fd);
      throw BadImage(BadImageReason::unreadable, path, std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {  // replaced between the two calls
      ::close(fd);
      throw BadImage(BadImageReason::unreadable, path, fmt::format("{}, not a regular file", file_kind(st.st_mode)));
    }
    size = int64_t(st.st_size);
  }
  ~OpenFile() { ::close(fd); }
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;

  // Appends up to `count` bytes; fewer only at the end of the file.
  void read_into(std::vector<uint8_t>& out, size_t count, const std::string& path) const {
    const size_t start = out.size();
    out.resize(start + count);
    size_t got = 0;
    while (got < count) {
      const ssize_t r = ::read(fd, out.data() + start + got, count - got);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw BadImage(BadImageReason::unreadable, path, std::strerror(errno));
      if (r == 0) break;
      got += size_t(r);
    }
    out.resize(start + got);
  }
};

std::string human_size(int64_t bytes) {
  if (bytes >= (int64_t(1) << 30)) return fmt::format("{:.1f} GiB", double(bytes) / double(int64_t(1) << 30));
  return fmt::format("{:.1f} MiB", double(bytes) / double(1 << 20));
}

void check_file_size(int64_t size, int64_t limit, const std::string& path) {
  if (size == 0) throw BadImage(BadImageReason::empty, path, "file is empty");
  if (size > limit)
    throw BadImage(BadImageReason::oversized, path, fmt::format("file is {}, limit {}", human_size(size), human_size(limit)));
}

constexpr size_t kProbeBytes = 64 * 1024;  // holds the header of every format, EXIF-heavy JPEGs aside

}  // namespace

int64_t max_file_bytes(int64_t max_pixels) { return (int64_t(16) << 20) + 5 * std::max<int64_t>(max_pixels, 0); }

std::vector<uint8_t> read_file_bytes(const std::string& path, int64_t max_bytes) {
  const OpenFile f(path);
  check_file_size(f.size, max_bytes, path);
  std::vector<uint8_t> bytes;
  f.read_into(bytes, size_t(f.size), path);
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
      WebPBitstreamFeatures features{};
      const VP8StatusCode status = WebPGetFeatures(b.data(), b.size(), &features);
      // An extended header states the canvas even when the data after it is missing: size comes first.
      if ((status == VP8_STATUS_OK || status == VP8_STATUS_NOT_ENOUGH_DATA) && features.width > 0 && features.height > 0)
        check_pixels(features.width, features.height, path, max_pixels);
      if (status == VP8_STATUS_NOT_ENOUGH_DATA) throw BadImage(BadImageReason::corrupt, path, "WebP header is cut short");
      if (status != VP8_STATUS_OK) throw BadImage(BadImageReason::corrupt, path, fmt::format("bad WebP header (libwebp status {})", int(status)));
      if (features.has_animation) throw BadImage(BadImageReason::unsupported, path, "animated WebP");
      info.width = features.width;
      info.height = features.height;
      break;
    }
    default: {
      int64_t w = 0, h = 0;
      const bool parsed = info.format == ImageFormat::png   ? png_dimensions(b, w, h)
                          : info.format == ImageFormat::gif ? gif_dimensions(b, w, h)
                          : info.format == ImageFormat::bmp ? bmp_dimensions(b, w, h)
                                                            : tga_dimensions(b, w, h);
      if (!parsed) throw BadImage(BadImageReason::corrupt, path, fmt::format("{} header is cut short", format_name(info.format)));
      check_pixels(w, h, path, max_pixels);
      int comp = 0;
      if (b.size() > size_t(INT32_MAX) || !stbi_info_from_memory(b.data(), int(b.size()), &info.width, &info.height, &comp))
        throw BadImage(BadImageReason::corrupt, path, "bad header: " + stb_reason(info.format));
    }
  }
  check_pixels(info.width, info.height, path, max_pixels);
  return info;
}

Image decode_image(const std::vector<uint8_t>& b, const std::string& path, int64_t max_pixels, int reduce_to,
                   [[maybe_unused]] JpegOptions jpeg) {
  const ImageInfo info = probe_image(b, path, max_pixels);
  std::string cut;
  switch (info.format) {
    case ImageFormat::png: cut = png_truncation(b); break;
    case ImageFormat::gif: cut = gif_truncation(b); break;
    case ImageFormat::bmp: cut = bmp_truncation(b, info.width, info.height); break;
    case ImageFormat::tga: cut = tga_truncation(b, info.width, info.height); break;
    case ImageFormat::webp: cut = webp_truncation(b); break;
    default: break;
  }
  if (!cut.empty()) throw BadImage(BadImageReason::corrupt, path, cut);
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
  if (info.format == ImageFormat::jpeg && !jpeg_reaches_end(b))
    throw BadImage(BadImageReason::corrupt, path, "JPEG data ends before its end-of-image marker (truncated)");
#if defined(TINT_HAVE_LIBJPEG)
  if (info.format == ImageFormat::jpeg) {
    int denom = 1;
    while (denom < 8 && reduce_to > 0 && std::min(info.width, info.height) / (denom * 2) >= 2 * reduce_to) denom *= 2;
    std::vector<uint8_t> pixels;
    int w = 0, h = 0, channels = 0;
    char message[JMSG_LENGTH_MAX] = {0};
    if (!jpeg_decode(b, denom, jpeg, pixels, w, h, channels, message))
      throw BadImage(BadImageReason::corrupt, path,
                     message[0] ? fmt::format("jpeg decoder: {}", message) : "the jpeg decoder failed without a reason");
    out.width = w;
    out.height = h;
    if (channels == 3) {  // libjpeg wrote RGB already: keep its buffer
      out.rgb = std::move(pixels);
      flag_grey(out, channels);
    } else {
      to_rgb(pixels.data(), channels, out.pixels(), out);
    }
    return out;
  }
#endif
  int w = 0, h = 0, channels = 0;
  uint8_t* pixels = stbi_load_from_memory(b.data(), int(b.size()), &w, &h, &channels, 0);
  if (!pixels) throw BadImage(BadImageReason::corrupt, path, stb_reason(info.format));
  std::unique_ptr<uint8_t, void (*)(void*)> hold(pixels, &stbi_image_free);
  if (w != info.width || h != info.height)
    throw BadImage(BadImageReason::corrupt, path, fmt::format("header says {}x{}, data {}x{}", info.width, info.height, w, h));
  out.width = w;
  out.height = h;
  to_rgb(pixels, channels, out.pixels(), out);
  return out;
}

Image load_image(const std::string& path, int64_t max_pixels, int reduce_to, JpegOptions jpeg) {
  return decode_image(read_image_file(path, max_pixels), path, max_pixels, reduce_to, jpeg);
}

std::vector<uint8_t> read_image_file(const std::string& path, int64_t max_pixels) {
  const OpenFile f(path);
  if (f.size == 0) throw BadImage(BadImageReason::empty, path, "file is empty");
  // The first bytes decide most refusals (not an image, unsupported, too many pixels) before the rest of a
  // possibly huge file is read or even allocated.
  std::vector<uint8_t> bytes;
  f.read_into(bytes, size_t(std::min<int64_t>(f.size, kProbeBytes)), path);
  if (sniff_format(bytes.data(), bytes.size(), path) == ImageFormat::unknown)
    throw BadImage(BadImageReason::not_an_image, path, "bytes match no supported image format");
  if (int64_t(bytes.size()) < f.size) {
    try {
      probe_image(bytes, path, max_pixels);
    } catch (const BadImage& e) {
      // Corrupt here may only mean the header reaches past the probed bytes; the full decode will tell.
      if (e.reason != BadImageReason::corrupt) throw;
    }
  }
  check_file_size(f.size, max_file_bytes(max_pixels), path);
  f.read_into(bytes, size_t(f.size) - bytes.size(), path);
  return bytes;
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
