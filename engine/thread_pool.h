// A fixed pool of worker threads for the CPU kernels. parallel_for splits [begin, end) into at most
// size() contiguous chunks (never smaller than `grain`), runs them on the workers and the calling thread,
// and returns when all are done. The split depends only on (end - begin, grain, size()), so a kernel that
// reduces per chunk in a fixed order is deterministic for a given pool size.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tint {

class ThreadPool {
 public:
  static constexpr int kMaxThreads = 256;

  // threads <= 0: one per hardware thread (std::thread::hardware_concurrency, or TINT_THREADS if set).
  // Throws tint::Error for more than kMaxThreads, a TINT_THREADS outside 1..kMaxThreads, or threads the
  // system refuses to create (never std::terminate).
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return int(workers_.size()) + 1; }  // workers plus the calling thread

  // body(chunk_begin, chunk_end) for each chunk. Nested calls from inside a body run serially.
  void parallel_for(int64_t begin, int64_t end, const std::function<void(int64_t, int64_t)>& body,
                    int64_t grain = 1);

  // A process-wide pool for code that has none passed in (tools, tests).
  static ThreadPool& global();

 private:
  void worker_loop(int index);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(int64_t, int64_t)>* body_ = nullptr;
  std::vector<std::pair<int64_t, int64_t>> chunks_;
  int64_t next_chunk_ = 0;
  int64_t pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::mutex run_mutex_;  // one parallel_for at a time
};

}  // namespace tint
