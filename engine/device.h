// Devices and their runtimes.
//
// A Device names a backend of the kernel contract (engine/backend.h). Each device has one runtime for the
// process: its backend table, one stream, a thread pool (CPU backends), a caching allocator and a scratch
// workspace. Runtimes are created on first use and live until exit, like a CUDA context.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/backend.h"

namespace tint {

enum class DeviceKind { Cpu, CpuRef, CudaEmu, Cuda };

struct Device {
  DeviceKind kind = DeviceKind::Cpu;

  static Device cpu() { return {DeviceKind::Cpu}; }
  static Device cpu_ref() { return {DeviceKind::CpuRef}; }
  static Device cuda_emu() { return {DeviceKind::CudaEmu}; }
  static Device cuda() { return {DeviceKind::Cuda}; }
  // "cpu", "cpu-ref", "cuda-emu", "cuda". Throws naming the string and listing the valid names.
  static Device parse(const std::string& name);
  // Whether this build and machine can run it ("cuda" needs nvcc at build time and a GPU now).
  bool available() const;

  std::string str() const;
  const Backend& backend() const;
  bool operator==(const Device& o) const { return kind == o.kind; }
  bool operator!=(const Device& o) const { return kind != o.kind; }
};

// Caches freed blocks by size so that a steady training loop allocates nothing from the backend after its
// first step (cudaMalloc and cudaFree synchronise the device). Sizes round up to 512 bytes; a request takes
// the smallest cached block that fits within 2x, else a new one; on out-of-memory the cache is released
// and the allocation retried once.
class CachingAllocator {
 public:
  explicit CachingAllocator(const Backend& backend) : backend_(backend) {}
  ~CachingAllocator();
  void* allocate(size_t bytes);
  void deallocate(void* p);
  void release_cache();  // return every cached block to the backend

  struct Stats {
    size_t bytes_in_use = 0;
    size_t bytes_cached = 0;
    size_t peak_bytes_in_use = 0;
    uint64_t backend_allocs = 0;  // calls that reached the backend (cudaMalloc on a GPU)
    uint64_t backend_frees = 0;
  };
  Stats stats() const;
  void reset_peak();  // peak_bytes_in_use = bytes_in_use, to measure one phase of a run

 private:
  const Backend& backend_;
  mutable std::mutex mutex_;
  std::multimap<size_t, void*> free_blocks_;  // size -> block
  std::map<void*, size_t> live_;              // block -> size
  Stats stats_;
};

class DeviceRuntime {
 public:
  const Device device;
  // A copy of the device's table, dispatched through by every op: a profiler Session swaps in timing
  // wrappers for its lifetime (engine/profiler.h), so profiling off costs nothing.
  Backend backend;
  Stream stream;  // handle, pool and workspace filled in by the runtime
  CachingAllocator allocator;

  // Grows the stream's workspace to at least `bytes` (never shrinks).
  void ensure_workspace(size_t bytes);
  void synchronize() { backend.synchronize(stream); }

  DeviceRuntime(Device d, const Backend& b);
  ~DeviceRuntime();

 private:
  std::unique_ptr<ThreadPool> pool_;
  void* workspace_ = nullptr;
};

// The runtime of a device, created on first use. Throws when the device is not available.
DeviceRuntime& runtime(Device d);

// Every device this build can run here, in the order cpu, cpu-ref, cuda-emu, cuda.
std::vector<Device> available_devices();

}  // namespace tint
