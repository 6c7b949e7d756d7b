// The micro-kernels. Each ISA variant is a function with its own target attribute, so this file compiles
// for plain x86-64 and the binary runs anywhere; best_isa() picks the widest one the CPU has.
#include "kernels/cpu/gemm_micro.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TINT_X86 1
#endif

namespace tint::cpu {

namespace {

void micro_generic(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate) {
  float acc[kMR][kNR] = {};
  for (int64_t k = 0; k < kc; ++k)
    for (int r = 0; r < kMR; ++r) {
      const float ar = a[k * kMR + r];
      for (int j = 0; j < kNR; ++j) acc[r][j] += ar * b[k * kNR + j];
    }
  for (int r = 0; r < kMR; ++r)
    for (int j = 0; j < kNR; ++j) c[r * ldc + j] = accumulate ? c[r * ldc + j] + acc[r][j] : acc[r][j];
}

#ifdef TINT_X86

__attribute__((target("avx512f"))) void micro_avx512(int64_t kc, const float* a, const float* b, float* c,
                                                     int64_t ldc, bool accumulate) {
  __m512 acc[kMR][2];
// The same prefetch of C and unrolling as the AVX2 kernel below (there they were measured; this machine
// class is not at hand in every session, so the two stay alike).
#pragma GCC unroll 12
  for (int r = 0; r < kMR; ++r) {
    acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 16), _MM_HINT_T0);
  }
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(b + k * kNR);
    const __m512 b1 = _mm512_load_ps(b + k * kNR + 16);
#pragma GCC unroll 12
    for (int r = 0; r < kMR; ++r) {
      const __m512 ar = _mm512_set1_ps(a[k * kMR + r]);
      acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);
    }
  }
#pragma GCC unroll 12
  for (int r = 0; r < kMR; ++r) {
    float* row = c + r * ldc;
    if (accumulate) {
      acc[r][0] = _mm512_add_ps(acc[r][0], _mm512_loadu_ps(row));
      acc[r][1] = _mm512_add_ps(acc[r][1], _mm512_loadu_ps(row + 16));
    }
    _mm512_storeu_ps(row, acc[r][0]);
    _mm512_storeu_ps(row + 16, acc[r][1]);
  }
}

// The corner of a tile on AVX-512: only its R rows are computed, and only the 16-column halves that hold
// columns (Wide: both), the columns past `cols` masked off in the loads and stores of c, so no tile and no
// scalar copy. The same multiply-adds per element in the same order as micro_avx512 (a chain of FMAs from
// zero over k, then + c): the same bits. Computed whole, an edge of 4 rows (c_out = 64: five full panels
// and one of 4) did three times the FMAs it needed, and copied its corner out one float at a time.
template <int R, bool Wide>
__attribute__((target("avx512f"), always_inline)) inline void corner_avx512(int64_t kc, const float* a,
                                                                            const float* b, float* c,
                                                                            int64_t ldc, bool accumulate,
                                                                            __mmask16 m0, __mmask16 m1) {
  constexpr int H = Wide ? 2 : 1;
  __m512 acc[R][H];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
    for (int h = 0; h < H; ++h) acc[r][h] = _mm512_setzero_ps();
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
  }
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    __m512 bv[H];
    for (int h = 0; h < H; ++h) bv[h] = _mm512_load_ps(b + k * kNR + 16 * h);
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      const __m512 ar = _mm512_set1_ps(a[k * kMR + r]);
      for (int h = 0; h < H; ++h) acc[r][h] = _mm512_fmadd_ps(ar, bv[h], acc[r][h]);
    }
  }
  const __mmask16 mask[2] = {m0, m1};
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
    float* row = c + r * ldc;
    for (int h = 0; h < H; ++h) {
      if (accumulate) acc[r][h] = _mm512_add_ps(acc[r][h], _mm512_maskz_loadu_ps(mask[h], row + 16 * h));
      _mm512_mask_storeu_ps(row + 16 * h, mask[h], acc[r][h]);
    }
  }
}

template <bool Wide>
__attribute__((target("avx512f"))) void corner_rows_avx512(int64_t rows, int64_t kc, const float* a, const float* b,
                                                          float* c, int64_t ldc, bool accumulate, __mmask16 m0,
                                                          __mmask16 m1) {
  switch (rows) {
    case 1: return corner_avx512<1, Wide>(kc, a, b, c, ldc, accumulate, m0, m1);
    case 2: return corner_avx512<2, Wide>(kc, a, b, c, ldc, accumulate, m0, m1);
    case 3: return corner_avx512<3, Wide>(kc, a, b, c, ldc, accumulate, m0, m1);
    case 4: return corner_avx512<4, Wide>(kc, a, b, c, ldc, accumulate, m0, m1);
    case 5: return corner_avx512<5, Wide>(kc, a, b, c, ldc, accumulate, m0, m1);
    case 6: return corner_avx512<6, Wide>(kc, a, b, c, ldc, accumulate, m0, m1);
    case 7: return corner_avx512<7, Wide>(kc, a, b, c, ldc, accumulate, m0, m1);
    case 8: return corner_avx512<8, Wide>(kc, a, b, c, ldc, accumulate, m0, m1);
    case 9: return corner_avx512<9, Wide>(kc, a, b, c, ldc, accumulate, m0, m1);
    case 10: return corner_avx512<10, Wide>(kc, a, b, c, ldc, accumulate, m0, m1);
    case 11: return corner_avx512<11, Wide>(kc, a, b, c, ldc, accumulate, m0, m1);
    default: return corner_avx512<12, Wide>(kc, a, b, c, ldc, accumulate, m0, m1);
  }
}

__attribute__((target("avx512f"))) void edge_avx512(int64_t rows, int64_t cols, int64_t kc, const float* a,
                                                    const float* b, float* c, int64_t ldc, bool accumulate) {
  const auto bits = [](int64_t n) { return __mmask16(n >= 16 ? 0xFFFF : (1u << n) - 1); };
  if (cols > 16)
    corner_rows_avx512<true>(rows, kc, a, b, c, ldc, accumulate, 0xFFFF, bits(cols - 16));
  else
    corner_rows_avx512<false>(rows, kc, a, b, c, ldc, accumulate, bits(cols), 0);
}

// AVX2 has 16 ymm registers: the 12x32 tile is done as four 6x16 blocks (12 accumulators, two B vectors,
// one broadcast), re-reading the packed panels. The two row blocks of one column half run back to back, so
// that the half of the B panel they share is still in L1 for the second; the depth loop is unrolled by two
// and the C rows are prefetched before the FMAs, so that the final load-add-store does not wait on memory.
// Measured against the plain order (r0 outer, no unrolling, no prefetch), interleaved on this machine
// (AMD EPYC, AVX2): 1.07-1.14x on a forward-like sweep of one A panel across 16 B panels.
// R < 6 rows: the same block with fewer accumulators, for the last rows of an edge tile.
template <int R = 6>
__attribute__((target("avx2,fma"), always_inline)) inline void block_avx2(int64_t kc, const float* a,
                                                                           const float* b, float* c, int64_t ldc,
                                                                           bool accumulate, int r0, int j0) {
  __m256 acc[R][2];
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    _mm_prefetch(reinterpret_cast<const char*>(c + (r0 + r) * ldc + j0), _MM_HINT_T0);
  }
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(b + k * kNR + j0);
    const __m256 b1 = _mm256_load_ps(b + k * kNR + j0 + 8);
#pragma GCC unroll 6
    for (int r = 0; r < R; ++r) {
      const __m256 ar = _mm256_broadcast_ss(a + k * kMR + r0 + r);
      acc[r][0] = _mm256_fmadd_ps(ar, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(ar, b1, acc[r][1]);
    }
  }
#pragma GCC unroll 6
  for (int r = 0; r < R; ++r) {
    float* row = c + (r0 + r) * ldc + j0;
    if (accumulate) {
      acc[r][0] = _mm256_add_ps(acc[r][0], _mm256_loadu_ps(row));
      acc[r][1] = _mm256_add_ps(acc[r][1], _mm256_loadu_ps(row + 8));
    }
    _mm256_storeu_ps(row, acc[r][0]);
    _mm256_storeu_ps(row + 8, acc[r][1]);
  }
}

__attribute__((target("avx2,fma"))) void micro_avx2(int64_t kc, const float* a, const float* b, float* c,
                                                    int64_t ldc, bool accumulate) {
  for (int j0 = 0; j0 < kNR; j0 += 16)
    for (int r0 = 0; r0 < kMR; r0 += 6) block_avx2(kc, a, b, c, ldc, accumulate, r0, j0);
}

#endif  // TINT_X86

// The corner of a tile computed whole into `tile` (kMR x kNR, row stride kNR) added or stored into c.
void store_corner(const float* tile, int64_t rows, int64_t cols, float* c, int64_t ldc, bool accumulate) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) c[r * ldc + j] = (accumulate ? c[r * ldc + j] : 0.0f) + tile[r * kNR + j];
}

template <MicroKernel kFull>
void edge_whole(int64_t rows, int64_t cols, int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                bool accumulate) {
  alignas(64) float tile[kMR * kNR];
  kFull(kc, a, b, tile, kNR, false);
  store_corner(tile, rows, cols, c, ldc, accumulate);
}

#ifdef TINT_X86
// One block of n = 1..6 rows.
__attribute__((target("avx2,fma"))) void rows_avx2(int n, int64_t kc, const float* a, const float* b, float* c,
                                                   int64_t ldc, bool accumulate, int r0, int j0) {
  switch (n) {
    case 1: return block_avx2<1>(kc, a, b, c, ldc, accumulate, r0, j0);
    case 2: return block_avx2<2>(kc, a, b, c, ldc, accumulate, r0, j0);
    case 3: return block_avx2<3>(kc, a, b, c, ldc, accumulate, r0, j0);
    case 4: return block_avx2<4>(kc, a, b, c, ldc, accumulate, r0, j0);
    case 5: return block_avx2<5>(kc, a, b, c, ldc, accumulate, r0, j0);
    default: return block_avx2<6>(kc, a, b, c, ldc, accumulate, r0, j0);
  }
}

// Only the rows and 16-column halves that hold part of the corner are computed: the rows as one block of
// up to 6, or two of near-equal size (8 rows, the edge of c_out = 128, 256 and 512, are two 4-row blocks
// rather than 6 + 6; 4 rows, c_out = 64, one 4-row block). Full-width corners are written straight into c,
// row by row as the full kernel does, so no tile and no scalar copy; narrower ones go through a tile.
// The same multiply-adds per element in the same order as the full kernel: the same bits.
// Measured on phase forward of down.1.conv1 at 256^2 (128 output channels: 10 full row panels and an edge
// of 8; 2 threads, 2-core AMD EPYC): edge_avx2 and its copy took 8% of the samples before; the op 1.02x
// faster after (mean of six alternated pairs, 0.99-1.05).
__attribute__((target("avx2,fma"))) void edge_avx2(int64_t rows, int64_t cols, int64_t kc, const float* a,
                                                   const float* b, float* c, int64_t ldc, bool accumulate) {
  const int first = rows <= 6 ? int(rows) : int(rows + 1) / 2, second = int(rows) - first;
  alignas(64) float tile[kMR * kNR];
  const bool direct = cols == kNR;
  float* dst = direct ? c : tile;
  for (int j0 = 0; j0 < cols; j0 += 16) {
    rows_avx2(first, kc, a, b, dst, direct ? ldc : kNR, direct && accumulate, 0, j0);
    if (second > 0) rows_avx2(second, kc, a, b, dst, direct ? ldc : kNR, direct && accumulate, first, j0);
  }
  if (!direct) store_corner(tile, rows, cols, c, ldc, accumulate);
}
#endif

Isa detect() {
  Isa isa = Isa::generic;
#ifdef TINT_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) isa = Isa::avx2;
  if (__builtin_cpu_supports("avx512f")) isa = Isa::avx512;
#endif
  // An override can only lower the choice: asking for AVX-512 on a machine without it must not crash.
  if (const char* env = std::getenv("TINT_CPU_ISA")) {
    Isa want = isa;
    if (std::strcmp(env, "generic") == 0) want = Isa::generic;
    if (std::strcmp(env, "avx2") == 0) want = Isa::avx2;
    if (std::strcmp(env, "avx512") == 0) want = Isa::avx512;
    if (int(want) < int(isa)) isa = want;
  }
  return isa;
}

}  // namespace

Isa best_isa() {
  static const Isa isa = detect();
  return isa;
}

MicroKernel micro_kernel(Isa isa) {
#ifdef TINT_X86
  if (isa == Isa::avx512) return micro_avx512;
  if (isa == Isa::avx2) return micro_avx2;
#endif
  return micro_generic;
}

EdgeKernel edge_kernel(Isa isa) {
#ifdef TINT_X86
  if (isa == Isa::avx512) return edge_avx512;
  if (isa == Isa::avx2) return edge_avx2;
#endif
  return edge_whole<micro_generic>;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "generic";
  }
}

}  // namespace tint::cpu
