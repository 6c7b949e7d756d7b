// The seed's colour metric: histogram intersection of a and b between predictions and ground truth.
// Bins have width 1 and are centred on the whole numbers -128..127: a value v (in Lab units, not scaled)
// falls in bin floor(v + 0.5), so the tiny values of either sign that neutral pixels get from the conversion
// land in bin 0 together. Values beyond the range are clamped into the end bins. Histograms are pooled over
// the real (masked) pixels of a whole set, each normalised to sum 1; HI = sum over bins of min(p, q), in [0, 1].
#pragma once

#include <array>
#include <cstdint>

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
};

// sum_k min(p_k / sum p, q_k / sum q); 0 when either histogram is empty.
double histogram_intersection(const std::array<int64_t, AbHistogram::kBins>& p,
                              const std::array<int64_t, AbHistogram::kBins>& q);

struct AbIntersection {
  double a = 0, b = 0;
  double mean() const { return 0.5 * (a + b); }
};
AbIntersection histogram_intersection(const AbHistogram& predicted, const AbHistogram& truth);

}  // namespace tint
