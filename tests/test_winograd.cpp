// The Winograd convolutions (kernels/cpu/conv_winograd.h): their matrices against a direct correlation, and
// their error against a double-precision reference on the U-Net's 3x3 shapes, which is what their
// `tolerance` in conv_algos.cpp is set from. (test_cpu_kernels.cpp runs them on edge shapes, every ISA and
// thread count, against cpu-ref.)
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "engine/thread_pool.h"
#include "kernels/cpu/conv_algos.h"
#include "kernels/cpu/conv_phase.h"
#include "kernels/cpu/conv_winograd.h"
#include "kernels/cpu/reference.h"
#include "models/unet.h"

using namespace tint;

namespace {

std::vector<double> uniform(size_t n, uint32_t seed, double bound) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> d(-bound, bound);
  std::vector<double> v(n);
  for (double& e : v) e = d(rng);
  return v;
}

std::vector<float> to_float(const std::vector<double>& v) {
  return {v.begin(), v.end()};
}

// max |out - ref| / max |ref|, against the double reference.
double scaled_error(const std::vector<float>& out, const std::vector<double>& ref) {
  double err = 0, scale = 1e-300;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (std::isnan(out[i])) return INFINITY;
    err = std::max(err, std::fabs(double(out[i]) - ref[i]));
    scale = std::max(scale, std::fabs(ref[i]));
  }
  return err / scale;
}

}  // namespace

TEST_CASE("winograd matrices compute a 1-D correlation") {
  // F(m, r): y[i] = sum_k d[i + k] g[k] for i < m equals A^T [ (G g) (.) (B^T d) ]; the 2-D algorithm is
  // this one nested. The matrices hold 1/6, 1/12 and 1/24 rounded to float, hence the 1e-6.
  for (int r : {3, 2})
    for (int m : {4, 2}) {
      INFO("F(" << m << ", " << r << ")");
      const cpu::WinogradMatrices w = cpu::winograd_matrices(m, r);
      REQUIRE(w.m == m);
      REQUIRE(w.r == r);
      REQUIRE(w.a == m + r - 1);
      for (uint32_t trial = 0; trial < 20; ++trial) {
        const std::vector<double> d = uniform(size_t(w.a), 100 + trial, 1.0),
                                  g = uniform(size_t(r), 200 + trial, 1.0);
        std::vector<double> gg(size_t(w.a)), dd(size_t(w.a));
        for (int j = 0; j < w.a; ++j) {
          for (int k = 0; k < r; ++k) gg[size_t(j)] += double(w.g[j * r + k]) * g[size_t(k)];
          for (int l = 0; l < w.a; ++l) dd[size_t(j)] += double(w.bt[j * w.a + l]) * d[size_t(l)];
        }
        for (int i = 0; i < m; ++i) {
          double direct = 0, wino = 0;
          for (int k = 0; k < r; ++k) direct += d[size_t(i + k)] * g[size_t(k)];
          for (int j = 0; j < w.a; ++j) wino += double(w.at[i * w.a + j]) * gg[size_t(j)] * dd[size_t(j)];
          CHECK(std::fabs(wino - direct) < 1e-6);
        }
      }
    }
}

namespace {

// The error of two Winograd algorithms, each product, against the double reference on the default U-Net's
// layers (width 64, 4 levels) at 16x16, batch 2, that `takes` picks: each checked against the algorithm's
// tolerance. Inputs and output gradients uniform in [-1, 1], weights at PyTorch's initial scale (uniform,
// bound 1/sqrt(fan_in)); the error is relative to the output's largest value. Returns the layers run.
int check_unet_errors(const char* const (&names)[2], bool (*takes)(const models::ConvLayer&)) {
  ThreadPool pool(2);
  std::vector<double> worst(6, 0.0);
  int layers = 0;
  for (const models::ConvLayer& layer : models::unet_conv_layers(models::UNetConfig{}, 2, 16)) {
    const Conv2dShape& s = layer.shape;
    if (!takes(layer)) continue;
    ++layers;
    INFO("layer " << layer.name << " " << s.str());
    const std::vector<double> x = uniform(size_t(s.x_size()), 1, 1.0),
                              dy = uniform(size_t(s.y_size()), 3, 1.0);
    const double fan_in = double(s.c_in) * s.kh * s.kw;
    const std::vector<double> w = uniform(size_t(s.w_size()), 2, 1.0 / std::sqrt(fan_in));
    std::vector<double> y_ref(size_t(s.y_size())), dx_ref(size_t(s.x_size())), dw_ref(size_t(s.w_size()));
    ref::conv2d_forward(y_ref.data(), x.data(), w.data(), s);
    ref::conv2d_backward_data(dx_ref.data(), dy.data(), w.data(), s);
    ref::conv2d_backward_weight(dw_ref.data(), x.data(), dy.data(), s);
    const std::vector<float> xf = to_float(x), wf = to_float(w), dyf = to_float(dy);
    int slot = 0;
    for (const char* name : names) {
      const cpu::ConvAlgo* algo = cpu::find_conv_algo(name);
      REQUIRE(algo != nullptr);
      using cpu::ConvProduct;
      for (ConvProduct p : {ConvProduct::forward, ConvProduct::backward_data, ConvProduct::backward_weight}) {
        INFO(name << " " << cpu::product_name(p));
        REQUIRE(cpu::algo_takes(*algo, s, p));
        const bool data = p == ConvProduct::backward_data;
        const std::vector<double>& want = p == ConvProduct::forward ? y_ref : data ? dx_ref : dw_ref;
        std::vector<float> out(want.size(), NAN);
        cpu::conv_run_with(*algo, p, &pool, out.data(), data ? dyf.data() : xf.data(),
                           p == ConvProduct::backward_weight ? dyf.data() : wf.data(), s);
        const double err = scaled_error(out, want);
        worst[size_t(slot)] = std::max(worst[size_t(slot)], err);
        ++slot;
        std::printf("%-16s %-16s %-14s %s: %.2e\n", name, cpu::product_name(p), layer.name.c_str(),
                    s.str().c_str(), err);
        CHECK(err < algo->tolerance);
      }
    }
  }
  std::printf("worst: %s %.2e %.2e %.2e, %s %.2e %.2e %.2e (forward, data, weight)\n", names[0], worst[0],
              worst[1], worst[2], names[1], worst[3], worst[4], worst[5]);
  return layers;
}

}  // namespace

TEST_CASE("winograd error against a double reference on the U-Net's 3x3 shapes") {
  // Every 3x3 layer's channels (1 to 1024 in), spatial sizes 16 down to 1.
  const int layers = check_unet_errors(
      {"winograd4", "winograd2"},
      [](const models::ConvLayer& l) { return !l.transposed && l.shape.kh == 3 && cpu::winograd_takes(l.shape); });
  CHECK(layers == 10);  // the stem conv1, five encoder conv2, four decoder convs
}

TEST_CASE("phase-winograd error against a double reference on the U-Net's 4x4 stride-2 shapes") {
  // The down convs (forward and backward-weight are F(m x m, 2x2) on the phase split of x; backward-data
  // its adjoint) and the up convs (whose forward is this backward-data).
  const int layers = check_unet_errors({"phase-winograd4", "phase-winograd2"}, [](const models::ConvLayer& l) {
    return cpu::phase_winograd_takes(l.shape);
  });
  CHECK(layers == 8);  // four down convs, four up convs
}

TEST_CASE("auto picks Winograd for the U-Net's 3x3 layers as measured") {
  // The rule above pick_auto in conv_algos.cpp, shape by shape.
  cpu::set_conv_variant("auto");
  using cpu::ConvProduct;
  auto pick = [](const Conv2dShape& s, ConvProduct p) { return std::string(cpu::algo_for(s, p).name); };
  const Conv2dShape big = make_conv2d(1, 256, 64, 64, 256, 3, 3, 1, 1, 1, 1);  // 256 tiles
  for (ConvProduct p : {ConvProduct::forward, ConvProduct::backward_data, ConvProduct::backward_weight})
    CHECK(pick(big, p) == "winograd4");
  const Conv2dShape t64 = make_conv2d(1, 512, 32, 32, 512, 3, 3, 1, 1, 1, 1);  // 64 tiles
  CHECK(pick(t64, ConvProduct::forward) == "winograd2");
  CHECK(pick(t64, ConvProduct::backward_data) == "winograd2");
  CHECK(pick(t64, ConvProduct::backward_weight) == "winograd4");
  const Conv2dShape t128 = make_conv2d(2, 512, 32, 32, 512, 3, 3, 1, 1, 1, 1);  // 128 tiles
  for (ConvProduct p : {ConvProduct::forward, ConvProduct::backward_data, ConvProduct::backward_weight})
    CHECK(pick(t128, p) == "winograd4");
  const Conv2dShape t32 = make_conv2d(8, 512, 8, 8, 512, 3, 3, 1, 1, 1, 1);  // 32 tiles
  for (ConvProduct p : {ConvProduct::forward, ConvProduct::backward_data, ConvProduct::backward_weight})
    CHECK(pick(t32, p) == "winograd2");
  const Conv2dShape t16 = make_conv2d(1, 512, 16, 16, 512, 3, 3, 1, 1, 1, 1);  // 16 tiles
  for (ConvProduct p : {ConvProduct::forward, ConvProduct::backward_data, ConvProduct::backward_weight})
    CHECK(pick(t16, p) == "winograd2");
  const Conv2dShape t9 = make_conv2d(1, 512, 12, 12, 512, 3, 3, 1, 1, 1, 1);  // 9 tiles
  for (ConvProduct p : {ConvProduct::forward, ConvProduct::backward_data, ConvProduct::backward_weight})
    CHECK(pick(t9, p) == "gemm");
  CHECK(pick(make_conv2d(1, 1, 256, 256, 64, 3, 3, 1, 1, 1, 1), ConvProduct::backward_data) ==
        "gemm");  // stem
  const Conv2dShape first = make_conv2d(1, 64, 256, 256, 64, 3, 3, 1, 1, 1, 1);
  for (ConvProduct p : {ConvProduct::forward, ConvProduct::backward_data, ConvProduct::backward_weight})
    CHECK(pick(first, p) == "winograd4");
  CHECK(pick(make_conv2d(1, 64, 64, 64, 128, 4, 4, 2, 2, 1, 1), ConvProduct::forward) == "phase");  // s2
}
