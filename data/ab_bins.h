// Colorization as classification (Zhang, Isola and Efros 2016, "Colorful Image Colorization"): the ab plane
// cut into square bins of 10 Lab units, the bins that sRGB colours reach, the soft encoding of a true colour
// over its nearest bins, and the class-rebalancing weights from the training set's colour distribution.
//
// Bins are centred on the multiples of 10 (a value v belongs to the bin of round(v / 10) * 10); a bin is kept
// when some sRGB colour, at any L, converts (data/colour.h) into its square. The 8-bit sRGB cube's surface
// is enough to find them: the ab footprint of a solid is the footprint of its surface. This gives 261 bins
// (Zhang et al. report 313 for their conversion and gamut test).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tint::cic {

constexpr int kBinSize = 10;          // ab units per bin side
constexpr int kSoftNeighbours = 5;    // bins of a soft target
constexpr double kSoftSigma = 5.0;    // Gaussian of the soft target, ab units
constexpr double kPriorSigma = 5.0;   // Gaussian smoothing of the empirical distribution, ab units
constexpr double kPriorLambda = 0.5;  // mixing weight of the uniform distribution
constexpr float kDefaultTemperature = 0.38f;

class AbBins {
 public:
  // Bins with these centres (Lab units, multiples of kBinSize, no repeats, |a|, |b| <= 130). Throws naming
  // the first bad centre.
  AbBins(std::vector<int> a, std::vector<int> b);
  int size() const { return int(a_.size()); }
  int a(int k) const { return a_[size_t(k)]; }
  int b(int k) const { return b_[size_t(k)]; }
  // The nearest bin to (a, b) (Lab units); ties go to the lower index.
  int nearest(float a, float b) const;
  // The kSoftNeighbours nearest bins, nearest first, and their weights exp(-d^2 / (2 sigma^2)) normalised to
  // sum 1. A bin set with fewer bins uses all of them.
  int soft_encode(float a, float b, int* bins, float* weights) const;
  // Centres interleaved a0 b0 a1 b1 ..., scaled like the network's ab (/110): what the decode multiplies.
  std::vector<float> scaled_centres() const;
  // "a:b,a:b,..." for a model file's metadata, and back (throws naming `what` on a malformed string).
  std::string to_string() const;
  static AbBins parse(const std::string& text, const std::string& what);

 private:
  std::vector<int> a_, b_;
  std::vector<int> grid_;  // bin index of each grid cell, -1 where no bin: kGridSide x kGridSide
};

// The bins sRGB reaches (see the top of this file).
AbBins gamut_bins();

// Adds the nearest bin of every real pixel (mask > 0.5) of n images of scaled ab (n, 2, hw) to `counts`.
void count_bins(const AbBins& bins, const float* ab_scaled, const float* mask, int n, int64_t hw,
                std::vector<double>& counts);

// The rebalancing weights from bin counts: p = counts / sum, smoothed with a Gaussian of kPriorSigma over the
// bins' centres (renormalised), w = 1 / ((1 - lambda) p + lambda / K), scaled so that sum_k p_k w_k = 1 (the
// expected weight of a training pixel is 1). Throws when the counts are all zero.
std::vector<float> class_weights(const AbBins& bins, const std::vector<double>& counts,
                                 double lambda = kPriorLambda, double sigma = kPriorSigma);

// Soft targets and weights of a batch: target (n, K, hw) gets each pixel's soft encoding (zeros elsewhere),
// weight (n, 1, hw) the class weight of its nearest bin. ab is scaled (n, 2, hw).
void encode_targets(const AbBins& bins, const std::vector<float>& weights, const float* ab_scaled, int n,
                    int64_t hw, float* target, float* weight);

// "w0,w1,..." (9 significant digits) and back; parse checks the count and that every weight is finite and >
// 0.
std::string weights_to_string(const std::vector<float>& weights);
std::vector<float> parse_weights(const std::string& text, int expected, const std::string& what);

}  // namespace tint::cic
