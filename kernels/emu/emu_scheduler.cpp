// Launches: blocks on a pool of host threads, a block's threads as fibers on one host thread.
//
// A block runs in phases. In each phase the scheduler resumes every runnable thread once (in index order,
// or shuffled under a schedule seed); a thread runs until it exits, reaches __syncthreads() or reaches a
// warp collective, and is made runnable again (for the next phase) when the barrier or collective
// completes. A phase that starts with no runnable thread while some have not exited is a deadlock: the
// launch fails with a description instead of hanging.
#include <sys/sysinfo.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <numeric>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#endif
#endif

#include "engine/error.h"
#include "kernels/emu/emu_fiber.h"
#include "kernels/emu/emu_internal.h"

namespace tint::emu {
namespace detail {
namespace {

constexpr unsigned kMaxThreadsPerBlock = 1024;
constexpr size_t kDefaultDynamicShared = 48 * 1024;
constexpr size_t kOptinDynamicShared = 227 * 1024;
constexpr size_t kSharedAlignment = 128;

uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const unsigned long long x = std::strtoull(v, &end, 0);
  TINT_CHECK(end && *end == '\0', "cuda-emu: environment variable {}='{}' is not a number", name, v);
  return x;
}

size_t fiber_stack_bytes() {
#if defined(TINT_EMU_ASAN) || defined(TINT_SANITIZE)
  constexpr uint64_t default_kib = 256;  // sanitizer redzones and -O0 frames need room
#else
  constexpr uint64_t default_kib = 64;
#endif
  static const size_t bytes = size_t(env_u64("TINT_EMU_STACK_KB", default_kib)) * 1024;
  return bytes;
}

std::atomic<uint64_t>& seed_storage() {
  static std::atomic<uint64_t> seed{env_u64("TINT_EMU_SEED", 0)};
  return seed;
}

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::string dims(dim3 d) {
  return fmt::format("({},{},{})", d.x, d.y, d.z);
}
std::string dims(uint3 d) {
  return fmt::format("({},{},{})", d.x, d.y, d.z);
}

// One kernel launch, shared by the host threads that run its blocks.
struct Launch {
  const char* name = nullptr;
  Thunk thunk = nullptr;
  const void* packed = nullptr;
  dim3 grid, block;
  size_t shared_bytes = 0;
  uint64_t seed = 0;
  uint64_t total_blocks = 0;
  int threads_per_block = 0;

  std::atomic<uint64_t> next_block{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  uint64_t error_block = ~uint64_t(0);  // the lowest failing block reports, so messages are reproducible
  std::string error;

  void report(uint64_t block, std::string message) {
    std::lock_guard<std::mutex> lock(error_mutex);
    if (block < error_block) {
      error_block = block;
      error = std::move(message);
    }
    failed.store(true, std::memory_order_relaxed);
  }
};

// "thread (x,y,z) of block (x,y,z) of kernel 'name'", formatted in place: a fiber that fails is abandoned
// mid-statement, so the temporaries of the statement that builds its message are never destroyed and must
// not own heap memory.
struct ThreadName {
  uint3 thread;
  uint3 block;
  const char* kernel;
};

enum class ThreadState : uint8_t { ready, at_barrier, at_warp, exited };

// One __pipeline_memcpy_async, its bytes read at issue and written when its group lands.
struct AsyncCopy {
  void* dst = nullptr;
  unsigned char bytes[16];
  size_t size = 0;
};

// A thread's copies: those issued since its last commit, then its committed groups, oldest first (a group
// that landed early stays as an empty entry, so that wait_prior still counts it).
struct Pipeline {
  std::vector<AsyncCopy> open;
  std::deque<std::vector<AsyncCopy>> committed;
  void clear() {
    open.clear();
    committed.clear();
  }
};

struct LaneSlot {
  alignas(16) unsigned char value[16];
  alignas(16) unsigned char result[16];
  size_t bytes = 0;
  int param = 0;
  int width = 32;
};

struct WarpGroup {
  unsigned mask = 0;  // lanes that must arrive
  unsigned arrived = 0;
  WarpOp op = WarpOp::sync;
  const char* what = "";
};

struct Warp {
  unsigned existing = 0;  // lanes that exist (a partial last warp has fewer than 32)
  unsigned exited = 0;
  std::vector<WarpGroup> pending;
};

bool is_vote(WarpOp op) {
  return op == WarpOp::ballot || op == WarpOp::any || op == WarpOp::all;
}

}  // namespace
}  // namespace detail
}  // namespace tint::emu

template <>
struct fmt::formatter<tint::emu::detail::ThreadName> {
  constexpr auto parse(fmt::format_parse_context& ctx) { return ctx.begin(); }
  template <class Context>
  auto format(const tint::emu::detail::ThreadName& n, Context& ctx) const {
    return fmt::format_to(ctx.out(), "thread ({},{},{}) of block ({},{},{}) of kernel '{}'", n.thread.x,
                          n.thread.y, n.thread.z, n.block.x, n.block.y, n.block.z, n.kernel);
  }
};

namespace tint::emu {
namespace detail {
namespace {

class Worker;
thread_local Worker* t_running = nullptr;  // the worker whose block is running on this host thread

void fiber_entry(void* worker);

// Per host thread: the fibers (reused across blocks and launches), the dynamic shared memory and the state
// of the block being run.
class Worker {
 public:
  Worker() = default;
  ~Worker() { std::free(shared_); }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  bool run_block(Launch& launch, uint64_t block);
  std::string take_error() { return std::move(error_); }

  // ---- called from fibers ----
  void fiber_main();
  int barrier(int predicate);
  void collective(const char* what, WarpOp op, unsigned mask, const void* value, size_t bytes, int param,
                  int width, void* result);
  unsigned active_mask() const {
    const Warp& w = warps_[size_t(current_ / 32)];
    return w.existing & ~w.exited;
  }
  void async_copy(void* dst, const void* src, size_t size, size_t zfill);
  void async_commit();
  void async_wait_prior(size_t prior);
  void* shared() const { return shared_; }
  int current() const { return current_; }
  [[noreturn]] void fail(std::string message);
  ThreadName thread_name(int t) const { return ThreadName{coords(t), block_idx_, launch_->name}; }

 private:
  uint3 coords(int t) const {
    const unsigned bx = launch_->block.x, by = launch_->block.y;
    return uint3{unsigned(t) % bx, (unsigned(t) / bx) % by, unsigned(t) / (bx * by)};
  }
  void resume(int t) {
    current_ = t;
    t_thread_idx = thread_coords_[size_t(t)];
    switch_context(scheduler_, fibers_[size_t(t)]->context());
  }
  void yield() { switch_context(fibers_[size_t(current_)]->context(), scheduler_); }
  void release(int t) {
    state_[size_t(t)] = ThreadState::ready;
    next_.push_back(t);
  }
  void complete(int warp, const WarpGroup& group);
  void prepare_shared(size_t bytes);
  void shuffle(std::vector<int>& order) {
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[splitmix64(rng_) % i]);
  }
  std::string describe_deadlock() const;

  Context scheduler_;
  std::vector<std::unique_ptr<Fiber>> fibers_;
  std::vector<bool> in_kernel_;  // fiber t is inside a kernel call (to be reset if the block is abandoned)
  unsigned char* shared_ = nullptr;
  size_t shared_capacity_ = 0;

  Launch* launch_ = nullptr;
  uint3 block_idx_{0, 0, 0};
  int threads_ = 0;
  int current_ = 0;
  int exited_ = 0;
  int at_barrier_ = 0;
  int barrier_count_ = 0;
  int barrier_result_ = 0;
  std::vector<uint3> thread_coords_;  // coords(t), computed once per block: resume() is the hot path
  std::vector<ThreadState> state_;
  std::vector<LaneSlot> lanes_;
  std::vector<Pipeline> pipelines_;  // per thread of the block
  std::vector<Warp> warps_;
  std::vector<int> queue_, next_;
  uint64_t rng_ = 0;
  bool failed_ = false;
  std::string error_;
};

Worker& this_worker() {
  thread_local std::unique_ptr<Worker> worker = std::make_unique<Worker>();
  return *worker;
}

void fiber_entry(void* worker) {
  static_cast<Worker*>(worker)->fiber_main();
}

void Worker::fiber_main() {
  fiber_started(scheduler_);
  for (;;) {
    const int t = current_;
    in_kernel_[size_t(t)] = true;
    std::string thrown;
    bool threw = false;
    try {
      launch_->thunk(launch_->packed);
    } catch (const std::exception& e) {
      threw = true;
      thrown = e.what();
    } catch (...) {
      threw = true;
      thrown = "an exception that is not a std::exception";
    }
    // Fail outside the handler: switching away inside one would leave it open on this host thread.
    if (threw) {
      std::string message = fmt::format("{} threw: {}", thread_name(t), thrown);
      std::string().swap(thrown);
      fail(std::move(message));
    }
    in_kernel_[size_t(t)] = false;
    pipelines_[size_t(t)].clear();  // copies never waited for: nobody may read them
    state_[size_t(t)] = ThreadState::exited;
    ++exited_;
    warps_[size_t(t / 32)].exited |= 1u << (t % 32);
    yield();  // resumed again for the same thread index of a later block
  }
}

void Worker::fail(std::string message) {
  if (!failed_) {
    failed_ = true;
    error_ = std::move(message);
  }
  std::string().swap(message);  // the caller never gets to destroy it
  yield();
  __builtin_unreachable();  // a failed block's fibers are reset, never resumed
}

int Worker::barrier(int predicate) {
  const int t = current_;
  state_[size_t(t)] = ThreadState::at_barrier;
  ++at_barrier_;
  barrier_count_ += predicate;
  if (at_barrier_ == threads_) {
    barrier_result_ = barrier_count_;
    barrier_count_ = 0;
    at_barrier_ = 0;
    for (int i = 0; i < threads_; ++i) release(i);
  }
  yield();
  // Safe to read: the next barrier cannot complete (and overwrite it) before every thread has passed here.
  return barrier_result_;
}

void Worker::collective(const char* what, WarpOp op, unsigned mask, const void* value, size_t bytes,
                        int param, int width, void* result) {
  const int t = current_;
  const int w = t / 32;
  const unsigned bit = 1u << (t % 32);
  Warp& warp = warps_[size_t(w)];
  if (!(mask & bit)) {
    fail(fmt::format("{} calls {} with mask {:#010x}, which leaves out its own lane {}", thread_name(t), what,
                     mask, t % 32));
  }
  if (!is_vote(op) && op != WarpOp::sync && (width <= 0 || width > 32 || (width & (width - 1)) != 0)) {
    fail(fmt::format("{} calls {} with width {}; it must be a power of two up to 32", thread_name(t), what,
                     width));
  }
  const unsigned members = mask & warp.existing;
  WarpGroup* group = nullptr;
  for (WarpGroup& g : warp.pending) {
    if (g.mask == members) {
      group = &g;
    } else if (g.mask & members) {
      fail(fmt::format(
          "lanes of warp {} disagree on the mask: lanes {:#010x} wait in {} with mask {:#010x} while "
          "{} calls {} with mask {:#010x}",
          w, g.arrived, g.what, g.mask, thread_name(t), what, mask));
    }
  }
  if (group && group->op != op) {
    fail(fmt::format(
        "lanes of warp {} disagree on the collective: lanes {:#010x} wait in {} while {} calls {} "
        "(mask {:#010x})",
        w, group->arrived, group->what, thread_name(t), what, mask));
  }
  if (!group) {
    warp.pending.push_back(WarpGroup{members, 0, op, what});
    group = &warp.pending.back();
  }
  LaneSlot& slot = lanes_[size_t(t)];
  if (bytes) std::memcpy(slot.value, value, bytes);
  slot.bytes = bytes;
  slot.param = param;
  slot.width = width;
  state_[size_t(t)] = ThreadState::at_warp;
  group->arrived |= bit;
  if (group->arrived == group->mask) {
    const WarpGroup done = *group;
    warp.pending.erase(warp.pending.begin() + (group - warp.pending.data()));
    complete(w, done);
  }
  yield();
  // The result stays put until this lane arrives at another collective, so reading it now is safe.
  std::memcpy(result, lanes_[size_t(t)].result,
              (is_vote(op) || op == WarpOp::sync) ? sizeof(unsigned) : bytes);
}

void Worker::complete(int warp, const WarpGroup& group) {
  const int base = warp * 32;
  unsigned ballot = 0;
  if (is_vote(group.op)) {
    for (int l = 0; l < 32; ++l) {
      if (!(group.mask >> l & 1)) continue;
      int predicate = 0;
      std::memcpy(&predicate, lanes_[size_t(base + l)].value, sizeof predicate);
      if (predicate) ballot |= 1u << l;
    }
  }
  for (int l = 0; l < 32; ++l) {
    if (!(group.mask >> l & 1)) continue;
    LaneSlot& slot = lanes_[size_t(base + l)];
    unsigned vote = 0;
    switch (group.op) {
      case WarpOp::ballot:
        vote = ballot;
        break;
      case WarpOp::any:
        vote = ballot != 0;
        break;
      case WarpOp::all:
        vote = ballot == group.mask;
        break;
      case WarpOp::sync:
        break;
      default: {
        const int width = slot.width;
        const int section = l & ~(width - 1);  // lanes [section, section + width) can see each other
        int src = l;
        if (group.op == WarpOp::shfl_idx) {
          src = section + ((slot.param % width) + width) % width;
        } else if (group.op == WarpOp::shfl_up) {
          if (l - section - slot.param >= 0) src = l - slot.param;
        } else if (group.op == WarpOp::shfl_down) {
          if (l - section + slot.param < width) src = l + slot.param;
        } else {  // xor
          const int x = l ^ slot.param;
          if (x >= 0 && x < 32 && (x & ~(width - 1)) == section) src = x;
        }
        if (group.mask >> src & 1) {
          std::memcpy(slot.result, lanes_[size_t(base + src)].value, slot.bytes);
        } else {
          // CUDA: reading an inactive lane gives an undefined value. Poison it (NaN as float).
          std::memset(slot.result, 0xFF, slot.bytes);
        }
        break;
      }
    }
    if (is_vote(group.op) || group.op == WarpOp::sync) std::memcpy(slot.result, &vote, sizeof vote);
    release(base + l);
  }
}

std::string Worker::describe_deadlock() const {
  int first_barrier = -1, first_exited = -1;
  for (int t = 0; t < threads_; ++t) {
    if (state_[size_t(t)] == ThreadState::at_barrier && first_barrier < 0) first_barrier = t;
    if (state_[size_t(t)] == ThreadState::exited && first_exited < 0) first_exited = t;
  }
  std::string msg = fmt::format("kernel '{}' block {} can never finish: ", launch_->name, dims(block_idx_));
  if (at_barrier_ > 0) {
    msg += fmt::format("{} of {} threads wait at __syncthreads() (first: thread {})", at_barrier_, threads_,
                       dims(coords(first_barrier)));
    if (exited_ > 0) {
      msg += fmt::format(" while {} have exited (first: thread {})", exited_, dims(coords(first_exited)));
    }
    msg += "; ";
  }
  for (size_t w = 0; w < warps_.size(); ++w) {
    for (const WarpGroup& g : warps_[w].pending) {
      const unsigned missing = g.mask & ~g.arrived;
      msg += fmt::format("warp {}: lanes {:#010x} wait in {} (mask {:#010x}) for lanes {:#010x}", w,
                         g.arrived, g.what, g.mask, missing);
      if (missing & warps_[w].exited)
        msg += fmt::format(", of which {:#010x} have exited", missing & warps_[w].exited);
      msg += "; ";
    }
  }
  msg +=
      "every thread of a block must reach each __syncthreads(), and every lane named in a warp collective's "
      "mask "
      "must reach it (CUDA leaves this undefined: a hang or garbage)";
  return msg;
}

void Worker::async_copy(void* dst, const void* src, size_t size, size_t zfill) {
  const bool size_ok = size == 4 || size == 8 || size == 16;
  if (!size_ok || zfill > size || reinterpret_cast<uintptr_t>(dst) % size != 0 ||
      (zfill < size && reinterpret_cast<uintptr_t>(src) % size != 0)) {
    fail(fmt::format("{}: __pipeline_memcpy_async({}, {}, {}, zfill {}): the size must be 4, 8 or 16, both "
                     "addresses aligned to it and the zero-fill at most the size",
                     thread_name(current_), dst, src, size, zfill));
  }
  AsyncCopy c;
  c.dst = dst;
  c.size = size;
  std::memcpy(c.bytes, src, size - zfill);
  std::memset(c.bytes + (size - zfill), 0, zfill);
  pipelines_[size_t(current_)].open.push_back(c);
}

void Worker::async_commit() {
  Pipeline& p = pipelines_[size_t(current_)];
  p.committed.push_back(std::move(p.open));
  p.open.clear();
  if (launch_->seed && (splitmix64(rng_) & 1)) {  // this group lands at once
    for (const AsyncCopy& c : p.committed.back()) std::memcpy(c.dst, c.bytes, c.size);
    p.committed.back().clear();
  }
}

void Worker::async_wait_prior(size_t prior) {
  Pipeline& p = pipelines_[size_t(current_)];
  while (p.committed.size() > prior) {
    for (const AsyncCopy& c : p.committed.front()) std::memcpy(c.dst, c.bytes, c.size);
    p.committed.pop_front();
  }
}

void Worker::prepare_shared(size_t bytes) {
  if (!shared_ || shared_capacity_ < bytes) {
    std::free(shared_);
    shared_capacity_ =
        std::max(kSharedAlignment, (bytes + kSharedAlignment - 1) / kSharedAlignment * kSharedAlignment);
    shared_ = static_cast<unsigned char*>(std::aligned_alloc(kSharedAlignment, shared_capacity_));
    TINT_CHECK(shared_ != nullptr, "cuda-emu: cannot allocate {} bytes of dynamic shared memory", bytes);
  }
#if defined(TINT_EMU_ASAN)
  __asan_unpoison_memory_region(shared_, shared_capacity_);
#endif
  std::memset(shared_, 0xFF, bytes);  // CUDA's shared memory starts as garbage; NaN makes its use visible
#if defined(TINT_EMU_ASAN)
  __asan_poison_memory_region(shared_ + bytes, shared_capacity_ - bytes);
#endif
}

bool Worker::run_block(Launch& launch, uint64_t block) {
  launch_ = &launch;
  const dim3 g = launch.grid;
  block_idx_ =
      uint3{unsigned(block % g.x), unsigned(block / g.x % g.y), unsigned(block / (uint64_t(g.x) * g.y))};
  t_block_idx = block_idx_;
  t_block_dim = launch.block;
  t_grid_dim = launch.grid;
  threads_ = launch.threads_per_block;
  const size_t n = size_t(threads_);

  while (fibers_.size() < n)
    fibers_.push_back(std::make_unique<Fiber>(fiber_stack_bytes(), &fiber_entry, this));
  in_kernel_.resize(std::max(in_kernel_.size(), n), false);
  state_.assign(n, ThreadState::ready);
  thread_coords_.resize(n);
  for (size_t t = 0; t < n; ++t) thread_coords_[t] = coords(int(t));
  lanes_.resize(n);
  pipelines_.resize(std::max(pipelines_.size(), n));
  for (size_t t = 0; t < n; ++t) pipelines_[t].clear();  // a failed block may have left copies behind
  warps_.resize((n + 31) / 32);
  for (size_t w = 0; w < warps_.size(); ++w) {
    const size_t lanes = std::min<size_t>(32, n - w * 32);
    warps_[w].existing = lanes == 32 ? ~0u : (1u << lanes) - 1;
    warps_[w].exited = 0;
    warps_[w].pending.clear();
  }
  exited_ = at_barrier_ = barrier_count_ = barrier_result_ = 0;
  failed_ = false;
  error_.clear();
  prepare_shared(launch.shared_bytes);

  queue_.resize(n);
  std::iota(queue_.begin(), queue_.end(), 0);
  if (launch.seed) {
    rng_ = launch.seed ^ (block * 0xd1b54a32d192ed03ull);
    splitmix64(rng_);
    shuffle(queue_);
  }

  t_running = this;
  while (exited_ < threads_) {
    if (queue_.empty()) {
      failed_ = true;
      error_ = describe_deadlock();
      break;
    }
    next_.clear();
    for (int t : queue_) {
      resume(t);
      if (failed_) break;
    }
    if (failed_) break;
    std::swap(queue_, next_);
    if (launch.seed) shuffle(queue_);
  }
  t_running = nullptr;

  if (failed_) {
    for (size_t t = 0; t < n; ++t) {
      if (in_kernel_[t]) {
        fibers_[t]->reset();
        in_kernel_[t] = false;
      }
    }
    return false;
  }
  return true;
}

// ---- the pool of host threads that run blocks ----------------------------------------------------------

void run_blocks(Launch& launch) {
  try {
    Worker& worker = this_worker();
    while (!launch.failed.load(std::memory_order_relaxed)) {
      const uint64_t b = launch.next_block.fetch_add(1, std::memory_order_relaxed);
      if (b >= launch.total_blocks) break;
      if (!worker.run_block(launch, b)) launch.report(b, worker.take_error());
    }
  } catch (const std::exception& e) {
    launch.report(0, fmt::format("kernel '{}': {}", launch.name, e.what()));
  }
}

constexpr int kMaxBlockThreads = 256;

int env_threads(const char* name) {
  const uint64_t n = env_u64(name, 0);
  TINT_CHECK(n <= uint64_t(kMaxBlockThreads) && (n > 0 || !std::getenv(name) || !*std::getenv(name)),
             "cuda-emu: {}='{}': expected a whole number from 1 to {}", name, std::getenv(name), kMaxBlockThreads);
  return int(n);
}

int default_block_threads() {
  int n = env_threads("TINT_EMU_THREADS");
  if (n == 0) n = env_threads("TINT_THREADS");
  if (n == 0) n = int(std::min<unsigned>(std::max(1u, std::thread::hardware_concurrency()), kMaxBlockThreads));
  return n;
}

class BlockPool {
 public:
  static BlockPool& get() {
    static BlockPool pool;
    return pool;
  }
  ~BlockPool() { stop_threads(); }

  int size() {
    std::lock_guard<std::mutex> lock(mutex_);
    return wanted_;
  }
  void set_size(int threads) {
    std::lock_guard<std::mutex> lock(run_mutex_);  // not while a launch runs
    stop_threads();
    std::lock_guard<std::mutex> lock2(mutex_);
    TINT_CHECK(threads <= kMaxBlockThreads, "cuda-emu: {} block threads asked for, at most {}", threads, kMaxBlockThreads);
    wanted_ = threads > 0 ? threads : default_block_threads();
  }

  // Runs every block of `launch`; the calling thread takes part. One launch at a time.
  void run(Launch& launch) {
    std::lock_guard<std::mutex> run_lock(run_mutex_);
    if (launch.total_blocks > 1 && threads_.empty() && wanted_ > 1) start_threads();
    if (launch.total_blocks == 1 || threads_.empty()) {
      run_blocks(launch);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &launch;
      busy_ = int(threads_.size());
      ++generation_;
    }
    wake_.notify_all();
    run_blocks(launch);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return busy_ == 0; });
    job_ = nullptr;
  }

 private:
  BlockPool() : wanted_(default_block_threads()) {}

  void start_threads() {
    uint64_t generation = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = false;
      generation = generation_;  // a thread that starts late must still take the job posted next
    }
    try {
      for (int i = 1; i < wanted_; ++i) threads_.emplace_back([this, generation] { thread_main(generation); });
    } catch (const std::system_error& e) {
      const size_t started = threads_.size();
      stop_threads();
      throw Error(fmt::format("cuda-emu: the system refused block thread {} of {} ({}); set TINT_EMU_THREADS lower",
                              started + 1, wanted_, e.what()));
    }
  }
  void stop_threads() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }
  void thread_main(uint64_t seen) {
    for (;;) {
      Launch* job = nullptr;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        job = job_;
      }
      run_blocks(*job);
      std::lock_guard<std::mutex> lock(mutex_);
      if (--busy_ == 0) done_.notify_one();
    }
  }

  std::mutex run_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> threads_;
  int wanted_ = 1;
  Launch* job_ = nullptr;
  int busy_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

// ---- per-kernel attributes -----------------------------------------------------------------------------

std::mutex& attribute_mutex() {
  static std::mutex m;
  return m;
}
std::unordered_map<const void*, int>& max_dynamic_shared() {
  static std::unordered_map<const void*, int> map;
  return map;
}

Worker& running_worker(const char* what) {
  if (!t_running) {
    throw ::tint::Error(
        fmt::format("cuda-emu: {} called outside a kernel (no block is running on this thread)", what));
  }
  return *t_running;
}

}  // namespace

// ---- what the header's inline functions call -----------------------------------------------------------

void warp_collective(const char* what, WarpOp op, unsigned mask, const void* value, size_t bytes, int param,
                     int width, void* result) {
  running_worker(what).collective(what, op, mask, value, bytes, param, width, result);
}

int block_barrier(int predicate) {
  return running_worker("__syncthreads").barrier(predicate);
}

unsigned active_mask() {
  return running_worker("__activemask").active_mask();
}

void pipeline_copy(void* dst, const void* src, size_t size_and_align, size_t zfill) {
  running_worker("__pipeline_memcpy_async").async_copy(dst, src, size_and_align, zfill);
}

void pipeline_commit() {
  running_worker("__pipeline_commit").async_commit();
}

void pipeline_wait_prior(size_t prior) {
  running_worker("__pipeline_wait_prior").async_wait_prior(prior);
}

void trap() {
  Worker& w = running_worker("__trap");
  w.fail(fmt::format("{} called __trap()", w.thread_name(w.current())));
}

void kernel_error(const char* message) {
  Worker& w = running_worker("an emulated device function");
  w.fail(fmt::format("{}: {}", w.thread_name(w.current()), message));
}

cudaError_t run_launch(const char* name, dim3 grid, dim3 block, size_t shared_bytes, Thunk thunk,
                       const void* packed);

void launch_kernel(const char* name, const void* kernel, dim3 grid, dim3 block, size_t shared_bytes,
                   cudaStream_t stream, Thunk thunk, const void* packed, Cloner clone) {
  if (t_running) {
    Worker& w = *t_running;
    w.fail(fmt::format("{} launches kernel '{}': dynamic parallelism is not emulated",
                       w.thread_name(w.current()), name));
  }
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || block.x == 0 || block.y == 0 || block.z == 0) {
    set_last_error(
        cudaErrorInvalidConfiguration,
        fmt::format("kernel '{}': grid {} / block {} has a zero dimension", name, dims(grid), dims(block)));
    return;
  }
  const uint64_t threads = uint64_t(block.x) * block.y * block.z;
  if (block.x > 1024 || block.y > 1024 || block.z > 64 || threads > kMaxThreadsPerBlock) {
    set_last_error(cudaErrorInvalidConfiguration,
                   fmt::format("kernel '{}': block {} has {} threads; CUDA allows at most {} per block "
                               "(and 1024, 1024, 64 per dimension)",
                               name, dims(block), threads, kMaxThreadsPerBlock));
    return;
  }
  if (grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535) {
    set_last_error(
        cudaErrorInvalidConfiguration,
        fmt::format("kernel '{}': grid {} is too large (at most 2^31-1, 65535, 65535)", name, dims(grid)));
    return;
  }
  size_t limit = kDefaultDynamicShared;
  bool raised = false;
  {
    std::lock_guard<std::mutex> lock(attribute_mutex());
    const auto it = max_dynamic_shared().find(kernel);
    if (it != max_dynamic_shared().end()) {
      limit = size_t(it->second);
      raised = true;
    }
  }
  if (shared_bytes > limit) {
    set_last_error(
        cudaErrorInvalidValue,
        fmt::format("kernel '{}': {} bytes of dynamic shared memory requested, the limit is {} ({})", name,
                    shared_bytes, limit,
                    raised ? "set with cudaFuncSetAttribute(cudaFuncAttributeMaxDynamicSharedMemorySize)"
                           : "48 KiB unless raised with cudaFuncSetAttribute(kernel, "
                             "cudaFuncAttributeMaxDynamicSharedMemorySize, bytes)"));
    return;
  }
  if (!stream_is_valid(stream)) {
    set_last_error(cudaErrorInvalidResourceHandle,
                   fmt::format("kernel '{}': launched on a stream that does not exist (destroyed?)", name));
    return;
  }
  cudaError_t status = cudaSuccess;
  if (record_if_capturing(
          stream,
          [name, grid, block, shared_bytes, thunk, copy = clone(packed)] {
            return run_launch(name, grid, block, shared_bytes, thunk, copy.get());
          },
          &status))
    return;
  run_launch(name, grid, block, shared_bytes, thunk, packed);
}

// The launch itself, its configuration already checked: now, or as a node of a graph being launched.
cudaError_t run_launch(const char* name, dim3 grid, dim3 block, size_t shared_bytes, Thunk thunk,
                       const void* packed) {
  const uint64_t threads = uint64_t(block.x) * block.y * block.z;
  Launch launch;
  launch.name = name;
  launch.thunk = thunk;
  launch.packed = packed;
  launch.grid = grid;
  launch.block = block;
  launch.shared_bytes = shared_bytes;
  launch.seed = seed_storage().load();
  launch.total_blocks = uint64_t(grid.x) * grid.y * grid.z;
  launch.threads_per_block = int(threads);
  BlockPool::get().run(launch);
  if (launch.failed.load()) return set_last_error(cudaErrorLaunchFailure, std::move(launch.error));
  return cudaSuccess;
}

}  // namespace detail

void set_schedule_seed(uint64_t seed) {
  detail::seed_storage().store(seed);
}
uint64_t schedule_seed() {
  return detail::seed_storage().load();
}

void set_block_threads(int threads) {
  detail::BlockPool::get().set_size(threads);
}
int block_threads() {
  return detail::BlockPool::get().size();
}

void* dynamic_shared_memory() {
  return detail::running_worker("dynamic shared memory").shared();
}

}  // namespace tint::emu

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  using namespace tint::emu::detail;
  if (func == nullptr) return set_last_error(cudaErrorInvalidValue, "cudaFuncSetAttribute: null kernel");
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value < 0 || size_t(value) > kOptinDynamicShared) {
      return set_last_error(
          cudaErrorInvalidValue,
          fmt::format("cudaFuncSetAttribute: {} bytes of dynamic shared memory is beyond the "
                      "device's opt-in limit of {}",
                      value, kOptinDynamicShared));
    }
    std::lock_guard<std::mutex> lock(attribute_mutex());
    max_dynamic_shared()[func] = value;
    return cudaSuccess;
  }
  if (attr == cudaFuncAttributePreferredSharedMemoryCarveout) {
    if (value < -1 || value > 100) {
      return set_last_error(
          cudaErrorInvalidValue,
          fmt::format("cudaFuncSetAttribute: carveout {} is not -1 or a percentage", value));
    }
    return cudaSuccess;  // nothing to carve on a CPU
  }
  return set_last_error(cudaErrorInvalidValue,
                        fmt::format("cudaFuncSetAttribute: attribute {} is not emulated", int(attr)));
}
