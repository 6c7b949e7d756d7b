// SHA-256 (FIPS 180-4), for the manifest of fetched photos and for finding duplicate files.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace tint {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  std::array<uint8_t, 32> finish();
  static std::string hex(const void* data, size_t size);

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t length_ = 0;
};

std::string sha256_file_hex(const std::string& path);  // throws tint::Error when unreadable

}  // namespace tint
