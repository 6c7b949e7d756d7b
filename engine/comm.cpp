#include "engine/comm.h"

#include <dlfcn.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "engine/device.h"
#include "engine/error.h"

#if TINT_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace tint {

namespace {

namespace fs = std::filesystem;

// Plugins sit beside the tint binary; a build tree also has them where CMake put them.
void* load_plugin(const char* file, std::string& tried) {
  std::vector<fs::path> dirs;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) dirs.push_back(exe.parent_path());
#ifdef TINT_PLUGIN_DIR
  dirs.push_back(TINT_PLUGIN_DIR);
#endif
  for (const fs::path& dir : dirs) {
    const fs::path path = dir / file;
    if (!fs::exists(path, ec)) {
      tried += fmt::format("{}{}: not there", tried.empty() ? "" : "; ", path.string());
      continue;
    }
    // RTLD_GLOBAL: the NCCL plugin finds the MPI plugin's symbols, and MPI's own components (loaded by
    // libmpi with dlopen) find libmpi's.
    if (void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL)) return handle;
    tried += fmt::format("{}{}", tried.empty() ? "" : "; ", dlerror());
  }
  return nullptr;
}

}  // namespace

int launcher_world_size() {
  // Open MPI, then MPICH/Hydra and Slurm's PMI.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    if (const char* v = std::getenv(name)) {
      char* end = nullptr;
      const long n = std::strtol(v, &end, 10);
      if (end != v && n > 0) return int(n);
    }
  }
  return 0;
}

std::unique_ptr<Comm> Comm::single() {
  return std::unique_ptr<Comm>(new Comm());
}

std::unique_ptr<Comm> Comm::distributed(DeviceKind device, double timeout_s) {
#if !TINT_HAVE_MPI
  (void)device, (void)timeout_s;
  throw Error(
      "--distributed: this build of tint has no MPI (CMake did not find it, or -DTINT_MPI=OFF); install "
      "libopenmpi-dev openmpi-bin and rebuild, or train without --distributed and without mpirun");
#else
  std::unique_ptr<Comm> c(new Comm());
  c->timeout_s_ = timeout_s;
  std::string tried;
  c->mpi_plugin_ = load_plugin("libtint_comm_mpi.so", tried);
  TINT_CHECK(c->mpi_plugin_, "--distributed: cannot load tint's MPI plugin (is Open MPI installed?): {}",
             tried);
  auto create = reinterpret_cast<TintCreateHostComm>(dlsym(c->mpi_plugin_, "tint_create_host_comm"));
  TINT_CHECK(create, "--distributed: libtint_comm_mpi.so has no tint_create_host_comm: {}", dlerror());
  std::string error;
  c->host_.reset(create(&error));
  TINT_CHECK(c->host_, "--distributed: MPI could not start: {}", error);
  c->rank_ = c->host_->rank();
  c->world_ = c->host_->world();
  c->local_rank_ = c->host_->local_rank();
  c->kind_ = "mpi";
  if (device == DeviceKind::Cuda) {
    // One GPU per rank: the runtime reads CUDA_VISIBLE_DEVICES when it starts, which is after this.
    if (c->host_->local_world() > 1) {
      std::vector<std::string> visible;
      if (const char* v = std::getenv("CUDA_VISIBLE_DEVICES")) {
        std::string s = v;
        for (size_t start = 0, comma; start <= s.size(); start = comma + 1) {
          comma = s.find(',', start);
          if (comma == std::string::npos) comma = s.size();
          if (comma > start) visible.push_back(s.substr(start, comma - start));
        }
      }
      const std::string mine =
          visible.empty() ? std::to_string(c->local_rank_) : visible[size_t(c->local_rank_) % visible.size()];
      setenv("CUDA_VISIBLE_DEVICES", mine.c_str(), 1);
    }
    tried.clear();
    c->nccl_plugin_ = load_plugin("libtint_comm_nccl.so", tried);
    TINT_CHECK(c->nccl_plugin_,
               "--distributed on cuda: cannot load tint's NCCL plugin (this build has no NCCL, or libnccl is "
               "not installed here): {}",
               tried);
    auto create_device =
        reinterpret_cast<TintCreateDeviceComm>(dlsym(c->nccl_plugin_, "tint_create_device_comm"));
    TINT_CHECK(create_device, "--distributed: libtint_comm_nccl.so has no tint_create_device_comm: {}",
               dlerror());
    c->device_.reset(create_device(c->host_.get(), &error));
    TINT_CHECK(c->device_, "--distributed on cuda: NCCL could not start: {}", error);
    c->kind_ = "nccl";
  }
  return c;
#endif
}

Comm::~Comm() {
  device_.reset();
  host_.reset();  // MPI_Finalize
  // The plugins stay loaded: libmpi keeps threads and atexit handlers that point into them.
}

void Comm::all_reduce_sum(Tensor& t, const std::string& what) {
  if (world_ == 1) return;
  auto& rt = runtime(t.device());
  const int64_t n = t.numel();
  if (device_ && t.device().kind == DeviceKind::Cuda) {
#if TINT_HAVE_CUDA
    auto stream = static_cast<cudaStream_t>(rt.stream.handle);
    device_->enqueue_sum(t.data(), n, stream);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s_);
    for (int polls = 0;; ++polls) {
      const cudaError_t status = cudaStreamQuery(stream);
      if (status == cudaSuccess) break;
      TINT_CHECK(status == cudaErrorNotReady, "rank {}: the NCCL sum of {} failed: {}", rank_, what,
                 cudaGetErrorString(status));
      const std::string nccl = device_->async_error();
      TINT_CHECK(nccl.empty(), "rank {}: the NCCL sum of {} failed: {}", rank_, what, nccl);
      if (std::chrono::steady_clock::now() > deadline) {
        device_->abort_comm();
        throw Error(fmt::format(
            "rank {}: the NCCL sum of {} did not finish within {} s (--comm-timeout): another rank died or "
            "hangs",
            rank_, what, timeout_s_));
      }
      std::this_thread::sleep_for(std::chrono::microseconds(polls < 100 ? 20 : 500));
    }
    return;
#endif
  }
  staging_.resize(size_t(n));
  rt.backend.copy_to_host(rt.stream, staging_.data(), t.data(), size_t(n) * sizeof(float));
  rt.synchronize();
  host_->sum_floats(staging_.data(), n, what, timeout_s_);
  rt.backend.copy_from_host(rt.stream, t.data(), staging_.data(), size_t(n) * sizeof(float));
  rt.synchronize();
}

void Comm::all_reduce_sum(std::vector<double>& values, const std::string& what) {
  if (world_ == 1) return;
  host_->sum_doubles(values.data(), int64_t(values.size()), what, timeout_s_);
}

void Comm::broadcast(Tensor& t, int root, const std::string& what) {
  if (world_ == 1) return;
  auto& rt = runtime(t.device());
  const int64_t n = t.numel();
  if (device_ && t.device().kind == DeviceKind::Cuda) {
#if TINT_HAVE_CUDA
    device_->enqueue_broadcast(t.data(), n, root, rt.stream.handle);
    rt.synchronize();
    return;
#endif
  }
  staging_.resize(size_t(n));
  rt.backend.copy_to_host(rt.stream, staging_.data(), t.data(), size_t(n) * sizeof(float));
  rt.synchronize();
  host_->broadcast(staging_.data(), n * int64_t(sizeof(float)), root, what, timeout_s_);
  rt.backend.copy_from_host(rt.stream, t.data(), staging_.data(), size_t(n) * sizeof(float));
  rt.synchronize();
}

void Comm::barrier(const std::string& what) {
  if (world_ == 1) return;
  host_->barrier(what, timeout_s_);
}

void Comm::abort(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  if (host_) host_->abort(code);
  std::_Exit(code);
}

}  // namespace tint
