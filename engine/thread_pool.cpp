#include "engine/thread_pool.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <system_error>

#include "engine/error.h"

namespace tint {

namespace {
thread_local bool t_inside_pool = false;

int default_threads() {
  if (const char* env = std::getenv("TINT_THREADS"); env && *env) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    TINT_CHECK(*end == 0 && n >= 1 && n <= ThreadPool::kMaxThreads, "TINT_THREADS='{}': expected a whole number from 1 to {}",
               env, ThreadPool::kMaxThreads);
    return int(n);
  }
  unsigned hw = std::thread::hardware_concurrency();
  return std::clamp(int(hw), 1, ThreadPool::kMaxThreads);
}
}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = default_threads();
  TINT_CHECK(threads <= kMaxThreads, "CPU thread pool: {} threads asked for, at most {} (TINT_THREADS)", threads, kMaxThreads);
  try {
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
  } catch (const std::system_error& e) {
    // The destructor does not run for a constructor that throws: stop the workers already started here.
    const size_t started = workers_.size();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    throw Error(fmt::format("CPU thread pool: the system refused thread {} of {} ({}); set TINT_THREADS lower", started + 1,
                            threads, e.what()));
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

ThreadPool& ThreadPool::global() {
  static ThreadPool pool;
  return pool;
}

void ThreadPool::worker_loop(int) {
  t_inside_pool = true;
  uint64_t seen = 0;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
    if (stop_) return;
    seen = generation_;
    while (next_chunk_ < int64_t(chunks_.size())) {
      auto [b, e] = chunks_[next_chunk_++];
      const auto* body = body_;
      lock.unlock();
      (*body)(b, e);
      lock.lock();
      if (--pending_ == 0) done_.notify_all();
    }
  }
}

void ThreadPool::parallel_for(int64_t begin, int64_t end, const std::function<void(int64_t, int64_t)>& body,
                              int64_t grain) {
  if (end <= begin) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t total = end - begin;
  const int64_t max_chunks = std::max<int64_t>(1, std::min<int64_t>(size(), (total + grain - 1) / grain));
  if (max_chunks == 1 || t_inside_pool || workers_.empty()) {
    body(begin, end);
    return;
  }
  std::lock_guard<std::mutex> run_lock(run_mutex_);
  std::vector<std::pair<int64_t, int64_t>> chunks;
  for (int64_t c = 0; c < max_chunks; ++c) {
    int64_t b = begin + total * c / max_chunks, e = begin + total * (c + 1) / max_chunks;
    if (e > b) chunks.emplace_back(b, e);
  }
  // Exceptions from a body are caught per chunk and the first is rethrown on the caller.
  std::exception_ptr error;
  std::mutex error_mutex;
  std::function<void(int64_t, int64_t)> guarded = [&](int64_t b, int64_t e) {
    try {
      body(b, e);
    } catch (...) {
      std::lock_guard<std::mutex> l(error_mutex);
      if (!error) error = std::current_exception();
    }
  };
  std::unique_lock<std::mutex> lock(mutex_);
  chunks_ = std::move(chunks);
  body_ = &guarded;
  next_chunk_ = 0;
  pending_ = int64_t(chunks_.size());
  ++generation_;
  wake_.notify_all();
  // The caller works too.
  t_inside_pool = true;
  while (next_chunk_ < int64_t(chunks_.size())) {
    auto [b, e] = chunks_[next_chunk_++];
    lock.unlock();
    guarded(b, e);
    lock.lock();
    --pending_;
  }
  t_inside_pool = false;
  done_.wait(lock, [&] { return pending_ == 0; });
  body_ = nullptr;
  lock.unlock();
  if (error) std::rethrow_exception(error);
}

}  // namespace tint
