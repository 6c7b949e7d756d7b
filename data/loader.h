// The threaded loader: file paths in, batches of scaled Lab planes out.
//
//   worker threads:  read -> decode -> resize (or take from the cache) -> pad or crop, flip -> Lab planes
//   one assembler:   takes samples in sequence order, skips bad files, copies into batch buffers
//   next():          pops a ready batch from a bounded queue
//
// The sequence is fixed by the seed alone: epoch e visits the files in a permutation drawn from (seed, e),
// and each sample's flip and crop come from (seed, e, file), never from which worker ran it. Bad files are
// dropped from that sequence in order, so batches are byte-identical for any number of workers.
// Batches end at epoch boundaries (the last one of an epoch may be short unless drop_last). A loader can
// start mid-sequence (LoaderOptions::start_epoch/start_position), so a resumed run sees the same batches.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "data/image.h"

namespace tint {

// Where batch buffers come from: the engine passes cudaMallocHost/cudaFreeHost to get pinned memory.
// The default is 64-byte aligned host memory.
struct HostAllocator {
  std::function<void*(size_t bytes)> alloc;
  std::function<void(void*)> free;
  static HostAllocator aligned();
};

enum class FitMode {
  pad,   // longest side to S, zero-padded (black: L = -1, ab = 0) to S x S at the top-left, mask = real pixels
  crop,  // shortest side to S, a random S x S crop; images whose shortest side is under S fall back to pad
};

struct LoaderOptions {
  int image_size = 256;
  int batch_size = 16;
  int workers = 0;  // 0: one per hardware thread
  int prefetch_batches = 4;
  uint64_t seed = 0;
  bool shuffle = true;
  bool flip = true;  // random horizontal flip, probability 1/2
  FitMode fit = FitMode::pad;
  int64_t epochs = 1;  // 0: endless
  // Where the sequence starts, to resume a run exactly: epoch `start_epoch`, after its first `start_position`
  // positions of that epoch's permutation (a Batch's end_position says where the next batch begins).
  int64_t start_epoch = 0;
  int64_t start_position = 0;
  bool drop_last = false;
  // Data-parallel ranks: with shard_count > 0 this loader yields only rank shard_index's part of each global
  // batch (see batch_shard), and one batch per global batch of batch_size positions, even when its part is
  // empty or short of bad files, so that every rank takes the same number of steps. batch_size is then the
  // global batch; drop_last does not apply; an epoch without a usable image is not an error here (the
  // ranks together know). Without bad files, the parts of rank 0..N-1 laid end to end are exactly the
  // batches of an unsharded loader.
  int shard_index = 0;
  int shard_count = 0;
  int64_t cache_bytes = int64_t(1) << 30;  // decoded, resized 8-bit images kept in memory up to this; 0: off
  int64_t max_pixels = kDefaultMaxPixels;
  HostAllocator allocator = HostAllocator::aligned();
  std::function<void(const std::string&)> warn;  // one line per bad file; default: stderr
};

struct Batch {
  int size = 0;        // samples in this batch (N)
  int capacity = 0;    // batch_size
  int image_size = 0;  // S
  float* L = nullptr;     // (N,1,S,S), L/50 - 1
  float* ab = nullptr;    // (N,2,S,S), a/110 then b/110
  float* mask = nullptr;  // (N,1,S,S), 1 on real pixels, 0 on padding
  std::vector<std::string> paths;
  std::vector<uint8_t> grey;  // 1 where the source image was grey
  int64_t epoch = 0;
  int64_t index = 0;  // batch number since the start
  // Sequence position (epoch * files + position in the epoch's permutation) where the next batch starts:
  // a loader built with start_epoch = end_position / files, start_position = end_position % files
  // continues with exactly the batches that would have followed this one.
  int64_t end_position = 0;
  bool last_in_epoch = false;
  std::shared_ptr<float> storage;  // owns L/ab/mask; returns them to the loader's pool when dropped
};

struct LoaderStats {
  int64_t samples = 0;    // samples delivered into batches
  int64_t batches = 0;
  int64_t bad_files = 0;  // distinct files skipped
  std::array<int64_t, kBadImageReasons> bad_by_reason{};
  int64_t cache_hits = 0;
  // Thread-seconds summed over workers (decode, resize, colour) and the assembler (batching).
  double read_decode_s = 0, resize_s = 0, colour_s = 0, batching_s = 0;
  std::string summary() const;  // "N samples, M files skipped (2 corrupt or truncated, 1 zero-byte)"
};

class Loader {
 public:
  // Throws tint::Error on bad options, and when the worker threads cannot be started (naming how many).
  Loader(std::vector<std::string> paths, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // The next batch; nullopt after the last epoch. Throws tint::Error when an epoch yields no usable image.
  std::optional<Batch> next();
  LoaderStats stats() const;
  int64_t files() const;
  int workers() const;

 private:
  void shutdown();  // stops and joins every thread
  struct State;
  std::unique_ptr<State> state_;
};

// The part of a global batch of `size` samples that rank `rank` of `world` takes: [begin, end), contiguous, in
// rank order, sizes differing by at most one (some empty when size < world). Micro-batches split the same way.
struct ShardRange {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};
ShardRange batch_shard(int64_t size, int rank, int world);

// The per-sample steps, exposed for tests and benchmarks.
// Decoded image -> the cacheable resized image (longest side S for pad, shortest side S for crop).
Image prepare_image(const Image& decoded, int image_size, FitMode fit);
// Prepared image -> one sample's planes: L (S*S), ab (2*S*S), mask (S*S). Crops (when both sides >= S)
// at an offset drawn from `random`; flips horizontally when asked.
void write_sample(const Image& prepared, int image_size, bool flip, uint64_t random, float* L, float* ab, float* mask);

}  // namespace tint
