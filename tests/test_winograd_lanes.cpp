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
  // Every F(m, r) the convolutions use: input tiles of a = m + r - 1 columns (5 and 3 for the 2x2 kernels:
  // one column of the next tile, not two), output-gradient tiles of m. Each over all kLanes lanes and over
  // one group of 16 (lanes 16..31, the group a short tile row takes), whose rows start at that group.
  for (int r : {3, 2})
    for (int m : {2, 4}) {
      INFO("F(" << m << ", " << r << ")");
      const Transforms& tf = transforms_16_lanes(m, r);
      REQUIRE(tf.vw == 16);
      const int a = m + r - 1, width = m * kLanes + m;
      // Distinct values, so that a wrong index reads a wrong value.
      std::vector<float> image(size_t(a * width));
      for (size_t i = 0; i < image.size(); ++i) image[i] = float(i) + 0.5f;
      for (int l0 : {0, 16}) {
        const int lanes = l0 ? 16 : kLanes;
        INFO("lanes " << l0 << " to " << l0 + lanes - 1);
        const float* rows[6];
        for (int k = 0; k < a; ++k) rows[k] = image.data() + k * width;
        for (int cols : {a, m}) {
          INFO("cols " << cols);
          std::vector<float> d(size_t(a * a * kLanes), -1.0f);
          tf.split(rows, cols, d.data(), l0, lanes);
          int wrong = 0, untouched = 0;
          for (int k = 0; k < cols; ++k)
            for (int c = 0; c < cols; ++c)
              for (int l = 0; l < kLanes; ++l) {
                const float got = d[size_t((k * cols + c) * kLanes + l)];
                if (l < l0 || l >= l0 + lanes)
                  untouched += got == -1.0f;
                else
                  wrong += got != rows[k][m * (l - l0) + c];
              }
          CHECK(wrong == 0);
          CHECK(untouched == cols * cols * (kLanes - lanes));
        }
        std::vector<float> y(size_t(m * m * kLanes)), out(size_t(m * m * kLanes), -1.0f);
        for (size_t i = 0; i < y.size(); ++i) y[i] = float(i) + 0.25f;
        float* out_rows[4];
        for (int k = 0; k < m; ++k) out_rows[k] = out.data() + k * m * kLanes;
        tf.merge(y.data(), out_rows, l0, lanes);
        int wrong = 0;
        for (int k = 0; k < m; ++k)
          for (int c = 0; c < m; ++c)
            for (int l = l0; l < l0 + lanes; ++l)
              wrong += out_rows[k][m * (l - l0) + c] != y[size_t((k * m + c) * kLanes + l)];
        CHECK(wrong == 0);
        if (lanes < kLanes) CHECK(out_rows[0][m * lanes] == -1.0f);  // nothing written past the group
      }
      // V = B^T d B at a stride of 40 floats per entry, against a double recomputation from the matrix.
      const int ld = kLanes + 8;
      std::vector<float> din(size_t(a * a * ld)), v(size_t(a * a * ld), 0.0f);
      for (size_t i = 0; i < din.size(); ++i) din[i] = float(int(i * 7919 % 13) - 6);
      tf.input(din.data(), ld, v.data(), ld);
      const float* bt = r == 3 ? (m == 4 ? &kBt4[0][0] : &kBt2[0][0]) : (m == 4 ? &kBt4k2[0][0] : &kBt2k2[0][0]);
      double worst = 0;
      for (int i = 0; i < a; ++i)
        for (int j = 0; j < a; ++j)
          for (int l = 0; l < kLanes; ++l) {
            double sum = 0;
            for (int k = 0; k < a; ++k)
              for (int q = 0; q < a; ++q)
                sum += double(bt[i * a + k]) * din[size_t((k * a + q) * ld + l)] * bt[j * a + q];
            worst = std::max(worst, std::fabs(sum - v[size_t((i * a + j) * ld + l)]));
          }
      CHECK(worst < 1e-4);
    }
}
