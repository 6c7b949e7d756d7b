// Fixture images for the data tests, generated on the spot: a temporary folder, writers for the formats
// stb_image_write knows, and hand-made bytes for the ones it does not (16-bit PNG, CMYK JPEG headers, ...).
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <algorithm>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <stb_image_write.h>
#include <webp/encode.h>

#include "data/image.h"
#include "tests/temp_dir.h"

// Defined (extern "C") by stb_image_write's implementation in data/stb_impl.cpp, but not declared by its header.
extern "C" unsigned char* stbi_zlib_compress(unsigned char* data, int data_len, int* out_len, int quality);

namespace tint::test {

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

// stb_image_write's encoders into memory.
inline void append_to(void* context, void* data, int size) {
  auto* v = static_cast<std::vector<uint8_t>*>(context);
  v->insert(v->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

// A GIF89a of `img` (each pixel's palette index is its red value; the palette is grey), written with 9-bit
// LZW codes that are all literals and a clear code every 250 so the code width never grows: valid for any
// decoder, with no compressor to get wrong.
inline std::vector<uint8_t> make_gif(const Image& img) {
  std::vector<uint8_t> v = {'G', 'I', 'F', '8', '9', 'a'};
  append(v, {uint8_t(img.width), uint8_t(img.width >> 8), uint8_t(img.height), uint8_t(img.height >> 8), 0xF7, 0, 0});
  for (int i = 0; i < 256; ++i) append(v, {uint8_t(i), uint8_t(i), uint8_t(i)});
  append(v, {0x2C, 0, 0, 0, 0, uint8_t(img.width), uint8_t(img.width >> 8), uint8_t(img.height), uint8_t(img.height >> 8), 0, 8});
  std::vector<uint8_t> codes;
  uint32_t acc = 0;
  int bits = 0;
  auto put = [&](uint32_t code) {
    acc |= code << bits;
    for (bits += 9; bits >= 8; bits -= 8, acc >>= 8) codes.push_back(uint8_t(acc));
  };
  const int64_t n = img.pixels();
  for (int64_t i = 0; i < n; ++i) {
    if (i % 250 == 0) put(256);
    put(img.rgb[size_t(i) * 3]);
  }
  put(257);
  if (bits > 0) codes.push_back(uint8_t(acc));
  for (size_t at = 0; at < codes.size(); at += 255) {
    const size_t len = std::min<size_t>(255, codes.size() - at);
    v.push_back(uint8_t(len));
    v.insert(v.end(), codes.begin() + long(at), codes.begin() + long(at + len));
  }
  append(v, {0, 0x3B});
  return v;
}

// `img` encoded as `format` ("jpeg", "png", "gif", "bmp", "tga" (run-length), "tga-raw", "webp" lossless).
inline std::vector<uint8_t> encode_image(const Image& img, const std::string& format) {
  std::vector<uint8_t> v;
  const int w = img.width, h = img.height;
  if (format == "jpeg") stbi_write_jpg_to_func(append_to, &v, w, h, 3, img.rgb.data(), 90);
  if (format == "png") stbi_write_png_to_func(append_to, &v, w, h, 3, img.rgb.data(), w * 3);
  if (format == "bmp") stbi_write_bmp_to_func(append_to, &v, w, h, 3, img.rgb.data());
  if (format == "tga" || format == "tga-raw") {
    const int rle = stbi_write_tga_with_rle;
    stbi_write_tga_with_rle = format == "tga";
    stbi_write_tga_to_func(append_to, &v, w, h, 3, img.rgb.data());
    stbi_write_tga_with_rle = rle;
  }
  if (format == "gif") v = make_gif(img);
  if (format == "webp") {
    uint8_t* out = nullptr;
    const size_t size = WebPEncodeLosslessRGB(img.rgb.data(), w, h, w * 3, &out);
    v.assign(out, out + size);
    WebPFree(out);
  }
  if (v.empty()) throw std::runtime_error("encode_image: cannot write " + format);
  return v;
}

}  // namespace tint::test
