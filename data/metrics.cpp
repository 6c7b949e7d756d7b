#include "data/metrics.h"

#include <algorithm>
#include <cmath>

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

double histogram_intersection(const std::array<int64_t, AbHistogram::kBins>& p,
                              const std::array<int64_t, AbHistogram::kBins>& q) {
  int64_t sp = 0, sq = 0;
  for (int k = 0; k < AbHistogram::kBins; ++k) {
    sp += p[k];
    sq += q[k];
  }
  if (sp == 0 || sq == 0) return 0.0;
  double hi = 0;
  for (int k = 0; k < AbHistogram::kBins; ++k) hi += std::min(double(p[k]) / double(sp), double(q[k]) / double(sq));
  return hi;
}

AbIntersection histogram_intersection(const AbHistogram& predicted, const AbHistogram& truth) {
  return {histogram_intersection(predicted.a, truth.a), histogram_intersection(predicted.b, truth.b)};
}

}  // namespace tint
