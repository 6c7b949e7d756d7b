// The colour metrics of `tint eval` (and of training's validation): each is an accumulator fed one image at a
// time with the network's planes (L/50 - 1, a/110, b/110) and the mask of real pixels, pooled or averaged
// over a whole set as stated below. All values are computed in double from the float planes.
//
// Histogram intersection (the seed's metric): bins of width 1 centred on the whole numbers -128..127: a value
// v (in Lab units, not scaled) falls in bin floor(v + 0.5), so the tiny values of either sign that neutral
// pixels get from the conversion land in bin 0 together. Values beyond the range are clamped into the end
// bins. Histograms are pooled over the real (masked) pixels of a whole set, each normalised to sum 1;
// HI = sum over bins of min(p, q), in [0, 1].
//
// AuC (Zhang, Isola and Efros 2016, "Colorful Image Colorization"): the per-pixel error is the Euclidean
// distance between predicted and true (a, b) in Lab units. For each threshold t = 0, 1, ..., 150 take the
// fraction of the set's real pixels with error <= t; AuC is the mean of those 151 fractions (identical
// images: 1). An error within 1e-3 of a whole number counts as that number, so that the float scaling
// (a/110) cannot push an exact error of 3 to 3.0000002 and past the threshold 3.
// Class-rebalanced AuC: the same, with each pixel weighted by 1 / (the frequency of its TRUE (a, b) bin over
// the evaluated set), weights normalised to sum 1. Bins are 10 x 10 Lab units centred on multiples of 10
// (bin floor((v + 5) / 10) per axis, clamped to -13..13), the grid of Zhang et al., centred for the same
// reason as the histogram's. With B occupied bins this equals the mean over those bins of each bin's own AuC.
//
// PSNR: per image, L + predicted ab and L + true ab both go to 8-bit sRGB (data/colour.h); the MSE is over
// the three channels of the real pixels, PSNR = 10 log10(255^2 / MSE) dB, +inf when the two are equal. The
// set's PSNR is the arithmetic mean of the images' PSNR in dB, so it is +inf as soon as one image is exact
// (`psnr_infinite` counts those; the mean of the finite ones is kept too).
//
// Colourfulness (Hasler and Suesstrunk 2003): on 8-bit sRGB over the real pixels, rg = R - G,
// yb = (R + G) / 2 - B, M = sqrt(sd_rg^2 + sd_yb^2) + 0.3 sqrt(mean_rg^2 + mean_yb^2) with population
// standard deviations; a grey image scores 0. Averaged over images, for the predictions and for the truths.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace tint {

struct AbHistogram {
  static constexpr int kBins = 256;
  static constexpr int kLowest = -128;
  std::array<int64_t, kBins> a{};
  std::array<int64_t, kBins> b{};
  int64_t pixels = 0;

  static int bin_of(float v);
  // a and b in Lab units; mask may be null (every pixel counts) or 0/1 per pixel.
  void add(const float* a_values, const float* b_values, const float* mask, int64_t n);
  // a and b in the network's scaling (a/110, b/110).
  void add_scaled(const float* a_scaled, const float* b_scaled, const float* mask, int64_t n);
  // Each histogram divided by its total (all zeros when empty): what the plots draw.
  std::array<double, kBins> normalised_a() const;
  std::array<double, kBins> normalised_b() const;
};

// sum_k min(p_k / sum p, q_k / sum q); 0 when either histogram is empty.
double histogram_intersection(const std::array<int64_t, AbHistogram::kBins>& p,
                              const std::array<int64_t, AbHistogram::kBins>& q);

struct AbIntersection {
  double a = 0, b = 0;
  double mean() const { return 0.5 * (a + b); }
};
AbIntersection histogram_intersection(const AbHistogram& predicted, const AbHistogram& truth);

// Validation's pooling (`tint train` after each epoch): the predicted and the true histograms over the real
// pixels of a whole set, fed one batch at a time in the network's layout: ab planes (n, 2, hw) in the
// network's scaling (a/110, b/110) and the mask (n, 1, hw) of real pixels (null: every pixel counts).
struct PooledAbHistograms {
  AbHistogram predicted, truth;
  void add_batch(const float* predicted_ab, const float* true_ab, const float* mask, int n, int64_t hw);
  AbIntersection intersection() const { return histogram_intersection(predicted, truth); }
};

// The distribution of per-pixel ab errors behind both AuCs, split by the pixel's true (a, b) bin.
struct AbErrorCdf {
  static constexpr int kMaxThreshold = 150;           // thresholds 0, 1, ..., 150 Lab units
  static constexpr int kBuckets = kMaxThreshold + 2;  // bucket t: error in (t - 1, t]; the last: above 150
  static constexpr int kGrid = 10;                    // rebalancing bins, Lab units
  static constexpr int kBinRange = 13;                // bin indices -13..13 per axis
  static constexpr int kBinsPerAxis = 2 * kBinRange + 1;
  static constexpr double kTolerance = 1e-3;

  AbErrorCdf();
  // The smallest threshold t with error <= t (within kTolerance); kBuckets - 1 when above 150.
  static int bucket_of(double error);
  // The rebalancing bin of a true (a, b) in Lab units: row-major index into kBinsPerAxis^2.
  static int ab_bin_of(double a, double b);
  // One pixel: its ab error and its true a, b, all in Lab units.
  void add(double error, double a_true, double b_true);

  double auc() const;             // 1 when nothing was added
  double auc_rebalanced() const;  // 1 when nothing was added
  int64_t pixels = 0;
  std::vector<int64_t> counts;  // [ab bin][bucket]
};

// PSNR in dB of two n-pixel interleaved 8-bit RGB images over the masked pixels (mask null: all; +inf when
// equal, NaN when no pixel is real).
double psnr_rgb8(const uint8_t* x, const uint8_t* y, const float* mask, int64_t n);
// Hasler and Suesstrunk's colourfulness of an n-pixel 8-bit RGB image over its masked pixels (NaN when none).
double colourfulness_rgb8(const uint8_t* rgb, const float* mask, int64_t n);

struct ColourScores {
  int64_t images = 0;  // images scored (those with at least one real pixel)
  int64_t pixels = 0;  // real pixels pooled
  AbIntersection hi;
  double auc = 1, auc_rebalanced = 1;
  double psnr = 0;                 // mean over images, +inf when psnr_infinite > 0
  double psnr_finite = 0;          // mean over the images with a finite PSNR (0 when none)
  int64_t psnr_infinite = 0;       // images reproduced exactly in 8-bit sRGB
  double colourfulness = 0;        // of the predictions, mean over images
  double colourfulness_truth = 0;  // of the truths, mean over images
};

// Pools every metric above over a set. Feed it one image at a time; scores() can be read at any point.
class ColourMetrics {
 public:
  // n pixels of one image in the network's scaling: L (n), predicted and true ab as planes a then b (2n),
  // mask (n) 1 on real pixels (null: all real). An image without a real pixel is ignored.
  void add_image(const float* L, const float* ab_predicted, const float* ab_true, const float* mask,
                 int64_t n);
  ColourScores scores() const;
  const AbHistogram& predicted_histogram() const { return predicted_; }
  const AbHistogram& truth_histogram() const { return truth_; }
  const AbErrorCdf& errors() const { return errors_; }

 private:
  AbHistogram predicted_, truth_;
  AbErrorCdf errors_;
  int64_t images_ = 0, psnr_infinite_ = 0;
  double psnr_sum_ = 0, colourfulness_sum_ = 0, colourfulness_truth_sum_ = 0;
  std::vector<uint8_t> rgb_predicted_, rgb_truth_;  // per-image scratch
};

}  // namespace tint
