// Reading Qt resource bundles (.rcc), where GCompris keeps its photos as WebP files. Layout (Qt's rcc format):
// "qres", then four big-endian u32: format version, tree offset, data offset, names offset. Tree entries are
// 14 bytes (22 from version 2, the extra 8 a modification time): name offset u32, flags u16; a directory
// (flag 2) then has child count u32 and first child index u32, a file has country u16, language u16 and data
// offset u32. A name is a u16 length, a u32 hash and UTF-16BE characters; file data is a u32 size then the
// bytes (flag 1: zlib, flag 4: zstd, both with their own prefix).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tint {

struct RccEntry {
  std::string path;  // "/gcompris/src/activities/erase/resource/gorilla.webp"
  uint16_t flags = 0;
  uint64_t offset = 0;  // of the bytes within the bundle
  uint32_t size = 0;
  bool compressed() const { return (flags & 5) != 0; }
};

struct RccBundle {
  std::string file;
  std::vector<uint8_t> bytes;
  std::vector<RccEntry> entries;  // files only, in tree order
  // The stored bytes of an uncompressed entry. Throws tint::Error for compressed ones.
  std::vector<uint8_t> contents(const RccEntry& e) const;
};

// Throws tint::Error naming the file when the bundle is malformed.
RccBundle read_rcc(const std::string& path);
RccBundle parse_rcc(std::vector<uint8_t> bytes, const std::string& name);

}  // namespace tint
