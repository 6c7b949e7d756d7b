// The reference kernels (kernels/cpu/reference.h) checked in double: each backward against central finite
// differences of its forward, and the forward convolution against an independent formula.
//
// Method: for an op y = f(x), pick a random r and the scalar L = sum(r * y). Then dL/dy = r, so the
// backward kernel fed dy = r must return dL/dx, which we also estimate by (L(x + h e_i) - L(x - h e_i)) / 2h
// for every element i. In double with h = 1e-6 the two agree to ~1e-8 (relative to the gradient's largest
// element); a wrong index or a missing term gives an error of order 1.
#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "engine/backend.h"
#include "kernels/cpu/reference.h"

using namespace tint;
using Vec = std::vector<double>;

namespace {

Vec random_vec(size_t n, uint32_t seed, double lo = -1, double hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> d(lo, hi);
  Vec v(n);
  for (auto& e : v) e = d(rng);
  return v;
}

double dot(const Vec& a, const Vec& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Largest |analytic - numeric| over the largest |numeric|: the error relative to the gradient's scale.
double relative_error(const Vec& analytic, const Vec& numeric) {
  double err = 0, scale = 1e-12;
  for (size_t i = 0; i < analytic.size(); ++i) {
    err = std::max(err, std::fabs(analytic[i] - numeric[i]));
    scale = std::max(scale, std::fabs(numeric[i]));
  }
  return err / scale;
}

// dL/dx by central differences, L = loss() evaluated with x perturbed in place.
Vec numeric_gradient(Vec& x, const std::function<double()>& loss, double h = 1e-6) {
  Vec g(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const double keep = x[i];
    x[i] = keep + h;
    const double up = loss();
    x[i] = keep - h;
    const double down = loss();
    x[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

constexpr double kTol = 1e-6;

// Check the three conv products of shape s against finite differences of the forward.
void check_conv_gradients(const Conv2dShape& s) {
  INFO("shape " << s.str());
  Vec x = random_vec(size_t(s.x_size()), 1), w = random_vec(size_t(s.w_size()), 2);
  const Vec r = random_vec(size_t(s.y_size()), 3);
  Vec y(size_t(s.y_size()));
  auto loss = [&] {
    ref::conv2d_forward(y.data(), x.data(), w.data(), s);
    return dot(r, y);
  };
  Vec dx(x.size(), NAN), dw(w.size(), NAN);
  ref::conv2d_backward_data(dx.data(), r.data(), w.data(), s);
  ref::conv2d_backward_weight(dw.data(), x.data(), r.data(), s);
  CHECK(relative_error(dx, numeric_gradient(x, loss)) < kTol);
  CHECK(relative_error(dw, numeric_gradient(w, loss)) < kTol);
}

// The transposed convolution through the role swap of make_conv_transpose2d: its forward is the
// conv's backward-data, its input gradient the conv's forward, its weight gradient the conv's
// backward-weight with x and dy swapped.
void check_conv_transpose_gradients(int n, int cin_t, int h, int w_, int cout_t, int k, int stride, int pad,
                                    int out_pad) {
  const Conv2dShape s = make_conv_transpose2d(n, cin_t, h, w_, cout_t, k, k, stride, stride, pad, pad,
                                              out_pad, out_pad);
  INFO("transposed conv as " << s.str());
  Vec xt = random_vec(size_t(s.y_size()), 4), w = random_vec(size_t(s.w_size()), 5);
  const Vec r = random_vec(size_t(s.x_size()), 6);
  Vec yt(size_t(s.x_size()));
  auto loss = [&] {
    ref::conv2d_backward_data(yt.data(), xt.data(), w.data(), s);
    return dot(r, yt);
  };
  Vec dxt(xt.size(), NAN), dw(w.size(), NAN);
  ref::conv2d_forward(dxt.data(), r.data(), w.data(), s);
  ref::conv2d_backward_weight(dw.data(), r.data(), xt.data(), s);
  CHECK(relative_error(dxt, numeric_gradient(xt, loss)) < kTol);
  CHECK(relative_error(dw, numeric_gradient(w, loss)) < kTol);
}

}  // namespace

TEST_CASE("reference conv2d forward equals convolution of an explicitly zero-padded input") {
  // Independent formula: pad x into a bigger zero array first, then index without any bounds test.
  for (const Conv2dShape& s : {make_conv2d(3, 2, 5, 7, 3, 3, 3, 1, 1, 1, 1), make_conv2d(2, 3, 7, 6, 4, 4, 4, 2, 2, 2, 2),
                               make_conv2d(1, 4, 6, 5, 2, 1, 1, 1, 1, 0, 0), make_conv2d(2, 2, 8, 9, 3, 3, 3, 2, 2, 0, 0)}) {
    INFO(s.str());
    const Vec x = random_vec(size_t(s.x_size()), 7), w = random_vec(size_t(s.w_size()), 8);
    const int hp = s.h_in + 2 * s.pad_h + s.kh, wp = s.w_in + 2 * s.pad_w + s.kw;  // room for every tap
    Vec padded(size_t(s.n) * s.c_in * hp * wp, 0.0);
    for (int b = 0; b < s.n; ++b)
      for (int c = 0; c < s.c_in; ++c)
        for (int i = 0; i < s.h_in; ++i)
          for (int j = 0; j < s.w_in; ++j)
            padded[((size_t(b) * s.c_in + c) * hp + i + s.pad_h) * wp + j + s.pad_w] =
                x[((size_t(b) * s.c_in + c) * s.h_in + i) * s.w_in + j];
    Vec expect(size_t(s.y_size()), 0.0), got(size_t(s.y_size()), NAN);
    size_t k = 0;
    for (int b = 0; b < s.n; ++b)
      for (int o = 0; o < s.c_out; ++o)
        for (int i = 0; i < s.h_out; ++i)
          for (int j = 0; j < s.w_out; ++j, ++k)
            for (int c = 0; c < s.c_in; ++c)
              for (int p = 0; p < s.kh; ++p)
                for (int q = 0; q < s.kw; ++q)
                  expect[k] += padded[((size_t(b) * s.c_in + c) * hp + i * s.stride_h + p) * wp + j * s.stride_w + q] *
                               w[((size_t(o) * s.c_in + c) * s.kh + p) * s.kw + q];
    ref::conv2d_forward(got.data(), x.data(), w.data(), s);
    CHECK(relative_error(got, expect) < 1e-14);
  }
}

TEST_CASE("reference conv2d backward-data and backward-weight match finite differences") {
  check_conv_gradients(make_conv2d(3, 2, 5, 7, 3, 3, 3, 1, 1, 1, 1));  // 3x3, padding 1, non-square, batch 3
  check_conv_gradients(make_conv2d(2, 3, 7, 6, 2, 3, 3, 2, 2, 0, 0));  // stride 2, no padding
  check_conv_gradients(make_conv2d(1, 2, 6, 5, 3, 3, 3, 2, 2, 2, 2));  // padding 2 (wider than half the kernel)
  check_conv_gradients(make_conv2d(2, 3, 4, 5, 2, 1, 1, 1, 1, 0, 0));  // 1x1
  check_conv_gradients(make_conv2d(3, 2, 8, 6, 3, 4, 4, 2, 2, 1, 1));  // the U-Net's 4x4 stride-2 downsampling
  check_conv_gradients(make_conv2d(1, 1, 7, 8, 2, 3, 4, 2, 1, 1, 2));  // rectangular kernel, mixed strides
}

TEST_CASE("reference conv-transpose (role swap) matches finite differences") {
  check_conv_transpose_gradients(3, 3, 3, 4, 2, 4, 2, 1, 0);  // the U-Net's 4x4 stride-2 upsampling
  check_conv_transpose_gradients(2, 2, 3, 2, 3, 3, 2, 1, 1);  // output_padding 1
  check_conv_transpose_gradients(1, 2, 4, 3, 2, 3, 1, 0, 0);  // stride 1
}

TEST_CASE("reference element-wise backwards match finite differences") {
  const int64_t n = 37;
  const Vec r = random_vec(n, 11);
  SECTION("relu") {
    Vec x = random_vec(n, 12);
    for (auto& v : x) v += v > 0 ? 0.05 : -0.05;  // keep away from the kink
    Vec y(n), dx(n, NAN);
    ref::relu_backward(dx.data(), r.data(), x.data(), n);
    auto loss = [&] { ref::relu_forward(y.data(), x.data(), n); return dot(r, y); };
    CHECK(relative_error(dx, numeric_gradient(x, loss)) < kTol);
  }
  SECTION("tanh") {
    Vec x = random_vec(n, 13, -2, 2), y(n), dx(n, NAN);
    ref::tanh_forward(y.data(), x.data(), n);
    ref::tanh_backward(dx.data(), r.data(), y.data(), n);
    auto loss = [&] { ref::tanh_forward(y.data(), x.data(), n); return dot(r, y); };
    CHECK(relative_error(dx, numeric_gradient(x, loss)) < kTol);
  }
  SECTION("scale") {
    Vec x = random_vec(n, 14), y(n), dx(n, NAN);
    ref::scale(dx.data(), r.data(), -0.7, n);  // the backward is the same kernel
    auto loss = [&] { ref::scale(y.data(), x.data(), -0.7, n); return dot(r, y); };
    CHECK(relative_error(dx, numeric_gradient(x, loss)) < kTol);
  }
  SECTION("add") {
    Vec a = random_vec(n, 15), b = random_vec(n, 16), y(n);
    auto loss = [&] { ref::add(y.data(), a.data(), b.data(), n); return dot(r, y); };
    CHECK(relative_error(r, numeric_gradient(a, loss)) < kTol);  // da = dy
    CHECK(relative_error(r, numeric_gradient(b, loss)) < kTol);  // db = dy
  }
  SECTION("sum and its broadcast backward") {
    Vec x = random_vec(n, 17), out(1), dx(n, NAN);
    const double dout = 1.3;
    ref::broadcast_scalar(dx.data(), &dout, 1.0, n);
    auto loss = [&] { ref::sum(out.data(), x.data(), n); return dout * out[0]; };
    CHECK(relative_error(dx, numeric_gradient(x, loss)) < kTol);
  }
}

TEST_CASE("reference bias and concat/split backwards match finite differences") {
  const int n = 3, c = 4;
  const int64_t hw = 5;
  SECTION("bias") {
    Vec x = random_vec(size_t(n * c * hw), 21), bias = random_vec(c, 22), y;
    const Vec r = random_vec(x.size(), 23);
    auto loss = [&] { y = x; ref::bias_add(y.data(), bias.data(), n, c, hw); return dot(r, y); };
    Vec dbias(c, NAN);
    ref::bias_backward(dbias.data(), r.data(), n, c, hw);
    CHECK(relative_error(dbias, numeric_gradient(bias, loss)) < kTol);
    CHECK(relative_error(r, numeric_gradient(x, loss)) < kTol);  // dy passes through to the input
  }
  SECTION("concat and split") {
    const int ca = 2, cb = 3;
    Vec a = random_vec(size_t(n * ca * hw), 24), b = random_vec(size_t(n * cb * hw), 25);
    Vec y(size_t(n * (ca + cb) * hw));
    const Vec r = random_vec(y.size(), 26);
    auto loss = [&] { ref::concat_channels(y.data(), a.data(), b.data(), n, ca, cb, hw); return dot(r, y); };
    Vec da(a.size(), NAN), db(b.size(), NAN);
    ref::split_channels(da.data(), db.data(), r.data(), n, ca, cb, hw);
    CHECK(relative_error(da, numeric_gradient(a, loss)) < kTol);
    CHECK(relative_error(db, numeric_gradient(b, loss)) < kTol);
    Vec only_b(b.size(), NAN);  // either output may be skipped
    ref::split_channels<double>(nullptr, only_b.data(), r.data(), n, ca, cb, hw);
    CHECK(only_b == db);
  }
}

TEST_CASE("reference losses (masked and not) match finite differences") {
  const int n = 3, c = 2;
  const int64_t hw = 7;
  Vec pred = random_vec(size_t(n * c * hw), 31), target = random_vec(pred.size(), 32);
  for (size_t i = 0; i < pred.size(); ++i)  // keep |pred - target| away from L1's kink at 0
    if (std::fabs(pred[i] - target[i]) < 0.05) pred[i] += 0.1;
  Vec mask(size_t(n * hw));
  for (size_t i = 0; i < mask.size(); ++i) mask[i] = (i * 7 + 3) % 5 < 3 ? 1.0 : 0.0;
  using Fwd = void (*)(double*, const double*, const double*, const double*, int, int, int64_t);
  using Bwd = void (*)(double*, const double*, const double*, const double*, const double*, const double*, int,
                       int, int64_t);
  struct Case {
    const char* name;
    Fwd fwd;
    Bwd bwd;
  };
  for (const Case& k : {Case{"l1", ref::l1_loss_forward<double>, ref::l1_loss_backward<double>},
                        Case{"mse", ref::mse_loss_forward<double>, ref::mse_loss_backward<double>}})
    for (const double* m : {static_cast<const double*>(nullptr), static_cast<const double*>(mask.data())}) {
      INFO(k.name << (m ? " with mask" : " without mask"));
      Vec out(2);
      const double g = 0.8;
      auto loss = [&] { k.fwd(out.data(), pred.data(), target.data(), m, n, c, hw); return g * out[0]; };
      loss();
      const double expected_count = m ? c * std::count(mask.begin(), mask.end(), 1.0) : double(n * c * hw);
      CHECK(out[1] == expected_count);
      Vec dpred(pred.size(), NAN);
      k.bwd(dpred.data(), &g, out.data(), pred.data(), target.data(), m, n, c, hw);
      CHECK(relative_error(dpred, numeric_gradient(pred, loss)) < kTol);
    }
  SECTION("an all-zero mask gives loss 0 and gradient 0, not NaN") {
    Vec zero(mask.size(), 0.0), out(2), dpred(pred.size(), NAN);
    const double g = 1;
    ref::mse_loss_forward(out.data(), pred.data(), target.data(), zero.data(), n, c, hw);
    CHECK(out[0] == 0.0);
    CHECK(out[1] == 0.0);
    ref::mse_loss_backward(dpred.data(), &g, out.data(), pred.data(), target.data(), zero.data(), n, c, hw);
    CHECK(std::all_of(dpred.begin(), dpred.end(), [](double v) { return v == 0.0; }));
  }
}
