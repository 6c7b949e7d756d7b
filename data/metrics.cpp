#include "data/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "data/colour.h"

namespace tint {

int AbHistogram::bin_of(float v) {
  if (!(v == v)) return -kLowest;  // NaN counts as neutral rather than poisoning an index
  const float k = std::floor(v + 0.5f);
  const float clamped = std::clamp(k, float(kLowest), float(kLowest + kBins - 1));
  return int(clamped) - kLowest;
}

void AbHistogram::add(const float* a_values, const float* b_values, const float* mask, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (mask && mask[i] < 0.5f) continue;
    ++a[bin_of(a_values[i])];
    ++b[bin_of(b_values[i])];
    ++pixels;
  }
}

void AbHistogram::add_scaled(const float* a_scaled, const float* b_scaled, const float* mask, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (mask && mask[i] < 0.5f) continue;
    ++a[bin_of(a_scaled[i] * 110.0f)];
    ++b[bin_of(b_scaled[i] * 110.0f)];
    ++pixels;
  }
}

namespace {
std::array<double, AbHistogram::kBins> normalised(const std::array<int64_t, AbHistogram::kBins>& h) {
  std::array<double, AbHistogram::kBins> out{};
  int64_t total = 0;
  for (int64_t c : h) total += c;
  if (total == 0) return out;
  for (int k = 0; k < AbHistogram::kBins; ++k) out[k] = double(h[k]) / double(total);
  return out;
}
}  // namespace

std::array<double, AbHistogram::kBins> AbHistogram::normalised_a() const {
  return normalised(a);
}
std::array<double, AbHistogram::kBins> AbHistogram::normalised_b() const {
  return normalised(b);
}

double histogram_intersection(const std::array<int64_t, AbHistogram::kBins>& p,
                              const std::array<int64_t, AbHistogram::kBins>& q) {
  int64_t sp = 0, sq = 0;
  for (int k = 0; k < AbHistogram::kBins; ++k) {
    sp += p[k];
    sq += q[k];
  }
  if (sp == 0 || sq == 0) return 0.0;
  double hi = 0;
  for (int k = 0; k < AbHistogram::kBins; ++k)
    hi += std::min(double(p[k]) / double(sp), double(q[k]) / double(sq));
  return hi;
}

AbIntersection histogram_intersection(const AbHistogram& predicted, const AbHistogram& truth) {
  return {histogram_intersection(predicted.a, truth.a), histogram_intersection(predicted.b, truth.b)};
}

AbErrorCdf::AbErrorCdf() : counts(size_t(kBinsPerAxis) * kBinsPerAxis * kBuckets, 0) {}

int AbErrorCdf::bucket_of(double error) {
  if (!(error <= kMaxThreshold + kTolerance)) return kBuckets - 1;  // also NaN: counts as a miss everywhere
  if (error <= kTolerance) return 0;
  return int(std::ceil(error - kTolerance));
}

int AbErrorCdf::ab_bin_of(double a, double b) {
  auto axis = [](double v) {
    if (!(v == v)) v = 0;
    const double k = std::floor((v + 0.5 * kGrid) / kGrid);
    return int(std::clamp(k, double(-kBinRange), double(kBinRange))) + kBinRange;
  };
  return axis(a) * kBinsPerAxis + axis(b);
}

void AbErrorCdf::add(double error, double a_true, double b_true) {
  ++counts[size_t(ab_bin_of(a_true, b_true)) * kBuckets + size_t(bucket_of(error))];
  ++pixels;
}

namespace {
// Mean over the thresholds t = 0..150 of (pixels with bucket <= t) / total, for one bucket histogram.
double auc_of(const int64_t* buckets, int64_t total) {
  double sum = 0;
  int64_t within = 0;
  for (int t = 0; t <= AbErrorCdf::kMaxThreshold; ++t) {
    within += buckets[t];
    sum += double(within) / double(total);
  }
  return sum / double(AbErrorCdf::kMaxThreshold + 1);
}
}  // namespace

double AbErrorCdf::auc() const {
  if (pixels == 0) return 1;
  std::array<int64_t, kBuckets> pooled{};
  for (size_t bin = 0; bin < counts.size() / kBuckets; ++bin)
    for (int t = 0; t < kBuckets; ++t) pooled[t] += counts[bin * kBuckets + t];
  return auc_of(pooled.data(), pixels);
}

double AbErrorCdf::auc_rebalanced() const {
  // A pixel of bin c weighs (1 / f_c) / sum_i (1 / f_i) = 1 / (B n_c) with f_c = n_c / N over B occupied
  // bins, so the weighted fraction under t is the mean over bins of each bin's own fraction.
  if (pixels == 0) return 1;
  double sum = 0;
  int occupied = 0;
  for (size_t bin = 0; bin < counts.size() / kBuckets; ++bin) {
    const int64_t* c = &counts[bin * kBuckets];
    int64_t n = 0;
    for (int t = 0; t < kBuckets; ++t) n += c[t];
    if (n == 0) continue;
    sum += auc_of(c, n);
    ++occupied;
  }
  return sum / occupied;
}

double psnr_rgb8(const uint8_t* x, const uint8_t* y, const float* mask, int64_t n) {
  double squared = 0;
  int64_t used = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (mask && mask[i] < 0.5f) continue;
    for (int c = 0; c < 3; ++c) {
      const double d = double(x[3 * i + c]) - double(y[3 * i + c]);
      squared += d * d;
    }
    ++used;
  }
  if (used == 0) return std::numeric_limits<double>::quiet_NaN();
  if (squared == 0) return std::numeric_limits<double>::infinity();
  const double mse = squared / double(3 * used);
  return 10.0 * std::log10(255.0 * 255.0 / mse);
}

double colourfulness_rgb8(const uint8_t* rgb, const float* mask, int64_t n) {
  // Two passes (means, then deviations) rather than sums of squares: no cancellation on near-grey images,
  // which must come out at 0, not at sqrt(rounding noise).
  double mean_rg = 0, mean_yb = 0;
  int64_t used = 0;
  auto rg_of = [&](int64_t i) { return double(rgb[3 * i]) - double(rgb[3 * i + 1]); };
  auto yb_of = [&](int64_t i) {
    return 0.5 * (double(rgb[3 * i]) + double(rgb[3 * i + 1])) - double(rgb[3 * i + 2]);
  };
  for (int64_t i = 0; i < n; ++i) {
    if (mask && mask[i] < 0.5f) continue;
    mean_rg += rg_of(i);
    mean_yb += yb_of(i);
    ++used;
  }
  if (used == 0) return std::numeric_limits<double>::quiet_NaN();
  mean_rg /= double(used);
  mean_yb /= double(used);
  double var_rg = 0, var_yb = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (mask && mask[i] < 0.5f) continue;
    const double drg = rg_of(i) - mean_rg, dyb = yb_of(i) - mean_yb;
    var_rg += drg * drg;
    var_yb += dyb * dyb;
  }
  var_rg /= double(used);
  var_yb /= double(used);
  return std::sqrt(var_rg + var_yb) + 0.3 * std::sqrt(mean_rg * mean_rg + mean_yb * mean_yb);
}

void ColourMetrics::add_image(const float* L, const float* ab_predicted, const float* ab_true,
                              const float* mask, int64_t n) {
  const float *a_p = ab_predicted, *b_p = ab_predicted + n, *a_t = ab_true, *b_t = ab_true + n;
  int64_t real = 0;
  for (int64_t i = 0; i < n; ++i) real += !mask || mask[i] >= 0.5f;
  if (real == 0) return;

  predicted_.add_scaled(a_p, b_p, mask, n);
  truth_.add_scaled(a_t, b_t, mask, n);
  for (int64_t i = 0; i < n; ++i) {
    if (mask && mask[i] < 0.5f) continue;
    const double at = colour::unscale_ab(double(a_t[i])), bt = colour::unscale_ab(double(b_t[i]));
    const double da = colour::unscale_ab(double(a_p[i])) - at, db = colour::unscale_ab(double(b_p[i])) - bt;
    errors_.add(std::sqrt(da * da + db * db), at, bt);
  }

  rgb_predicted_.resize(size_t(3 * n));
  rgb_truth_.resize(size_t(3 * n));
  lab_scaled_to_rgb8(L, a_p, b_p, n, rgb_predicted_.data());
  lab_scaled_to_rgb8(L, a_t, b_t, n, rgb_truth_.data());
  const double psnr = psnr_rgb8(rgb_predicted_.data(), rgb_truth_.data(), mask, n);
  if (std::isinf(psnr))
    ++psnr_infinite_;
  else
    psnr_sum_ += psnr;
  colourfulness_sum_ += colourfulness_rgb8(rgb_predicted_.data(), mask, n);
  colourfulness_truth_sum_ += colourfulness_rgb8(rgb_truth_.data(), mask, n);
  ++images_;
}

ColourScores ColourMetrics::scores() const {
  ColourScores s;
  s.images = images_;
  s.pixels = errors_.pixels;
  s.hi = histogram_intersection(predicted_, truth_);
  s.auc = errors_.auc();
  s.auc_rebalanced = errors_.auc_rebalanced();
  s.psnr_infinite = psnr_infinite_;
  const int64_t finite = images_ - psnr_infinite_;
  s.psnr_finite = finite > 0 ? psnr_sum_ / double(finite) : 0;
  s.psnr = psnr_infinite_ > 0 ? std::numeric_limits<double>::infinity() : s.psnr_finite;
  if (images_ > 0) {
    s.colourfulness = colourfulness_sum_ / double(images_);
    s.colourfulness_truth = colourfulness_truth_sum_ / double(images_);
  }
  return s;
}

void PooledAbHistograms::add_batch(const float* predicted_ab, const float* true_ab, const float* mask, int n,
                                   int64_t hw) {
  for (int i = 0; i < n; ++i) {
    const float* m = mask ? mask + i * hw : nullptr;
    predicted.add_scaled(predicted_ab + (2 * i) * hw, predicted_ab + (2 * i + 1) * hw, m, hw);
    truth.add_scaled(true_ab + (2 * i) * hw, true_ab + (2 * i + 1) * hw, m, hw);
  }
}

}  // namespace tint
