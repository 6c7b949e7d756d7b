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
#include <thread>
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

  // Private pools, for captured graphs (engine/graph.h). A graph's replay writes the blocks its capture
  // was given, so none of them may go to another tensor while the graph lives. While the calling thread has
  // set a capture pool, allocate() serves it from that pool's free blocks (then from the cache, then the
  // backend), and a block freed at any time returns to the pool it was allocated in, not to the cache.
  // release_pool() gives the pool's free blocks to the cache, and its live ones go there when freed.
  int create_pool();
  void release_pool(int pool);
  void set_capture_pool(int pool);  // 0: none. For the calling thread only: other threads are not captured.
  int capture_pool() const;

 private:
  struct Block {
    size_t size = 0;
    int pool = 0;  // 0: the cache's
  };
  // The free list of a pool (0: the cache). Under mutex_.
  std::multimap<size_t, void*>& free_list(int pool) { return pool ? pool_free_[pool] : free_blocks_; }
  void* take_free(std::multimap<size_t, void*>& list, size_t size, size_t* got);

  const Backend& backend_;
  mutable std::mutex mutex_;
  std::multimap<size_t, void*> free_blocks_;             // the cache: size -> block
  std::map<int, std::multimap<size_t, void*>> pool_free_;  // live pools: pool -> size -> block
  std::map<void*, Block> live_;                         // block -> size, pool
  int next_pool_ = 1;
  int capture_pool_ = 0;
  std::thread::id capture_thread_;
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

  // Grows the stream's workspace to at least `bytes` (never shrinks). While graphs live, a replaced
  // workspace is kept until the last one is gone: their replays still use it.
  void ensure_workspace(size_t bytes);
  void synchronize() { backend.synchronize(stream); }

  // Graph capture (engine/graph.h keeps these in order; use CapturedGraph, not these).
  bool capturing() const { return capturing_; }
  void begin_capture(int pool);
  void* end_capture(size_t* nodes);  // ends it even when it throws; *nodes: the graph's node count
  void graph_created() { ++live_graphs_; }
  void graph_destroyed() { --live_graphs_, release_retired(); }
  void release_retired();  // frees the retired workspaces once no graph lives and no capture runs

  DeviceRuntime(Device d, const Backend& b);
  ~DeviceRuntime();

 private:
  std::unique_ptr<ThreadPool> pool_;
  void* workspace_ = nullptr;
  bool capturing_ = false;
  int live_graphs_ = 0;
  std::vector<void*> retired_workspaces_;  // replaced while graphs lived
};

// The runtime of a device, created on first use. Throws when the device is not available.
DeviceRuntime& runtime(Device d);

// Every device this build can run here, in the order cpu, cpu-ref, cuda-emu, cuda.
std::vector<Device> available_devices();

}  // namespace tint
