// Fixture images for the data tests, generated on the spot: a temporary folder, writers for the formats
// stb_image_write knows, and hand-made bytes for the ones it does not (16-bit PNG, CMYK JPEG headers, ...).
#pragma once

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <stb_image_write.h>

#include "data/image.h"

// Defined (extern "C") by stb_image_write's implementation in data/stb_impl.cpp, but not declared by its header.
extern "C" unsigned char* stbi_zlib_compress(unsigned char* data, int data_len, int* out_len, int quality);

namespace tint::test {

struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("tint_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

inline std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// A deterministic colourful test pattern.
inline Image pattern_image(int w, int h, uint32_t seed) {
  Image img;
  img.width = w;
  img.height = h;
  img.rgb.resize(size_t(w) * h * 3);
  uint32_t s = seed * 2654435761u + 12345u;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      s = s * 1664525u + 1013904223u;
      uint8_t* p = &img.rgb[(size_t(y) * w + x) * 3];
      p[0] = uint8_t((x * 255) / std::max(1, w - 1));
      p[1] = uint8_t((y * 255) / std::max(1, h - 1));
      p[2] = uint8_t(s >> 24);
    }
  return img;
}

inline void write_png(const std::string& path, const Image& img) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  stbi_write_png(path.c_str(), img.width, img.height, 3, img.rgb.data(), img.width * 3);
}
inline void write_jpg(const std::string& path, const Image& img, int quality = 95) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  stbi_write_jpg(path.c_str(), img.width, img.height, 3, img.rgb.data(), quality);
}

// push_back one by one: GCC 12 reports false overflows on vector::insert of an initializer_list at -O3.
inline void append(std::vector<uint8_t>& v, std::initializer_list<uint8_t> bytes) {
  for (uint8_t b : bytes) v.push_back(b);
}

inline uint32_t crc32(const uint8_t* d, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= d[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

inline void put_be32(std::vector<uint8_t>& v, uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(uint8_t(x >> s));
}

inline void png_chunk(std::vector<uint8_t>& out, const char* type, const std::vector<uint8_t>& data) {
  put_be32(out, uint32_t(data.size()));
  std::vector<uint8_t> body(type, type + 4);
  body.insert(body.end(), data.begin(), data.end());
  out.insert(out.end(), body.begin(), body.end());
  put_be32(out, crc32(body.data(), body.size()));
}

// PNG with the given IHDR and raw (unfiltered) scanlines, compressed by stb's zlib writer.
inline std::vector<uint8_t> make_png(int w, int h, int bit_depth, int colour_type, const std::vector<uint8_t>& raw_rows) {
  std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  put_be32(ihdr, uint32_t(w));
  put_be32(ihdr, uint32_t(h));
  append(ihdr, {uint8_t(bit_depth), uint8_t(colour_type), 0, 0, 0});
  png_chunk(out, "IHDR", ihdr);
  if (!raw_rows.empty()) {
    int zlen = 0;
    unsigned char* z = stbi_zlib_compress(const_cast<unsigned char*>(raw_rows.data()), int(raw_rows.size()), &zlen, 8);
    png_chunk(out, "IDAT", std::vector<uint8_t>(z, z + zlen));
    free(z);
  }
  png_chunk(out, "IEND", {});
  return out;
}

// The start of a JPEG up to its frame header: enough for the header checks, which refuse before decoding.
inline std::vector<uint8_t> jpeg_header(uint8_t sof_marker, int components, int w = 16, int h = 16) {
  std::vector<uint8_t> v = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0};
  const int length = 8 + 3 * components;
  append(v, {0xFF, sof_marker, uint8_t(length >> 8), uint8_t(length), 8, uint8_t(h >> 8), uint8_t(h),
                     uint8_t(w >> 8), uint8_t(w), uint8_t(components)});
  for (int c = 0; c < components; ++c) append(v, {uint8_t(c + 1), 0x11, 0});
  append(v, {0xFF, 0xD9});
  return v;
}

}  // namespace tint::test
