// What the CPU convolution algorithms (conv_fast, conv_implicit, conv_winograd, conv_taps, conv_phase) share:
// block arithmetic, 4x4 transposes, the growable scratch buffer each keeps per thread, and how a call's tasks
// are spread over the pool.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>

#include "engine/error.h"
#include "engine/thread_pool.h"

namespace tint::cpu {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// dst[t*ldd + i] = src[i*lds + t] for i < 4 and t < cols (1..4): one 4x4 block, four rows loaded and four
// columns stored, in GCC's generic vectors (SSE shuffles on the baseline x86-64). Reads all 16 floats of the
// block whatever `cols` is. Element by element, the packings' transposes took a third of backward-weight's
// time (measured).
inline void transpose4x4(float* dst, int64_t ldd, const float* src, int64_t lds, int cols = 4) {
  using Float4 = float __attribute__((vector_size(16)));
  using Index4 = int __attribute__((vector_size(16)));
  Float4 r0, r1, r2, r3;
  std::memcpy(&r0, src, 16), std::memcpy(&r1, src + lds, 16);
  std::memcpy(&r2, src + 2 * lds, 16), std::memcpy(&r3, src + 3 * lds, 16);
  const Float4 lo01 = __builtin_shuffle(r0, r1, Index4{0, 4, 1, 5}),
               hi01 = __builtin_shuffle(r0, r1, Index4{2, 6, 3, 7});
  const Float4 lo23 = __builtin_shuffle(r2, r3, Index4{0, 4, 1, 5}),
               hi23 = __builtin_shuffle(r2, r3, Index4{2, 6, 3, 7});
  const Float4 col[4] = {
      __builtin_shuffle(lo01, lo23, Index4{0, 1, 4, 5}), __builtin_shuffle(lo01, lo23, Index4{2, 3, 6, 7}),
      __builtin_shuffle(hi01, hi23, Index4{0, 1, 4, 5}), __builtin_shuffle(hi01, hi23, Index4{2, 3, 6, 7})};
  for (int t = 0; t < cols; ++t) std::memcpy(dst + t * ldd, &col[t], 16);
}

// dst[t*ldd + i] = src[i*lds + t] for i < rows and t < cols: rows of a matrix stored as its columns (the
// transposing packings of conv_fast, the channels-last copies of conv_taps). 4x4 blocks where whole, the
// rest element by element.
inline void transpose_rows(float* dst, int64_t ldd, const float* src, int64_t lds, int64_t rows,
                           int64_t cols) {
  const int64_t rows4 = rows / 4 * 4, cols4 = cols / 4 * 4;
  for (int64_t i = 0; i < rows4; i += 4) {
    const float* s = src + i * lds;
    for (int64_t t = 0; t < cols4; t += 4) transpose4x4(dst + t * ldd + i, ldd, s + t, lds);
    for (int64_t t = cols4; t < cols; ++t)
      for (int64_t q = 0; q < 4; ++q) dst[t * ldd + i + q] = s[q * lds + t];
  }
  for (int64_t i = rows4; i < rows; ++i)
    for (int64_t t = 0; t < cols; ++t) dst[t * ldd + i] = src[i * lds + t];
}

// dst[u] += src[u] for u < n. The kernels are built at -O2, where GCC 12 leaves a loop of unknown length
// scalar; GCC's generic vectors (SSE on the x86-64 baseline, whatever a target has) do four at a time.
inline void add_row(float* dst, const float* src, int64_t n) {
  using Float4 = float __attribute__((vector_size(16)));
  int64_t u = 0;
  for (; u + 8 <= n; u += 8) {
    Float4 d0, d1, s0, s1;
    std::memcpy(&d0, dst + u, 16), std::memcpy(&d1, dst + u + 4, 16);
    std::memcpy(&s0, src + u, 16), std::memcpy(&s1, src + u + 4, 16);
    d0 += s0, d1 += s1;
    std::memcpy(dst + u, &d0, 16), std::memcpy(dst + u + 4, &d1, 16);
  }
  for (; u < n; ++u) dst[u] += src[u];
}

// A growable 64-byte aligned float buffer (the micro-kernel loads packed panels with aligned loads). Each
// algorithm keeps a thread_local set, grown to the largest shape seen and kept between calls, so that the
// steady state allocates nothing.
class ScratchBuffer {
 public:
  float* get(int64_t n) {
    if (n > capacity_) {
      const int64_t grown = std::max(n, capacity_ + capacity_ / 2);
      const size_t bytes = size_t(round_up(grown * int64_t(sizeof(float)), 64));
      data_.reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
      TINT_CHECK(data_ != nullptr, "cpu conv: out of memory allocating {} bytes of scratch", bytes);
      capacity_ = grown;
#ifndef NDEBUG
      // Fresh pages read as zeros: in checked builds a new buffer starts as NaN, so that an algorithm
      // reading scratch it never wrote (a padding it forgot to zero) fails its tests instead of passing.
      std::fill(data_.get(), data_.get() + capacity_, std::numeric_limits<float>::quiet_NaN());
#endif
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  int64_t capacity_ = 0;
};

// body(task_begin, task_end) over [0, tasks), on the pool when there is one and more than one task.
inline void run_tasks(ThreadPool* pool, int64_t tasks, const std::function<void(int64_t, int64_t)>& body) {
  if (!pool || tasks <= 1)
    body(0, tasks);
  else
    pool->parallel_for(0, tasks, body, 1);
}

// How many blocks to cut a dimension of `extent` into (each a multiple of `unit`) so that `other` x blocks
// tasks keep every thread busy. Every extra block repeats the work shared along `extent` (packing the
// other operand, Winograd's input transform), so the fewest blocks that give each thread the same number
// of tasks; failing that, threads x 2 tasks, so that an uneven last task costs little. Measured on the
// 2-core AMD EPYC (AVX2), forward GEMMs with one pixel block at batch 1, 2 blocks against the 4 of the
// former threads x 2 rule, interleaved: 1.14-1.22x faster (4x4 stride-2 and 3x3 layers at 8^2 to 16^2).
inline int64_t split_for_threads(int threads, int64_t other, int64_t extent, int64_t unit) {
  if (threads <= 1 || other >= 2 * threads) return 1;
  const int64_t most = std::max<int64_t>(1, ceil_div(extent, unit));
  const int64_t fallback = ceil_div(2 * threads, other);
  for (int64_t b = ceil_div(threads, other); b <= fallback; ++b)
    if ((other * b) % threads == 0) return std::min(b, most);
  return std::min(fallback, most);
}

}  // namespace tint::cpu
