// The colour metrics of `tint eval` on tiny made-up images whose answers are known: computed by hand here, or
// recomputed in double from the definitions in data/metrics.h without its code.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <vector>

#include "data/colour.h"
#include "data/metrics.h"

namespace {

using tint::AbErrorCdf;
using tint::ColourMetrics;

// One image's planes in the network's scaling, written from Lab units.
struct Planes {
  std::vector<float> L, ab_pred, ab_true, mask;
  explicit Planes(int n)
      : L(size_t(n), 0.f), ab_pred(size_t(2 * n), 0.f), ab_true(size_t(2 * n), 0.f), mask(size_t(n), 1.f) {}
  int n() const { return int(L.size()); }
  void set(int i, double L_lab, double a_pred, double b_pred, double a_true, double b_true) {
    L[size_t(i)] = float(L_lab / 50 - 1);
    ab_pred[size_t(i)] = float(a_pred / 110);
    ab_pred[size_t(n() + i)] = float(b_pred / 110);
    ab_true[size_t(i)] = float(a_true / 110);
    ab_true[size_t(n() + i)] = float(b_true / 110);
  }
  void add_to(ColourMetrics& m) const {
    m.add_image(L.data(), ab_pred.data(), ab_true.data(), mask.data(), n());
  }
};

// A 3x2 image of real colours, from 8-bit RGB through the pipeline's own conversion (as the loader does).
Planes colourful_image() {
  const uint8_t rgb[6][3] = {{255, 0, 0},    {0, 128, 0},     {30, 60, 200},
                             {250, 250, 20}, {128, 128, 128}, {90, 40, 10}};
  Planes p(6);
  std::vector<float> a(6), b(6);
  tint::rgb8_to_lab_scaled(&rgb[0][0], 6, p.L.data(), a.data(), b.data());
  for (int i = 0; i < 6; ++i) {
    p.ab_true[size_t(i)] = p.ab_pred[size_t(i)] = a[size_t(i)];
    p.ab_true[size_t(6 + i)] = p.ab_pred[size_t(6 + i)] = b[size_t(i)];
  }
  return p;
}

}  // namespace

TEST_CASE("metrics: identical predictions score HI 1, AuC 1, PSNR infinite") {
  ColourMetrics m;
  colourful_image().add_to(m);
  const tint::ColourScores s = m.scores();
  CHECK(s.images == 1);
  CHECK(s.pixels == 6);
  CHECK(s.hi.a == Approx(1.0).epsilon(1e-12));
  CHECK(s.hi.b == Approx(1.0).epsilon(1e-12));
  CHECK(s.auc == Approx(1.0).epsilon(1e-12));
  CHECK(s.auc_rebalanced == Approx(1.0).epsilon(1e-12));
  CHECK(std::isinf(s.psnr));
  CHECK(s.psnr > 0);
  CHECK(s.psnr_infinite == 1);
  CHECK(s.colourfulness == s.colourfulness_truth);
  CHECK(s.colourfulness > 50);  // saturated red, green and blue among six pixels
}

TEST_CASE("metrics: disjoint histograms intersect in 0, shared ones in 1") {
  ColourMetrics m;
  Planes p(4);
  for (int i = 0; i < 4; ++i) p.set(i, 50, -40 - i, 7, 40 + i, 7);  // a on opposite sides, b the same
  p.add_to(m);
  const tint::ColourScores s = m.scores();
  CHECK(s.hi.a == 0.0);
  CHECK(s.hi.b == Approx(1.0));
}

TEST_CASE("metrics: a grey image has colourfulness 0") {
  std::vector<uint8_t> grey;
  for (int v : {0, 17, 128, 200, 255, 64}) grey.insert(grey.end(), {uint8_t(v), uint8_t(v), uint8_t(v)});
  CHECK(tint::colourfulness_rgb8(grey.data(), nullptr, 6) == 0.0);
  // Through the accumulator: L with a = b = 0 predicted; the truth is colourful, the prediction is not.
  Planes p = colourful_image();
  std::fill(p.ab_pred.begin(), p.ab_pred.end(), 0.f);
  ColourMetrics m;
  p.add_to(m);
  CHECK(m.scores().colourfulness < 0.5);  // only 8-bit rounding of the neutral conversion is left
  CHECK(m.scores().colourfulness_truth > 50);
}

TEST_CASE("metrics: colourfulness by hand (Hasler and Suesstrunk)") {
  // Red and blue: rg = 255, 0 (mean 127.5, sd 127.5); yb = 127.5, -255 (mean -63.75, sd 191.25).
  const uint8_t two[6] = {255, 0, 0, 0, 0, 255};
  const double expected =
      std::sqrt(127.5 * 127.5 + 191.25 * 191.25) + 0.3 * std::sqrt(127.5 * 127.5 + 63.75 * 63.75);
  CHECK(tint::colourfulness_rgb8(two, nullptr, 2) == Approx(expected).epsilon(1e-12));
  // Masked to the red pixel alone: no spread, only the mean term.
  const float first[2] = {1, 0};
  CHECK(tint::colourfulness_rgb8(two, first, 2) ==
        Approx(0.3 * std::sqrt(255.0 * 255 + 127.5 * 127.5)).epsilon(1e-12));
}

TEST_CASE("metrics: PSNR by hand, over the real pixels") {
  const uint8_t x[6] = {10, 20, 30, 0, 0, 0}, y[6] = {12, 20, 30, 0, 0, 3};
  // Squared differences 4 and 9 over 2 pixels x 3 channels.
  CHECK(tint::psnr_rgb8(x, y, nullptr, 2) ==
        Approx(10 * std::log10(255.0 * 255 / (13.0 / 6))).epsilon(1e-12));
  const float first[2] = {1, 0};
  CHECK(tint::psnr_rgb8(x, y, first, 2) == Approx(10 * std::log10(255.0 * 255 / (4.0 / 3))).epsilon(1e-12));
  CHECK(std::isinf(tint::psnr_rgb8(x, x, nullptr, 2)));
  const float none[2] = {0, 0};
  CHECK(std::isnan(tint::psnr_rgb8(x, y, none, 2)));
}

TEST_CASE("metrics: the set's PSNR is the mean of the images' PSNR in dB") {
  // Two images of one pixel, predictions off by different amounts; each image's PSNR recomputed here from the
  // 8-bit colours the shared conversion gives.
  ColourMetrics m;
  double expected = 0;
  for (double err : {4.0, 30.0}) {
    Planes p(1);
    p.set(0, 60, 10 + err, -20, 10, -20);
    p.add_to(m);
    uint8_t pr[3], tr[3];
    tint::lab_scaled_to_rgb8(p.L.data(), &p.ab_pred[0], &p.ab_pred[1], 1, pr);
    tint::lab_scaled_to_rgb8(p.L.data(), &p.ab_true[0], &p.ab_true[1], 1, tr);
    double sq = 0;
    for (int c = 0; c < 3; ++c) sq += (double(pr[c]) - tr[c]) * (double(pr[c]) - tr[c]);
    REQUIRE(sq > 0);
    expected += 0.5 * 10 * std::log10(255.0 * 255 / (sq / 3));
  }
  CHECK(m.scores().psnr == Approx(expected).epsilon(1e-12));
  CHECK(m.scores().psnr_infinite == 0);
  // One exact image makes the mean infinite; the finite mean is kept beside it.
  Planes same(1);
  same.set(0, 60, 10, -20, 10, -20);
  same.add_to(m);
  CHECK(std::isinf(m.scores().psnr));
  CHECK(m.scores().psnr_infinite == 1);
  CHECK(m.scores().psnr_finite == Approx(expected).epsilon(1e-12));
}

TEST_CASE("metrics: AuC error buckets are the thresholds 0..150 inclusive") {
  CHECK(AbErrorCdf::bucket_of(0.0) == 0);
  CHECK(AbErrorCdf::bucket_of(0.4) == 1);
  CHECK(AbErrorCdf::bucket_of(1.0) == 1);
  CHECK(AbErrorCdf::bucket_of(3.0000002) == 3);  // float scaling noise stays at its threshold
  CHECK(AbErrorCdf::bucket_of(3.01) == 4);
  CHECK(AbErrorCdf::bucket_of(150.0) == 150);
  CHECK(AbErrorCdf::bucket_of(150.5) == 151);
  CHECK(AbErrorCdf::bucket_of(std::numeric_limits<double>::quiet_NaN()) == 151);
}

TEST_CASE("metrics: AuC by hand on a 2x2 image") {
  // Errors 0, 3, 5 (a 3-4-5 triangle) and 200, plus a padding pixel with a huge error that must not count.
  Planes p(5);
  p.set(0, 50, 10, 10, 10, 10);
  p.set(1, 50, 13, 10, 10, 10);
  p.set(2, 50, 13, 14, 10, 10);
  p.set(3, 50, 110, -100, -50, 20);  // error sqrt(160^2 + 120^2) = 200
  p.set(4, 50, 100, 100, -100, -100);
  p.mask[4] = 0;
  ColourMetrics m;
  p.add_to(m);
  // Fraction within t: 1/4 for t = 0..2, 2/4 for t = 3, 4, 3/4 for t = 5..150; mean over 151 thresholds.
  const double expected = (3 * 0.25 + 2 * 0.5 + 146 * 0.75) / 151;
  CHECK(m.scores().pixels == 4);
  CHECK(m.scores().auc == Approx(expected).epsilon(1e-12));

  // Off-integer errors: 2.5 (1.5-2-2.5) and 0.5.
  Planes q(2);
  q.set(0, 50, 1.5, 2, 0, 0);
  q.set(1, 50, 0.5, 0, 0, 0);
  ColourMetrics mq;
  q.add_to(mq);
  // t = 0: 0; t = 1, 2: 1/2; t >= 3: 1.
  CHECK(mq.scores().auc == Approx((2 * 0.5 + 148 * 1.0) / 151).epsilon(1e-12));
}

TEST_CASE("metrics: AuC pools pixels over the set, not images") {
  ColourMetrics m;
  Planes exact(1), far(3);
  exact.set(0, 50, 20, 20, 20, 20);
  for (int i = 0; i < 3; ++i) far.set(i, 50, 100, 100, -100, -100);  // error 283: beyond every threshold
  exact.add_to(m);
  far.add_to(m);
  CHECK(m.scores().auc == Approx(0.25).epsilon(1e-12));  // a mean of per-image AuCs would say 0.5
}

TEST_CASE("metrics: class-rebalanced AuC weighs each true ab bin by its inverse frequency") {
  // Bin (0, 0) holds three pixels (true ab within 5 of zero: -4 and 4.9 share it because bins are centred on
  // multiples of 10), bin (60, -20) one.
  struct Px {
    double a_true, b_true, error;
  };
  const Px px[4] = {{2, -3, 0}, {-4, 4, 10.5}, {4.9, 0, 200}, {60, -20, 200}};
  Planes p(4);
  for (int i = 0; i < 4; ++i)
    p.set(i, 50, px[i].a_true + px[i].error, px[i].b_true, px[i].a_true, px[i].b_true);
  ColourMetrics m;
  p.add_to(m);

  // By hand: frequencies 3/4 and 1/4, raw weights 4/3 and 4, sum 3 * 4/3 + 4 = 8; normalised 1/6 and 1/2.
  const double w[4] = {1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 2};
  double weighted = 0, plain = 0;
  for (int t = 0; t <= 150; ++t) {
    for (int i = 0; i < 4; ++i) {
      weighted += px[i].error <= t ? w[i] : 0;
      plain += px[i].error <= t ? 0.25 : 0;
    }
  }
  weighted /= 151;
  plain /= 151;
  CHECK(weighted == Approx((11.0 / 6 + 140 * 2.0 / 6) / 151));  // the same sum, written out
  CHECK(m.scores().auc == Approx(plain).epsilon(1e-12));
  CHECK(m.scores().auc_rebalanced == Approx(weighted).epsilon(1e-12));
  CHECK(std::abs(m.scores().auc - m.scores().auc_rebalanced) > 0.1);
}

TEST_CASE("metrics: rebalancing bins are 10 Lab units centred on multiples of 10") {
  const int zero = AbErrorCdf::ab_bin_of(0, 0);
  CHECK(AbErrorCdf::ab_bin_of(-0.002, 0.005) == zero);
  CHECK(AbErrorCdf::ab_bin_of(4.99, -5.0) == zero);
  CHECK(AbErrorCdf::ab_bin_of(5.0, 0) == zero + AbErrorCdf::kBinsPerAxis);  // next a bin
  CHECK(AbErrorCdf::ab_bin_of(0, -5.01) == zero - 1);                       // previous b bin
  CHECK(AbErrorCdf::ab_bin_of(-500, -500) == 0);                            // clamped
  CHECK(AbErrorCdf::ab_bin_of(500, 500) == AbErrorCdf::kBinsPerAxis * AbErrorCdf::kBinsPerAxis - 1);
}

TEST_CASE("metrics: an image without real pixels is ignored") {
  Planes p(2);
  p.set(0, 50, 100, 0, 0, 0);
  p.set(1, 50, 100, 0, 0, 0);
  p.mask.assign(2, 0.f);
  ColourMetrics m;
  p.add_to(m);
  CHECK(m.scores().images == 0);
  CHECK(m.scores().pixels == 0);
  CHECK(m.scores().auc == 1.0);
  CHECK(m.scores().hi.a == 0.0);
}

TEST_CASE("metrics: validation's pooled histograms over a batch, by hand") {
  // Two images of 3 pixels in the network's layout (n, 2, hw), a/110 and b/110, one pixel of each masked out
  // (with a value that would land in its own bin). Counted a values: predicted {10, 20, -40, 20}, true
  // {10, 25, -40, 30}: shared mass 1/4 (bin 10) + 1/4 (bin -40) = 0.5. Every counted b is 0: HI 1.
  const float s = 1.0f / 110.0f;
  const std::vector<float> pred = {10 * s, 20 * s, 99 * s, 0, 0, 0,  // image 0: a, then b
                                   -40 * s, 77 * s, 20 * s, 0, 0, 0};
  const std::vector<float> truth = {10 * s, 25 * s, 99 * s, 0, 0, 0,
                                    -40 * s, 77 * s, 30 * s, 0, 0, 0};
  const std::vector<float> mask = {1, 1, 0, 1, 0, 1};
  tint::PooledAbHistograms h;
  h.add_batch(pred.data(), truth.data(), mask.data(), 2, 3);
  CHECK(h.predicted.pixels == 4);
  CHECK(h.truth.pixels == 4);
  CHECK(h.predicted.a[size_t(20 - tint::AbHistogram::kLowest)] == 2);
  CHECK(h.truth.a[size_t(30 - tint::AbHistogram::kLowest)] == 1);
  CHECK(h.truth.a[size_t(99 - tint::AbHistogram::kLowest)] == 0);
  const tint::AbIntersection hi = h.intersection();
  CHECK(hi.a == Approx(0.5).margin(1e-12));
  CHECK(hi.b == Approx(1.0).margin(1e-12));
  // Fed image by image, the pool is the same.
  tint::PooledAbHistograms one;
  one.add_batch(pred.data(), truth.data(), mask.data(), 1, 3);
  one.add_batch(pred.data() + 6, truth.data() + 6, mask.data() + 3, 1, 3);
  CHECK(one.predicted.a == h.predicted.a);
  CHECK(one.truth.a == h.truth.a);
}
