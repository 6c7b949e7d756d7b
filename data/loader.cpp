#include "data/loader.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>

#include "data/colour.h"
#include "data/resize.h"

namespace tint {

HostAllocator HostAllocator::aligned() {
  return {[](size_t bytes) { return std::aligned_alloc(64, (bytes + 63) / 64 * 64); }, [](void* p) { std::free(p); }};
}

std::string LoaderStats::summary() const {
  std::string s = fmt::format("{} samples in {} batches, {} file{} skipped", samples, batches, bad_files, bad_files == 1 ? "" : "s");
  std::string reasons;
  for (int r = 0; r < kBadImageReasons; ++r)
    if (bad_by_reason[r])
      reasons += fmt::format("{}{} {}", reasons.empty() ? "" : ", ", bad_by_reason[r], reason_name(BadImageReason(r)));
  if (!reasons.empty()) s += " (" + reasons + ")";
  if (cache_hits > 0) s += fmt::format(", {} sample{} from the memory cache", cache_hits, cache_hits == 1 ? "" : "s");
  return s;
}

namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

uint64_t bounded(uint64_t random, uint64_t n) { return uint64_t((unsigned __int128)random * n >> 64); }

// Fisher-Yates with our own generator: std::shuffle's output differs between standard libraries.
std::vector<uint32_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch, bool shuffle) {
  std::vector<uint32_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = uint32_t(i);
  if (!shuffle) return order;
  uint64_t state = splitmix64(seed ^ splitmix64(uint64_t(epoch) + 0x5EED));
  for (int64_t i = n - 1; i > 0; --i) {
    state = splitmix64(state);
    std::swap(order[i], order[bounded(state, uint64_t(i) + 1)]);
  }
  return order;
}

uint64_t sample_random(uint64_t seed, int64_t epoch, int64_t file) {
  return splitmix64(splitmix64(seed ^ 0xA5A5A5A5ull) ^ splitmix64(uint64_t(epoch) << 32 ^ uint64_t(file)));
}

using Clock = std::chrono::steady_clock;
int64_t ns_since(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
}

// Batch buffers are recycled: pinned allocations are slow, and a training run asks for one per step.
struct BufferPool {
  HostAllocator allocator;
  size_t bytes = 0;
  size_t keep = 0;
  std::mutex m;
  std::vector<float*> spare;

  float* take() {
    {
      std::lock_guard lock(m);
      if (!spare.empty()) {
        float* p = spare.back();
        spare.pop_back();
        return p;
      }
    }
    void* p = allocator.alloc(bytes);
    TINT_CHECK(p, "loader: cannot allocate a batch buffer of {} bytes", bytes);
    return static_cast<float*>(p);
  }
  void give_back(float* p) {
    {
      std::lock_guard lock(m);
      if (spare.size() < keep) {
        spare.push_back(p);
        return;
      }
    }
    allocator.free(p);
  }
  ~BufferPool() {
    for (float* p : spare) allocator.free(p);
  }
};

}  // namespace

ShardRange batch_shard(int64_t size, int rank, int world) {
  TINT_CHECK(world >= 1 && rank >= 0 && rank < world && size >= 0, "batch_shard: rank {} of {} ranks, batch {}",
             rank, world, size);
  return {size * rank / world, size * (rank + 1) / world};
}

Image prepare_image(const Image& decoded, int S, FitMode fit) {
  int w = 0, h = 0;
  if (fit == FitMode::crop && std::min(decoded.width, decoded.height) >= S)
    fit_shortest_side(decoded.width, decoded.height, S, w, h);
  else
    fit_longest_side(decoded.width, decoded.height, S, w, h);
  return resize_image(decoded, w, h);
}

void write_sample(const Image& img, int S, bool flip, uint64_t random, float* L, float* ab, float* mask) {
  const int64_t plane = int64_t(S) * S;
  float* A = ab;
  float* B = ab + plane;
  const bool crop = img.width >= S && img.height >= S;
  const int w = std::min(img.width, S), h = std::min(img.height, S);
  int ox = 0, oy = 0;
  if (crop) {
    ox = int(bounded(random, uint64_t(img.width - S) + 1));
    oy = int(bounded(splitmix64(random), uint64_t(img.height - S) + 1));
  }
  std::vector<uint8_t> row(size_t(S) * 3);
  for (int y = 0; y < S; ++y) {
    const int64_t o = int64_t(y) * S;
    int valid = 0;
    if (y < h) {
      const uint8_t* src = &img.rgb[(size_t(y + oy) * img.width + ox) * 3];
      if (flip) {
        for (int x = 0; x < w; ++x) std::memcpy(&row[size_t(x) * 3], src + size_t(w - 1 - x) * 3, 3);
        src = row.data();
      }
      rgb8_to_lab_scaled(src, w, L + o, A + o, B + o);
      valid = w;
    }
    std::fill(mask + o, mask + o + valid, 1.f);
    std::fill(mask + o + valid, mask + o + S, 0.f);
    std::fill(L + o + valid, L + o + S, -1.f);  // black: L = 0 scaled to -1
    std::fill(A + o + valid, A + o + S, 0.f);
    std::fill(B + o + valid, B + o + S, 0.f);
  }
}

struct Loader::State {
  LoaderOptions opt;
  std::vector<std::string> paths;
  int64_t n = 0;
  int64_t total = 0;   // positions in the whole run; INT64_MAX when endless
  int64_t window = 0;  // how far workers may run ahead of the assembler
  int workers = 0;
  int64_t plane = 0;   // S*S
  int capacity = 0;    // samples a batch buffer holds: batch_size, or the largest shard

  // Sharded loaders: whether this rank reads `position`, and whether it ends a global batch.
  bool owned(int64_t position) const {
    const int64_t q = position % n, B = opt.batch_size, start = q / B * B;
    const ShardRange part = batch_shard(std::min(B, n - start), opt.shard_index, opt.shard_count);
    return q - start >= part.begin && q - start < part.end;
  }
  bool ends_global_batch(int64_t position) const {
    const int64_t q = position % n;
    return (q + 1) % opt.batch_size == 0 || q + 1 == n;
  }

  struct Result {
    bool ok = false;
    bool other_shard = false;  // another rank's sample: nothing read
    int64_t file = 0;
    std::string error;
    BadImageReason reason = BadImageReason::corrupt;
    bool grey = false;
    std::vector<float> planes;  // L, a, b, mask
  };

  std::mutex m;
  std::condition_variable cv_work, cv_result, cv_ready;
  int64_t next_claim = 0, assembled = 0;
  std::map<int64_t, Result> results;
  std::map<int64_t, std::vector<uint32_t>> permutations;
  std::vector<uint8_t> bad;
  std::vector<std::vector<float>> spare_planes;
  std::deque<Batch> ready;
  bool stop = false, finished = false;
  std::exception_ptr error;
  LoaderStats stats;  // counts, under m

  std::mutex cache_m;
  std::vector<std::shared_ptr<const Image>> cache;
  int64_t cache_used = 0;

  std::atomic<int64_t> decode_ns{0}, resize_ns{0}, colour_ns{0}, batching_ns{0}, cache_hits{0};
  std::shared_ptr<BufferPool> pool;
  std::vector<std::thread> threads;

  const std::vector<uint32_t>& permutation(int64_t epoch) {  // under m
    auto it = permutations.find(epoch);
    if (it == permutations.end()) {
      permutations.erase(permutations.begin(), permutations.lower_bound(assembled / n));
      it = permutations.emplace(epoch, epoch_permutation(n, opt.seed, epoch, opt.shuffle)).first;
    }
    return it->second;
  }

  std::shared_ptr<const Image> prepared(int64_t file) {
    if (opt.cache_bytes > 0) {
      std::lock_guard lock(cache_m);
      if (cache[file]) {
        cache_hits++;
        return cache[file];
      }
    }
    auto t0 = Clock::now();
    const Image decoded = load_image(paths[file], opt.max_pixels, opt.image_size);
    decode_ns += ns_since(t0);
    t0 = Clock::now();
    auto img = std::make_shared<const Image>(prepare_image(decoded, opt.image_size, opt.fit));
    resize_ns += ns_since(t0);
    if (opt.cache_bytes > 0) {
      std::lock_guard lock(cache_m);
      const int64_t bytes = int64_t(img->rgb.size()) + int64_t(sizeof(Image));
      if (!cache[file] && cache_used + bytes <= opt.cache_bytes) {
        cache[file] = img;
        cache_used += bytes;
      }
    }
    return img;
  }

  void worker() {
    std::unique_lock lock(m);
    while (true) {
      cv_work.wait(lock, [&] { return stop || next_claim >= total || next_claim < assembled + window; });
      if (stop || next_claim >= total) return;
      const int64_t position = next_claim++;
      const int64_t epoch = position / n;
      Result r;
      r.file = permutation(epoch)[size_t(position % n)];
      const bool known_bad = bad[r.file];
      r.other_shard = opt.shard_count > 0 && !owned(position);
      if (!r.other_shard && !spare_planes.empty()) {
        r.planes = std::move(spare_planes.back());
        spare_planes.pop_back();
      }
      lock.unlock();
      if (!known_bad && !r.other_shard) {
        try {
          const auto img = prepared(r.file);
          const uint64_t random = sample_random(opt.seed, epoch, r.file);
          const auto t0 = Clock::now();
          r.planes.resize(size_t(plane) * 4);
          float* p = r.planes.data();
          write_sample(*img, opt.image_size, opt.flip && (random & 1), random >> 1, p, p + plane, p + 3 * plane);
          colour_ns += ns_since(t0);
          r.grey = img->grey;
          r.ok = true;
        } catch (const BadImage& e) {
          r.error = e.what();
          r.reason = e.reason;
        } catch (const std::exception& e) {  // e.g. out of memory on one huge file: skip it too
          r.error = fmt::format("{}: {}", paths[r.file], e.what());
          r.reason = BadImageReason::corrupt;
        }
      }
      lock.lock();
      if (!r.ok && !r.other_shard) bad[r.file] = 1;  // later positions skip the decode
      results.emplace(position, std::move(r));
      if (position == assembled) cv_result.notify_one();
    }
  }

  void push(Batch&& batch) {
    std::unique_lock lock(m);
    cv_ready.wait(lock, [&] { return stop || int(ready.size()) < opt.prefetch_batches; });
    if (stop) return;
    stats.batches++;
    stats.samples += batch.size;
    ready.push_back(std::move(batch));
    cv_ready.notify_all();
  }

  Batch new_batch(int64_t epoch) {
    Batch b;
    b.capacity = capacity;
    b.image_size = opt.image_size;
    b.epoch = epoch;
    b.index = stats.batches;  // only the assembler writes it
    const auto keep = pool;
    b.storage = std::shared_ptr<float>(pool->take(), [keep](float* p) { keep->give_back(p); });
    const int64_t per = int64_t(capacity) * plane;
    b.L = b.storage.get();
    b.ab = b.L + per;
    b.mask = b.L + 3 * per;
    return b;
  }

  void assembler() {
    try {
      std::optional<Batch> batch;
      // A full batch waits here until the next usable sample arrives or the epoch ends, so that a batch
      // followed only by bad files until the epoch's end is still marked last_in_epoch.
      std::optional<Batch> full;
      // A resumed epoch had usable images before its start position (or it would not have been saved there).
      int64_t epoch_good = opt.start_position > 0 ? 1 : 0;
      // Files already reported, decided here in position order: workers decode ahead, into the next epoch,
      // so the first worker to fail on a file may hold a later position than the one assembled first.
      std::vector<uint8_t> warned(paths.size(), 0);
      while (true) {
        Result r;
        {
          std::unique_lock lock(m);
          if (assembled >= total) break;
          cv_result.wait(lock, [&] { return stop || results.count(assembled); });
          if (stop) return;
          auto it = results.find(assembled);
          r = std::move(it->second);
          results.erase(it);
          assembled++;
          cv_work.notify_all();
        }
        const int64_t position = assembled - 1;
        const int64_t epoch = position / n;
        if (!r.ok) {
          // A failed decode carries its error; a later position of a file known bad skips the decode.
          if (!r.other_shard && !r.error.empty() && !warned[size_t(r.file)]) {
            warned[size_t(r.file)] = 1;
            {
              std::lock_guard lock(m);
              stats.bad_files++;
              stats.bad_by_reason[int(r.reason)]++;
            }
            if (opt.warn)
              opt.warn("warning: skipping " + r.error);
            else
              std::fprintf(stderr, "warning: skipping %s\n", r.error.c_str());
          }
        } else {
          if (full) {
            push(std::move(*full));
            full.reset();
          }
          const auto t0 = Clock::now();
          if (!batch) batch = new_batch(epoch);
          const int i = batch->size++;
          const float* p = r.planes.data();
          std::memcpy(batch->L + i * plane, p, sizeof(float) * plane);
          std::memcpy(batch->ab + 2 * i * plane, p + plane, sizeof(float) * 2 * plane);
          std::memcpy(batch->mask + i * plane, p + 3 * plane, sizeof(float) * plane);
          batch->paths.push_back(paths[r.file]);
          batch->grey.push_back(r.grey);
          epoch_good++;
          batching_ns += ns_since(t0);
        }
        if (!r.planes.empty()) {
          std::lock_guard lock(m);
          spare_planes.push_back(std::move(r.planes));
        }
        const bool epoch_end = assembled % n == 0;
        if (opt.shard_count > 0) {
          if (ends_global_batch(position)) {
            if (!batch) batch = new_batch(epoch);
            batch->end_position = assembled;
            batch->last_in_epoch = epoch_end;
            push(std::move(*batch));
            batch.reset();
          }
          continue;
        }
        if (epoch_end && epoch_good == 0) {
          LoaderStats s;
          {
            std::lock_guard lock(m);
            s = stats;
          }
          throw Error(fmt::format("no usable image among the {} file{} of the data set ({}){}", n, n == 1 ? "" : "s",
                                  s.summary(), n ? fmt::format("; first file: {}", paths[0]) : ""));
        }
        if (batch && batch->size == opt.batch_size) {
          batch->end_position = assembled;
          full = std::move(batch);
          batch.reset();
        }
        if (epoch_end) {
          if (full) {
            full->last_in_epoch = true;
            full->end_position = assembled;
            push(std::move(*full));
            full.reset();
          } else if (batch && !opt.drop_last) {
            batch->last_in_epoch = true;
            batch->end_position = assembled;
            push(std::move(*batch));
          }
          batch.reset();  // drop_last: a short final batch goes back to the pool
        }
        if (epoch_end) epoch_good = 0;
      }
    } catch (...) {
      std::lock_guard lock(m);
      error = std::current_exception();
    }
    std::lock_guard lock(m);
    finished = true;
    cv_ready.notify_all();
  }
};

Loader::Loader(std::vector<std::string> paths, LoaderOptions options) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.opt = std::move(options);
  LoaderOptions& o = s.opt;
  TINT_CHECK(!paths.empty(), "loader: the data set has no image files (looked for .jpg .jpeg .png .bmp .tga .gif .webp)");
  TINT_CHECK(o.image_size >= 8 && o.image_size <= 8192, "loader: image size {} is outside 8..8192", o.image_size);
  TINT_CHECK(o.batch_size >= 1, "loader: batch size {} must be at least 1", o.batch_size);
  TINT_CHECK(o.prefetch_batches >= 1, "loader: prefetch {} must be at least 1", o.prefetch_batches);
  TINT_CHECK(o.epochs >= 0, "loader: epochs {} must be >= 0 (0: endless)", o.epochs);
  TINT_CHECK(o.start_epoch >= 0 && o.start_position >= 0 && size_t(o.start_position) < paths.size(),
             "loader: start position (epoch {}, position {}) is outside the {} files of an epoch", o.start_epoch,
             o.start_position, paths.size());
  TINT_CHECK(o.epochs == 0 || o.start_epoch < o.epochs, "loader: start epoch {} is not before the last epoch {}",
             o.start_epoch, o.epochs);
  TINT_CHECK(paths.size() < (size_t(1) << 32), "loader: {} files is more than this loader indexes", paths.size());
  TINT_CHECK(o.allocator.alloc && o.allocator.free, "loader: the allocator needs both alloc and free");
  TINT_CHECK(o.shard_count == 0 || (o.shard_index >= 0 && o.shard_index < o.shard_count),
             "loader: shard {} of {} does not exist", o.shard_index, o.shard_count);
  s.paths = std::move(paths);
  s.n = int64_t(s.paths.size());
  s.total = o.epochs == 0 ? INT64_MAX : o.epochs * s.n;
  s.next_claim = s.assembled = o.start_epoch * s.n + o.start_position;
  s.workers = o.workers > 0 ? o.workers : int(std::max(1u, std::thread::hardware_concurrency()));
  s.window = int64_t(o.batch_size) + 2 * s.workers;
  s.plane = int64_t(o.image_size) * o.image_size;
  s.bad.assign(size_t(s.n), 0);
  s.cache.resize(size_t(s.n));
  s.pool = std::make_shared<BufferPool>();
  s.pool->allocator = o.allocator;
  s.capacity = o.shard_count > 0 ? (o.batch_size + o.shard_count - 1) / o.shard_count : o.batch_size;
  s.pool->bytes = sizeof(float) * 4 * size_t(s.capacity) * size_t(s.plane);
  s.pool->keep = size_t(o.prefetch_batches) + 2;
  try {
    for (int i = 0; i < s.workers; ++i) s.threads.emplace_back([&s] { s.worker(); });
    s.threads.emplace_back([&s] { s.assembler(); });
  } catch (const std::system_error& e) {
    // A thread that failed to start (no memory for its stack, a process limit) must not leave the others
    // running: joinable threads destroyed by the unwinding would call std::terminate.
    const size_t started = s.threads.size();
    shutdown();
    throw Error(fmt::format("loader: could not start thread {} of {} ({} workers + 1 assembler): {}; use fewer "
                            "workers (--workers)", started + 1, s.workers + 1, s.workers, e.what()));
  }
}

Loader::~Loader() { shutdown(); }

void Loader::shutdown() {
  State& s = *state_;
  {
    std::lock_guard lock(s.m);
    s.stop = true;
  }
  s.cv_work.notify_all();
  s.cv_result.notify_all();
  s.cv_ready.notify_all();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
}

std::optional<Batch> Loader::next() {
  State& s = *state_;
  std::unique_lock lock(s.m);
  s.cv_ready.wait(lock, [&] { return !s.ready.empty() || s.finished; });
  if (!s.ready.empty()) {
    Batch b = std::move(s.ready.front());
    s.ready.pop_front();
    s.cv_ready.notify_all();
    return b;
  }
  if (s.error) std::rethrow_exception(s.error);
  return std::nullopt;
}

LoaderStats Loader::stats() const {
  State& s = *state_;
  LoaderStats out;
  {
    std::lock_guard lock(s.m);
    out = s.stats;
  }
  out.cache_hits = s.cache_hits;
  out.read_decode_s = s.decode_ns * 1e-9;
  out.resize_s = s.resize_ns * 1e-9;
  out.colour_s = s.colour_ns * 1e-9;
  out.batching_s = s.batching_ns * 1e-9;
  return out;
}

int64_t Loader::files() const { return state_->n; }
int Loader::workers() const { return state_->workers; }

}  // namespace tint
