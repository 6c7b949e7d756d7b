#include "data/hints.h"

#include <stb_image.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

#include "data/colour.h"
#include "engine/error.h"
#include "engine/json.h"

namespace tint::hints {

namespace {

// splitmix64 (Steele, Lea and Flood 2014): a tiny generator whose stream depends only on its seed, so the
// hints are the same bits on every platform and library.
struct Draws {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }
  int below(int n) { return int(next() % uint64_t(n)); }
};

uint64_t mix(uint64_t seed, int64_t epoch, int64_t sample) {
  Draws d{seed};
  uint64_t h = d.next();
  d.state = h ^ uint64_t(epoch);
  h = d.next();
  d.state = h ^ uint64_t(sample);
  return d.next();
}

// The real region of a pad-placed sample: its first row's and first column's real pixels.
std::pair<int, int> real_extent(const float* mask, int size) {
  int w = 0, h = 0;
  while (w < size && mask[w] > 0.5f) ++w;
  while (h < size && mask[int64_t(h) * size] > 0.5f) ++h;
  return {w, h};
}

Point point_from_json(const json::Value& j, size_t index, const std::string& path) {
  const std::string where = fmt::format("--hints '{}': point {}", path, index);
  TINT_CHECK(j.object() != nullptr,
             "{} is not an object {{\"x\", \"y\", \"colour\" or \"lab\", \"radius\"}}", where);
  auto number = [&](const char* key, bool required, double fallback, double lo, double hi) {
    const json::Value* v = j.get(key);
    if (!v) {
      TINT_CHECK(!required, "{} has no \"{}\"", where, key);
      return fallback;
    }
    TINT_CHECK(v->number() && *v->number() >= lo && *v->number() <= hi,
               "{}: \"{}\" must be a number in {}..{}", where, key, lo, hi);
    return *v->number();
  };
  Point p;
  p.x = number("x", true, 0, -1e6, 1e6);
  p.y = number("y", true, 0, -1e6, 1e6);
  p.radius = number("radius", false, 3, 0, 10000);
  const json::Value* hex = j.get("colour");
  if (!hex) hex = j.get("color");
  const json::Value* lab = j.get("lab");
  TINT_CHECK(bool(hex) != bool(lab),
             "{} needs exactly one of \"colour\" (\"#rrggbb\") and \"lab\" ([L, a, b])", where);
  if (hex) {
    const std::string s = hex->string() ? *hex->string() : std::string("(not a string)");
    bool ok = hex->string() && s.size() == 7 && s[0] == '#';
    for (size_t k = 1; ok && k < 7; ++k) ok = std::isxdigit(static_cast<unsigned char>(s[k])) != 0;
    TINT_CHECK(ok, "{}: colour '{}' is not \"#rrggbb\"", where, s);
    const long rgb = std::strtol(s.c_str() + 1, nullptr, 16);
    double L = 0;
    colour::srgb_to_lab(double((rgb >> 16) & 255) / 255.0, double((rgb >> 8) & 255) / 255.0,
                        double(rgb & 255) / 255.0, L, p.a, p.b);
  } else {
    const json::Array* v = lab->array();
    const double* la = v && v->size() == 3 ? (*v)[1].number() : nullptr;
    const double* lb = v && v->size() == 3 ? (*v)[2].number() : nullptr;
    TINT_CHECK(la && lb && std::fabs(*la) <= 128 && std::fabs(*lb) <= 128,
               "{}: \"lab\" must be [L, a, b] with a and b in -128..128", where);
    p.a = *la;
    p.b = *lb;
  }
  return p;
}

}  // namespace

void simulate(uint64_t seed, int64_t epoch, int64_t sample, const float* ab, const float* mask, int size,
              int points, float* hint) {
  const int64_t hw = int64_t(size) * size;
  std::fill(hint, hint + 3 * hw, 0.0f);
  const auto [real_w, real_h] = real_extent(mask, size);
  if (real_w == 0 || real_h == 0) return;
  Draws d{mix(seed, epoch, sample)};
  int n = points;
  if (n < 0) {
    if (d.uniform() < kNoHintFraction) return;
    n = 1;
    while (n < kMaxPoints && d.uniform() >= kGeometricP) ++n;
  }
  float* ha = hint;
  float* hb = hint + hw;
  float* hm = hint + 2 * hw;
  for (int k = 0; k < n; ++k) {
    const int side = 1 + d.below(kMaxPatch);
    const int cx = d.below(real_w), cy = d.below(real_h);
    const int x0 = std::max(cx - side / 2, 0), x1 = std::min(cx - side / 2 + side, real_w);
    const int y0 = std::max(cy - side / 2, 0), y1 = std::min(cy - side / 2 + side, real_h);
    double sa = 0, sb = 0;
    int count = 0;
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) {
        const int64_t p = int64_t(y) * size + x;
        sa += ab[p], sb += ab[hw + p], ++count;
      }
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) {
        const int64_t p = int64_t(y) * size + x;
        ha[p] = float(sa / count), hb[p] = float(sb / count), hm[p] = 1.0f;
      }
  }
}

HintFile read_hint_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TINT_CHECK(in.good(), "--hints '{}': cannot read this file", path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  HintFile f;
  static const std::string kPng = "\x89PNG";
  if (text.compare(0, kPng.size(), kPng) == 0) {
    int w = 0, h = 0, channels = 0;
    std::unique_ptr<stbi_uc, void (*)(void*)> pixels(
        stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(text.data()), int(text.size()), &w, &h,
                              &channels, 4),
        stbi_image_free);
    TINT_CHECK(pixels, "--hints '{}': not a readable PNG ({})", path, stbi_failure_reason());
    TINT_CHECK(channels == 4 || channels == 2,
               "--hints '{}': the PNG has no alpha channel (hints are strokes on transparent)", path);
    f.width = w, f.height = h;
    const size_t n = size_t(w) * size_t(h);
    f.a.assign(n, 0.f), f.b.assign(n, 0.f), f.given.assign(n, 0);
    for (size_t i = 0; i < n; ++i) {
      const stbi_uc* px = pixels.get() + 4 * i;
      if (px[3] == 0) continue;
      double L, A, B;
      colour::srgb_to_lab(px[0] / 255.0, px[1] / 255.0, px[2] / 255.0, L, A, B);
      f.a[i] = float(A), f.b[i] = float(B), f.given[i] = 1;
    }
    return f;
  }
  const json::Value doc = json::parse(text, fmt::format("--hints '{}': not valid JSON", path));
  const json::Array* points = doc.array();
  TINT_CHECK(points, "--hints '{}': expected a JSON list of points (or a PNG)", path);
  for (size_t k = 0; k < points->size(); ++k) f.points.push_back(point_from_json((*points)[k], k, path));
  return f;
}

void render(const HintFile& file, int width, int height, int size, int real_width, int real_height,
            float* hint) {
  const int64_t hw = int64_t(size) * size;
  std::fill(hint, hint + 3 * hw, 0.0f);
  const double sx = double(real_width) / width, sy = double(real_height) / height;
  auto set = [&](int x, int y, double a, double b) {
    const int64_t p = int64_t(y) * size + x;
    hint[p] = float(colour::scale_ab(a));
    hint[hw + p] = float(colour::scale_ab(b));
    hint[2 * hw + p] = 1.0f;
  };
  if (!file.given.empty()) {
    // Each canvas pixel takes the hint under its centre in the original (nearest neighbour).
    for (int y = 0; y < real_height; ++y)
      for (int x = 0; x < real_width; ++x) {
        const int ox = std::min(int((x + 0.5) / sx), width - 1),
                  oy = std::min(int((y + 0.5) / sy), height - 1);
        const size_t i = size_t(oy) * size_t(width) + size_t(ox);
        if (file.given[i]) set(x, y, file.a[i], file.b[i]);
      }
    return;
  }
  for (const Point& p : file.points) {
    // The disc in canvas pixels (the point's centre mapped like a pixel centre).
    const double cx = (p.x + 0.5) * sx - 0.5, cy = (p.y + 0.5) * sy - 0.5;
    const double r = p.radius * std::min(sx, sy);
    // The pixel under the point always, however small the radius on this canvas.
    set(std::clamp(int(std::lround(cx)), 0, real_width - 1),
        std::clamp(int(std::lround(cy)), 0, real_height - 1), p.a, p.b);
    for (int y = std::max(0, int(std::floor(cy - r))); y <= std::min(real_height - 1, int(std::ceil(cy + r)));
         ++y)
      for (int x = std::max(0, int(std::floor(cx - r)));
           x <= std::min(real_width - 1, int(std::ceil(cx + r))); ++x)
        if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) set(x, y, p.a, p.b);
  }
}

}  // namespace tint::hints
