// What the CPU convolution algorithms (conv_fast, conv_implicit, conv_winograd) share: block arithmetic,
// the growable scratch buffer each keeps per thread, and how a call's tasks are spread over the pool.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>

#include "engine/error.h"
#include "engine/thread_pool.h"

namespace tint::cpu {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

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
// tasks keep every thread busy: threads x 2, so that an uneven last task costs little.
inline int64_t split_for_threads(int threads, int64_t other, int64_t extent, int64_t unit) {
  if (threads <= 1 || other >= 2 * threads) return 1;
  return std::clamp<int64_t>(ceil_div(2 * threads, other), 1, ceil_div(extent, unit));
}

}  // namespace tint::cpu
