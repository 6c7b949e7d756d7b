// The emulator's warp matrix functions (kernels/emu/emu_wmma.h): TF32 rounding and the products against a
// host reference computed independently (in double, from inputs rounded by arithmetic rather than bit
// masks), the seeded element layout, and the collective's checks.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <vector>

#include "kernels/cuda/cuda_compat.h"
#include "tests/emu_test_util.h"

namespace wmma = nvcuda::wmma;

namespace {

using emu_test::DeviceBuffer;
using emu_test::SeedScope;

// TF32 by arithmetic: v = m * 2^e with 0.5 <= |m| < 1; keep 11 significant bits, halves away from zero.
double tf32_round_ref(float v) {
  if (v == 0.f || !std::isfinite(v)) return v;
  int e = 0;
  const double m = std::frexp(double(v), &e);
  return std::ldexp(std::round(m * 2048.0), e - 11);  // std::round: halves away from zero
}
double tf32_truncate_ref(float v) {
  if (v == 0.f || !std::isfinite(v)) return v;
  int e = 0;
  const double m = std::frexp(double(v), &e);
  return std::ldexp(std::trunc(m * 2048.0), e - 11);
}

std::vector<float> random_values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-2.f, 2.f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

}  // namespace

// C (M x N, row-major) = A (M x K, stored k-major: a[k * M + m]) times B (K x N, row-major) plus C's own
// values; one warp per 16 x 16 tile of C (the warp's index picks it), `convert` rounds the inputs to TF32.
__global__ void wmma_gemm(int M, int N, int K, const float* a, const float* b, float* c, bool convert) {
  const int warp = int(threadIdx.x / 32), tiles_n = N / 16;
  const int m0 = (warp / tiles_n) * 16, n0 = (warp % tiles_n) * 16;
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc;
  wmma::load_matrix_sync(acc, c + m0 * N + n0, unsigned(N), wmma::mem_row_major);
  for (int k = 0; k < K; k += 8) {
    wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fb;
    wmma::load_matrix_sync(fa, a + k * M + m0, unsigned(M));
    wmma::load_matrix_sync(fb, b + k * N + n0, unsigned(N));
    if (convert) {
      for (int i = 0; i < fa.num_elements; ++i) fa.x[i] = wmma::__float_to_tf32(fa.x[i]);
      for (int i = 0; i < fb.num_elements; ++i) fb.x[i] = wmma::__float_to_tf32(fb.x[i]);
    }
    wmma::mma_sync(acc, fa, fb, acc);
  }
  wmma::store_matrix_sync(c + m0 * N + n0, acc, unsigned(N), wmma::mem_row_major);
}

// Lane l writes which tile element its x[i] holds, by loading a tile whose values are their own indices.
__global__ void wmma_layout(const float* index_tile, float* where) {
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa;
  wmma::load_matrix_sync(fa, index_tile, 8);
  for (int i = 0; i < fa.num_elements; ++i) where[threadIdx.x * 4 + i] = fa.x[i];
}

// The same product written by a kernel that assumes a layout (lane l holds row l / 2 of A, ...): what a
// kernel that reads fragment elements by position would compute.
__global__ void wmma_row_sums_assuming_layout(const float* a, float* row_sum) {
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa;
  wmma::load_matrix_sync(fa, a, 8);
  float s = 0;
  for (int i = 0; i < fa.num_elements; ++i) s += fa.x[i];
  s += __shfl_xor_sync(0xffffffffu, s, 1);
  if (threadIdx.x % 2 == 0) row_sum[threadIdx.x / 2] = s;
}

__global__ void wmma_misaligned(const float* a) {
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa;
  wmma::load_matrix_sync(fa, a + 1, 8);
}

__global__ void wmma_diverged(const float* a, float* out) {
  wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa;
  wmma::fill_fragment(fa, 0.f);
  if (threadIdx.x < 16) wmma::load_matrix_sync(fa, a, 8);
  out[threadIdx.x] = fa.x[0];
}

__global__ void wmma_partial_warp(float* out) {
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc;
  wmma::fill_fragment(acc, 1.f);
  wmma::store_matrix_sync(out, acc, 16, wmma::mem_row_major);
}

TEST_CASE("emu wmma: __float_to_tf32 rounds to 10 mantissa bits, halves away from zero", "[emu][wmma]") {
  const float one_half_ulp = 1.f + std::ldexp(1.f, -11);  // exactly halfway between two TF32 values
  CHECK(wmma::__float_to_tf32(one_half_ulp) == 1.f + std::ldexp(1.f, -10));
  CHECK(wmma::__float_to_tf32(-one_half_ulp) == -(1.f + std::ldexp(1.f, -10)));
  CHECK(wmma::__float_to_tf32(1.f + std::ldexp(1.f, -12)) == 1.f);
  CHECK(std::isinf(wmma::__float_to_tf32(INFINITY)));
  CHECK(std::isnan(wmma::__float_to_tf32(NAN)));
  for (float v : random_values(20000, 7)) {
    const float got = wmma::__float_to_tf32(v);
    REQUIRE(double(got) == tf32_round_ref(v));
  }
}

TEST_CASE("emu wmma: a tiled TF32 GEMM matches the double reference of TF32-rounded inputs, under every seed",
          "[emu][wmma]") {
  const int M = 32, N = 48, K = 24;  // six warps, three k steps
  const std::vector<float> a = random_values(size_t(K) * M, 1), b = random_values(size_t(K) * N, 2),
                           c0 = random_values(size_t(M) * N, 3);
  for (const bool convert : {true, false}) {
    // What the tensor cores compute: rounded (or, unconverted, truncated) inputs, exact products.
    std::vector<double> want(c0.begin(), c0.end());
    double far_from_fp32 = 0;
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) {
        double fp32 = c0[size_t(m) * N + n];
        for (int k = 0; k < K; ++k) {
          const float av = a[size_t(k) * M + m], bv = b[size_t(k) * N + n];
          want[size_t(m) * N + n] += convert ? tf32_round_ref(av) * tf32_round_ref(bv)
                                             : tf32_truncate_ref(av) * tf32_truncate_ref(bv);
          fp32 += double(av) * bv;
        }
        far_from_fp32 = std::max(far_from_fp32, std::abs(fp32 - want[size_t(m) * N + n]));
      }
    // The reduced precision is visible: a kernel that multiplied in fp32 would fail the check below.
    REQUIRE(far_from_fp32 > 1e-3);
    for (const uint64_t seed : {0, 1, 2, 3}) {
      SeedScope scope(seed);
      DeviceBuffer<float> da(a), db(b), dc(c0);
      TINT_LAUNCH(wmma_gemm, 1, 32 * (M / 16) * (N / 16), 0, nullptr, M, N, K, da.ptr, db.ptr, dc.ptr, convert);
      TINT_CUDA_CHECK(cudaDeviceSynchronize());
      const std::vector<float> got = dc.get();
      for (size_t i = 0; i < got.size(); ++i) {
        INFO("convert " << convert << " seed " << seed << " element " << i);
        REQUIRE(std::abs(double(got[i]) - want[i]) <= 1e-5 * (1 + std::abs(want[i])));
      }
    }
  }
}

TEST_CASE("emu wmma: the element layout is a permutation that changes with the seed", "[emu][wmma]") {
  std::vector<float> index_tile(128);
  for (int i = 0; i < 128; ++i) index_tile[size_t(i)] = float(i);
  DeviceBuffer<float> tile(index_tile);
  std::set<std::vector<float>> layouts;
  for (const uint64_t seed : {0, 1, 2}) {
    SeedScope scope(seed);
    DeviceBuffer<float> where(128);
    TINT_LAUNCH(wmma_layout, 1, 32, 0, nullptr, tile.ptr, where.ptr);
    const std::vector<float> got = where.get();
    REQUIRE(std::set<float>(got.begin(), got.end()).size() == 128);  // every element, once
    layouts.insert(got);
  }
  CHECK(layouts.size() == 3);

  // A kernel that assumes lane pairs hold rows computes wrong row sums, differently under each seed.
  const std::vector<float> a = random_values(128, 4);
  DeviceBuffer<float> da(a);
  int wrong_seeds = 0;
  for (const uint64_t seed : {1, 2, 3}) {
    SeedScope scope(seed);
    DeviceBuffer<float> sums(16);
    TINT_LAUNCH(wmma_row_sums_assuming_layout, 1, 32, 0, nullptr, da.ptr, sums.ptr);
    const std::vector<float> got = sums.get();
    bool wrong = false;
    for (int r = 0; r < 16; ++r) {
      double want = 0;
      for (int k = 0; k < 8; ++k) want += a[size_t(r) * 8 + k];
      wrong |= std::abs(got[size_t(r)] - want) > 1e-4;
    }
    wrong_seeds += wrong;
  }
  CHECK(wrong_seeds == 3);
}

TEST_CASE("emu wmma: misaligned pointers, diverged and partial warps fail the launch with the thread named",
          "[emu][wmma]") {
  DeviceBuffer<float> a(256), out(256);
  auto misaligned = [&] { TINT_LAUNCH(wmma_misaligned, 1, 32, 0, nullptr, a.ptr); };
  auto diverged = [&] { TINT_LAUNCH(wmma_diverged, 1, 32, 0, nullptr, a.ptr, out.ptr); };
  auto partial = [&](int threads) { TINT_LAUNCH(wmma_partial_warp, 1, threads, 0, nullptr, out.ptr); };
  REQUIRE_THROWS_WITH(misaligned(), Catch::Contains("wmma_misaligned") && Catch::Contains("32-byte aligned"));
  REQUIRE_THROWS_WITH(diverged(), Catch::Contains("wmma_diverged"));
  REQUIRE_THROWS_WITH(partial(48), Catch::Contains("partial warp"));
  // A whole warp works right after.
  partial(32);
  for (float v : out.get()) REQUIRE(v == 1.f);
}
