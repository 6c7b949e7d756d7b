#include "kernels/cpu/host_memory.h"

#include <cstdlib>
#include <cstring>

#include "engine/error.h"

namespace tint::cpu {

void* host_alloc(size_t bytes) {
  // aligned_alloc wants a size that is a multiple of the alignment; a zero-byte request still returns a
  // unique pointer that free accepts.
  const size_t rounded = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded ? rounded : 64);
  TINT_CHECK(p != nullptr, "cpu: out of host memory allocating {} bytes", bytes);
  return p;
}

void host_free(void* p) { std::free(p); }

void host_copy_from_host(const Stream&, void* dst, const void* host_src, size_t bytes) {
  if (bytes) std::memcpy(dst, host_src, bytes);
}

void host_copy_to_host(const Stream&, void* host_dst, const void* src, size_t bytes) {
  if (bytes) std::memcpy(host_dst, src, bytes);
}

void host_synchronize(const Stream&) {}

}  // namespace tint::cpu
