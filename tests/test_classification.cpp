// Colorization as classification: the ab bins and class weights (data/ab_bins.h), the fused softmax
// cross-entropy and the annealed-mean decode of the kernel contract (engine/backend.h) on every backend, and
// the engine op's gradient.
//
// Method, as for the other entries: values against independent hand computations; cpu-ref's backward against
// central differences of its own forward in double; every other backend (cpu, cuda-emu, cuda where a GPU is
// present) against cpu-ref on the same random inputs with outputs poisoned with NaN; the loss bit-identical
// across runs and thread counts.
// Tolerances: each loss term is a log-sum-exp over k classes, rounded in float on the fast backends and
// summed in a different order: 1e-5 relative to the loss (a swapped class or a missed weight is O(1e-1)).
// Gradients and decodes are a few roundings per element: 1e-5 of the largest element.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "data/ab_bins.h"
#include "data/colour.h"
#include "engine/backend.h"
#include "engine/nn.h"
#include "engine/ops.h"
#include "engine/optim.h"
#include "kernels/cpu/reference.h"
#include "engine/thread_pool.h"
#include "models/unet.h"
#include "tests/engine_test_util.h"

using namespace tint;

namespace {

std::vector<float> random_vector(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<float> random_mask(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = rng() % 4 == 0 ? 0.0f : 1.0f;
  return v;
}

// Soft targets like the training's, a few classes per pixel, but summing to 0.6..1.4 rather than 1, so that
// the T * p term of the backward is exercised (with T = 1 a kernel that drops it would still pass).
std::vector<float> soft_targets(int n, int k, int64_t hw, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> t(size_t(int64_t(n) * k * hw), 0.0f);
  for (int b = 0; b < n; ++b)
    for (int64_t i = 0; i < hw; ++i) {
      const int used = std::min(k, 3);
      float w[3], total = 0;
      for (int j = 0; j < used; ++j) total += (w[j] = 0.1f + float(rng() % 100) / 100.0f);
      const float sum = 0.6f + float(rng() % 81) / 100.0f;
      for (int j = 0; j < used; ++j)
        t[size_t((int64_t(b) * k + int(rng() % unsigned(k))) * hw + i)] += sum * w[j] / total;
    }
  return t;
}

// Device memory of one backend, freed at scope exit.
class Mem {
 public:
  explicit Mem(const Backend& b) : b_(b) {}
  ~Mem() {
    for (void* p : owned_) b_.free(p);
  }
  Mem(const Mem&) = delete;
  Mem& operator=(const Mem&) = delete;
  float* upload(const std::vector<float>& host) {
    auto* p = static_cast<float*>(b_.alloc(std::max<size_t>(host.size(), 1) * sizeof(float)));
    owned_.push_back(p);
    b_.copy_from_host(stream, p, host.data(), host.size() * sizeof(float));
    return p;
  }
  float* poisoned(size_t n) { return upload(std::vector<float>(n, std::numeric_limits<float>::quiet_NaN())); }
  std::vector<float> download(const float* p, size_t n) {
    std::vector<float> host(n);
    b_.copy_to_host(stream, host.data(), p, n * sizeof(float));
    b_.synchronize(stream);
    return host;
  }
  const Backend& backend() const { return b_; }
  Stream stream;

 private:
  const Backend& b_;
  std::vector<void*> owned_;
};

std::vector<const Backend*> backends_under_test() {
  std::vector<const Backend*> b = {&cpu_backend(), &cuda_emu_backend()};
  if (cuda_backend() && cuda_device_available()) b.push_back(cuda_backend());
  return b;
}

// max|a - b| / max|ref|; infinity when a value is not finite where the reference is.
double relative_error(const std::vector<float>& got, const std::vector<float>& ref) {
  if (got.size() != ref.size()) return std::numeric_limits<double>::infinity();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (std::isfinite(ref[i]) && !std::isfinite(got[i])) return std::numeric_limits<double>::infinity();
    diff = std::max(diff, std::fabs(double(got[i]) - double(ref[i])));
    scale = std::max(scale, std::fabs(double(ref[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

struct Case {
  int n, k;
  int64_t hw;
};
// Odd sizes: one pixel, one class, chunks of 64 pixels cut inside an image, a pixel count that is not a
// multiple of the CUDA block, and the real bin count.
const Case kCases[] = {{1, 1, 1}, {1, 3, 1}, {2, 7, 37}, {3, 5, 130}, {2, 262, 67}};

struct Inputs {
  std::vector<float> logits, target, weight, mask, grad;
};
Inputs make_inputs(const Case& c, uint32_t seed) {
  const int64_t total = int64_t(c.n) * c.k * c.hw, pixels = int64_t(c.n) * c.hw;
  return {random_vector(size_t(total), seed, -4.0f, 4.0f),
          soft_targets(c.n, c.k, c.hw, seed + 1),
          random_vector(size_t(pixels), seed + 2, 0.2f, 3.0f),
          random_mask(size_t(pixels), seed + 3),
          {0.75f}};
}

// The loss (value, count) and the gradient of one backend, with or without weight and mask.
std::pair<std::vector<float>, std::vector<float>> run_ce(const Backend& be, const Case& c, const Inputs& in,
                                                         bool weighted, bool masked,
                                                         ThreadPool* pool = nullptr) {
  Mem m(be);
  m.stream.pool = pool;
  const int64_t total = int64_t(c.n) * c.k * c.hw;
  float* out = m.poisoned(2);
  float* dz = m.poisoned(size_t(total));
  float* z = m.upload(in.logits);
  float* t = m.upload(in.target);
  const float* w = weighted ? m.upload(in.weight) : nullptr;
  const float* mk = masked ? m.upload(in.mask) : nullptr;
  be.softmax_ce_forward(m.stream, out, z, t, w, mk, c.n, c.k, c.hw);
  be.softmax_ce_backward(m.stream, dz, m.upload(in.grad), out, z, t, w, mk, c.n, c.k, c.hw);
  return {m.download(out, 2), m.download(dz, size_t(total))};
}

std::vector<float> run_decode(const Backend& be, const Case& c, const std::vector<float>& logits,
                              const std::vector<float>& centres, float temperature) {
  Mem m(be);
  float* ab = m.poisoned(size_t(2 * c.n * c.hw));
  be.annealed_mean_decode(m.stream, ab, m.upload(logits), m.upload(centres), temperature, c.n, c.k, c.hw);
  return m.download(ab, size_t(2 * c.n * c.hw));
}

}  // namespace

// ---- the bins
// ----------------------------------------------------------------------------------------------

TEST_CASE("ab bins: the sRGB gamut's bins, found from tint's own Lab conversion", "[cic]") {
  const cic::AbBins bins = cic::gamut_bins();
  INFO("bins: " << bins.size());
  // Zhang et al. report 313 for their gamut; ours is the same idea on the 8-bit sRGB cube's surface.
  CHECK(bins.size() == 261);
  // Known colours fall in their bins: red (80.09, 67.20) -> (80, 70); blue (79.19, -107.86) -> (80, -110);
  // green (-86.18, 83.18) -> (-90, 80); grey (0, 0).
  const std::pair<float, float> colours[] = {
      {80.09f, 67.20f}, {79.19f, -107.86f}, {-86.18f, 83.18f}, {0.f, 0.f}};
  const std::pair<int, int> expected[] = {{80, 70}, {80, -110}, {-90, 80}, {0, 0}};
  for (int i = 0; i < 4; ++i) {
    const int k = bins.nearest(colours[i].first, colours[i].second);
    CHECK(bins.a(k) == expected[i].first);
    CHECK(bins.b(k) == expected[i].second);
  }
  // Far outside sRGB: (120, 120) is in no kept bin, and its nearest kept one is on the gamut's edge.
  bool has_far = false;
  for (int k = 0; k < bins.size(); ++k) has_far |= bins.a(k) == 120 && bins.b(k) == 120;
  CHECK_FALSE(has_far);
  // Every 8-bit colour's own bin is kept (sampled on a stride; the exhaustive check is the construction).
  for (int r = 0; r < 256; r += 5)
    for (int g = 0; g < 256; g += 5)
      for (int b = 0; b < 256; b += 5) {
        double L, A, B;
        colour::srgb_to_lab(r / 255.0, g / 255.0, b / 255.0, L, A, B);
        const int k = bins.nearest(float(A), float(B));
        CHECK(std::fabs(bins.a(k) - A) <= 5.0 + 1e-9);
        CHECK(std::fabs(bins.b(k) - B) <= 5.0 + 1e-9);
      }
}

TEST_CASE("ab bins: soft encoding over the 5 nearest bins, Gaussian sigma 5", "[cic]") {
  const cic::AbBins bins = cic::gamut_bins();
  int idx[5];
  float w[5];
  // At the centre (0, 0): itself at d^2 = 0, then its four neighbours at d^2 = 100: weights 1 : e^-2.
  REQUIRE(bins.soft_encode(0.f, 0.f, idx, w) == 5);
  CHECK(bins.a(idx[0]) == 0);
  CHECK(bins.b(idx[0]) == 0);
  const double w0 = 1.0 / (1.0 + 4.0 * std::exp(-2.0));
  CHECK(w[0] == Approx(w0).epsilon(1e-6));
  for (int j = 1; j < 5; ++j) {
    CHECK(w[j] == Approx(w0 * std::exp(-2.0)).epsilon(1e-6));
    CHECK(std::abs(bins.a(idx[j])) + std::abs(bins.b(idx[j])) == 10);
  }
  // The grid window against brute force over every bin, at random points in and beyond the gamut.
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-140.f, 140.f);
  for (int trial = 0; trial < 2000; ++trial) {
    const float a = dist(rng), b = dist(rng);
    REQUIRE(bins.soft_encode(a, b, idx, w) == 5);
    std::vector<std::pair<double, int>> all;
    for (int k = 0; k < bins.size(); ++k)
      all.push_back({(a - bins.a(k)) * double(a - bins.a(k)) + (b - bins.b(k)) * double(b - bins.b(k)), k});
    std::sort(all.begin(), all.end());
    double total = 0;
    for (int j = 0; j < 5; ++j) total += std::exp(-all[size_t(j)].first / 50.0);
    for (int j = 0; j < 5; ++j) {
      INFO("point (" << a << ", " << b << ") neighbour " << j);
      CHECK(idx[j] == all[size_t(j)].second);
      if (total > 1e-200) CHECK(w[j] == Approx(std::exp(-all[size_t(j)].first / 50.0) / total).epsilon(1e-5));
    }
  }
}

TEST_CASE("ab bins: class weights from counts, smoothed, mixed with uniform, inverted, expectation 1",
          "[cic]") {
  // Two bins 100 apart: the sigma-5 smoothing leaves them alone (exp(-200) ~ 0). counts 3 : 1 give
  // p = (0.75, 0.25); 1 / (0.5 p + 0.25) = (1.6, 2.6667); E_p = 1.8667; weights (0.857143, 1.428571).
  const cic::AbBins far({0, 100}, {0, 0});
  const std::vector<float> w = cic::class_weights(far, {3.0, 1.0});
  REQUIRE(w.size() == 2);
  CHECK(w[0] == Approx(1.6 / (0.75 * 1.6 + 0.25 / 0.375)).epsilon(1e-6));
  CHECK(w[0] == Approx(0.857142857).epsilon(1e-6));
  CHECK(w[1] == Approx(1.428571429).epsilon(1e-6));
  // Two neighbours 10 apart with all the pixels in the first: smoothing moves e^-2 of it across
  // (p = (1, e^-2) / (1 + e^-2)).
  const cic::AbBins near({0, 10}, {0, 0});
  const std::vector<float> v = cic::class_weights(near, {5.0, 0.0});
  const double e = std::exp(-2.0), p0 = 1 / (1 + e), p1 = e / (1 + e);
  const double u0 = 1 / (0.5 * p0 + 0.25), u1 = 1 / (0.5 * p1 + 0.25), ex = p0 * u0 + p1 * u1;
  CHECK(v[0] == Approx(u0 / ex).epsilon(1e-6));
  CHECK(v[1] == Approx(u1 / ex).epsilon(1e-6));
  CHECK_THROWS_WITH(cic::class_weights(near, {0.0, 0.0}), Catch::Contains("no pixels"));
}

TEST_CASE("ab bins: metadata strings round-trip and bad ones are refused by name", "[cic]") {
  const cic::AbBins bins = cic::gamut_bins();
  const cic::AbBins back = cic::AbBins::parse(bins.to_string(), "model.safetensors");
  REQUIRE(back.size() == bins.size());
  for (int k = 0; k < bins.size(); ++k) CHECK((back.a(k) == bins.a(k) && back.b(k) == bins.b(k)));
  CHECK_THROWS_WITH(cic::AbBins::parse("0:0,5:0", "m.st"),
                    Catch::Contains("m.st") && Catch::Contains("multiple of 10"));
  CHECK_THROWS_WITH(cic::AbBins::parse("0:0,x", "m.st"), Catch::Contains("'x'"));
  CHECK_THROWS_WITH(cic::AbBins::parse("0:0,0:0", "m.st"), Catch::Contains("twice"));
  const std::vector<float> w = {0.5f, 1.25f, 3.0f};
  CHECK(cic::parse_weights(cic::weights_to_string(w), 3, "m") == w);
  CHECK_THROWS_WITH(cic::parse_weights("1,2", 3, "m.st"), Catch::Contains("2 class weights for 3"));
  CHECK_THROWS_WITH(cic::parse_weights("1,-2,3", 3, "m.st"), Catch::Contains("'-2'"));
  CHECK_THROWS_WITH(cic::parse_weights("1,nan,3", 3, "m.st"), Catch::Contains("'nan'"));
}

TEST_CASE("ab bins: encoded targets and pixel weights of a batch", "[cic]") {
  const cic::AbBins bins = cic::gamut_bins();
  std::vector<float> cw(size_t(bins.size()));
  for (size_t k = 0; k < cw.size(); ++k) cw[k] = 1.0f + float(k);
  // Two pixels: red and (0, 0).
  const std::vector<float> ab = {80.09f / 110, 0.f, 67.20f / 110, 0.f};
  std::vector<float> target(size_t(bins.size()) * 2, -1.f), weight(2, -1.f);
  cic::encode_targets(bins, cw, ab.data(), 1, 2, target.data(), weight.data());
  for (int p = 0; p < 2; ++p) {
    double total = 0;
    int nonzero = 0;
    for (int k = 0; k < bins.size(); ++k) {
      total += target[size_t(k) * 2 + size_t(p)];
      nonzero += target[size_t(k) * 2 + size_t(p)] > 0;
    }
    CHECK(total == Approx(1.0).epsilon(1e-6));
    CHECK(nonzero == 5);
  }
  CHECK(weight[0] == cw[size_t(bins.nearest(80.09f, 67.20f))]);
  CHECK(weight[1] == cw[size_t(bins.nearest(0.f, 0.f))]);
}

// ---- the kernels
// -------------------------------------------------------------------------------------------

TEST_CASE("softmax cross-entropy: cpu-ref against hand-computed values", "[cic][kernels]") {
  // One pixel, logits (1, 2, 3), target one-hot on class 2: -log softmax_2 = log(1 + e^-1 + e^-2).
  std::vector<double> out(2), dz(3);
  const std::vector<double> z = {1, 2, 3}, t = {0, 0, 1}, g = {1};
  ref::softmax_ce_forward<double>(out.data(), z.data(), t.data(), nullptr, nullptr, 1, 3, 1);
  CHECK(out[0] == Approx(std::log(1 + std::exp(-1.0) + std::exp(-2.0))).epsilon(1e-12));
  CHECK(out[1] == 1.0);
  ref::softmax_ce_backward<double>(dz.data(), g.data(), out.data(), z.data(), t.data(), nullptr, nullptr, 1,
                                   3, 1);
  const double s = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  CHECK(dz[0] == Approx(std::exp(1.0) / s).epsilon(1e-12));
  CHECK(dz[2] == Approx(std::exp(3.0) / s - 1).epsilon(1e-12));
  // Two pixels (hw = 2: a pixel's classes are hw apart), weights 2 and 5, the second masked out: the loss is
  // 2 * ce(pixel 0) / 1. Pixel 0: logits (0, ln 3), target (0.5, 0.5): ce = -0.5 ln(1/4) - 0.5 ln(3/4).
  const std::vector<double> z2 = {0, 7, std::log(3.0), -7}, t2 = {0.5, 1, 0.5, 0}, w2 = {2, 5}, m2 = {1, 0};
  ref::softmax_ce_forward<double>(out.data(), z2.data(), t2.data(), w2.data(), m2.data(), 1, 2, 2);
  CHECK(out[0] == Approx(2 * (-0.5 * std::log(0.25) - 0.5 * std::log(0.75))).epsilon(1e-12));
  CHECK(out[1] == 1.0);
  // Huge logits stay finite (the max is subtracted before exp).
  std::vector<float> outf(2), dzf(2);
  const std::vector<float> zf = {1000.f, 999.f}, tf = {0.f, 1.f}, gf = {1.f};
  ref::softmax_ce_forward<float>(outf.data(), zf.data(), tf.data(), nullptr, nullptr, 1, 2, 1);
  CHECK(outf[0] == Approx(std::log(1 + std::exp(1.0))).epsilon(1e-6));
  for (const Backend* be : {&cpu_reference_backend(), &cpu_backend(), &cuda_emu_backend()}) {
    Mem m(*be);
    float* o = m.poisoned(2);
    float* d = m.poisoned(2);
    float* zd = m.upload(zf);
    float* td = m.upload(tf);
    be->softmax_ce_forward(m.stream, o, zd, td, nullptr, nullptr, 1, 2, 1);
    be->softmax_ce_backward(m.stream, d, m.upload(gf), o, zd, td, nullptr, nullptr, 1, 2, 1);
    const auto lo = m.download(o, 2), dd = m.download(d, 2);
    INFO(be->name);
    CHECK(lo[0] == Approx(std::log(1 + std::exp(1.0))).epsilon(1e-5));
    CHECK(dd[0] == Approx(1 / (1 + std::exp(-1.0))).epsilon(1e-5));
    CHECK(dd[1] == Approx(1 / (1 + std::exp(1.0)) - 1).epsilon(1e-5));
  }
}

TEST_CASE("softmax cross-entropy: cpu-ref backward against central differences in double",
          "[cic][kernels][grad]") {
  // Targets that do not sum to 1 check the T * p term of the backward; weights and a mask check the scaling.
  for (const Case& c : {Case{1, 3, 1}, Case{2, 5, 7}, Case{3, 4, 3}}) {
    const int64_t total = int64_t(c.n) * c.k * c.hw, pixels = int64_t(c.n) * c.hw;
    std::vector<double> z(static_cast<size_t>(total)), t(static_cast<size_t>(total)),
        w(static_cast<size_t>(pixels)), mk(static_cast<size_t>(pixels));
    std::mt19937 rng(11);
    std::uniform_real_distribution<double> u(-2, 2), pos(0.1, 1.5);
    for (auto& v : z) v = u(rng);
    for (auto& v : t) v = pos(rng) * (rng() % 2);
    for (auto& v : w) v = pos(rng);
    for (size_t i = 0; i < mk.size(); ++i) mk[i] = i % 3 == 1 ? 0.0 : 1.0;
    if (pixels == 1) mk[0] = 1;
    std::vector<double> out(2), dz(static_cast<size_t>(total));
    const std::vector<double> g = {1.3};
    ref::softmax_ce_forward<double>(out.data(), z.data(), t.data(), w.data(), mk.data(), c.n, c.k, c.hw);
    ref::softmax_ce_backward<double>(dz.data(), g.data(), out.data(), z.data(), t.data(), w.data(), mk.data(),
                                     c.n, c.k, c.hw);
    const double h = 1e-6;
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < total; ++i) {
      std::vector<double> zp = z, zm = z, op(2), om(2);
      zp[size_t(i)] += h, zm[size_t(i)] -= h;
      ref::softmax_ce_forward<double>(op.data(), zp.data(), t.data(), w.data(), mk.data(), c.n, c.k, c.hw);
      ref::softmax_ce_forward<double>(om.data(), zm.data(), t.data(), w.data(), mk.data(), c.n, c.k, c.hw);
      const double numeric = g[0] * (op[0] - om[0]) / (2 * h);
      worst = std::max(worst, std::fabs(numeric - dz[size_t(i)]));
      scale = std::max(scale, std::fabs(numeric));
    }
    INFO("n" << c.n << " k" << c.k << " hw" << c.hw << ": max error " << worst << " of " << scale);
    CHECK(worst <= 1e-8 * std::max(scale, 1.0));
  }
}

TEST_CASE("softmax cross-entropy: every backend against cpu-ref, outputs poisoned with NaN",
          "[cic][kernels]") {
  for (const Case& c : kCases) {
    const Inputs in = make_inputs(c, 21 + uint32_t(c.k));
    for (int weighted = 0; weighted < 2; ++weighted)
      for (int masked = 0; masked < 2; ++masked) {
        const auto ref = run_ce(cpu_reference_backend(), c, in, weighted, masked);
        for (const Backend* be : backends_under_test()) {
          const auto got = run_ce(*be, c, in, weighted, masked);
          INFO(be->name << " n" << c.n << " k" << c.k << " hw" << c.hw << (weighted ? " weighted" : "")
                        << (masked ? " masked" : "") << ": loss " << got.first[0] << " vs " << ref.first[0]);
          CHECK(std::fabs(got.first[0] - ref.first[0]) <= 1e-5 * std::max(1.0f, std::fabs(ref.first[0])));
          CHECK(got.first[1] == ref.first[1]);
          CHECK(relative_error(got.second, ref.second) <= 1e-5);
        }
      }
  }
  // A mask of zeros: count 0, loss 0, gradient 0 (not NaN from 0/0).
  const Case c{2, 7, 37};
  Inputs in = make_inputs(c, 3);
  std::fill(in.mask.begin(), in.mask.end(), 0.0f);
  for (const Backend* be : {&cpu_reference_backend(), &cpu_backend(), &cuda_emu_backend()}) {
    const auto got = run_ce(*be, c, in, true, true);
    INFO(be->name);
    CHECK(got.first[0] == 0.0f);
    CHECK(got.first[1] == 0.0f);
    CHECK(relative_error(got.second, std::vector<float>(got.second.size(), 0.0f)) == 0.0);
  }
}

TEST_CASE("softmax cross-entropy: the loss is the same bits on every run and thread count",
          "[cic][kernels]") {
  // Big enough for several reduction blocks of the cpu backend and many threads of the CUDA block.
  const Case c{3, 11, 9000};
  const Inputs in = make_inputs(c, 77);
  ThreadPool one(1), three(3);
  const auto a = run_ce(cpu_backend(), c, in, true, true, nullptr);
  for (ThreadPool* pool : {&one, &three}) {
    const auto b = run_ce(cpu_backend(), c, in, true, true, pool);
    CHECK(std::memcmp(a.first.data(), b.first.data(), 2 * sizeof(float)) == 0);
    CHECK(std::memcmp(a.second.data(), b.second.data(), a.second.size() * sizeof(float)) == 0);
  }
  for (const Backend* be : backends_under_test()) {
    const auto x = run_ce(*be, c, in, true, true), y = run_ce(*be, c, in, true, true);
    INFO(be->name);
    CHECK(std::memcmp(x.first.data(), y.first.data(), 2 * sizeof(float)) == 0);
    CHECK(std::memcmp(x.second.data(), y.second.data(), x.second.size() * sizeof(float)) == 0);
  }
}

TEST_CASE("annealed-mean decode: hand-computed values, the mode, and every backend against cpu-ref",
          "[cic][kernels]") {
  // Two classes with centres (0, 0) and (1, 2); logits (0, ln 3): at T = 1, q = (1/4, 3/4) -> (0.75, 1.5);
  // at T = 0.5, q = (1, 9) / 10 -> (0.9, 1.8); the mode is class 1 -> (1, 2).
  const std::vector<float> centres = {0.f, 0.f, 1.f, 2.f};
  const std::vector<float> z = {0.f, std::log(3.0f)};
  const Case one{1, 2, 1};
  for (const Backend* be : {&cpu_reference_backend(), &cpu_backend(), &cuda_emu_backend()}) {
    INFO(be->name);
    const auto t1 = run_decode(*be, one, z, centres, 1.0f);
    CHECK(t1[0] == Approx(0.75).epsilon(1e-6));
    CHECK(t1[1] == Approx(1.5).epsilon(1e-6));
    const auto t05 = run_decode(*be, one, z, centres, 0.5f);
    CHECK(t05[0] == Approx(0.9).epsilon(1e-6));
    CHECK(t05[1] == Approx(1.8).epsilon(1e-6));
    const auto mode = run_decode(*be, one, z, centres, 0.0f);
    CHECK(mode[0] == 1.0f);
    CHECK(mode[1] == 2.0f);
    // Equal logits: the mode takes the lower class.
    const auto tie = run_decode(*be, one, {0.5f, 0.5f}, centres, 0.0f);
    CHECK(tie[0] == 0.0f);
    CHECK(tie[1] == 0.0f);
  }
  for (const Case& c : kCases) {
    const auto logits = random_vector(size_t(int64_t(c.n) * c.k * c.hw), 90 + uint32_t(c.k), -6.f, 6.f);
    const auto cen = random_vector(size_t(2 * c.k), 91, -1.f, 1.f);
    for (float temperature : {0.38f, 1.0f, 0.0f}) {
      const auto ref = run_decode(cpu_reference_backend(), c, logits, cen, temperature);
      for (const Backend* be : backends_under_test()) {
        INFO(be->name << " n" << c.n << " k" << c.k << " hw" << c.hw << " T " << temperature);
        CHECK(relative_error(run_decode(*be, c, logits, cen, temperature), ref) <= 1e-5);
      }
    }
  }
}

// ---- the engine op
// -----------------------------------------------------------------------------------------

TEST_CASE("softmax_cross_entropy op: gradient through autograd on every host device", "[cic][engine][grad]") {
  const int n = 2, k = 4, h = 3, w = 2;
  const int64_t hw = h * w;
  const auto target = soft_targets(n, k, hw, 8);
  const auto weight = random_vector(size_t(n * hw), 9, 0.5f, 2.0f);
  auto mask = random_mask(size_t(n * hw), 10);
  mask[0] = 1;
  for (Device d : testing::engine_test_devices()) {
    const Tensor t = Tensor::from_vector(target, {n, k, h, w}, d);
    const Tensor wt = Tensor::from_vector(weight, {n, 1, h, w}, d);
    const Tensor mk = Tensor::from_vector(mask, {n, 1, h, w}, d);
    const Tensor z = Tensor::from_vector(random_vector(size_t(n * k * hw), 12, -2.f, 2.f), {n, k, h, w}, d);
    // Scaled, so the op's gradient is checked with g != 1 flowing into it.
    testing::check_gradients("softmax_cross_entropy on " + d.str(), {z}, [&](const std::vector<Tensor>& x) {
      return ops::scale(ops::softmax_cross_entropy(x[0], t, wt, mk), 1.7f);
    });
  }
}

TEST_CASE("softmax_cross_entropy and annealed_mean_decode ops: shapes are checked by name", "[cic][engine]") {
  const Tensor z = Tensor::zeros({1, 3, 2, 2});
  CHECK_THROWS_WITH(ops::softmax_cross_entropy(z, Tensor::zeros({1, 2, 2, 2})),
                    Catch::Contains("softmax_cross_entropy") && Catch::Contains("target"));
  CHECK_THROWS_WITH(ops::softmax_cross_entropy(z, z, Tensor::zeros({1, 2, 2, 2})), Catch::Contains("weight"));
  CHECK_THROWS_WITH(ops::softmax_cross_entropy(z, z, Tensor(), Tensor::zeros({1, 1, 2, 3})),
                    Catch::Contains("mask"));
  CHECK_THROWS_WITH(ops::annealed_mean_decode(z, Tensor::zeros({2, 2}), 0.38f), Catch::Contains("centres"));
  // The decode op: logits favouring class 2 everywhere -> its centre.
  std::vector<float> logits(12, 0.f);
  for (int i = 0; i < 4; ++i) logits[size_t(8 + i)] = 5.f;
  const Tensor ab =
      ops::annealed_mean_decode(Tensor::from_vector(logits, {1, 3, 2, 2}),
                                Tensor::from_vector({0.f, 0.f, 0.f, 0.f, 0.5f, -0.25f}, {3, 2}), 0.f);
  const auto v = ab.to_vector();
  REQUIRE(v.size() == 8);
  for (int i = 0; i < 4; ++i) {
    CHECK(v[size_t(i)] == 0.5f);
    CHECK(v[size_t(4 + i)] == -0.25f);
  }
}

// ---- the head
// ----------------------------------------------------------------------------------------------

TEST_CASE("a tiny U-Net with the classification head overfits two images", "[cic][train]") {
  // Two 16x16 images whose colour is a function of L: bright pixels orange (a 40, b 50), dark ones blue
  // (a -10, b -40), neither on a bin centre. The soft targets, the class weights and the decode are the
  // real ones (261 bins of sRGB).
  const cic::AbBins bins = cic::gamut_bins();
  const int K = bins.size(), n = 2, side = 16;
  const int64_t hw = side * side;
  Rng rng(3);
  std::vector<float> L(size_t(n * hw)), ab(size_t(2 * n * hw)), mask(size_t(n * hw), 1.0f);
  std::mt19937 gen(4);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (int i = 0; i < n; ++i)
    for (int64_t p = 0; p < hw; ++p) {
      const float l = u(gen);
      L[size_t(i * hw + p)] = l;
      ab[size_t(2 * i * hw + p)] = (l > 0 ? 40.f : -10.f) / 110.f;
      ab[size_t((2 * i + 1) * hw + p)] = (l > 0 ? 50.f : -40.f) / 110.f;
    }
  std::vector<double> counts;
  cic::count_bins(bins, ab.data(), mask.data(), n, hw, counts);
  const std::vector<float> weights = cic::class_weights(bins, counts);
  std::vector<float> target(size_t(n * K * hw)), pixel_weight(size_t(n * hw));
  cic::encode_targets(bins, weights, ab.data(), n, hw, target.data(), pixel_weight.data());

  const Device d = Device::cpu();
  models::UNet unet({8, 2, K}, rng);
  unet.set_decode(Tensor::from_vector(bins.scaled_centres(), {K, 2}, d), cic::kDefaultTemperature);
  nn::FlatParameters flat = nn::flatten_parameters(unet, d);
  AdamHyper h;
  h.lr = 3e-3f;
  optim::Adam adam(flat, h);
  const Tensor x = Tensor::from_vector(L, {n, 1, side, side}, d);
  const Tensor t = Tensor::from_vector(target, {n, K, side, side}, d);
  const Tensor w = Tensor::from_vector(pixel_weight, {n, 1, side, side}, d);
  const Tensor m = Tensor::from_vector(mask, {n, 1, side, side}, d);
  float first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    adam.zero_grad();
    Tensor loss = ops::softmax_cross_entropy(unet(x), t, w, m);
    loss.backward();
    adam.step();
    last = loss.item();
    REQUIRE(std::isfinite(last));
    if (step == 0) first = last;
  }
  // The soft target's own entropy is the floor: about 1.3 nats for a point between bins.
  INFO("loss " << first << " -> " << last);
  CHECK(last < 0.4f * first);
  NoGradGuard no_grad;
  const std::vector<float> pred = unet.predict_ab(x).to_vector();
  double err = 0;
  for (size_t i = 0; i < pred.size(); ++i) err += std::fabs(double(pred[i]) - double(ab[i])) * 110.0;
  err /= double(pred.size());
  INFO("mean |predicted - true| per channel: " << err << " Lab units");
  CHECK(err < 6.0);
}
