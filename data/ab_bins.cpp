#include "data/ab_bins.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <set>
#include <utility>

#include "data/colour.h"
#include "engine/error.h"

namespace tint::cic {

namespace {

constexpr int kGridHalf = 13;  // centres -130..130
constexpr int kGridSide = 2 * kGridHalf + 1;
// Search window of the grid lookup: bins within kWindow cells of the point's own cell. Any bin outside is
// farther than kWindow * kBinSize - kBinSize / 2 from the point, so the window is exact whenever its
// kSoftNeighbours-th nearest bin is closer than that.
constexpr int kWindow = 3;
constexpr double kWindowReach = kWindow * kBinSize - kBinSize / 2.0;

int cell_of(double v) {
  return int(std::floor(v / kBinSize + 0.5));
}

// Keeps the `count` smallest (d2, k) pairs in order, nearest first (ties: lower k first).
struct Nearest {
  int count, found = 0;
  std::pair<double, int> best[kSoftNeighbours];
  explicit Nearest(int c) : count(c) {}
  void offer(double d2, int k) {
    std::pair<double, int> item{d2, k};
    if (found == count && !(item < best[found - 1])) return;
    int i = found < count ? found++ : count - 1;
    while (i > 0 && item < best[i - 1]) {
      best[i] = best[i - 1];
      --i;
    }
    best[i] = item;
  }
};

}  // namespace

AbBins::AbBins(std::vector<int> a, std::vector<int> b) : a_(std::move(a)), b_(std::move(b)) {
  TINT_CHECK(a_.size() == b_.size() && !a_.empty(),
             "ab bins: {} a centres and {} b centres (need the same, >= 1)", a_.size(), b_.size());
  grid_.assign(size_t(kGridSide) * kGridSide, -1);
  for (size_t k = 0; k < a_.size(); ++k) {
    TINT_CHECK(a_[k] % kBinSize == 0 && b_[k] % kBinSize == 0 && std::abs(a_[k]) <= kGridHalf * kBinSize &&
                   std::abs(b_[k]) <= kGridHalf * kBinSize,
               "ab bins: centre {} ({}, {}) is not a multiple of {} within -130..130", k, a_[k], b_[k],
               kBinSize);
    int& slot =
        grid_[size_t(a_[k] / kBinSize + kGridHalf) * kGridSide + size_t(b_[k] / kBinSize + kGridHalf)];
    TINT_CHECK(slot < 0, "ab bins: centre ({}, {}) appears twice (bins {} and {})", a_[k], b_[k], slot, k);
    slot = int(k);
  }
}

int AbBins::soft_encode(float a, float b, int* bins, float* weights) const {
  const int want = std::min(kSoftNeighbours, size());
  Nearest near(want);
  const int ca = cell_of(a), cb = cell_of(b);
  const bool inside = std::abs(ca) <= kGridHalf && std::abs(cb) <= kGridHalf;
  if (inside) {
    for (int i = std::max(ca - kWindow, -kGridHalf); i <= std::min(ca + kWindow, kGridHalf); ++i)
      for (int j = std::max(cb - kWindow, -kGridHalf); j <= std::min(cb + kWindow, kGridHalf); ++j) {
        const int k = grid_[size_t(i + kGridHalf) * kGridSide + size_t(j + kGridHalf)];
        if (k < 0) continue;
        const double da = double(a) - a_[size_t(k)], db = double(b) - b_[size_t(k)];
        near.offer(da * da + db * db, k);
      }
  }
  if (!inside || near.found < want || near.best[want - 1].first > kWindowReach * kWindowReach) {
    near = Nearest(want);
    for (int k = 0; k < size(); ++k) {
      const double da = double(a) - a_[size_t(k)], db = double(b) - b_[size_t(k)];
      near.offer(da * da + db * db, k);
    }
  }
  double total = 0;
  double w[kSoftNeighbours];
  for (int i = 0; i < want; ++i) {
    // Relative to the nearest, so a colour far from every bin still gets finite weights.
    w[i] = std::exp(-(near.best[i].first - near.best[0].first) / (2 * kSoftSigma * kSoftSigma));
    total += w[i];
  }
  for (int i = 0; i < want; ++i) {
    bins[i] = near.best[i].second;
    weights[i] = float(w[i] / total);
  }
  return want;
}

int AbBins::nearest(float a, float b) const {
  int bins[kSoftNeighbours];
  float weights[kSoftNeighbours];
  soft_encode(a, b, bins, weights);
  return bins[0];
}

std::vector<float> AbBins::scaled_centres() const {
  std::vector<float> c(2 * a_.size());
  for (size_t k = 0; k < a_.size(); ++k) {
    c[2 * k] = colour::scale_ab(float(a_[k]));
    c[2 * k + 1] = colour::scale_ab(float(b_[k]));
  }
  return c;
}

std::string AbBins::to_string() const {
  std::string s;
  for (size_t k = 0; k < a_.size(); ++k) {
    // Appended piece by piece: `"," + std::string` trips GCC 12's -Wrestrict false positive at -O2 and up.
    if (k) s += ',';
    s += std::to_string(a_[k]);
    s += ':';
    s += std::to_string(b_[k]);
  }
  return s;
}

AbBins AbBins::parse(const std::string& text, const std::string& what) {
  std::vector<int> a, b;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    const std::string item = text.substr(pos, comma - pos);
    const size_t colon = item.find(':');
    int va = 0, vb = 0;
    bool ok = colon != std::string::npos;
    if (ok) {
      auto r1 = std::from_chars(item.data(), item.data() + colon, va);
      auto r2 = std::from_chars(item.data() + colon + 1, item.data() + item.size(), vb);
      ok = r1.ec == std::errc() && r1.ptr == item.data() + colon && r2.ec == std::errc() &&
           r2.ptr == item.data() + item.size();
    }
    TINT_CHECK(ok, "{}: ab bin {} '{}' is not 'a:b' (whole numbers)", what, a.size(), item);
    a.push_back(va), b.push_back(vb);
    pos = comma + 1;
  }
  try {
    return AbBins(std::move(a), std::move(b));
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
}

AbBins gamut_bins() {
  std::set<std::pair<int, int>> hit;
  auto visit = [&](int r, int g, int b) {
    double L, A, B;
    colour::srgb_to_lab(r / 255.0, g / 255.0, b / 255.0, L, A, B);
    hit.insert({cell_of(A), cell_of(B)});
  };
  for (int u = 0; u < 256; ++u)
    for (int v = 0; v < 256; ++v)
      for (int face : {0, 255}) {
        visit(face, u, v);
        visit(u, face, v);
        visit(u, v, face);
      }
  std::vector<int> a, b;
  for (auto [ca, cb] : hit) {  // ordered by a, then b
    a.push_back(ca * kBinSize);
    b.push_back(cb * kBinSize);
  }
  return AbBins(std::move(a), std::move(b));
}

void count_bins(const AbBins& bins, const float* ab_scaled, const float* mask, int n, int64_t hw,
                std::vector<double>& counts) {
  counts.resize(size_t(bins.size()), 0.0);
  for (int i = 0; i < n; ++i) {
    const float* a = ab_scaled + int64_t(2 * i) * hw;
    const float* b = a + hw;
    const float* m = mask + int64_t(i) * hw;
    for (int64_t p = 0; p < hw; ++p)
      if (m[p] > 0.5f) counts[size_t(bins.nearest(colour::unscale_ab(a[p]), colour::unscale_ab(b[p])))] += 1;
  }
}

std::vector<float> class_weights(const AbBins& bins, const std::vector<double>& counts, double lambda,
                                 double sigma) {
  const int K = bins.size();
  TINT_CHECK(int(counts.size()) == K, "class weights: {} counts for {} bins", counts.size(), K);
  double total = 0;
  for (double c : counts) total += c;
  TINT_CHECK(total > 0, "class weights: no pixels were counted (an empty or all-padding training set?)");
  std::vector<double> smooth(static_cast<size_t>(K), 0.0);
  double smooth_total = 0;
  for (int k = 0; k < K; ++k) {
    for (int j = 0; j < K; ++j) {
      const double da = bins.a(k) - bins.a(j), db = bins.b(k) - bins.b(j);
      smooth[size_t(k)] += counts[size_t(j)] / total * std::exp(-(da * da + db * db) / (2 * sigma * sigma));
    }
    smooth_total += smooth[size_t(k)];
  }
  std::vector<double> w(static_cast<size_t>(K));
  double expectation = 0;
  for (int k = 0; k < K; ++k) {
    const double p = smooth[size_t(k)] / smooth_total;
    w[size_t(k)] = 1.0 / ((1 - lambda) * p + lambda / K);
    expectation += p * w[size_t(k)];
  }
  std::vector<float> out(static_cast<size_t>(K));
  for (int k = 0; k < K; ++k) out[size_t(k)] = float(w[size_t(k)] / expectation);
  return out;
}

void encode_targets(const AbBins& bins, const std::vector<float>& weights, const float* ab_scaled, int n,
                    int64_t hw, float* target, float* weight) {
  const int K = bins.size();
  TINT_CHECK(int(weights.size()) == K, "encode_targets: {} class weights for {} bins", weights.size(), K);
  std::fill(target, target + int64_t(n) * K * hw, 0.0f);
  int idx[kSoftNeighbours];
  float w[kSoftNeighbours];
  for (int i = 0; i < n; ++i) {
    const float* a = ab_scaled + int64_t(2 * i) * hw;
    const float* b = a + hw;
    float* t = target + int64_t(i) * K * hw;
    for (int64_t p = 0; p < hw; ++p) {
      const int got = bins.soft_encode(colour::unscale_ab(a[p]), colour::unscale_ab(b[p]), idx, w);
      for (int j = 0; j < got; ++j) t[int64_t(idx[j]) * hw + p] = w[j];
      weight[int64_t(i) * hw + p] = weights[size_t(idx[0])];
    }
  }
}

std::string weights_to_string(const std::vector<float>& weights) {
  std::string s;
  char buf[32];
  for (size_t k = 0; k < weights.size(); ++k) {
    std::snprintf(buf, sizeof buf, "%.9g", double(weights[k]));
    if (k) s += ',';
    s += buf;
  }
  return s;
}

std::vector<float> parse_weights(const std::string& text, int expected, const std::string& what) {
  std::vector<float> w;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    float v = 0;
    auto r = std::from_chars(text.data() + pos, text.data() + comma, v);
    TINT_CHECK(r.ec == std::errc() && r.ptr == text.data() + comma && std::isfinite(v) && v > 0,
               "{}: class weight {} '{}' is not a positive number", what, w.size(),
               text.substr(pos, comma - pos));
    w.push_back(v);
    pos = comma + 1;
  }
  TINT_CHECK(int(w.size()) == expected, "{}: {} class weights for {} ab bins", what, w.size(), expected);
  return w;
}

}  // namespace tint::cic
