// The CUDA emulator's execution model: indices, shared memory, barriers, warp collectives, atomics, launch
// errors, deadlock detection and the seeded scheduler. Kernels are written here exactly as in kernels/cuda
// and launched with TINT_LAUNCH; every result is checked against a plain host computation.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_compat.h"
#include "tests/emu_test_util.h"

namespace {

using emu_test::DeviceBuffer;
using emu_test::SeedScope;

}  // namespace

// ---- kernels -------------------------------------------------------------------------------------------

// Each thread records who it is; the host checks every (block, thread) pair appears exactly once, in its
// own slot.
__global__ void record_indices(int* out, int per_thread) {
  const unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned threads = blockDim.x * blockDim.y * blockDim.z;
  int* slot = out + size_t(block * threads + thread) * per_thread;
  slot[0] = int(threadIdx.x);
  slot[1] = int(threadIdx.y);
  slot[2] = int(threadIdx.z);
  slot[3] = int(blockIdx.x);
  slot[4] = int(blockIdx.y);
  slot[5] = int(blockIdx.z);
  slot[6] = int(blockDim.x * 10000 + blockDim.y * 100 + blockDim.z);
  slot[7] = int(gridDim.x * 10000 + gridDim.y * 100 + gridDim.z);
}

// Static shared memory: write own slot, barrier, read the next thread's. Another block's values in the
// same array would show up as a wrong block number.
__global__ void rotate_static_shared(int* out) {
  __shared__ int s[128];
  const int t = int(threadIdx.x);
  s[t] = int(blockIdx.x) * 1000 + t;
  __syncthreads();
  out[blockIdx.x * blockDim.x + t] = s[(t + 1) % int(blockDim.x)];
}

// Dynamic shared memory: first reads what the emulator put there (must be NaN), then the same rotation.
__global__ void rotate_dynamic_shared(float* out, int* saw_nan) {
  TINT_DYNAMIC_SHARED(float, s);
  const int t = int(threadIdx.x);
  if (std::isnan(s[t])) atomicAdd(saw_nan, 1);
  __syncthreads();  // everyone has looked before anyone writes
  s[t] = float(blockIdx.x * 1000 + t);
  __syncthreads();
  out[blockIdx.x * blockDim.x + t] = s[(t + 1) % int(blockDim.x)];
}

constexpr int kReduceThreads = 256;

__global__ void block_sum(const float* x, float* partial, int n) {
  __shared__ float s[kReduceThreads];
  const int t = int(threadIdx.x);
  const int i = int(blockIdx.x * blockDim.x) + t;
  s[t] = i < n ? x[i] : 0.0f;
  __syncthreads();
  for (int stride = int(blockDim.x) / 2; stride > 0; stride /= 2) {
    if (t < stride) s[t] += s[t + stride];
    __syncthreads();
  }
  if (t == 0) partial[blockIdx.x] = s[0];
}

// One result per lane per operation: idx from lane 7 (width 32), idx lane 3 in sections of 8, up 1, down 2
// (width 16), xor 5.
__global__ void warp_shuffles(const int* in, int* out) {
  const int t = int(threadIdx.x);
  const int v = in[t];
  out[t * 5 + 0] = __shfl_sync(0xffffffffu, v, 7);
  out[t * 5 + 1] = __shfl_sync(0xffffffffu, v, 3, 8);
  out[t * 5 + 2] = __shfl_up_sync(0xffffffffu, v, 1);
  out[t * 5 + 3] = __shfl_down_sync(0xffffffffu, v, 2, 16);
  out[t * 5 + 4] = __shfl_xor_sync(0xffffffffu, v, 5);
}

__global__ void warp_reduce_and_vote(const float* in, float* sums, unsigned* votes) {
  const int t = int(threadIdx.x);
  float v = in[t];
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, unsigned(offset));
  const unsigned ballot = __ballot_sync(0xffffffffu, in[t] > 0.0f);
  const int any = __any_sync(0xffffffffu, in[t] > 100.0f);
  const int all = __all_sync(0xffffffffu, in[t] > -100.0f);
  __syncwarp();
  if (t % 32 == 0) {
    sums[t / 32] = v;
    votes[(t / 32) * 3 + 0] = ballot;
    votes[(t / 32) * 3 + 1] = unsigned(any);
    votes[(t / 32) * 3 + 2] = unsigned(all);
  }
}

__global__ void count_with_atomics(int* counter, int* maximum, unsigned long long* cas_sum, float* fsum) {
  const int i = int(blockIdx.x * blockDim.x + threadIdx.x);
  atomicAdd(counter, 1);
  atomicMax(maximum, i);
  // A CAS loop, the way code builds atomics CUDA lacks.
  unsigned long long old = *cas_sum, assumed;
  do {
    assumed = old;
    old = atomicCAS(cas_sum, assumed, assumed + static_cast<unsigned long long>(i));
  } while (old != assumed);
  atomicAdd(fsum, 1.0f);
}

__global__ void needs_big_shared(float* out) {
  TINT_DYNAMIC_SHARED(float, s);
  s[threadIdx.x] = 1.0f;
  __syncthreads();
  out[threadIdx.x] = s[threadIdx.x];
}

__global__ void noop(int*) {}

// The classic bug: threads past the end return before a barrier the others wait at.
__global__ void early_exit_then_barrier(float* out, int n) {
  __shared__ float s[64];
  const int t = int(threadIdx.x);
  if (t >= n) return;
  s[t] = float(t);
  __syncthreads();
  out[t] = s[(t + 1) % n];
}

// A shuffle whose mask names lanes that have exited.
__global__ void early_exit_then_shuffle(int* out, int n) {
  const int t = int(threadIdx.x);
  if (t >= n) return;
  out[t] = __shfl_down_sync(0xffffffffu, t, 1);
}

__global__ void trap_at_thread(int* out, int which) {
  if (int(threadIdx.x) == which) __trap();
  out[threadIdx.x] = 1;
}

// out[i] = in[i] - in[i-1] within a block via shared memory. The correct version waits for every thread's
// store before reading a neighbour's; the broken one (only here, to prove the seeded scheduler finds it)
// does not. In index order the broken one still passes: thread t-1 always ran first.
template <bool kSynchronised>
__global__ void neighbour_difference(const float* in, float* out) {
  __shared__ float s[kReduceThreads];
  const int t = int(threadIdx.x);
  const int i = int(blockIdx.x * blockDim.x) + t;
  s[t] = in[i];
  if (kSynchronised) __syncthreads();
  out[i] = s[t] - (t > 0 ? s[t - 1] : 0.0f);
}

// The performance case: tiles of 256 threads, four barriers each.
__global__ void tiled_scale(const float* in, float* out) {
  __shared__ float s[kReduceThreads];
  const int t = int(threadIdx.x);
  const size_t i = size_t(blockIdx.y * gridDim.x + blockIdx.x) * blockDim.x + t;
  s[t] = in[i];
  __syncthreads();
  const float right = s[(t + 1) % kReduceThreads];
  __syncthreads();
  s[t] = right * 2.0f;
  __syncthreads();
  out[i] = s[(t + kReduceThreads - 1) % kReduceThreads];
  __syncthreads();
}

// ---- tests ---------------------------------------------------------------------------------------------

TEST_CASE("emu: every thread of a 3-D grid of 3-D blocks sees its own indices", "[emu]") {
  const dim3 grid(3, 2, 2), block(5, 3, 2);  // 30 threads: one full warp and a partial one
  const int per_thread = 8;
  const size_t threads = size_t(grid.x * grid.y * grid.z) * block.x * block.y * block.z;
  DeviceBuffer<int> out(threads * per_thread);
  TINT_LAUNCH(record_indices, grid, block, 0, nullptr, out.ptr, per_thread);
  const std::vector<int> got = out.get();
  size_t k = 0;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx)
        for (unsigned tz = 0; tz < block.z; ++tz)
          for (unsigned ty = 0; ty < block.y; ++ty)
            for (unsigned tx = 0; tx < block.x; ++tx, ++k) {
              const int* s = &got[k * per_thread];
              INFO("block " << bx << "," << by << "," << bz << " thread " << tx << "," << ty << "," << tz);
              REQUIRE(s[0] == int(tx));
              REQUIRE(s[1] == int(ty));
              REQUIRE(s[2] == int(tz));
              REQUIRE(s[3] == int(bx));
              REQUIRE(s[4] == int(by));
              REQUIRE(s[5] == int(bz));
              REQUIRE(s[6] == 50302);
              REQUIRE(s[7] == 30202);
            }
}

TEST_CASE("emu: static shared memory belongs to one block even with blocks in parallel", "[emu]") {
  tint::emu::set_block_threads(4);  // more host threads than cores: blocks really interleave
  const int blocks = 300, threads = 128;
  DeviceBuffer<int> out(size_t(blocks) * threads);
  TINT_LAUNCH(rotate_static_shared, blocks, threads, 0, nullptr, out.ptr);
  const std::vector<int> got = out.get();
  for (int b = 0; b < blocks; ++b)
    for (int t = 0; t < threads; ++t) REQUIRE(got[size_t(b) * threads + t] == b * 1000 + (t + 1) % threads);
  tint::emu::set_block_threads(0);
}

TEST_CASE("emu: dynamic shared memory is per block and starts as NaN", "[emu]") {
  tint::emu::set_block_threads(4);
  const int blocks = 200, threads = 96;
  DeviceBuffer<float> out(size_t(blocks) * threads);
  DeviceBuffer<int> saw_nan(std::vector<int>{0});
  TINT_LAUNCH(rotate_dynamic_shared, blocks, threads, threads * sizeof(float), nullptr, out.ptr, saw_nan.ptr);
  const std::vector<float> got = out.get();
  for (int b = 0; b < blocks; ++b)
    for (int t = 0; t < threads; ++t)
      REQUIRE(got[size_t(b) * threads + t] == float(b * 1000 + (t + 1) % threads));
  CHECK(saw_nan.get()[0] == blocks * threads);
  tint::emu::set_block_threads(0);
}

TEST_CASE("emu: a block tree reduction with barriers sums exactly", "[emu]") {
  const int n = 100003;  // not a multiple of the block
  std::vector<float> x(n);
  for (int i = 0; i < n; ++i) x[size_t(i)] = float((i * 7919) % 23 - 11);  // small integers: exact in float
  const int blocks = (n + kReduceThreads - 1) / kReduceThreads;
  DeviceBuffer<float> dx(x);
  DeviceBuffer<float> partial{size_t(blocks)};
  TINT_LAUNCH(block_sum, blocks, kReduceThreads, 0, nullptr, dx.ptr, partial.ptr, n);
  const std::vector<float> got = partial.get();
  for (int b = 0; b < blocks; ++b) {
    double expect = 0;
    for (int i = b * kReduceThreads; i < std::min(n, (b + 1) * kReduceThreads); ++i) expect += x[size_t(i)];
    REQUIRE(got[size_t(b)] == float(expect));
  }
}

TEST_CASE("emu: warp shuffles follow CUDA's definitions, widths included", "[emu]") {
  const int threads = 64;
  std::vector<int> in(threads);
  for (int t = 0; t < threads; ++t) in[size_t(t)] = 1000 + t * 3;
  DeviceBuffer<int> din(in);
  DeviceBuffer<int> out(size_t(threads) * 5);
  TINT_LAUNCH(warp_shuffles, 1, threads, 0, nullptr, din.ptr, out.ptr);
  const std::vector<int> got = out.get();
  for (int t = 0; t < threads; ++t) {
    const int warp = t / 32 * 32, lane = t % 32;
    INFO("thread " << t);
    REQUIRE(got[size_t(t) * 5 + 0] == in[size_t(warp + 7)]);
    REQUIRE(got[size_t(t) * 5 + 1] == in[size_t(warp + lane / 8 * 8 + 3)]);
    REQUIRE(got[size_t(t) * 5 + 2] == in[size_t(lane >= 1 ? t - 1 : t)]);
    REQUIRE(got[size_t(t) * 5 + 3] == in[size_t(lane % 16 + 2 < 16 ? t + 2 : t)]);
    REQUIRE(got[size_t(t) * 5 + 4] == in[size_t(warp + (lane ^ 5))]);
  }
}

TEST_CASE("emu: warp reduction by shuffles, ballot, any and all", "[emu]") {
  const int threads = 128;
  std::vector<float> in(threads);
  for (int t = 0; t < threads; ++t) in[size_t(t)] = float((t * 37) % 11 - 5);
  in[70] = 500.0f;  // only warp 2 has a value > 100
  DeviceBuffer<float> din(in);
  DeviceBuffer<float> sums(threads / 32);
  DeviceBuffer<unsigned> votes(size_t(threads / 32) * 3);
  TINT_LAUNCH(warp_reduce_and_vote, 1, threads, 0, nullptr, din.ptr, sums.ptr, votes.ptr);
  const std::vector<float> s = sums.get();
  const std::vector<unsigned> v = votes.get();
  for (int w = 0; w < threads / 32; ++w) {
    float expect = 0;
    unsigned ballot = 0;
    for (int l = 0; l < 32; ++l) {
      expect += in[size_t(w * 32 + l)];
      if (in[size_t(w * 32 + l)] > 0.0f) ballot |= 1u << l;
    }
    INFO("warp " << w);
    REQUIRE(s[size_t(w)] == expect);
    REQUIRE(v[size_t(w) * 3 + 0] == ballot);
    REQUIRE(v[size_t(w) * 3 + 1] == (w == 2 ? 1u : 0u));
    REQUIRE(v[size_t(w) * 3 + 2] == 1u);
  }
}

TEST_CASE("emu: atomics from many blocks on several host threads are exact", "[emu]") {
  tint::emu::set_block_threads(4);
  const int blocks = 500, threads = 256, total = blocks * threads;
  DeviceBuffer<int> counter(std::vector<int>{0});
  DeviceBuffer<int> maximum(std::vector<int>{-1});
  DeviceBuffer<unsigned long long> cas_sum(std::vector<unsigned long long>{0});
  DeviceBuffer<float> fsum(std::vector<float>{0.0f});
  TINT_LAUNCH(count_with_atomics, blocks, threads, 0, nullptr, counter.ptr, maximum.ptr, cas_sum.ptr,
              fsum.ptr);
  CHECK(counter.get()[0] == total);
  CHECK(maximum.get()[0] == total - 1);
  CHECK(cas_sum.get()[0] == (unsigned long long)(total) * (total - 1) / 2);
  CHECK(fsum.get()[0] == float(total));  // integers below 2^24 add exactly in float
  tint::emu::set_block_threads(0);
}

TEST_CASE("emu: launch configuration errors name the kernel", "[emu]") {
  DeviceBuffer<float> out(1024);
  cudaGetLastError();

  tint::emu::launch("noop", noop, dim3(1), dim3(2048), 0, nullptr, nullptr);
  REQUIRE(cudaGetLastError() == cudaErrorInvalidConfiguration);
  CHECK_THAT(cudaGetErrorString(cudaErrorInvalidConfiguration),
             Catch::Contains("'noop'") && Catch::Contains("2048"));
  REQUIRE(cudaGetLastError() == cudaSuccess);  // cleared by the read

  tint::emu::launch("noop", noop, dim3(4, 0, 1), dim3(32), 0, nullptr, nullptr);
  REQUIRE(cudaGetLastError() == cudaErrorInvalidConfiguration);
  CHECK_THAT(cudaGetErrorString(cudaErrorInvalidConfiguration), Catch::Contains("zero dimension"));

  tint::emu::launch("noop", noop, dim3(1), dim3(32, 32, 2), 0, nullptr, nullptr);  // 2048 threads in 3-D
  REQUIRE(cudaGetLastError() == cudaErrorInvalidConfiguration);

  // Through TINT_LAUNCH the failure becomes a tint::Error naming the kernel.
  auto launch_big = [&](size_t bytes) { TINT_LAUNCH(needs_big_shared, 1, 256, bytes, nullptr, out.ptr); };
  REQUIRE_THROWS_WITH(launch_big(64 * 1024), Catch::Contains("needs_big_shared") &&
                                                 Catch::Contains("65536") &&
                                                 Catch::Contains("cudaFuncSetAttribute"));
  REQUIRE(cudaFuncSetAttribute(needs_big_shared, cudaFuncAttributeMaxDynamicSharedMemorySize, 300 * 1024) ==
          cudaErrorInvalidValue);
  cudaGetLastError();
  REQUIRE(cudaFuncSetAttribute(needs_big_shared, cudaFuncAttributeMaxDynamicSharedMemorySize, 100 * 1024) ==
          cudaSuccess);
  launch_big(64 * 1024);
  CHECK(out.get()[255] == 1.0f);
  REQUIRE_THROWS_WITH(launch_big(101 * 1024), Catch::Contains("needs_big_shared"));
}

TEST_CASE("emu: threads that exit before a __syncthreads fail the launch instead of hanging", "[emu]") {
  DeviceBuffer<float> out(64);
  int* iout = reinterpret_cast<int*>(out.ptr);
  auto barrier = [&](int n) { TINT_LAUNCH(early_exit_then_barrier, 2, 64, 0, nullptr, out.ptr, n); };
  auto shuffle = [&](int n) { TINT_LAUNCH(early_exit_then_shuffle, 1, 64, 0, nullptr, iout, n); };
  auto trap = [&](int which) { TINT_LAUNCH(trap_at_thread, 3, 64, 0, nullptr, iout, which); };
  REQUIRE_THROWS_WITH(barrier(40), Catch::Contains("early_exit_then_barrier") &&
                                       Catch::Contains("__syncthreads") && Catch::Contains("exited"));
  REQUIRE_THROWS_WITH(shuffle(20), Catch::Contains("early_exit_then_shuffle") &&
                                       Catch::Contains("__shfl_down_sync") && Catch::Contains("exited"));
  REQUIRE_THROWS_WITH(trap(17), Catch::Contains("thread (17,0,0)") && Catch::Contains("__trap"));
  // The abandoned fibers are reset: the same configuration works right after.
  barrier(64);
  const std::vector<float> got = out.get();
  for (int t = 0; t < 64; ++t) REQUIRE(got[size_t(t)] == float((t + 1) % 64));
}

TEST_CASE("emu: a missing __syncthreads gives a wrong answer under some seed, the correct kernel never does",
          "[emu]") {
  const int blocks = 4, n = blocks * kReduceThreads;
  std::vector<float> in(n);
  for (int i = 0; i < n; ++i) in[size_t(i)] = float(i % 97) * 0.5f;
  std::vector<float> expect(n);
  for (int i = 0; i < n; ++i)
    expect[size_t(i)] = in[size_t(i)] - (i % kReduceThreads > 0 ? in[size_t(i - 1)] : 0.0f);
  DeviceBuffer<float> din(in);
  DeviceBuffer<float> out(n);
  auto wrong_elements = [&](bool synchronised) {
    TINT_CUDA_CHECK(cudaMemset(out.ptr, 0xFF, n * sizeof(float)));  // NaN: an unwritten output cannot pass
    if (synchronised) {
      TINT_LAUNCH(neighbour_difference<true>, blocks, kReduceThreads, 0, nullptr, din.ptr, out.ptr);
    } else {
      TINT_LAUNCH(neighbour_difference<false>, blocks, kReduceThreads, 0, nullptr, din.ptr, out.ptr);
    }
    const std::vector<float> got = out.get();
    int wrong = 0;
    for (int i = 0; i < n; ++i) wrong += !(got[size_t(i)] == expect[size_t(i)]);
    return wrong;
  };
  {
    SeedScope off(0);
    // Index order hides the bug: why the seeded mode exists.
    CHECK(wrong_elements(false) == 0);
    CHECK(wrong_elements(true) == 0);
  }
  int seeds_that_catch_it = 0;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    SeedScope scope(seed);
    INFO("seed " << seed);
    REQUIRE(wrong_elements(true) == 0);
    seeds_that_catch_it += wrong_elements(false) > 0;
  }
  CHECK(seeds_that_catch_it > 0);
}

TEST_CASE("emu: the seeded scheduler keeps barriers, reductions and shuffles correct", "[emu]") {
  const int n = 4096;
  std::vector<float> x(n);
  for (int i = 0; i < n; ++i) x[size_t(i)] = float(i % 13);
  DeviceBuffer<float> dx(x);
  DeviceBuffer<float> partial(n / kReduceThreads);
  std::vector<int> in(64);
  std::iota(in.begin(), in.end(), 5);
  DeviceBuffer<int> din(in);
  DeviceBuffer<int> shuffled(64 * 5);
  TINT_LAUNCH(warp_shuffles, 1, 64, 0, nullptr, din.ptr, shuffled.ptr);
  const std::vector<int> reference = shuffled.get();
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    SeedScope scope(seed);
    TINT_LAUNCH(block_sum, n / kReduceThreads, kReduceThreads, 0, nullptr, dx.ptr, partial.ptr, n);
    const std::vector<float> got = partial.get();
    for (int b = 0; b < n / kReduceThreads; ++b) {
      float expect = 0;
      for (int i = b * kReduceThreads; i < (b + 1) * kReduceThreads; ++i) expect += x[size_t(i)];
      REQUIRE(got[size_t(b)] == expect);
    }
    TINT_LAUNCH(warp_shuffles, 1, 64, 0, nullptr, din.ptr, shuffled.ptr);
    REQUIRE(shuffled.get() == reference);
  }
}

TEST_CASE("emu: time of a 64x64-block, 256-thread launch with four barriers", "[emu][perf]") {
#if defined(TINT_SANITIZE)
  const dim3 grid(16, 16);  // ASan at -O0 is ~12x slower; CI's budget is small
#else
  const dim3 grid(64, 64);
#endif
  const size_t n = size_t(grid.x) * grid.y * kReduceThreads;
  std::vector<float> in(n);
  for (size_t i = 0; i < n; ++i) in[i] = float(i % 1000);
  DeviceBuffer<float> din(in);
  DeviceBuffer<float> out(n);
  const auto start = std::chrono::steady_clock::now();
  TINT_LAUNCH(tiled_scale, grid, kReduceThreads, 0, nullptr, din.ptr, out.ptr);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "cuda-emu: %ux%u blocks x 256 threads x 4 barriers (%zu threads) on %d host threads: %.1f ms "
      "(%.0f ns per thread)\n",
      grid.x, grid.y, n, tint::emu::block_threads(), ms, ms * 1e6 / double(n));
  const std::vector<float> got = out.get();
  for (size_t i = 0; i < n; i += 4099) {
    const size_t base = i / kReduceThreads * kReduceThreads, t = i % kReduceThreads;
    REQUIRE(got[i] == 2.0f * in[base + t]);  // s[t] = 2 * in[t+1], read back at t-1
  }
}

TEST_CASE("emu: more than 256 block threads is an error, the pool keeps working", "[emu]") {
  CHECK_THROWS_WITH(tint::emu::set_block_threads(257), Catch::Contains("at most 256"));
  tint::emu::set_block_threads(3);
  CHECK(tint::emu::block_threads() == 3);
  const int n = 4 * kReduceThreads;
  std::vector<float> x(n, 1.0f);
  DeviceBuffer<float> dx(x);
  DeviceBuffer<float> partial(4);
  TINT_LAUNCH(block_sum, 4, kReduceThreads, 0, nullptr, dx.ptr, partial.ptr, n);
  CHECK(partial.get() == std::vector<float>(4, float(kReduceThreads)));
}
