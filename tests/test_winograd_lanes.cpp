// The Winograd tile transforms' shuffles at 16 lanes, the AVX-512 build's vector width, on any machine:
// conv_winograd_transforms.inc built here with 16-float generic vectors and no ISA pragma (GCC splits them
// into what the machine has). test_cpu_kernels covers 4 and 8 lanes (the portable and AVX2 builds) through
// whole convolutions; this is what stands for the AVX-512 build where the CPU lacks it. Checked against the
// definitions in conv_winograd_transforms.h.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "kernels/cpu/conv_winograd_transforms.h"

// Only this test passes 64-byte vectors between functions without AVX-512; they are all internal to it.
#pragma GCC diagnostic ignored "-Wpsabi"
#define TINT_WINO_VW 16
#define TINT_WINO_TABLE transforms_16_lanes
#include "kernels/cpu/conv_winograd_transforms.inc"

using namespace tint::cpu::winograd;

TEST_CASE("winograd split, merge and input transform at 16 lanes against their definition") {
  for (int m : {2, 4}) {
    INFO("m " << m);
    const Transforms& tf = transforms_16_lanes(m);
    const int a = m + 2, width = m * kLanes + m;
    // Distinct values, so that a wrong index reads a wrong value.
    std::vector<float> image(size_t(a * width));
    for (size_t i = 0; i < image.size(); ++i) image[i] = float(i) + 0.5f;
    const float* rows[6];
    for (int r = 0; r < a; ++r) rows[r] = image.data() + r * width;
    for (int cols : {a, m}) {
      INFO("cols " << cols);
      std::vector<float> d(size_t(a * a * kLanes), -1.0f);
      tf.split(rows, cols, d.data());
      int wrong = 0;
      for (int r = 0; r < cols; ++r)
        for (int c = 0; c < cols; ++c)
          for (int l = 0; l < kLanes; ++l)
            wrong += d[size_t((r * cols + c) * kLanes + l)] != rows[r][m * l + c];
      CHECK(wrong == 0);
    }
    std::vector<float> y(size_t(m * m * kLanes)), out(size_t(m * m * kLanes), -1.0f);
    for (size_t i = 0; i < y.size(); ++i) y[i] = float(i) + 0.25f;
    float* out_rows[4];
    for (int r = 0; r < m; ++r) out_rows[r] = out.data() + r * m * kLanes;
    tf.merge(y.data(), out_rows);
    int wrong = 0;
    for (int r = 0; r < m; ++r)
      for (int c = 0; c < m; ++c)
        for (int l = 0; l < kLanes; ++l)
          wrong += out_rows[r][m * l + c] != y[size_t((r * m + c) * kLanes + l)];
    CHECK(wrong == 0);
    // V = B^T d B at a stride of 40 floats per entry, against a double recomputation from the matrix.
    const int ld = kLanes + 8;
    std::vector<float> din(size_t(a * a * ld)), v(size_t(a * a * ld), 0.0f);
    for (size_t i = 0; i < din.size(); ++i) din[i] = float(int(i * 7919 % 13) - 6);
    tf.input(din.data(), ld, v.data(), ld);
    const float* bt = m == 4 ? &kBt4[0][0] : &kBt2[0][0];
    double worst = 0;
    for (int i = 0; i < a; ++i)
      for (int j = 0; j < a; ++j)
        for (int l = 0; l < kLanes; ++l) {
          double s = 0;
          for (int k = 0; k < a; ++k)
            for (int q = 0; q < a; ++q)
              s += double(bt[i * a + k]) * din[size_t((k * a + q) * ld + l)] * bt[j * a + q];
          worst = std::max(worst, std::fabs(s - v[size_t((i * a + j) * ld + l)]));
        }
    CHECK(worst < 1e-4);
  }
}
