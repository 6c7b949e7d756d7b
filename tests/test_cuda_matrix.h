// The all-backends matrix of the CUDA backends: every contract entry of engine/backend.h, run on a target
// backend (cuda-emu, or cuda on a real GPU) and on the CPU reference (cpu-ref) with the same random inputs,
// outputs poisoned with NaN before each launch, compared by relative error max|a - b| / max|ref|.
// Shared by tests/test_cuda_backends.cpp (emulated) and tests/gpu_cuda_backends.cpp (real GPU).
//
// Tolerances, and why:
//   kElementwise 1e-5   each output is one to three float roundings (fmaf vs a*b+c, tanhf vs std::tanh);
//                       a wrong index or formula gives O(1).
//   conv, sums          a float sum of K terms in a different order than the reference differs by about
//                       sqrt(K) * 6e-8 relative to the output's scale (random-walk rounding); we allow
//                       max(1e-5, 1e-6 * sqrt(K)), 15x that estimate and still far below what a missed tap or
//                       a mis-indexed channel gives (>= 1/K of the output, i.e. >= 1e-3 for these shapes).
//   Adam 1e-5           a handful of roundings and a sqrt per element.
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "kernels/cuda/conv2d.h"

namespace tint::cuda_matrix {

// A backend under test and its conv-variant switch.
struct Target {
  const Backend* backend;
  int (*variant_count)();
  const char* (*variant_name)(int);
  void (*set_variant)(int);
  int default_variant;
  void (*set_tile)(int, int) = nullptr;  // forces the tuned variants' register block (see kernels/cuda/conv2d.h)
};

// Device memory of one backend, freed at scope exit.
class Device {
 public:
  explicit Device(const Backend& b) : b_(b) {}
  ~Device() {
    for (void* p : owned_) b_.free(p);
  }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  float* upload(const std::vector<float>& host) {
    float* p = alloc(host.size());
    b_.copy_from_host(stream, p, host.data(), host.size() * sizeof(float));
    return p;
  }
  // An output buffer full of NaN: any element the kernel fails to write shows up in the comparison.
  float* poisoned(size_t n) { return upload(std::vector<float>(n, std::numeric_limits<float>::quiet_NaN())); }
  std::vector<float> download(const float* p, size_t n) {
    std::vector<float> host(n);
    b_.copy_to_host(stream, host.data(), p, n * sizeof(float));
    b_.synchronize(stream);
    return host;
  }
  void* workspace(size_t bytes) {
    if (bytes == 0) return nullptr;
    float* p = alloc((bytes + sizeof(float) - 1) / sizeof(float));
    stream.workspace = p;
    stream.workspace_bytes = bytes;
    return p;
  }
  const Backend& backend() const { return b_; }
  Stream stream;

 private:
  float* alloc(size_t n) {
    auto* p = static_cast<float*>(b_.alloc(std::max<size_t>(n, 1) * sizeof(float)));
    owned_.push_back(p);
    return p;
  }
  const Backend& b_;
  std::vector<void*> owned_;
};

inline std::vector<float> random_vector(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

inline std::vector<float> random_mask(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = (rng() % 4 == 0) ? 0.0f : 1.0f;
  return v;
}

// max|a - b| / max|ref|; infinity when any output is not finite where the reference is (a NaN left by
// the poisoning, or a size mismatch).
inline double relative_error(const std::vector<float>& got, const std::vector<float>& ref) {
  if (got.size() != ref.size()) return std::numeric_limits<double>::infinity();
  double max_diff = 0, max_ref = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (std::isfinite(ref[i]) && !std::isfinite(got[i])) return std::numeric_limits<double>::infinity();
    max_diff = std::max(max_diff, std::fabs(double(got[i]) - double(ref[i])));
    max_ref = std::max(max_ref, std::fabs(double(ref[i])));
  }
  return max_ref > 0 ? max_diff / max_ref : max_diff;
}

inline double sum_tolerance(double terms) { return std::max(1e-5, 1e-6 * std::sqrt(terms)); }
constexpr double kElementwise = 1e-5;

// Runs `op` on the target and on cpu-ref with fresh devices, returns both results.
using Op = std::function<std::vector<float>(Device&)>;

inline void expect_close(const Target& t, const std::string& what, double tol, const Op& op) {
  Device ref_dev(cpu_reference_backend());
  Device dev(*t.backend);
  const std::vector<float> ref = op(ref_dev);
  const std::vector<float> got = op(dev);
  const double err = relative_error(got, ref);
  INFO(t.backend->name << " " << what << ": relative error " << err << " (tolerance " << tol << ")");
  CHECK(err <= tol);
}

// Runs `op` twice on the target: the bits must match.
inline void expect_deterministic(const Target& t, const std::string& what, const Op& op) {
  Device d1(*t.backend), d2(*t.backend);
  const std::vector<float> a = op(d1), b = op(d2);
  INFO(t.backend->name << " " << what << ": two runs differ");
  REQUIRE(a.size() == b.size());
  CHECK(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// ---- the entries --------------------------------------------------------------------------------------

inline void check_elementwise(const Target& t) {
  for (int64_t n : {int64_t(1), int64_t(7), int64_t(64), int64_t(1031)}) {
    auto x = random_vector(n, 1);
    const auto y0 = random_vector(n, 2), s = random_vector(1, 3);
    // Exact zeros (both signs) at the kink: relu's gradient there is 0, whatever a kernel's comparison.
    for (int64_t i = 1; i < n; i += 3) x[size_t(i)] = i % 2 ? 0.0f : -0.0f;
    const std::string sz = " n=" + std::to_string(n);
    expect_close(t, "fill" + sz, kElementwise, [&](Device& d) {
      float* y = d.poisoned(n);
      d.backend().fill(d.stream, y, 0.375f, n);
      return d.download(y, n);
    });
    expect_close(t, "copy" + sz, kElementwise, [&](Device& d) {
      float* y = d.poisoned(n);
      d.backend().copy(d.stream, y, d.upload(x), n);
      return d.download(y, n);
    });
    expect_close(t, "add" + sz, kElementwise, [&](Device& d) {
      float* y = d.poisoned(n);
      d.backend().add(d.stream, y, d.upload(x), d.upload(y0), n);
      return d.download(y, n);
    });
    expect_close(t, "scale" + sz, kElementwise, [&](Device& d) {
      float* y = d.poisoned(n);
      d.backend().scale(d.stream, y, d.upload(x), -1.75f, n);
      return d.download(y, n);
    });
    expect_close(t, "axpy" + sz, kElementwise, [&](Device& d) {
      float* y = d.upload(y0);
      d.backend().axpy(d.stream, y, d.upload(x), 0.625f, n);
      return d.download(y, n);
    });
    expect_close(t, "broadcast_scalar" + sz, kElementwise, [&](Device& d) {
      float* y = d.poisoned(n);
      d.backend().broadcast_scalar(d.stream, y, d.upload(s), 0.5f, n);
      return d.download(y, n);
    });
    expect_close(t, "relu_forward" + sz, kElementwise, [&](Device& d) {
      float* y = d.poisoned(n);
      d.backend().relu_forward(d.stream, y, d.upload(x), n);
      return d.download(y, n);
    });
    expect_close(t, "relu_backward" + sz, kElementwise, [&](Device& d) {
      float* dx = d.poisoned(n);
      d.backend().relu_backward(d.stream, dx, d.upload(y0), d.upload(x), n);
      return d.download(dx, n);
    });
    const auto xt = random_vector(n, 4, -3.0f, 3.0f);
    expect_close(t, "tanh_forward" + sz, kElementwise, [&](Device& d) {
      float* y = d.poisoned(n);
      d.backend().tanh_forward(d.stream, y, d.upload(xt), n);
      return d.download(y, n);
    });
    expect_close(t, "tanh_backward" + sz, kElementwise, [&](Device& d) {
      float* dx = d.poisoned(n);
      d.backend().tanh_backward(d.stream, dx, d.upload(y0), d.upload(x), n);
      return d.download(dx, n);
    });
  }
  // The vector paths need 16-byte alignment: an offset of one float forces the scalar path.
  const int64_t n = 37;
  const auto x = random_vector(n + 1, 5);
  expect_close(t, "add (misaligned)", kElementwise, [&](Device& d) {
    float* y = d.poisoned(n + 1);
    float* xd = d.upload(x);
    d.backend().add(d.stream, y + 1, xd + 1, xd, n);
    return d.download(y + 1, n);
  });
}

inline void check_reductions(const Target& t) {
  for (int64_t n : {int64_t(1), int64_t(5), int64_t(1000), int64_t(40000)}) {
    const auto x = random_vector(n, 11);
    const Op op = [&](Device& d) {
      float* out = d.poisoned(1);
      d.backend().sum(d.stream, out, d.upload(x), n);
      return d.download(out, 1);
    };
    expect_close(t, "sum n=" + std::to_string(n), sum_tolerance(double(n)), op);
    expect_deterministic(t, "sum n=" + std::to_string(n), op);
  }
}

struct ChannelShape {
  int n, c;
  int64_t hw;
};

inline void check_channels(const Target& t) {
  for (const ChannelShape s : {ChannelShape{1, 3, 1}, ChannelShape{2, 5, 7}, ChannelShape{8, 4, 16},
                               ChannelShape{3, 2, 1000}}) {
    const int64_t total = int64_t(s.n) * s.c * s.hw;
    const std::string sz = " n" + std::to_string(s.n) + " c" + std::to_string(s.c) + " hw" + std::to_string(s.hw);
    const auto y0 = random_vector(total, 21), bias = random_vector(s.c, 22);
    expect_close(t, "bias_add" + sz, kElementwise, [&](Device& d) {
      float* y = d.upload(y0);
      d.backend().bias_add(d.stream, y, d.upload(bias), s.n, s.c, s.hw);
      return d.download(y, total);
    });
    const Op bias_grad = [&](Device& d) {
      float* db = d.poisoned(s.c);
      d.backend().bias_backward(d.stream, db, d.upload(y0), s.n, s.c, s.hw);
      return d.download(db, s.c);
    };
    expect_close(t, "bias_backward" + sz, sum_tolerance(double(s.n * s.hw)), bias_grad);
    expect_deterministic(t, "bias_backward" + sz, bias_grad);

    const int ca = s.c, cb = s.c + 1;
    const auto a = random_vector(int64_t(s.n) * ca * s.hw, 23), b = random_vector(int64_t(s.n) * cb * s.hw, 24);
    const int64_t ty = int64_t(s.n) * (ca + cb) * s.hw;
    expect_close(t, "concat_channels" + sz, kElementwise, [&](Device& d) {
      float* y = d.poisoned(ty);
      d.backend().concat_channels(d.stream, y, d.upload(a), d.upload(b), s.n, ca, cb, s.hw);
      return d.download(y, ty);
    });
    const auto dy = random_vector(ty, 25);
    expect_close(t, "split_channels" + sz, kElementwise, [&](Device& d) {
      float* da = d.poisoned(a.size());
      float* db = d.poisoned(b.size());
      d.backend().split_channels(d.stream, da, db, d.upload(dy), s.n, ca, cb, s.hw);
      std::vector<float> out = d.download(da, a.size());
      const std::vector<float> second = d.download(db, b.size());
      out.insert(out.end(), second.begin(), second.end());
      return out;
    });
    expect_close(t, "split_channels (only db)" + sz, kElementwise, [&](Device& d) {
      float* db = d.poisoned(b.size());
      d.backend().split_channels(d.stream, nullptr, db, d.upload(dy), s.n, ca, cb, s.hw);
      return d.download(db, b.size());
    });
  }
}

inline void check_losses(const Target& t) {
  for (const ChannelShape s : {ChannelShape{1, 2, 1}, ChannelShape{2, 2, 37}, ChannelShape{8, 2, 64}}) {
    const int64_t total = int64_t(s.n) * s.c * s.hw;
    const auto target = random_vector(total, 32);
    auto pred = random_vector(total, 31);
    // Exact ties at L1's kink, where the gradient is sign(0) = 0.
    for (int64_t k = 0; k < total; k += 3) pred[size_t(k)] = target[size_t(k)];
    const auto mask = random_mask(int64_t(s.n) * s.hw, 33);
    const std::vector<float> zero_mask(int64_t(s.n) * s.hw, 0.0f);
    const std::vector<float> grad = {0.75f};
    for (int kind = 0; kind < 2; ++kind)
      for (int masked = 0; masked < 3; ++masked) {  // none, random, all zero (count 0)
        const std::string what = std::string(kind == 0 ? "l1" : "mse") +
                                 (masked == 0 ? "" : masked == 1 ? " masked" : " zero-mask") + " n" +
                                 std::to_string(s.n) + " hw" + std::to_string(s.hw);
        const auto* m = masked == 0 ? nullptr : masked == 1 ? &mask : &zero_mask;
        const Op forward = [&](Device& d) {
          float* out = d.poisoned(2);
          const float* md = m ? d.upload(*m) : nullptr;
          (kind == 0 ? d.backend().l1_loss_forward : d.backend().mse_loss_forward)(
              d.stream, out, d.upload(pred), d.upload(target), md, s.n, s.c, s.hw);
          return d.download(out, 2);
        };
        // The value and the count apart: compared together, the count's size would hide a loss a few
        // percent off.
        const auto only = [&](size_t i) { return Op([&, i](Device& d) { return std::vector<float>{forward(d)[i]}; }); };
        expect_close(t, what + " forward value", sum_tolerance(double(total)), only(0));
        expect_close(t, what + " forward count", 0.0, only(1));
        expect_deterministic(t, what + " forward", forward);
        expect_close(t, what + " backward", kElementwise, [&](Device& d) {
          float* out = d.poisoned(2);
          float* dpred = d.poisoned(total);
          const float* md = m ? d.upload(*m) : nullptr;
          float* p = d.upload(pred);
          float* tg = d.upload(target);
          (kind == 0 ? d.backend().l1_loss_forward : d.backend().mse_loss_forward)(d.stream, out, p, tg, md, s.n,
                                                                                   s.c, s.hw);
          (kind == 0 ? d.backend().l1_loss_backward : d.backend().mse_loss_backward)(
              d.stream, dpred, d.upload(grad), out, p, tg, md, s.n, s.c, s.hw);
          return d.download(dpred, total);
        });
      }
  }
}

inline void check_adam(const Target& t) {
  for (int decoupled = 0; decoupled < 2; ++decoupled)
    for (int64_t n : {int64_t(3), int64_t(1029)}) {
      AdamHyper h;
      h.lr = 1e-2f, h.weight_decay = 0.05f, h.decoupled = decoupled == 1, h.step = 3;
      const auto p0 = random_vector(n, 41), g = random_vector(n, 42), m0 = random_vector(n, 43, -0.1f, 0.1f);
      const auto v0 = random_vector(n, 44, 0.0f, 0.01f);
      expect_close(t, std::string(decoupled ? "adamw" : "adam") + " n=" + std::to_string(n), 1e-5, [&](Device& d) {
        float* p = d.upload(p0);
        float* m = d.upload(m0);
        float* v = d.upload(v0);
        d.backend().adam_step(d.stream, p, d.upload(g), m, v, n, h);
        std::vector<float> out = d.download(p, n);
        for (const float* q : {m, v}) {
          const std::vector<float> part = d.download(q, n);
          out.insert(out.end(), part.begin(), part.end());
        }
        return out;
      });
    }
}

// The three products on one shape, with the workspace the backend asks for (and, for split-K, without:
// the kernel must then fall back to one split and still be right).
enum Products { kForward = 1, kBackwardData = 2, kBackwardWeight = 4, kAllProducts = 7 };

inline void check_conv_shape(const Target& t, const Conv2dShape& s, bool with_determinism, int products = kAllProducts,
                             bool also_without_workspace = true) {
  const auto x = random_vector(s.x_size(), 51), w = random_vector(s.w_size(), 52), dy = random_vector(s.y_size(), 53);
  const double k_fwd = double(s.c_in) * s.kh * s.kw;
  const double k_bwd_data = double(s.c_out) * s.kh * s.kw;
  const double k_bwd_weight = double(s.n) * s.h_out * s.w_out;
  for (int with_ws = 1; with_ws >= (also_without_workspace ? 0 : 1); --with_ws) {
    const auto prepare = [&](Device& d) {
      if (with_ws) d.workspace(d.backend().conv2d_workspace_bytes(s));
    };
    const std::string what = s.str() + (with_ws ? "" : " (no workspace)");
    if (products & kForward) expect_close(t, "conv2d_forward " + what, sum_tolerance(k_fwd), [&](Device& d) {
      prepare(d);
      float* y = d.poisoned(s.y_size());
      d.backend().conv2d_forward(d.stream, y, d.upload(x), d.upload(w), s);
      return d.download(y, s.y_size());
    });
    if (products & kBackwardData)
      expect_close(t, "conv2d_backward_data " + what, sum_tolerance(k_bwd_data), [&](Device& d) {
      prepare(d);
      float* dx = d.poisoned(s.x_size());
      d.backend().conv2d_backward_data(d.stream, dx, d.upload(dy), d.upload(w), s);
      return d.download(dx, s.x_size());
    });
    const Op bwd_weight = [&](Device& d) {
      prepare(d);
      float* dw = d.poisoned(s.w_size());
      d.backend().conv2d_backward_weight(d.stream, dw, d.upload(x), d.upload(dy), s);
      return d.download(dw, s.w_size());
    };
    if (!(products & kBackwardWeight)) continue;
    expect_close(t, "conv2d_backward_weight " + what, sum_tolerance(k_bwd_weight), bwd_weight);
    if (with_determinism && with_ws) expect_deterministic(t, "conv2d_backward_weight " + what, bwd_weight);
  }
}

// Small shapes: sizes off the tile sizes, 1x1 spatial, batch 1 and 8, stride 2, kernels 1/3/4, transposed.
inline std::vector<Conv2dShape> small_conv_shapes() {
  return {
      make_conv2d(1, 3, 7, 9, 5, 3, 3, 1, 1, 1, 1),    // 3x3 same, odd sizes
      make_conv2d(2, 4, 9, 7, 6, 4, 4, 2, 2, 1, 1),    // 4x4 stride-2 down-sampling
      make_conv2d(1, 4, 6, 6, 4, 3, 3, 2, 2, 0, 0),    // stride 2, no padding
      make_conv2d(1, 5, 1, 1, 3, 1, 1, 1, 1, 0, 0),    // 1x1 spatial
      make_conv2d(1, 6, 1, 1, 4, 3, 3, 1, 1, 1, 1),    // 1x1 spatial, 3x3 kernel: only the centre tap
      make_conv2d(8, 3, 5, 5, 2, 1, 1, 1, 1, 0, 0),    // batch 8, 1x1 head, hw % 4 != 0
      make_conv2d(8, 8, 4, 4, 2, 1, 1, 1, 1, 0, 0),    // batch 8, 1x1 head, float4 paths
      make_conv2d(2, 3, 5, 6, 4, 1, 1, 2, 2, 0, 0),    // 1x1 stride 2: backward-data phases with no taps
      make_conv2d(1, 64, 4, 4, 8, 3, 3, 1, 1, 1, 1),   // deep and small: split-K in every product
      make_conv2d(2, 3, 24, 24, 5, 3, 3, 1, 1, 1, 1),  // backward-weight K = 1152: split-K, float4 dy runs
      make_conv_transpose2d(2, 6, 4, 5, 3, 4, 4, 2, 2, 1, 1, 0, 0),  // transposed 4x4 s2 (U-Net up-sampling)
      make_conv_transpose2d(1, 4, 3, 3, 2, 3, 3, 2, 2, 1, 1, 1, 1),  // transposed 3x3 s2, output padding
  };
}

// The 128x128 and 64x128 tiles (M >= 96 or 64, and enough tiles), in the one product of each shape that takes it, cheap there
// because K is 1 (the other products of these shapes are slow to emulate: one barrier per 8 pixels).
inline void check_conv_wide(const Target& t) {
  t.set_variant(t.default_variant);
  check_conv_shape(t, make_conv2d(1, 1, 130, 130, 128, 1, 1, 1, 1, 0, 0), false, kForward, false);
  check_conv_shape(t, make_conv2d(1, 128, 130, 130, 1, 1, 1, 1, 1, 0, 0), false, kBackwardData, false);
  check_conv_shape(t, make_conv2d(1, 1, 130, 130, 64, 1, 1, 1, 1, 0, 0), false, kForward, false);  // 64x128
}

// The newest tuned variant (3: igemm2) with its large register blocks forced onto small shapes: the
// 128x128 and 64x128 tiles over K ranges of many slices, split-K, image boundaries inside a slice, the
// float4 and scalar loader paths, stride 2 and the transposed (phased) backward-data.
inline void check_conv_forced_tiles(const Target& t) {
  if (!t.set_tile) return;
  std::vector<Conv2dShape> shapes = small_conv_shapes();
  shapes.push_back(make_conv2d(2, 5, 13, 11, 7, 3, 3, 1, 1, 1, 1));  // K of backward-weight = 286: odd runs
  shapes.push_back(make_conv2d(3, 4, 6, 6, 5, 3, 3, 1, 1, 1, 1));    // hw = 36: float4 dy runs across images
  const int tiles[][2] = {{8, 8}, {4, 8}};
  for (int v : {3}) {  // variant 1 runs these tiles in check_conv_wide (and on the GPU, at scale)
    if (v >= t.variant_count()) continue;
    t.set_variant(v);
    for (const auto& tile : tiles) {
      t.set_tile(tile[0], tile[1]);
      INFO("conv variant " << v << " (" << t.variant_name(v) << ") tile " << tile[0] << "x" << tile[1]);
      for (const Conv2dShape& s : shapes) check_conv_shape(t, s, false);
    }
  }
  t.set_tile(0, 0);
  t.set_variant(t.default_variant);
}

inline void check_conv(const Target& t, const std::vector<Conv2dShape>& shapes, bool all_variants) {
  for (int v = 0; v < t.variant_count(); ++v) {
    if (!all_variants && v != t.default_variant) continue;
    t.set_variant(v);
    INFO("conv variant " << v << " (" << t.variant_name(v) << ")");
    for (const Conv2dShape& s : shapes) check_conv_shape(t, s, v == t.default_variant);
  }
  t.set_variant(t.default_variant);
}

}  // namespace tint::cuda_matrix
