// The threaded loader: the same batches, byte for byte, for any number of workers; epochs cover every good
// file once; bad files skipped with one warning each; the allocator hook; clear errors.
#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "data/dataset.h"
#include "data/loader.h"
#include "test_data_fixtures.h"

using namespace tint;
using tint::test::TempDir;

namespace {

struct Recorded {
  std::vector<int> sizes;
  std::vector<int64_t> epochs;
  std::vector<std::string> paths;
  std::vector<uint8_t> grey;
  std::vector<float> L, ab, mask;
};

// Counts allocations and fills fresh buffers with NaN, so any float the loader fails to write shows up.
struct CountingAllocator {
  std::shared_ptr<std::atomic<int>> live = std::make_shared<std::atomic<int>>(0);
  HostAllocator hook() {
    auto count = live;
    return {[count](size_t bytes) {
              ++*count;
              float* p = static_cast<float*>(std::malloc(bytes));
              for (size_t i = 0; i < bytes / sizeof(float); ++i) p[i] = NAN;
              return static_cast<void*>(p);
            },
            [count](void* p) {
              --*count;
              std::free(p);
            }};
  }
};

Recorded run(const std::vector<std::string>& paths, LoaderOptions opt, std::vector<std::string>* warnings = nullptr,
             LoaderStats* stats = nullptr) {
  auto mutex = std::make_shared<std::mutex>();
  opt.warn = [warnings, mutex](const std::string& line) {
    std::lock_guard lock(*mutex);
    if (warnings) warnings->push_back(line);
  };
  Loader loader(paths, opt);
  Recorded r;
  const int64_t plane = int64_t(opt.image_size) * opt.image_size;
  while (auto b = loader.next()) {
    REQUIRE(b->size >= 1);
    REQUIRE(b->size <= opt.batch_size);
    REQUIRE(int(b->paths.size()) == b->size);
    r.sizes.push_back(b->size);
    r.epochs.push_back(b->epoch);
    r.paths.insert(r.paths.end(), b->paths.begin(), b->paths.end());
    r.grey.insert(r.grey.end(), b->grey.begin(), b->grey.end());
    r.L.insert(r.L.end(), b->L, b->L + b->size * plane);
    r.ab.insert(r.ab.end(), b->ab, b->ab + 2 * b->size * plane);
    r.mask.insert(r.mask.end(), b->mask, b->mask + b->size * plane);
  }
  if (stats) *stats = loader.stats();
  return r;
}

bool same_bytes(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// 13 images of assorted sizes and formats (two grey), plus a truncated JPEG, in nested folders.
std::vector<std::string> make_set(const TempDir& dir) {
  for (int i = 0; i < 13; ++i) {
    Image img = test::pattern_image(20 + 7 * i, 48 - 2 * i, uint32_t(i));
    if (i % 6 == 1)
      for (size_t k = 0; k < img.rgb.size(); k += 3) img.rgb[k + 1] = img.rgb[k + 2] = img.rgb[k];
    const std::string name = "set/class" + std::to_string(i % 3) + "/img" + std::to_string(i);
    if (i % 2)
      test::write_jpg(dir / (name + ".jpg"), img);
    else
      test::write_png(dir / (name + ".png"), img);
  }
  auto jpg = test::read_bytes(dir / "set/class1/img1.jpg");
  test::write_bytes(dir / "set/class2/broken.jpg", std::vector<uint8_t>(jpg.begin(), jpg.begin() + jpg.size() / 3));
  return scan_images(dir / "set");
}

}  // namespace

TEST_CASE("loader: identical batch sequence and bytes for 1, 2 and 4 workers") {
  TempDir dir("loader_workers");
  const auto paths = make_set(dir);
  REQUIRE(paths.size() == 14);
  for (FitMode fit : {FitMode::pad, FitMode::crop}) {
    LoaderOptions opt;
    opt.image_size = 24;
    opt.batch_size = 5;
    opt.epochs = 2;
    opt.seed = 42;
    opt.fit = fit;
    opt.prefetch_batches = 2;
    opt.workers = 1;
    opt.cache_bytes = 0;
    const Recorded one = run(paths, opt);
    REQUIRE(!one.paths.empty());
    for (int workers : {2, 4}) {
      for (int64_t cache : {int64_t(0), int64_t(1) << 20}) {
        INFO("workers " << workers << ", cache " << cache << ", fit " << int(fit));
        opt.workers = workers;
        opt.cache_bytes = cache;
        const Recorded other = run(paths, opt);
        CHECK(other.sizes == one.sizes);
        CHECK(other.paths == one.paths);
        CHECK(other.grey == one.grey);
        CHECK(same_bytes(other.L, one.L));
        CHECK(same_bytes(other.ab, one.ab));
        CHECK(same_bytes(other.mask, one.mask));
      }
    }
  }
}

TEST_CASE("loader: the memory cache serves every later epoch, within its byte limit") {
  TempDir dir("loader_cache");
  const auto paths = make_set(dir);  // 13 good files and a truncated one
  LoaderOptions opt;
  opt.image_size = 16;
  opt.batch_size = 4;
  opt.epochs = 3;
  opt.seed = 5;
  // One worker decodes positions in order, so each file's first decode is cached before its next visit.
  opt.workers = 1;
  LoaderStats stats;
  run(paths, opt, nullptr, &stats);
  CHECK(stats.samples == 3 * 13);
  CHECK(stats.cache_hits == 2 * 13);  // epochs 2 and 3; the bad file is never decoded again, cached or not
  CHECK(stats.summary().find(", 26 samples from the memory cache") != std::string::npos);
  opt.cache_bytes = 0;
  run(paths, opt, nullptr, &stats);
  CHECK(stats.cache_hits == 0);
  CHECK(stats.summary().find("memory cache") == std::string::npos);
  // A limit below one image's bytes caches nothing.
  opt.cache_bytes = 16;
  run(paths, opt, nullptr, &stats);
  CHECK(stats.cache_hits == 0);
}

TEST_CASE("loader: epochs visit each good file once, shuffled per epoch, batches end at epoch ends") {
  TempDir dir("loader_epochs");
  const auto paths = make_set(dir);
  LoaderOptions opt;
  opt.image_size = 16;
  opt.batch_size = 5;
  opt.epochs = 3;
  opt.seed = 7;
  opt.workers = 2;
  std::vector<std::string> warnings;
  LoaderStats stats;
  CountingAllocator alloc;
  opt.allocator = alloc.hook();
  const Recorded r = run(paths, opt, &warnings, &stats);
  // 13 good files a epoch in batches of 5: 5, 5, 3.
  CHECK(r.sizes == std::vector<int>{5, 5, 3, 5, 5, 3, 5, 5, 3});
  CHECK(r.epochs == std::vector<int64_t>{0, 0, 0, 1, 1, 1, 2, 2, 2});
  std::vector<std::vector<std::string>> per_epoch(3);
  for (size_t i = 0; i < r.paths.size(); ++i) per_epoch[i / 13].push_back(r.paths[i]);
  for (auto& e : per_epoch) {
    std::set<std::string> unique(e.begin(), e.end());
    CHECK(unique.size() == 13);
    CHECK(unique.count(dir / "set/class2/broken.jpg") == 0);
  }
  CHECK(per_epoch[0] != per_epoch[1]);
  CHECK(std::count(r.grey.begin(), r.grey.end(), 1) == 2 * 3);
  // Every float written (buffers came poisoned with NaN), values within the scaled ranges.
  for (float v : r.L) REQUIRE((v >= -1.0001f && v <= 1.0001f));
  for (float v : r.ab) REQUIRE(std::abs(v) <= 1.2f);
  for (float v : r.mask) REQUIRE((v == 0.f || v == 1.f));
  // The broken file: one warning in three epochs, naming it, counted in the summary.
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("broken.jpg") != std::string::npos);
  CHECK(stats.bad_files == 1);
  CHECK(stats.bad_by_reason[int(BadImageReason::corrupt)] == 1);
  CHECK(stats.samples == 39);
  CHECK(stats.summary().find("1 corrupt or truncated") != std::string::npos);
  CHECK(*alloc.live == 0);  // every batch buffer went back through the hook

  // drop_last keeps batches full; no shuffle keeps the sorted order.
  opt.drop_last = true;
  opt.shuffle = false;
  opt.epochs = 1;
  opt.allocator = HostAllocator::aligned();
  const Recorded d = run(paths, opt);
  CHECK(d.sizes == std::vector<int>{5, 5});
  std::vector<std::string> sorted_good;
  for (const auto& p : paths)
    if (p.find("broken") == std::string::npos) sorted_good.push_back(p);
  CHECK(std::vector<std::string>(d.paths.begin(), d.paths.end()) ==
        std::vector<std::string>(sorted_good.begin(), sorted_good.begin() + 10));
  // Another seed, another order.
  opt.shuffle = true;
  opt.seed = 8;
  const Recorded s8 = run(paths, opt);
  opt.seed = 7;
  const Recorded s7 = run(paths, opt);
  CHECK(s8.paths != s7.paths);
}

TEST_CASE("loader: the bad-input corpus is skipped file by file, no usable image is a clear error") {
  TempDir dir("loader_bad");
  const Image img = test::pattern_image(30, 30, 11);
  test::write_jpg(dir / "mixed/good1.jpg", img);
  test::write_png(dir / "mixed/good2.png", img);
  auto jpg = test::read_bytes(dir / "mixed/good1.jpg");
  auto png = test::read_bytes(dir / "mixed/good2.png");
  test::write_bytes(dir / "mixed/truncated.jpg", std::vector<uint8_t>(jpg.begin(), jpg.begin() + jpg.size() / 2));
  test::write_bytes(dir / "mixed/truncated.png", std::vector<uint8_t>(png.begin(), png.begin() + png.size() / 2));
  test::write_bytes(dir / "mixed/zero.jpg", {});
  const std::string text = "hello\n";
  test::write_bytes(dir / "mixed/text.jpg", std::vector<uint8_t>(text.begin(), text.end()));
  test::write_bytes(dir / "mixed/cmyk.jpg", test::jpeg_header(0xC0, 4));
  test::write_bytes(dir / "mixed/huge.png", test::make_png(10000, 7000, 8, 2, {}));
  const auto paths = scan_images(dir / "mixed");
  REQUIRE(paths.size() == 8);

  LoaderOptions opt;
  opt.image_size = 16;
  opt.batch_size = 4;
  opt.workers = 3;
  opt.epochs = 2;
  std::vector<std::string> warnings;
  LoaderStats stats;
  const Recorded r = run(paths, opt, &warnings, &stats);
  CHECK(r.paths.size() == 4);  // two good files, two epochs
  CHECK(warnings.size() == 6);
  for (const char* name : {"truncated.jpg", "truncated.png", "zero.jpg", "text.jpg", "cmyk.jpg", "huge.png"}) {
    INFO(name);
    CHECK(std::count_if(warnings.begin(), warnings.end(), [&](const std::string& w) { return w.find(name) != std::string::npos; }) == 1);
  }
  CHECK(stats.bad_files == 6);
  CHECK(stats.bad_by_reason[int(BadImageReason::corrupt)] == 2);
  CHECK(stats.bad_by_reason[int(BadImageReason::empty)] == 1);
  CHECK(stats.bad_by_reason[int(BadImageReason::not_an_image)] == 1);
  CHECK(stats.bad_by_reason[int(BadImageReason::unsupported)] == 1);
  CHECK(stats.bad_by_reason[int(BadImageReason::oversized)] == 1);

  // Only bad files: a tint::Error that says so, after one warning per file.
  std::vector<std::string> bad_only;
  for (const auto& p : paths)
    if (p.find("good") == std::string::npos) bad_only.push_back(p);
  warnings.clear();
  try {
    run(bad_only, opt, &warnings);
    FAIL("expected an error");
  } catch (const tint::Error& e) {
    CHECK(std::string(e.what()).find("no usable image") != std::string::npos);
    CHECK(std::string(e.what()).find("6 files") != std::string::npos);
  }
  CHECK(warnings.size() == 6);
  // No files at all, and bad options, fail at construction.
  CHECK_THROWS_AS(Loader({}, opt), tint::Error);
  opt.batch_size = 0;
  CHECK_THROWS_AS(Loader(paths, opt), tint::Error);
}

TEST_CASE("loader: endless mode keeps going, destroying a loader mid-run stops cleanly") {
  TempDir dir("loader_endless");
  const auto paths = make_set(dir);
  LoaderOptions opt;
  opt.image_size = 16;
  opt.batch_size = 4;
  opt.epochs = 0;
  opt.workers = 2;
  opt.warn = [](const std::string&) {};
  Loader loader(paths, opt);
  int64_t last_epoch = 0;
  for (int i = 0; i < 12; ++i) {
    auto b = loader.next();
    REQUIRE(b);
    CHECK(b->index == i);
    last_epoch = b->epoch;
  }
  CHECK(last_epoch >= 2);  // 13 good files in batches of 4: 4 batches an epoch
}

namespace {

struct Step {
  int64_t epoch = 0, end_position = 0;
  bool last = false;
  std::vector<std::string> paths;
  std::vector<float> L, ab, mask;
};

std::vector<Step> steps(const std::vector<std::string>& paths, LoaderOptions opt) {
  opt.warn = [](const std::string&) {};
  Loader loader(paths, opt);
  std::vector<Step> out;
  const int64_t plane = int64_t(opt.image_size) * opt.image_size;
  while (auto b = loader.next()) {
    Step s{b->epoch, b->end_position, b->last_in_epoch, b->paths, {}, {}, {}};
    s.L.assign(b->L, b->L + b->size * plane);
    s.ab.assign(b->ab, b->ab + 2 * b->size * plane);
    s.mask.assign(b->mask, b->mask + b->size * plane);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

TEST_CASE("loader: started at a batch's end_position it continues with the same batches, any worker count") {
  TempDir dir("loader_resume");
  const auto paths = make_set(dir);  // 13 good files and a broken one: batch ends are not multiples of 5
  const int64_t n = int64_t(paths.size());
  for (FitMode fit : {FitMode::pad, FitMode::crop}) {
    LoaderOptions opt;
    opt.image_size = 16;
    opt.batch_size = 5;
    opt.epochs = 3;
    opt.seed = 11;
    opt.fit = fit;
    opt.workers = 1;
    const std::vector<Step> all = steps(paths, opt);
    REQUIRE(all.size() == 9);  // 5, 5, 3 per epoch
    CHECK(all[2].last);
    CHECK(all[2].end_position == n);  // the epoch's end, past any bad file at its tail
    CHECK(all.back().end_position == 3 * n);
    for (size_t k : {size_t(0), size_t(1), size_t(2), size_t(4), size_t(7)}) {
      INFO("resumed after batch " << k << ", fit " << int(fit));
      LoaderOptions later = opt;
      later.start_epoch = all[k].end_position / n;
      later.start_position = all[k].end_position % n;
      later.workers = 3;
      const std::vector<Step> rest = steps(paths, later);
      REQUIRE(rest.size() == all.size() - k - 1);
      for (size_t i = 0; i < rest.size(); ++i) {
        const Step& want = all[k + 1 + i];
        CHECK(rest[i].epoch == want.epoch);
        CHECK(rest[i].end_position == want.end_position);
        CHECK(rest[i].last == want.last);
        CHECK(rest[i].paths == want.paths);
        CHECK(same_bytes(rest[i].L, want.L));
        CHECK(same_bytes(rest[i].ab, want.ab));
        CHECK(same_bytes(rest[i].mask, want.mask));
      }
    }
  }
  LoaderOptions bad;
  bad.epochs = 2;
  bad.start_epoch = 2;  // nothing left to load
  CHECK_THROWS_AS(Loader(paths, bad), tint::Error);
  bad.start_epoch = 0;
  bad.start_position = n;
  CHECK_THROWS_AS(Loader(paths, bad), tint::Error);
}

TEST_CASE("loader: a full batch followed only by bad files to the epoch's end is the epoch's last") {
  TempDir dir("loader_tail");
  for (int i = 0; i < 10; ++i) test::write_png(dir / ("tail/img" + std::to_string(i) + ".png"), test::pattern_image(12, 12, uint32_t(i)));
  test::write_bytes(dir / "tail/zz_bad.png", {});  // sorts last
  const auto paths = scan_images(dir / "tail");
  REQUIRE(paths.size() == 11);
  LoaderOptions opt;
  opt.image_size = 8;
  opt.batch_size = 5;
  opt.epochs = 2;
  opt.shuffle = false;
  opt.workers = 2;
  const std::vector<Step> all = steps(paths, opt);
  REQUIRE(all.size() == 4);
  CHECK(!all[0].last);
  CHECK(all[0].end_position == 5);
  CHECK(all[1].last);  // without it a trainer would never see the end of epoch 0
  CHECK(all[1].end_position == 11);
  CHECK(all[3].last);
  CHECK(all[3].end_position == 22);
}
