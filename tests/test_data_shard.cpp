// Data-parallel sharding: batch_shard splits a global batch into contiguous parts in rank order, and sharded
// loaders (one per rank) together deliver exactly the unsharded loader's batches, one part per rank per
// global batch, every file once per epoch.
#include <catch2/catch.hpp>
#include <cstring>
#include <map>
#include <set>

#include "data/dataset.h"
#include "data/loader.h"
#include "test_data_fixtures.h"

using namespace tint;
using tint::test::TempDir;

namespace {

struct Delivered {
  int size = 0;
  int64_t epoch = 0, end_position = 0;
  bool last_in_epoch = false;
  std::vector<std::string> paths;
  std::vector<float> L, ab, mask;
};

std::vector<Delivered> run(const std::vector<std::string>& paths, const LoaderOptions& opt) {
  Loader loader(paths, opt);
  std::vector<Delivered> out;
  while (auto b = loader.next()) {
    Delivered d;
    d.size = b->size, d.epoch = b->epoch, d.end_position = b->end_position,
    d.last_in_epoch = b->last_in_epoch;
    d.paths = b->paths;
    const size_t plane = size_t(b->image_size) * b->image_size;
    d.L.assign(b->L, b->L + b->size * plane);
    d.ab.assign(b->ab, b->ab + 2 * b->size * plane);
    d.mask.assign(b->mask, b->mask + b->size * plane);
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<std::string> make_photos(const TempDir& dir, int n) {
  for (int i = 0; i < n; ++i)
    test::write_png(dir / ("photos/p" + std::to_string(100 + i) + ".png"),
                    test::pattern_image(30 + i, 22, uint32_t(i)));
  return scan_images(dir / "photos");
}

template <typename T>
void append(std::vector<T>& to, const std::vector<T>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

}  // namespace

TEST_CASE("batch_shard: contiguous parts in rank order, sizes within one, covering the batch") {
  // Hand-computed: floor(size * rank / world).
  CHECK(batch_shard(10, 0, 3).begin == 0);
  CHECK(batch_shard(10, 0, 3).end == 3);
  CHECK(batch_shard(10, 1, 3).begin == 3);
  CHECK(batch_shard(10, 1, 3).end == 6);
  CHECK(batch_shard(10, 2, 3).begin == 6);
  CHECK(batch_shard(10, 2, 3).end == 10);
  CHECK(batch_shard(8, 1, 2).begin == 4);
  CHECK(batch_shard(8, 1, 2).end == 8);
  CHECK(batch_shard(1, 0, 2).size() == 0);  // fewer samples than ranks: some parts are empty
  CHECK(batch_shard(1, 1, 2).size() == 1);
  for (int world = 1; world <= 6; ++world)
    for (int64_t size = 0; size <= 25; ++size) {
      INFO("size " << size << ", world " << world);
      int64_t next = 0, smallest = size, largest = 0;
      for (int r = 0; r < world; ++r) {
        const ShardRange s = batch_shard(size, r, world);
        CHECK(s.begin == next);
        CHECK(s.end >= s.begin);
        next = s.end;
        smallest = std::min(smallest, s.size()), largest = std::max(largest, s.size());
      }
      CHECK(next == size);
      CHECK(largest - smallest <= 1);
    }
  CHECK_THROWS_WITH(batch_shard(4, 2, 2), Catch::Contains("rank 2 of 2"));
}

TEST_CASE("sharded loaders: the ranks' parts laid end to end are the unsharded batches, each file once") {
  TempDir dir("shard");
  const auto paths = make_photos(dir, 11);  // 11 files at batch 4: global batches of 4, 4, 3 per epoch
  REQUIRE(paths.size() == 11);
  LoaderOptions opt;
  opt.image_size = 16;
  opt.batch_size = 4;
  opt.epochs = 3;
  opt.seed = 7;
  opt.fit = FitMode::crop;  // random crops and flips: a sample drawn on the wrong rank would differ in bytes
  opt.workers = 2;
  opt.cache_bytes = 0;
  const std::vector<Delivered> whole = run(paths, opt);
  REQUIRE(whole.size() == 9);
  for (int world : {2, 3, 5}) {
    INFO("world " << world);
    std::vector<std::vector<Delivered>> ranks;
    for (int r = 0; r < world; ++r) {
      LoaderOptions o = opt;
      o.shard_index = r, o.shard_count = world;
      ranks.push_back(run(paths, o));
      REQUIRE(ranks.back().size() == whole.size());  // every rank takes the same number of steps
    }
    std::map<int64_t, std::multiset<std::string>> per_epoch;
    for (size_t k = 0; k < whole.size(); ++k) {
      Delivered joined;
      for (int r = 0; r < world; ++r) {
        const Delivered& part = ranks[size_t(r)][k];
        CHECK(part.size == batch_shard(whole[k].size, r, world).size());
        CHECK(part.epoch == whole[k].epoch);
        CHECK(part.end_position == whole[k].end_position);
        CHECK(part.last_in_epoch == whole[k].last_in_epoch);
        append(joined.paths, part.paths);
        append(joined.L, part.L), append(joined.ab, part.ab), append(joined.mask, part.mask);
        for (const auto& p : part.paths) per_epoch[part.epoch].insert(p);
      }
      CHECK(joined.paths == whole[k].paths);
      CHECK(joined.L.size() == whole[k].L.size());
      CHECK(std::memcmp(joined.L.data(), whole[k].L.data(), joined.L.size() * sizeof(float)) == 0);
      CHECK(std::memcmp(joined.ab.data(), whole[k].ab.data(), joined.ab.size() * sizeof(float)) == 0);
      CHECK(std::memcmp(joined.mask.data(), whole[k].mask.data(), joined.mask.size() * sizeof(float)) == 0);
    }
    const std::multiset<std::string> all(paths.begin(), paths.end());
    REQUIRE(per_epoch.size() == 3);
    for (const auto& [epoch, seen] : per_epoch) CHECK(seen == all);
  }
}

TEST_CASE("sharded loaders: resumed at a global batch's end, and a bad file shortens only its own part") {
  TempDir dir("shard_bad");
  auto paths = make_photos(dir, 9);
  test::write_bytes(dir / "photos/zz_broken.png", {0x89, 'P', 'N', 'G', 1, 2, 3});
  paths = scan_images(dir / "photos");
  REQUIRE(paths.size() == 10);
  LoaderOptions opt;
  opt.image_size = 16;
  opt.batch_size = 4;
  opt.epochs = 2;
  opt.seed = 3;
  opt.workers = 1;
  opt.shard_count = 2;
  opt.warn = [](const std::string&) {};
  size_t delivered = 0;
  for (int r = 0; r < 2; ++r) {
    opt.shard_index = r;
    const auto all = run(paths, opt);
    REQUIRE(all.size() == 6);  // ceil(10 / 4) global batches an epoch, whatever the bad file does
    for (size_t k = 0; k < all.size(); ++k) {
      const int64_t block = std::min<int64_t>(4, 10 - int64_t(k % 3) * 4);
      CHECK(all[k].size <= batch_shard(block, r, 2).size());  // short where the bad file fell, never refilled
      delivered += size_t(all[k].size);
    }
    // Started where global batch 4 ended (as a checkpoint records it): the same parts as the full run's.
    LoaderOptions resumed = opt;
    resumed.start_epoch = all[3].end_position / 10;
    resumed.start_position = all[3].end_position % 10;
    const auto rest = run(paths, resumed);
    REQUIRE(rest.size() == 2);
    CHECK(rest[0].paths == all[4].paths);
    CHECK(rest[1].paths == all[5].paths);
    CHECK(std::memcmp(rest[1].ab.data(), all[5].ab.data(), rest[1].ab.size() * sizeof(float)) == 0);
  }
  CHECK(delivered == 2 * 9);  // every good file once an epoch, over both ranks
}
