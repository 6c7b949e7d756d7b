// Fast convolutions: packed GEMMs with the im2col folded into the packing. See conv_fast.h for the
// three products and how the work is split; gemm_micro.h for the packed layouts.
//
// Why this shape (measured on the 2-core AVX-512 development machine, see benchmarks/bench_cpu_conv.cpp):
// the U-Net's convolutions have K = c_in*kh*kw between 9 and 4608 and P = h_out*w_out between 256 and 65536,
// so a GEMM with a 12x32 register tile keeps the FMA units busy on every layer, where a direct convolution
// would need a different loop nest per kernel size and stride. Packing costs one pass over col(x) per
// block of c_out rows; for c_out >= 64 that is a few percent of the FMAs.
#include "kernels/cpu/conv_fast.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <numeric>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "engine/error.h"
#include "engine/thread_pool.h"
#include "kernels/cpu/conv_tasks.h"

namespace tint::cpu {

namespace {

constexpr int64_t kKC = 256;          // depth of one packed block (forward, backward-data)
constexpr int64_t kMC = 96;           // rows of A packed at once; a multiple of kMR
constexpr int64_t kNCForward = 512;   // output pixels per forward task; a multiple of kNR
constexpr int64_t kNCData = 256;      // pixels per dcol panel in backward-data
constexpr int64_t kNCWeight = 256;    // columns of dW (rows of col(x)) per backward-weight task
constexpr int64_t kKCWeight = 256;    // pixels per packed block in backward-weight

// The most floats an operand packed once per call may take (64 MiB); a larger one is packed per task.
constexpr int64_t kMaxShared = int64_t(1) << 24;

static_assert(kMC % kMR == 0 && kNCForward % kNR == 0 && kNCData % kNR == 0 && kNCWeight % kNR == 0);


struct Scratch {
  ScratchBuffer a, b, row, c;
  ScratchBuffer shared;  // the calling thread's: an operand packed once per call and read by every task
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// The taps of row r of col(x): input channel c, kernel offsets (p, q).
struct Tap {
  int64_t c;
  int p, q;
};
Tap tap_of(const Conv2dShape& s, int64_t r) {
  const int64_t kk = int64_t(s.kh) * s.kw;
  return {r / kk, int((r % kk) / s.kw), int(r % s.kw)};
}

// d[u] = src[base + 2u] for u < seg, 0 where base + 2u is outside [0, w): the stride-2 row of im2col. The
// pixels whose 4-pixel group reads inside the row are taken 4 at a time, the even floats of two SSE loads
// (the x86-64 baseline); the edges one at a time. The 4x4 stride-2 layers at 16^2 to 32^2 output spent
// 11% of their time in the one-at-a-time loop with its bounds test per pixel.
void im2col_segment_stride2(float* d, const float* src, int64_t base, int64_t seg, int64_t w) {
  int64_t u = 0;
  for (; u < seg && base + 2 * u < 0; ++u) d[u] = 0.0f;  // left padding
#if defined(__SSE2__)
  for (; u + 4 <= seg && base + 2 * u + 8 <= w; u += 4) {
    const float* p = src + base + 2 * u;
    _mm_storeu_ps(d + u, _mm_shuffle_ps(_mm_loadu_ps(p), _mm_loadu_ps(p + 4), _MM_SHUFFLE(2, 0, 2, 0)));
  }
#endif
  for (; u < seg; ++u) {
    const int64_t jj = base + 2 * u;
    d[u] = jj < w ? src[jj] : 0.0f;  // jj >= 0 from here on
  }
}

// dst[t] = col(x)[tap][j0 + t] for t < len: the input pixel that output pixel j0 + t reads through kernel
// offset (p, q) of one input channel plane xc, or 0 in the padding. Output pixels are walked row by row so
// that stride 1 becomes a memcpy between two zero fills.
void im2col_row(float* dst, const float* xc, const Conv2dShape& s, int p, int q, int64_t j0, int64_t len) {
  int64_t oi = j0 / s.w_out, oj = j0 % s.w_out;
  for (int64_t t = 0; t < len; oj = 0, ++oi) {
    const int64_t seg = std::min<int64_t>(s.w_out - oj, len - t);
    float* d = dst + t;
    t += seg;
    const int64_t ii = oi * s.stride_h - s.pad_h + p;
    if (ii < 0 || ii >= s.h_in) {
      std::fill(d, d + seg, 0.0f);
      continue;
    }
    const float* src = xc + ii * s.w_in;
    const int64_t base = oj * s.stride_w - s.pad_w + q;  // input column of the segment's first pixel
    if (s.stride_w == 1) {
      const int64_t lo = std::clamp<int64_t>(-base, 0, seg);
      const int64_t hi = std::clamp<int64_t>(s.w_in - base, lo, seg);
      std::fill(d, d + lo, 0.0f);
      std::memcpy(d + lo, src + base + lo, size_t(hi - lo) * sizeof(float));
      std::fill(d + hi, d + seg, 0.0f);
    } else if (s.stride_w == 2) {
      im2col_segment_stride2(d, src, base, seg, s.w_in);
    } else {
      for (int64_t u = 0; u < seg; ++u) {
        const int64_t jj = base + u * s.stride_w;
        d[u] = jj >= 0 && jj < s.w_in ? src[jj] : 0.0f;
      }
    }
  }
}

// dst[base + 2u] += v[u] for u < seg where base + 2u is inside [0, w): the transpose of
// im2col_segment_stride2, 4 pixels at a time in the same way. The odd floats between are loaded and stored
// back unchanged (a mask picks them, so that not even a -0 becomes +0): the bits of the one-at-a-time loop.
void col2im_segment_stride2(float* dst, const float* v, int64_t base, int64_t seg, int64_t w) {
  int64_t u = 0;
  while (u < seg && base + 2 * u < 0) ++u;  // left padding: nothing to add
#if defined(__SSE2__)
  const __m128 even = _mm_castsi128_ps(_mm_set_epi32(0, -1, 0, -1));  // lanes 0 and 2
  const __m128 zero = _mm_setzero_ps();
  for (; u + 4 <= seg && base + 2 * u + 8 <= w; u += 4) {
    float* p = dst + base + 2 * u;
    const __m128 vv = _mm_loadu_ps(v + u);
    const __m128 lo = _mm_loadu_ps(p), hi = _mm_loadu_ps(p + 4);
    const __m128 lo_sum = _mm_add_ps(lo, _mm_unpacklo_ps(vv, zero));
    const __m128 hi_sum = _mm_add_ps(hi, _mm_unpackhi_ps(vv, zero));
    _mm_storeu_ps(p, _mm_or_ps(_mm_and_ps(even, lo_sum), _mm_andnot_ps(even, lo)));
    _mm_storeu_ps(p + 4, _mm_or_ps(_mm_and_ps(even, hi_sum), _mm_andnot_ps(even, hi)));
  }
#endif
  for (; u < seg && base + 2 * u < w; ++u) dst[base + 2 * u] += v[u];
}

// The transpose of im2col_row: adds src[t] into the input pixel that output pixel j0 + t read.
void col2im_row_add(float* dxc, const float* src, const Conv2dShape& s, int p, int q, int64_t j0, int64_t len) {
  int64_t oi = j0 / s.w_out, oj = j0 % s.w_out;
  for (int64_t t = 0; t < len; oj = 0, ++oi) {
    const int64_t seg = std::min<int64_t>(s.w_out - oj, len - t);
    const float* v = src + t;
    t += seg;
    const int64_t ii = oi * s.stride_h - s.pad_h + p;
    if (ii < 0 || ii >= s.h_in) continue;
    float* dst = dxc + ii * s.w_in;
    const int64_t base = oj * s.stride_w - s.pad_w + q;
    if (s.stride_w == 1) {
      const int64_t lo = std::clamp<int64_t>(-base, 0, seg);
      const int64_t hi = std::clamp<int64_t>(s.w_in - base, lo, seg);
      add_row(dst + base + lo, v + lo, hi - lo);
    } else if (s.stride_w == 2) {
      col2im_segment_stride2(dst, v, base, seg, s.w_in);
    } else {
      for (int64_t u = 0; u < seg; ++u) {
        const int64_t jj = base + u * s.stride_w;
        if (jj >= 0 && jj < s.w_in) dst[jj] += v[u];
      }
    }
  }
}

// ---- packing (layouts in gemm_micro.h; panel i of A starts at ap + i*kc, panel j of B at bp + j*kc) -------

// A[r][k] = a[r*lda + k] for r < mc, k < kc; rows past mc are zero.
void pack_a_rows(float* ap, const float* a, int64_t lda, int64_t mc, int64_t kc) {
  for (int64_t i = 0; i < mc; i += kMR) {
    float* panel = ap + i * kc;
    const int64_t rows = std::min<int64_t>(kMR, mc - i);
    if (rows == kMR) {
      transpose_rows(panel, kMR, a + i * lda, lda, kMR, kc);
      continue;
    }
    for (int64_t r = 0; r < kMR; ++r) {
      if (r < rows) {
        const float* src = a + (i + r) * lda;
        for (int64_t k = 0; k < kc; ++k) panel[k * kMR + r] = src[k];
      } else {
        for (int64_t k = 0; k < kc; ++k) panel[k * kMR + r] = 0.0f;
      }
    }
  }
}

// A[r][k] = a[k*lda + r] (A stored transposed, as W is for backward-data).
void pack_a_cols(float* ap, const float* a, int64_t lda, int64_t mc, int64_t kc) {
  for (int64_t i = 0; i < mc; i += kMR) {
    float* panel = ap + i * kc;
    const int64_t rows = std::min<int64_t>(kMR, mc - i);
    // A full panel copies kMR floats per step with a constant-size memcpy: a loop of unknown length
    // here compiled to scalar moves and spent more time than the FMAs of small c_out (measured).
    if (rows == kMR) {
      for (int64_t k = 0; k < kc; ++k) std::memcpy(panel + k * kMR, a + k * lda + i, kMR * sizeof(float));
      continue;
    }
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = a + k * lda + i;
      float* d = panel + k * kMR;
      int64_t r = 0;
      for (; r < rows; ++r) d[r] = src[r];
      for (; r < kMR; ++r) d[r] = 0.0f;
    }
  }
}

// B[k][j] = b[k*ldb + j] for k < kc, j < nc; columns past nc are zero.
void pack_b_rows(float* bp, const float* b, int64_t ldb, int64_t kc, int64_t nc) {
  for (int64_t j = 0; j < nc; j += kNR) {
    float* panel = bp + j * kc;
    const int64_t cols = std::min<int64_t>(kNR, nc - j);
    if (cols == kNR) {  // constant size: vector moves, where a variable memcpy became `rep movsq` (slow)
      for (int64_t k = 0; k < kc; ++k) std::memcpy(panel + k * kNR, b + k * ldb + j, kNR * sizeof(float));
      continue;
    }
    for (int64_t k = 0; k < kc; ++k) {
      float* d = panel + k * kNR;
      std::memcpy(d, b + k * ldb + j, size_t(cols) * sizeof(float));
      std::fill(d + cols, d + kNR, 0.0f);
    }
  }
}

// B[k][j] = col(x_b)[k0 + k][j0 + j] (forward): each row of col(x) is built once, then cut into panels.
void pack_b_im2col(float* bp, float* row, const float* xb, const Conv2dShape& s, int64_t k0, int64_t kc,
                   int64_t j0, int64_t nc) {
  const int64_t plane = int64_t(s.h_in) * s.w_in;
  const int64_t ncp = round_up(nc, kNR);
  std::fill(row + nc, row + ncp, 0.0f);
  for (int64_t k = 0; k < kc; ++k) {
    const Tap tap = tap_of(s, k0 + k);
    im2col_row(row, xb + tap.c * plane, s, tap.p, tap.q, j0, nc);
    for (int64_t j = 0; j < ncp; j += kNR) std::memcpy(bp + j * kc + k * kNR, row + j, kNR * sizeof(float));
  }
}

// B[t][r] = col(x_b)[r0 + r][t0 + t] (backward-weight: the reduction runs over pixels). The kNR rows of
// one panel are built first (rows: kNR x kc scratch), then interleaved, so that the panel is written
// contiguously rather than at a stride of kNR floats.
void pack_b_im2col_transposed(float* bp, float* rows, const float* xb, const Conv2dShape& s, int64_t r0,
                              int64_t nc, int64_t t0, int64_t kc) {
  const int64_t plane = int64_t(s.h_in) * s.w_in;
  for (int64_t r = 0; r < nc; r += kNR) {
    const int64_t count = std::min<int64_t>(kNR, nc - r);
    for (int64_t i = 0; i < count; ++i) {
      const Tap tap = tap_of(s, r0 + r + i);
      im2col_row(rows + i * kc, xb + tap.c * plane, s, tap.p, tap.q, t0, kc);
    }
    float* panel = bp + r * kc;
    // A partial panel (the first conv's K = 9) is zeroed whole, then its columns transposed in: one float
    // at a time with a zero fill per pixel, it took longer than the GEMM it fed.
    if (count < kNR) std::memset(panel, 0, size_t(kc) * kNR * sizeof(float));
    transpose_rows(panel, kNR, rows, kc, count, kc);
  }
}

// pack(b, pc, ic, kc, mc) for every block of `count` A operands packed once per call, on the pool: operand
// b, depth blocks pc of kc <= kcmax (of `depth`), row blocks ic of mc <= kMC (of `rows`).
template <typename Pack>
void for_pack_blocks(ThreadPool* pool, int64_t count, int64_t depth, int64_t kcmax, int64_t rows, Pack&& pack) {
  const int64_t kblocks = ceil_div(depth, kcmax), rblocks = ceil_div(rows, kMC);
  run_tasks(pool, count * kblocks * rblocks, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      const int64_t b = t / (kblocks * rblocks), pc = t / rblocks % kblocks * kcmax, ic = t % rblocks * kMC;
      pack(b, pc, ic, std::min(kcmax, depth - pc), std::min(kMC, rows - ic));
    }
  });
}

}  // namespace

void conv2d_forward_fast(ThreadPool* pool, float* y, const float* x, const float* w, const Conv2dShape& s,
                         Isa isa, const ConvEpilogue& ep) {
  const TileKernel tile(isa);
  const int64_t K = int64_t(s.c_in) * s.kh * s.kw, P = int64_t(s.h_out) * s.w_out, M = s.c_out;
  const int64_t x_image = int64_t(s.c_in) * s.h_in * s.w_in;
  const int64_t jblocks = ceil_div(P, kNCForward);
  const int threads = pool ? pool->size() : 1;
  int64_t mblocks = split_for_threads(threads, s.n * jblocks, M, kMR);
  const int64_t mstep = round_up(ceil_div(M, mblocks), kMR);
  mblocks = ceil_div(M, mstep);

  // W is packed once per call when four or more tasks (pixel blocks, images) read the same rows of it:
  // block (rows ic.., depth pc..) at wp + pc * Mp + ic * kc, its panels kc * kMR apart, as pack_a_rows lays
  // them. Packed per task, a 64-channel layer at 128^2 (32 pixel blocks) packed all of W 32 times. With
  // fewer readers each task packs its own blocks, small enough to stay in L2, rather than one pass writing
  // W out to memory and the tasks reading it back: at two readers (a 1024-pixel layer) the shared packing
  // was 3% slower. Measured in one process, the two ways alternated per call, median of 30, 2 threads, the
  // 2-core Xeon (AVX-512), 2026-12-01: 64 -> 64 3x3 at 128^2 1.03-1.04x faster, 512 -> 512 3x3 at 8^2 batch
  // 8 1.11x; one image's 2x2 phase conv at 65^2 1.03x.
  const int64_t Mp = round_up(M, kMR);
  const float* wp = nullptr;
  if (s.n * jblocks >= 4 && Mp * K <= kMaxShared) {
    float* packed = scratch().shared.get(Mp * K);
    for_pack_blocks(pool, 1, K, kKC, M, [&](int64_t, int64_t pc, int64_t ic, int64_t kc, int64_t mc) {
      pack_a_rows(packed + pc * Mp + ic * kc, w + ic * K + pc, K, mc, kc);
    });
    wp = packed;
  }

  auto body = [&](int64_t task_begin, int64_t task_end) {
    Scratch& sc = scratch();
    float* own = wp ? nullptr : sc.a.get(kMC * kKC);
    float* bp = sc.b.get(kKC * kNCForward);
    float* row = sc.row.get(kNCForward);
    for (int64_t task = task_begin; task < task_end; ++task) {
      const int64_t mb = task % mblocks, jb = (task / mblocks) % jblocks, b = task / (mblocks * jblocks);
      const int64_t m0 = mb * mstep, m1 = std::min(M, m0 + mstep);
      const int64_t j0 = jb * kNCForward, nc = std::min(kNCForward, P - j0);
      const float* xb = x + b * x_image;
      float* yb = y + b * M * P;
      for (int64_t pc = 0; pc < K; pc += kKC) {
        const int64_t kc = std::min(kKC, K - pc);
        pack_b_im2col(bp, row, xb, s, pc, kc, j0, nc);
        for (int64_t ic = m0; ic < m1; ic += kMC) {
          const int64_t mc = std::min(kMC, m1 - ic);
          const float* ap = wp ? wp + pc * Mp + ic * kc : own;
          if (!wp) pack_a_rows(own, w + ic * K + pc, K, mc, kc);
          for (int64_t ir = 0; ir < mc; ir += kMR) {
            const int64_t rows = std::min<int64_t>(kMR, mc - ir);
            for (int64_t jr = 0; jr < nc; jr += kNR) {
              const int64_t cols = std::min<int64_t>(kNR, nc - jr);
              float* c = yb + (ic + ir) * P + j0 + jr;
              tile(rows, cols, kc, ap + ir * kc, bp + jr * kc, c, P, pc > 0);
              if (ep.any() && pc + kc == K)  // the tile is final: its bias and ReLU while it is in L1
                for (int64_t r = 0; r < rows; ++r) epilogue_row(c + r * P, cols, ep.bias_of(ic + ir + r), ep.relu);
            }
          }
        }
      }
    }
  };
  run_tasks(pool, s.n * jblocks * mblocks, body);
}

void conv2d_backward_data_fast(ThreadPool* pool, float* dx, const float* dy, const float* w,
                               const Conv2dShape& s, Isa isa) {
  const MicroKernel micro = micro_kernel(isa);
  const int64_t kk = int64_t(s.kh) * s.kw;
  const int64_t K = s.c_in * kk, P = int64_t(s.h_out) * s.w_out, M = s.c_out;
  const int64_t plane = int64_t(s.h_in) * s.w_in, x_image = s.c_in * plane;
  const int threads = pool ? pool->size() : 1;
  int64_t groups = split_for_threads(threads, s.n, s.c_in, 1);
  // A group's first row of W^T, cstep * kk, is a multiple of kMR, so that its panels are those of the
  // packing below.
  const int64_t cstep = round_up(ceil_div(s.c_in, groups), kMR / std::gcd<int64_t>(kk, kMR));
  groups = ceil_div(s.c_in, cstep);

  // W^T is packed once per call, block (rows ic.., depth pc..) at wtp + pc * Kp + ic * kc, when it would
  // otherwise be packed again for every 256-pixel panel and image: 64 times per image for a layer at 128^2.
  // Measured as the forward's: 512 -> 512 3x3 at 8^2 batch 8 1.13x faster, the 2x2 phase conv of 256 -> 512
  // at 32^2 output 1.01-1.06x, 64 -> 64 3x3 at 128^2 1.03x.
  const int64_t Kp = round_up(K, kMR);
  const float* wtp = nullptr;
  if (s.n * ceil_div(P, kNCData) > 1 && Kp * M <= kMaxShared) {
    float* packed = scratch().shared.get(Kp * M);
    for_pack_blocks(pool, 1, M, kKC, K, [&](int64_t, int64_t pc, int64_t ic, int64_t kc, int64_t mc) {
      pack_a_cols(packed + pc * Kp + ic * kc, w + pc * K + ic, K, mc, kc);
    });
    wtp = packed;
  }

  auto body = [&](int64_t task_begin, int64_t task_end) {
    Scratch& sc = scratch();
    float* own = wtp ? nullptr : sc.a.get(kMC * kKC);
    float* bp = sc.b.get(M * kNCData);
    float* dcol = sc.c.get(kMC * kNCData);
    for (int64_t task = task_begin; task < task_end; ++task) {
      const int64_t g = task % groups, b = task / groups;
      const int64_t c0 = g * cstep, c1 = std::min<int64_t>(s.c_in, c0 + cstep);
      float* dxb = dx + b * x_image;
      const float* dyb = dy + b * M * P;
      std::fill(dxb + c0 * plane, dxb + c1 * plane, 0.0f);
      // Every dx element is summed in the same order for any split: pixel panels in order, then the rows
      // of col(x) in order (each task owns whole input channels, so all rows touching an element).
      for (int64_t j0 = 0; j0 < P; j0 += kNCData) {
        const int64_t nc = std::min(kNCData, P - j0), ncp = round_up(nc, kNR);
        // The whole depth of dY for this pixel panel (c_out x 256 pixels, 1 MiB at c_out = 1024) is packed
        // once, depth block pc at bp + pc * ncp, and read by every block of rows of col(x). Packed per
        // (rows, depth) block instead, the 512-channel layers at 16^2 repacked dY once per 96 rows.
        for (int64_t pc = 0; pc < M; pc += kKC)
          pack_b_rows(bp + pc * ncp, dyb + pc * P + j0, P, std::min(kKC, M - pc), nc);
        for (int64_t ic = c0 * kk; ic < c1 * kk; ic += kMC) {
          const int64_t mc = std::min(kMC, c1 * kk - ic);
          for (int64_t pc = 0; pc < M; pc += kKC) {
            const int64_t kc = std::min(kKC, M - pc);
            const float* ap = wtp ? wtp + pc * Kp + ic * kc : own;
            if (!wtp) pack_a_cols(own, w + pc * K + ic, K, mc, kc);
            for (int64_t ir = 0; ir < mc; ir += kMR)
              for (int64_t jr = 0; jr < ncp; jr += kNR)
                micro(kc, ap + ir * kc, bp + pc * ncp + jr * kc, dcol + ir * ncp + jr, ncp, pc > 0);
          }
          for (int64_t r = 0; r < mc; ++r) {
            const Tap tap = tap_of(s, ic + r);
            col2im_row_add(dxb + tap.c * plane, dcol + r * ncp, s, tap.p, tap.q, j0, nc);
          }
        }
      }
    }
  };
  run_tasks(pool, s.n * groups, body);
}

void conv2d_backward_weight_fast(ThreadPool* pool, float* dw, const float* x, const float* dy,
                                 const Conv2dShape& s, Isa isa) {
  const TileKernel tile(isa);
  const int64_t K = int64_t(s.c_in) * s.kh * s.kw, P = int64_t(s.h_out) * s.w_out, M = s.c_out;
  const int64_t x_image = int64_t(s.c_in) * s.h_in * s.w_in;
  const int threads = pool ? pool->size() : 1;
  // Columns of dW are cut into a multiple of `threads` blocks of near-equal width, so that the contiguous
  // chunks of tasks the pool hands each thread weigh the same; c_out is split only when K is too narrow.
  int64_t nblocks = round_up(ceil_div(K, kNCWeight), threads);
  const int64_t nstep = std::min(kNCWeight, round_up(ceil_div(K, nblocks), kNR));
  nblocks = ceil_div(K, nstep);
  int64_t mblocks = nblocks >= threads ? 1 : split_for_threads(threads, nblocks, M, kMR);
  const int64_t mstep = round_up(ceil_div(M, mblocks), kMR);
  mblocks = ceil_div(M, mstep);

  // dY is packed once per call, image b's block (rows ic.., pixels t0..) at dyp + b * Mp * P + t0 * Mp +
  // ic * kc, when several column blocks of dW would each pack it again: 32 times for a 512-channel 4x4 layer.
  // Measured as the forward's: 512 -> 512 at 8^2 (3x3, and 4x4 stride 2) 1.04x faster, 1024 -> 512 3x3 at
  // 16^2 1.06x, 128 -> 128 3x3 at 64^2 1.03x.
  const int64_t Mp = round_up(M, kMR);
  const float* dyp = nullptr;
  if (nblocks > 1 && s.n * Mp * P <= kMaxShared) {
    float* packed = scratch().shared.get(s.n * Mp * P);
    for_pack_blocks(pool, s.n, P, kKCWeight, M, [&](int64_t b, int64_t t0, int64_t ic, int64_t kc, int64_t mc) {
      pack_a_rows(packed + b * Mp * P + t0 * Mp + ic * kc, dy + (b * M + ic) * P + t0, P, mc, kc);
    });
    dyp = packed;
  }

  auto body = [&](int64_t task_begin, int64_t task_end) {
    Scratch& sc = scratch();
    float* own = dyp ? nullptr : sc.a.get(kMC * kKCWeight);
    float* bp = sc.b.get(kKCWeight * kNCWeight);
    float* rows = sc.row.get(kNR * kKCWeight);
    float* acc = sc.c.get(mstep * kNCWeight);
    for (int64_t task = task_begin; task < task_end; ++task) {
      const int64_t mb = task % mblocks, nb = task / mblocks;
      const int64_t m0 = mb * mstep, m1 = std::min(M, m0 + mstep);
      const int64_t r0 = nb * nstep, nc = std::min(nstep, K - r0), ncp = round_up(nc, kNR);
      // Each dW element is summed over (image, pixel block) in order, whatever the split.
      bool first = true;
      for (int64_t b = 0; b < s.n; ++b) {
        const float* xb = x + b * x_image;
        const float* dyb = dy + b * M * P;
        for (int64_t t0 = 0; t0 < P; t0 += kKCWeight) {
          const int64_t kc = std::min(kKCWeight, P - t0);
          pack_b_im2col_transposed(bp, rows, xb, s, r0, nc, t0, kc);
          for (int64_t ic = m0; ic < m1; ic += kMC) {
            const int64_t mc = std::min(kMC, m1 - ic);
            const float* ap = dyp ? dyp + b * Mp * P + t0 * Mp + ic * kc : own;
            if (!dyp) pack_a_rows(own, dyb + ic * P + t0, P, mc, kc);
            for (int64_t ir = 0; ir < mc; ir += kMR) {
              // The rows of a last, partial panel of dY and the columns of a last, partial panel of col(x)
              // are not computed where the kernel can skip them (c_out = 64 is five full panels and one of
              // 4 rows; the first conv's K = 9 is one panel of 9 columns); acc's are never read.
              const int64_t rows = std::min<int64_t>(kMR, mc - ir);
              for (int64_t jr = 0; jr < ncp; jr += kNR) {
                float* c = acc + (ic - m0 + ir) * ncp + jr;
                tile(rows, std::min<int64_t>(kNR, nc - jr), kc, ap + ir * kc, bp + jr * kc, c, ncp, !first);
              }
            }
          }
          first = false;
        }
      }
      for (int64_t o = m0; o < m1; ++o)
        std::memcpy(dw + o * K + r0, acc + (o - m0) * ncp, size_t(nc) * sizeof(float));
    }
  };
  run_tasks(pool, mblocks * nblocks, body);
}

}  // namespace tint::cpu
