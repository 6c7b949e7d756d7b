#include "data/resize.h"

#include <algorithm>
#include <cmath>

namespace tint {
namespace {

// For each output coordinate, the source window [first, first + count) and its normalised weights.
struct Taps {
  int stride = 0;               // weights stored per output
  std::vector<int> first, count;
  std::vector<float> weights;
};

Taps make_taps(int in, int out) {
  const double scale = double(in) / out;
  const double radius = std::max(1.0, scale);  // tent half-width in source pixels
  Taps t;
  t.stride = int(std::ceil(radius)) * 2 + 1;
  t.first.resize(out);
  t.count.resize(out);
  t.weights.assign(size_t(out) * t.stride, 0.f);
  for (int o = 0; o < out; ++o) {
    const double centre = (o + 0.5) * scale - 0.5;
    const int lo = std::max(int(std::floor(centre - radius)) + 1, 0);
    const int hi = std::min({int(std::ceil(centre + radius)) - 1, in - 1, lo + t.stride - 1});
    float* w = &t.weights[size_t(o) * t.stride];
    double sum = 0;
    for (int i = lo; i <= hi; ++i) {
      const double v = std::max(0.0, 1.0 - std::abs(i - centre) / radius);
      w[i - lo] = float(v);
      sum += v;
    }
    if (hi < lo || sum <= 0) {  // only when enlarging tiny images: take the nearest pixel
      t.first[o] = std::clamp(int(std::lround(centre)), 0, in - 1);
      t.count[o] = 1;
      w[0] = 1.f;
      continue;
    }
    for (int i = lo; i <= hi; ++i) w[i - lo] = float(w[i - lo] / sum);
    t.first[o] = lo;
    t.count[o] = hi - lo + 1;
  }
  return t;
}

// Averages k x k blocks (edge blocks partial). A box filter is itself an antialiasing filter; applied first
// to big shrinks it makes the tent pass's work proportional to the output instead of to the source
// (a 5312-wide photo to 256 would otherwise take 43 taps per output pixel on every source row).
Image box_reduce(const Image& src, int k) {
  Image dst;
  dst.width = (src.width + k - 1) / k;
  dst.height = (src.height + k - 1) / k;
  dst.grey = src.grey;
  dst.rgb.resize(size_t(dst.width) * dst.height * 3);
  std::vector<uint32_t> sums(size_t(dst.width) * 3);
  for (int oy = 0; oy < dst.height; ++oy) {
    std::fill(sums.begin(), sums.end(), 0u);
    const int y0 = oy * k, y1 = std::min(src.height, y0 + k);
    for (int y = y0; y < y1; ++y) {
      const uint8_t* s = &src.rgb[size_t(y) * src.width * 3];
      for (int ox = 0; ox < dst.width; ++ox) {
        const int x0 = ox * k, x1 = std::min(src.width, x0 + k);
        uint32_t t0 = 0, t1 = 0, t2 = 0;
        for (int x = x0; x < x1; ++x) {
          t0 += s[3 * x];
          t1 += s[3 * x + 1];
          t2 += s[3 * x + 2];
        }
        uint32_t* t = &sums[size_t(ox) * 3];
        t[0] += t0;
        t[1] += t1;
        t[2] += t2;
      }
    }
    uint8_t* d = &dst.rgb[size_t(oy) * dst.width * 3];
    for (int ox = 0; ox < dst.width; ++ox) {
      const uint32_t n = uint32_t((y1 - y0) * (std::min(src.width, (ox + 1) * k) - ox * k));
      for (int c = 0; c < 3; ++c) d[3 * ox + c] = uint8_t((sums[size_t(ox) * 3 + c] + n / 2) / n);
    }
  }
  return dst;
}

}  // namespace

Image resize_image(const Image& src, int out_w, int out_h) {
  TINT_CHECK(src.width > 0 && src.height > 0 && out_w > 0 && out_h > 0, "resize_image: {}x{} -> {}x{}", src.width,
             src.height, out_w, out_h);
  Image dst;
  dst.width = out_w;
  dst.height = out_h;
  dst.grey = src.grey;
  if (out_w == src.width && out_h == src.height) {
    dst.rgb = src.rgb;
    return dst;
  }
  // Shrinking by 4 or more: box-reduce by an integer factor first, leaving the tent a shrink of 2 to 4.
  const int k = std::min(src.width / out_w, src.height / out_h) / 2;
  if (k >= 2) return resize_image(box_reduce(src, k), out_w, out_h);
  const Taps tx = make_taps(src.width, out_w);
  const Taps ty = make_taps(src.height, out_h);
  // Horizontal pass into float rows, then the vertical pass rounds to 8-bit.
  std::vector<float> rows(size_t(src.height) * out_w * 3);
  for (int y = 0; y < src.height; ++y) {
    const uint8_t* s = &src.rgb[size_t(y) * src.width * 3];
    float* r = &rows[size_t(y) * out_w * 3];
    for (int x = 0; x < out_w; ++x) {
      const float* w = &tx.weights[size_t(x) * tx.stride];
      const int first = tx.first[x], taps = tx.count[x];
      float c0 = 0, c1 = 0, c2 = 0;
      for (int k = 0; k < taps; ++k) {
        const uint8_t* p = s + (first + k) * 3;
        c0 += w[k] * p[0];
        c1 += w[k] * p[1];
        c2 += w[k] * p[2];
      }
      r[3 * x] = c0;
      r[3 * x + 1] = c1;
      r[3 * x + 2] = c2;
    }
  }
  dst.rgb.resize(size_t(out_w) * out_h * 3);
  std::vector<float> acc(size_t(out_w) * 3);
  for (int y = 0; y < out_h; ++y) {
    const float* w = &ty.weights[size_t(y) * ty.stride];
    const int first = ty.first[y], taps = ty.count[y];
    std::fill(acc.begin(), acc.end(), 0.f);
    for (int k = 0; k < taps; ++k) {
      const float* r = &rows[size_t(first + k) * out_w * 3];
      const float wk = w[k];
      for (size_t i = 0; i < acc.size(); ++i) acc[i] += wk * r[i];
    }
    uint8_t* d = &dst.rgb[size_t(y) * out_w * 3];
    for (size_t i = 0; i < acc.size(); ++i) d[i] = uint8_t(std::clamp(acc[i] + 0.5f, 0.f, 255.f));
  }
  return dst;
}

void fit_longest_side(int w, int h, int side, int& ow, int& oh) {
  if (w >= h) {
    ow = side;
    oh = std::max(1, int(std::lround(double(h) * side / w)));
  } else {
    oh = side;
    ow = std::max(1, int(std::lround(double(w) * side / h)));
  }
}

void fit_shortest_side(int w, int h, int side, int& ow, int& oh) {
  if (w <= h) {
    ow = side;
    oh = std::max(side, int(std::lround(double(h) * side / w)));
  } else {
    oh = side;
    ow = std::max(side, int(std::lround(double(w) * side / h)));
  }
}

}  // namespace tint
