#include "engine/device.h"

#include <array>

#include "engine/error.h"
#include "engine/thread_pool.h"

namespace tint {

namespace {
constexpr size_t kRound = 512;
size_t round_up(size_t bytes) { return (bytes + kRound - 1) / kRound * kRound; }
}  // namespace

// ---- Device -------------------------------------------------------------------------------------------

Device Device::parse(const std::string& name) {
  if (name == "cpu") return cpu();
  if (name == "cpu-ref") return cpu_ref();
  if (name == "cuda-emu") return cuda_emu();
  if (name == "cuda") return cuda();
  throw Error(fmt::format("unknown device '{}' (valid: cpu, cpu-ref, cuda-emu, cuda)", name));
}

std::string Device::str() const {
  switch (kind) {
    case DeviceKind::Cpu: return "cpu";
    case DeviceKind::CpuRef: return "cpu-ref";
    case DeviceKind::CudaEmu: return "cuda-emu";
    case DeviceKind::Cuda: return "cuda";
  }
  return "?";
}

bool Device::available() const {
  if (kind == DeviceKind::Cuda) return cuda_backend() != nullptr && cuda_device_available();
  return true;
}

const Backend& Device::backend() const {
  switch (kind) {
    case DeviceKind::Cpu: return cpu_backend();
    case DeviceKind::CpuRef: return cpu_reference_backend();
    case DeviceKind::CudaEmu: return cuda_emu_backend();
    case DeviceKind::Cuda: {
      const Backend* b = cuda_backend();
      TINT_CHECK(b != nullptr, "device 'cuda': this build has no CUDA backend (nvcc was not found at build time)");
      TINT_CHECK(cuda_device_available(), "device 'cuda': no usable CUDA GPU on this machine");
      return *b;
    }
  }
  throw Error("invalid device");
}

std::vector<Device> available_devices() {
  std::vector<Device> out;
  for (Device d : {Device::cpu(), Device::cpu_ref(), Device::cuda_emu(), Device::cuda()})
    if (d.available()) out.push_back(d);
  return out;
}

// ---- CachingAllocator ---------------------------------------------------------------------------------

CachingAllocator::~CachingAllocator() {
  // Blocks still live at exit belong to static tensors; leave them to the process teardown.
  release_cache();
}

void* CachingAllocator::allocate(size_t bytes) {
  const size_t size = round_up(bytes == 0 ? 1 : bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = free_blocks_.lower_bound(size);
  if (it != free_blocks_.end() && it->first <= 2 * size) {
    void* p = it->second;
    size_t got = it->first;
    free_blocks_.erase(it);
    live_[p] = got;
    stats_.bytes_cached -= got;
    stats_.bytes_in_use += got;
    stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
    return p;
  }
  void* p = nullptr;
  try {
    p = backend_.alloc(size);
  } catch (const Error&) {
    // Give the cache back and try once more before reporting.
    for (auto& [s, b] : free_blocks_) {
      backend_.free(b);
      ++stats_.backend_frees;
    }
    free_blocks_.clear();
    stats_.bytes_cached = 0;
    try {
      p = backend_.alloc(size);
    } catch (const Error& e) {
      throw Error(fmt::format("out of memory on {}: asked for {:.1f} MiB with {:.1f} MiB in use by tensors ({})",
                              backend_.name, size / 1048576.0, stats_.bytes_in_use / 1048576.0, e.what()));
    }
  }
  ++stats_.backend_allocs;
  live_[p] = size;
  stats_.bytes_in_use += size;
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  return p;
}

void CachingAllocator::deallocate(void* p) {
  if (!p) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(p);
  if (it == live_.end()) return;  // not ours: a bug elsewhere, but never a double free here
  size_t size = it->second;
  live_.erase(it);
  stats_.bytes_in_use -= size;
  stats_.bytes_cached += size;
  free_blocks_.emplace(size, p);
}

void CachingAllocator::release_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [s, b] : free_blocks_) {
    backend_.free(b);
    ++stats_.backend_frees;
  }
  free_blocks_.clear();
  stats_.bytes_cached = 0;
}

void CachingAllocator::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_bytes_in_use = stats_.bytes_in_use;
}

CachingAllocator::Stats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

// ---- DeviceRuntime ------------------------------------------------------------------------------------

DeviceRuntime::DeviceRuntime(Device d, const Backend& b) : device(d), backend(b), allocator(b) {
  if (d.kind == DeviceKind::Cpu) {
    pool_ = std::make_unique<ThreadPool>();
    stream.pool = pool_.get();
  }
  if (backend.create_stream) stream.handle = backend.create_stream();
  // The GPU reductions keep their per-block partials here (engine/backend.h); the CPU ones need none.
  if (d.kind != DeviceKind::Cpu) ensure_workspace(kReductionWorkspaceBytes);
}

DeviceRuntime::~DeviceRuntime() {
  if (workspace_) allocator.deallocate(workspace_);
  if (backend.destroy_stream && stream.handle) backend.destroy_stream(stream.handle);
}

void DeviceRuntime::ensure_workspace(size_t bytes) {
  if (bytes <= stream.workspace_bytes) return;
  synchronize();  // a kernel in flight may still use the old one
  if (workspace_) allocator.deallocate(workspace_);
  workspace_ = allocator.allocate(bytes);
  stream.workspace = workspace_;
  stream.workspace_bytes = bytes;
}

DeviceRuntime& runtime(Device d) {
  static std::mutex mutex;
  // Never destroyed: tensors in static storage may be freed after any static runtime would be.
  static auto* runtimes = new std::array<std::unique_ptr<DeviceRuntime>, 4>();
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = (*runtimes)[size_t(d.kind)];
  if (!slot) slot = std::make_unique<DeviceRuntime>(d, d.backend());
  return *slot;
}

}  // namespace tint
