// Every differentiable op through the engine (autograd + the device's kernels), checked against central
// finite differences, on every host-side device.
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine_test_util.h"
#include "kernels/cpu/conv_algos.h"

using namespace tint;
using tint::testing::check_gradients;

namespace {

// Uniform in [-1, 1] but at least `gap` away from 0: finite differences must not straddle a kink.
Tensor away_from_zero(const Shape& s, Rng& rng, Device d, float gap = 0.1f) {
  std::vector<float> v(size_t(shape_numel(s)));
  for (auto& x : v) {
    float u = rng.uniform(gap, 1.0f);
    x = rng.uniform01() < 0.5f ? -u : u;
  }
  return Tensor::from_vector(v, s, d);
}

Tensor target_like(const Tensor& t, Rng& rng) {
  return Tensor::uniform(t.shape(), -1, 1, rng, t.device());
}

}  // namespace

// Hidden ([.isa]): ctest runs it with the gradient checks under TINT_CPU_ISA=avx2 and =generic
// (tests/CMakeLists.txt), so that the finite-difference checks reach the narrower kernels too. It fails if
// the override stopped choosing the kernels, which would leave those runs checking AVX-512 again.
TEST_CASE("TINT_CPU_ISA chooses the cpu backend's kernels", "[.isa]") {
  const char* want = std::getenv("TINT_CPU_ISA");
  REQUIRE(want != nullptr);
  cpu::Isa machine = cpu::Isa::generic;
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) machine = cpu::Isa::avx2;
  if (__builtin_cpu_supports("avx512f")) machine = cpu::Isa::avx512;
#endif
  cpu::Isa asked = machine;
  if (std::strcmp(want, "generic") == 0) asked = cpu::Isa::generic;
  if (std::strcmp(want, "avx2") == 0) asked = cpu::Isa::avx2;
  // The override only narrows: asking for more than the machine has gives what it has.
  const cpu::Isa expected = int(asked) < int(machine) ? asked : machine;
  INFO("TINT_CPU_ISA=" << want << ", machine " << cpu::isa_name(machine));
  CHECK(std::string(cpu::isa_name(cpu::best_isa())) == cpu::isa_name(expected));
}

TEST_CASE("conv2d gradients through autograd (stride 2, padding 1, non-square, bias)", "[engine][grad]") {
  for (Device d : tint::testing::engine_test_devices()) {
    Rng rng(1);
    Tensor x = Tensor::uniform({3, 2, 5, 7}, -1, 1, rng, d);
    Tensor w = Tensor::uniform({3, 2, 3, 3}, -1, 1, rng, d);
    Tensor b = Tensor::uniform({3}, -1, 1, rng, d);
    auto o = ops::Conv2dOptions::square(2, 1);
    Tensor y0 = ops::conv2d(x, w, b, o);
    REQUIRE(y0.shape() == Shape{3, 3, 3, 4});
    Tensor t = target_like(y0, rng);
    check_gradients("conv2d " + d.str(), {x, w, b},
                    [&](const std::vector<Tensor>& in) { return ops::mse_loss(ops::conv2d(in[0], in[1], in[2], o), t); });
  }
}

TEST_CASE("conv2d gradients with kernel 4, stride 2 and asymmetric options", "[engine][grad]") {
  for (Device d : tint::testing::engine_test_devices()) {
    Rng rng(2);
    Tensor x = Tensor::uniform({2, 3, 6, 9}, -1, 1, rng, d);
    Tensor w = Tensor::uniform({2, 3, 4, 4}, -1, 1, rng, d);
    ops::Conv2dOptions o{2, 1, 1, 2, 0, 0};
    Tensor t = target_like(ops::conv2d(x, w, Tensor(), o), rng);
    check_gradients("conv2d k4 " + d.str(), {x, w},
                    [&](const std::vector<Tensor>& in) { return ops::mse_loss(ops::conv2d(in[0], in[1], Tensor(), o), t); });
  }
}

TEST_CASE("conv_transpose2d gradients (stride 2, padding 1, output_padding 1, bias)", "[engine][grad]") {
  for (Device d : tint::testing::engine_test_devices()) {
    Rng rng(3);
    Tensor x = Tensor::uniform({2, 3, 3, 4}, -1, 1, rng, d);
    Tensor w = Tensor::uniform({3, 2, 3, 3}, -1, 1, rng, d);  // (Cin, Cout, kh, kw)
    Tensor b = Tensor::uniform({2}, -1, 1, rng, d);
    auto o = ops::Conv2dOptions::square(2, 1, 1);
    Tensor y0 = ops::conv_transpose2d(x, w, b, o);
    REQUIRE(y0.shape() == Shape{2, 2, 6, 8});  // (3-1)*2 - 2 + 3 + 1 = 6, (4-1)*2 - 2 + 3 + 1 = 8
    Tensor t = target_like(y0, rng);
    check_gradients("conv_transpose2d " + d.str(), {x, w, b}, [&](const std::vector<Tensor>& in) {
      return ops::mse_loss(ops::conv_transpose2d(in[0], in[1], in[2], o), t);
    });
  }
}

// The cpu backend's "implicit" backward-data (stride phases, kernels/cpu/conv_implicit.h), forced here since
// "auto" no longer picks it: conv2d's dx, and the transposed conv's forward, which is that product. Kept
// small: finite differences over every element are slow under ASan.
TEST_CASE("conv2d and conv_transpose2d gradients with 8 channels (stride phases, odd sizes)", "[engine][grad]") {
  struct Restore {
    ~Restore() { cpu::set_conv_variant(cpu::conv_default_variant); }
  } restore;
  cpu::set_conv_variant("implicit");
  for (Device d : tint::testing::engine_test_devices()) {
    Rng rng(4);
    Tensor x = Tensor::uniform({1, 8, 5, 6}, -1, 1, rng, d);
    Tensor w = Tensor::uniform({2, 8, 3, 3}, -1, 1, rng, d);  // stride-2 phases get 2x2, 2x1, 1x2, 1x1 taps
    auto o = ops::Conv2dOptions::square(2, 1);
    Tensor t = target_like(ops::conv2d(x, w, Tensor(), o), rng);
    check_gradients("conv2d 8 channels " + d.str(), {x, w},
                    [&](const std::vector<Tensor>& in) { return ops::mse_loss(ops::conv2d(in[0], in[1], Tensor(), o), t); });
    Tensor xt = Tensor::uniform({1, 2, 3, 2}, -1, 1, rng, d);
    Tensor wt = Tensor::uniform({2, 8, 3, 3}, -1, 1, rng, d);  // (Cin, Cout, kh, kw): 8 channels out
    Tensor tt = target_like(ops::conv_transpose2d(xt, wt, Tensor(), o), rng);
    check_gradients("conv_transpose2d 8 channels " + d.str(), {xt, wt}, [&](const std::vector<Tensor>& in) {
      return ops::mse_loss(ops::conv_transpose2d(in[0], in[1], Tensor(), o), tt);
    });
  }
}

// The cpu backend's "phase" algorithm (strided convs as stride-1 ones on the space-to-depth input,
// kernels/cpu/conv_phase.h), forced: "auto" runs it only from 1024 output pixels. Odd sizes, so that the
// phases differ in size and the last input row and column of x are never read (their gradient is 0).
TEST_CASE("conv2d and conv_transpose2d gradients through the phase split (4x4, stride 2)", "[engine][grad]") {
  struct Restore {
    ~Restore() { cpu::set_conv_variant(cpu::conv_default_variant); }
  } restore;
  cpu::set_conv_variant("phase");
  for (Device d : tint::testing::engine_test_devices()) {
    Rng rng(5);
    Tensor x = Tensor::uniform({2, 3, 7, 5}, -1, 1, rng, d);
    Tensor w = Tensor::uniform({4, 3, 4, 4}, -1, 1, rng, d);
    Tensor b = Tensor::uniform({4}, -1, 1, rng, d);
    auto o = ops::Conv2dOptions::square(2, 1);
    Tensor t = target_like(ops::conv2d(x, w, b, o), rng);
    check_gradients("conv2d phase " + d.str(), {x, w, b}, [&](const std::vector<Tensor>& in) {
      return ops::mse_loss(ops::conv2d(in[0], in[1], in[2], o), t);
    });
    Tensor xt = Tensor::uniform({1, 4, 3, 2}, -1, 1, rng, d);
    Tensor wt = Tensor::uniform({4, 3, 4, 4}, -1, 1, rng, d);  // (Cin, Cout, kh, kw)
    Tensor tt = target_like(ops::conv_transpose2d(xt, wt, Tensor(), o), rng);
    check_gradients("conv_transpose2d phase " + d.str(), {xt, wt}, [&](const std::vector<Tensor>& in) {
      return ops::mse_loss(ops::conv_transpose2d(in[0], in[1], Tensor(), o), tt);
    });
  }
}

// The fused ReLU (ops::Activation::relu) against ops::relu of the unfused conv: the same bits for the output
// and every gradient, on every device, with and without a bias, for both conv ops. Output channel 1 has zero
// weights and a zero bias, so its pre-activation is exactly 0 everywhere: the kink, where the gradient is 0.
TEST_CASE("conv ops with the fused ReLU give the bits of relu(conv), gradients included, kinks included",
          "[engine][grad]") {
  for (Device d : tint::testing::engine_test_devices()) {
    for (bool transposed : {false, true}) {
      for (bool with_bias : {true, false}) {
        INFO(d.str() << (transposed ? " conv_transpose2d" : " conv2d") << (with_bias ? " with bias" : " no bias"));
        Rng rng(11);
        const int c_in = 5, c_out = 4;
        const Shape xs = {2, c_in, 7, 6};
        const std::vector<float> xv = Tensor::uniform(xs, -1, 1, rng).to_vector();
        Shape ws = transposed ? Shape{c_in, c_out, 4, 4} : Shape{c_out, c_in, 3, 3};
        std::vector<float> wv = Tensor::uniform(ws, -1, 1, rng).to_vector();
        std::vector<float> bv = Tensor::uniform({c_out}, -1, 1, rng).to_vector();
        for (int64_t i = 0; i < int64_t(wv.size()); ++i) {
          const int64_t out_ch = transposed ? (i / 16) % c_out : i / (c_in * 9);
          if (out_ch == 1) wv[size_t(i)] = 0.0f;
        }
        bv[1] = 0.0f;
        const auto o = transposed ? ops::Conv2dOptions::square(2, 1) : ops::Conv2dOptions::square(1, 1);
        auto run = [&](bool fused, std::vector<std::vector<float>>& got) {
          Tensor xi = Tensor::from_vector(xv, xs, d), w = Tensor::from_vector(wv, ws, d);
          Tensor b = Tensor::from_vector(bv, {c_out}, d);
          for (Tensor* t : {&xi, &w, &b}) t->set_requires_grad(true);
          const Tensor bias = with_bias ? b : Tensor();
          const ops::Activation act = fused ? ops::Activation::relu : ops::Activation::none;
          Tensor y = transposed ? ops::conv_transpose2d(xi, w, bias, o, act) : ops::conv2d(xi, w, bias, o, act);
          if (!fused) y = ops::relu(y);
          Rng trng(5);
          Tensor t = Tensor::uniform(y.shape(), -1, 1, trng, d);
          ops::mse_loss(y, t).backward();
          got = {y.to_vector(), xi.grad().to_vector(), w.grad().to_vector()};
          if (with_bias) got.push_back(b.grad().to_vector());
        };
        std::vector<std::vector<float>> fused, plain;
        run(true, fused);
        run(false, plain);
        REQUIRE(fused.size() == plain.size());
        for (size_t k = 0; k < fused.size(); ++k) {
          INFO("tensor " << k << " (output, dx, dw, dbias)");
          REQUIRE(fused[k].size() == plain[k].size());
          CHECK(std::memcmp(fused[k].data(), plain[k].data(), fused[k].size() * sizeof(float)) == 0);
        }
        // The kink channel: output 0, and the weight and bias gradients of channel 1 exactly 0.
        const std::vector<float>& y = fused[0];
        const int64_t plane = int64_t(y.size()) / (2 * c_out);
        int kink_nonzero = 0, live_positive = 0;
        for (int64_t i = 0; i < int64_t(y.size()); ++i) {
          const int64_t ch = (i / plane) % c_out;
          if (ch == 1) kink_nonzero += y[size_t(i)] != 0.0f;
          else live_positive += y[size_t(i)] > 0.0f;
        }
        CHECK(kink_nonzero == 0);
        CHECK(live_positive > 10);  // the other channels are not all clipped
        if (with_bias) CHECK(fused[3][1] == 0.0f);
        for (int64_t i = 0; i < int64_t(wv.size()); ++i) {
          const int64_t out_ch = transposed ? (i / 16) % c_out : i / (c_in * 9);
          if (out_ch == 1) REQUIRE(fused[2][size_t(i)] == 0.0f);
        }
      }
    }
  }
}

TEST_CASE("concat, relu, tanh, add, scale, reshape gradients", "[engine][grad]") {
  for (Device d : tint::testing::engine_test_devices()) {
    Rng rng(4);
    Tensor a = away_from_zero({2, 2, 3, 3}, rng, d);
    Tensor b = away_from_zero({2, 3, 3, 3}, rng, d);
    Tensor c = away_from_zero({2, 5, 3, 3}, rng, d);
    Tensor t = Tensor::uniform({2, 5, 3, 3}, -1, 1, rng, d);
    check_gradients("elementwise " + d.str(), {a, b, c}, [&](const std::vector<Tensor>& in) {
      Tensor cat = ops::concat_channels(ops::relu(in[0]), ops::tanh(in[1]));
      Tensor mixed = ops::add(cat, ops::scale(in[2], -0.7f));
      return ops::mse_loss(mixed.reshape({2, 5, 9, 1}).reshape({2, 5, 3, 3}), t);
    });
  }
}

TEST_CASE("concat of one image's side-by-side slices is a view of them, with the copying concat's gradients",
          "[engine][grad]") {
  for (Device d : tint::testing::engine_test_devices()) {
    INFO(d.str());
    Rng rng(9);
    Tensor x = away_from_zero({1, 3, 5, 4}, rng, d);
    Tensor wa = away_from_zero({2, 3, 3, 3}, rng, d), wb = away_from_zero({3, 3, 3, 3}, rng, d);
    Tensor t = Tensor::uniform({1, 5, 5, 4}, -1, 1, rng, d);
    const auto o = ops::Conv2dOptions::square(1, 1);
    // The convolutions write straight into their slices of one buffer; the concat of the two slices, in
    // storage order, is then the buffer itself.
    auto convs_into = [&](const std::vector<Tensor>& in, const Tensor& buffer, int64_t a_at, int64_t b_at) {
      Tensor ya = ops::conv2d(in[0], in[1], Tensor(), o, ops::Activation::none, buffer.narrow_channels(a_at, 2));
      Tensor yb = ops::conv2d(in[0], in[2], Tensor(), o, ops::Activation::none, buffer.narrow_channels(b_at, 3));
      return std::make_pair(ya, yb);
    };
    Tensor buffer = Tensor::empty({1, 5, 5, 4}, d);
    auto [ya, yb] = convs_into({x, wa, wb}, buffer, 0, 2);
    Tensor cat = ops::concat_channels(ya, yb);
    CHECK(cat.data() == buffer.data());
    CHECK(cat.shape() == Shape{1, 5, 5, 4});
    // The same values as the copying concat of separately made outputs.
    Tensor copied = ops::concat_channels(ops::conv2d(x, wa, Tensor(), o), ops::conv2d(x, wb, Tensor(), o));
    CHECK(copied.data() != ya.data());
    CHECK(cat.to_vector() == copied.to_vector());
    // Slices not in storage order, or with a gap, are copied: the result is still [a, b].
    Tensor wide = Tensor::empty({1, 6, 5, 4}, d);
    for (auto [a_at, b_at] : {std::pair<int64_t, int64_t>{3, 0}, {0, 3}}) {
      INFO("slots " << a_at << ", " << b_at);
      auto [pa, pb] = convs_into({x, wa, wb}, wide, a_at, b_at);
      Tensor c = ops::concat_channels(pa, pb);
      CHECK(c.data() != wide.data() + a_at * 20);
      CHECK(c.to_vector() == copied.to_vector());
    }
    // Gradients through the view's backward (views of the incoming gradient), against finite differences.
    check_gradients("concat of slices " + d.str(), {x, wa, wb}, [&](const std::vector<Tensor>& in) {
      Tensor buf = Tensor::empty({1, 5, 5, 4}, d);
      auto [a, b] = convs_into(in, buf, 0, 2);
      return ops::mse_loss(ops::concat_channels(a, b), t);
    });
    // And bit for bit those of the copying concat.
    auto grads = [&](bool in_place) {
      std::vector<Tensor> in = {x.clone(), wa.clone(), wb.clone()};
      for (Tensor& v : in) v.set_requires_grad(true);
      Tensor c;
      if (in_place) {
        auto [a, b] = convs_into(in, Tensor::empty({1, 5, 5, 4}, d), 0, 2);
        c = ops::concat_channels(a, b);
      } else {
        c = ops::concat_channels(ops::conv2d(in[0], in[1], Tensor(), o), ops::conv2d(in[0], in[2], Tensor(), o));
      }
      ops::mse_loss(ops::tanh(c), t).backward();
      return std::vector<std::vector<float>>{in[0].grad().to_vector(), in[1].grad().to_vector(),
                                             in[2].grad().to_vector()};
    };
    CHECK(grads(true) == grads(false));
  }
}

TEST_CASE("a convolution's given output tensor must fit, and be fresh", "[engine][errors]") {
  Rng rng(2);
  Tensor x = Tensor::uniform({1, 3, 5, 4}, -1, 1, rng), w = Tensor::uniform({2, 3, 3, 3}, -1, 1, rng);
  const auto o = ops::Conv2dOptions::square(1, 1);
  CHECK_THROWS_WITH(ops::conv2d(x, w, Tensor(), o, ops::Activation::none, Tensor::empty({1, 3, 5, 4})),
                    Catch::Contains("conv2d") && Catch::Contains("(1, 3, 5, 4)") && Catch::Contains("(1, 2, 5, 4)"));
  Tensor wt = Tensor::uniform({3, 2, 4, 4}, -1, 1, rng);
  CHECK_THROWS_WITH(ops::conv_transpose2d(x, wt, Tensor(), ops::Conv2dOptions::square(2, 1), ops::Activation::none,
                                          Tensor::empty({1, 2, 5, 4})),
                    Catch::Contains("conv_transpose2d") && Catch::Contains("(1, 2, 10, 8)"));
  Tensor leaf = Tensor::empty({1, 2, 5, 4});
  leaf.set_requires_grad(true);
  CHECK_THROWS_WITH(ops::conv2d(x, w, Tensor(), o, ops::Activation::none, leaf), Catch::Contains("fresh"));
  CHECK_THROWS_WITH(Tensor::empty({2, 4, 3, 3}).narrow_channels(0, 2), Catch::Contains("N = 1"));
  CHECK_THROWS_WITH(Tensor::empty({1, 4, 3, 3}).narrow_channels(3, 2), Catch::Contains("narrow_channels(3, 2)"));
}

TEST_CASE("sum and mean gradients", "[engine][grad]") {
  for (Device d : tint::testing::engine_test_devices()) {
    Rng rng(5);
    Tensor x = Tensor::uniform({2, 3, 2, 2}, -1, 1, rng, d);
    check_gradients("sum " + d.str(), {x}, [&](const std::vector<Tensor>& in) {
      return ops::add(ops::scale(ops::sum(ops::tanh(in[0])), 0.3f), ops::mean(in[0]));
    });
    // The values themselves, against a host sum.
    auto v = x.to_vector();
    double s = 0;
    for (float f : v) s += f;
    CHECK(ops::sum(x).item() == Approx(s).epsilon(1e-5));
    CHECK(ops::mean(x).item() == Approx(s / v.size()).epsilon(1e-5));
  }
}

TEST_CASE("masked L1 and L2 losses: values and gradients", "[engine][grad][loss]") {
  for (Device d : tint::testing::engine_test_devices()) {
    Rng rng(6);
    Shape s{2, 2, 3, 4};
    Tensor p = Tensor::uniform(s, -1, 1, rng, d);
    // Keep |p - t| > 0.1 so the L1 kink is out of reach of the finite differences.
    std::vector<float> pv = p.to_vector(), tv(pv.size());
    for (size_t i = 0; i < pv.size(); ++i) tv[i] = pv[i] + (rng.uniform01() < 0.5f ? -1 : 1) * rng.uniform(0.1f, 0.8f);
    Tensor t = Tensor::from_vector(tv, s, d);
    std::vector<float> mv(2 * 12);
    for (size_t i = 0; i < mv.size(); ++i) mv[i] = (i % 3 == 0) ? 0.f : 1.f;
    Tensor m = Tensor::from_vector(mv, {2, 1, 3, 4}, d);

    // Values against a host computation in double.
    double l1 = 0, l2 = 0, count = 0;
    for (int n = 0; n < 2; ++n)
      for (int c = 0; c < 2; ++c)
        for (int i = 0; i < 12; ++i) {
          double mask = mv[size_t(n * 12 + i)], diff = pv[size_t((n * 2 + c) * 12 + i)] - tv[size_t((n * 2 + c) * 12 + i)];
          l1 += mask * std::fabs(diff), l2 += mask * diff * diff, count += mask;
        }
    CHECK(ops::l1_loss(p, t, m).item() == Approx(l1 / count).epsilon(1e-5));
    CHECK(ops::mse_loss(p, t, m).item() == Approx(l2 / count).epsilon(1e-5));

    check_gradients("l1 masked " + d.str(), {p}, [&](const std::vector<Tensor>& in) { return ops::l1_loss(in[0], t, m); });
    check_gradients("mse masked " + d.str(), {p}, [&](const std::vector<Tensor>& in) { return ops::mse_loss(in[0], t, m); });
    check_gradients("l1 " + d.str(), {p}, [&](const std::vector<Tensor>& in) { return ops::l1_loss(in[0], t); });
  }
}

TEST_CASE("ops reject bad shapes and devices with messages that name them", "[engine][errors]") {
  Rng rng(7);
  Tensor x = Tensor::uniform({1, 3, 5, 5}, -1, 1, rng);
  Tensor w = Tensor::uniform({4, 2, 3, 3}, -1, 1, rng);
  CHECK_THROWS_WITH(ops::conv2d(x, w, Tensor(), {}), Catch::Contains("(1, 3, 5, 5)") && Catch::Contains("(4, 2, 3, 3)"));
  CHECK_THROWS_WITH(ops::add(x, Tensor::zeros({1, 3, 5, 4})), Catch::Contains("(1, 3, 5, 4)"));
  CHECK_THROWS_WITH(ops::add(x, Tensor::zeros({1, 3, 5, 5}, Device::cuda_emu())), Catch::Contains("different devices"));
  CHECK_THROWS_WITH(ops::conv2d(x, Tensor::uniform({4, 3, 7, 7}, -1, 1, rng), Tensor(), {}), Catch::Contains("empty output"));
  CHECK_THROWS_WITH(ops::mse_loss(x, x, Tensor::zeros({1, 2, 5, 5})), Catch::Contains("mask"));
  CHECK_THROWS_WITH(Device::parse("gpu"), Catch::Contains("'gpu'"));
}
