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

void* CachingAllocator::take_free(std::multimap<size_t, void*>& list, size_t size, size_t* got) {
  auto it = list.lower_bound(size);
  if (it == list.end() || it->first > 2 * size) return nullptr;
  void* p = it->second;
  *got = it->first;
  list.erase(it);
  return p;
}

void* CachingAllocator::allocate(size_t bytes) {
  const size_t size = round_up(bytes == 0 ? 1 : bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  const int pool = capture_pool_ && std::this_thread::get_id() == capture_thread_ ? capture_pool_ : 0;
  size_t got = 0;
  void* p = pool ? take_free(pool_free_[pool], size, &got) : nullptr;
  if (!p) p = take_free(free_blocks_, size, &got);  // a capture takes a cached block into its pool
  if (p) {
    live_[p] = Block{got, pool};
    stats_.bytes_cached -= got;
    stats_.bytes_in_use += got;
    stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
    return p;
  }
  try {
    p = backend_.alloc(size);
  } catch (const Error&) {
    // Give the cache back and try once more before reporting. Pools keep theirs: a graph may use them.
    for (auto& [s, b] : free_blocks_) {
      backend_.free(b);
      ++stats_.backend_frees;
      stats_.bytes_cached -= s;
    }
    free_blocks_.clear();
    try {
      p = backend_.alloc(size);
    } catch (const Error& e) {
      throw Error(fmt::format("out of memory on {}: asked for {:.1f} MiB with {:.1f} MiB in use by tensors ({})",
                              backend_.name, size / 1048576.0, stats_.bytes_in_use / 1048576.0, e.what()));
    }
  }
  ++stats_.backend_allocs;
  live_[p] = Block{size, pool};
  stats_.bytes_in_use += size;
  stats_.peak_bytes_in_use = std::max(stats_.peak_bytes_in_use, stats_.bytes_in_use);
  return p;
}

void CachingAllocator::deallocate(void* p) {
  if (!p) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(p);
  if (it == live_.end()) return;  // not ours: a bug elsewhere, but never a double free here
  const Block block = it->second;
  live_.erase(it);
  stats_.bytes_in_use -= block.size;
  stats_.bytes_cached += block.size;
  free_list(block.pool).emplace(block.size, p);
}

int CachingAllocator::create_pool() {
  std::lock_guard<std::mutex> lock(mutex_);
  const int pool = next_pool_++;
  pool_free_[pool];
  return pool;
}

void CachingAllocator::release_pool(int pool) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = pool_free_.find(pool);
  if (it == pool_free_.end()) return;
  free_blocks_.merge(it->second);
  pool_free_.erase(it);
  for (auto& [p, block] : live_)
    if (block.pool == pool) block.pool = 0;
  if (capture_pool_ == pool) capture_pool_ = 0;
}

void CachingAllocator::set_capture_pool(int pool) {
  std::lock_guard<std::mutex> lock(mutex_);
  TINT_CHECK(pool == 0 || pool_free_.count(pool), "set_capture_pool: pool {} does not exist", pool);
  capture_pool_ = pool;
  capture_thread_ = std::this_thread::get_id();
}

int CachingAllocator::capture_pool() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return capture_pool_;
}

void CachingAllocator::release_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [s, b] : free_blocks_) {
    backend_.free(b);
    ++stats_.backend_frees;
    stats_.bytes_cached -= s;
  }
  free_blocks_.clear();
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
  // A kernel in flight may still use the old one. A capture must not wait: it retires the old one instead
  // (work recorded before the growth uses it, and nothing of the capture has run yet).
  if (!capturing_) synchronize();
  if (workspace_) {
    if (live_graphs_ > 0 || capturing_)
      retired_workspaces_.push_back(workspace_);
    else
      allocator.deallocate(workspace_);
  }
  // The workspace outlives any capture: it never comes from a graph's pool.
  const int pool = capturing_ ? allocator.capture_pool() : 0;
  if (pool) allocator.set_capture_pool(0);
  workspace_ = allocator.allocate(bytes);
  if (pool) allocator.set_capture_pool(pool);
  stream.workspace = workspace_;
  stream.workspace_bytes = bytes;
}

void DeviceRuntime::begin_capture(int pool) {
  TINT_CHECK(backend.begin_capture != nullptr, "{}: this backend cannot capture graphs", device.str());
  TINT_CHECK(!capturing_, "{}: a graph is already being captured", device.str());
  allocator.set_capture_pool(pool);
  try {
    backend.begin_capture(stream);
  } catch (...) {
    allocator.set_capture_pool(0);
    throw;
  }
  capturing_ = true;
}

void* DeviceRuntime::end_capture(size_t* nodes) {
  TINT_CHECK(capturing_, "{}: no graph is being captured", device.str());
  capturing_ = false;
  allocator.set_capture_pool(0);
  return backend.end_capture(stream, nodes);
}

void DeviceRuntime::release_retired() {
  if (live_graphs_ > 0 || capturing_) return;
  if (!retired_workspaces_.empty()) synchronize();  // the last replay may still run
  for (void* w : retired_workspaces_) allocator.deallocate(w);
  retired_workspaces_.clear();
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
