// The "taps" backward-weight: see conv_taps.h for the layout and the index algebra.
#include "kernels/cpu/conv_taps.h"

#include <algorithm>
#include <cstring>

#include "engine/error.h"
#include "engine/thread_pool.h"
#include "kernels/cpu/conv_tasks.h"

namespace tint::cpu {

namespace {

constexpr int64_t kKC = 256;  // pixels per micro-kernel call: A and B blocks stay in L2 across the taps

struct Scratch {
  ScratchBuffer xt, dyt, acc;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// xt and dyt are blocked by channels, kNR of x's and kMR of dY's per block, each block a pixels x width
// array: the micro-kernel's packed panel layouts (gemm_micro.h), so that a tap's panels are plain offsets.
struct Layout {
  int64_t wp, xrows, cblocks, oblocks, x_block, x_image, dy_block, dy_image, pixels;
  explicit Layout(const Conv2dShape& s)
      : wp(s.w_in + 2 * s.pad_w),
        xrows(s.h_in + 2 * s.pad_h + 1),
        cblocks(ceil_div(s.c_in, kNR)),
        oblocks(ceil_div(s.c_out, kMR)),
        x_block(xrows * wp * kNR),
        x_image(cblocks * x_block),
        dy_block(int64_t(s.h_out) * wp * kMR),
        dy_image(oblocks * dy_block),
        pixels(int64_t(s.h_out) * wp) {}
};

// Row r (r < xrows) of image b's x blocks, from x: zeros outside the picture and past c_in.
void fill_xt_row(float* xt, const float* x, const Conv2dShape& s, const Layout& l, int64_t b, int64_t r) {
  const int64_t ii = r - s.pad_h, plane = int64_t(s.h_in) * s.w_in;
  for (int64_t cb = 0; cb < l.cblocks; ++cb) {
    float* row = xt + b * l.x_image + cb * l.x_block + r * l.wp * kNR;
    if (ii < 0 || ii >= s.h_in) {
      std::fill(row, row + l.wp * kNR, 0.0f);
      continue;
    }
    std::fill(row, row + s.pad_w * kNR, 0.0f);
    std::fill(row + (s.pad_w + s.w_in) * kNR, row + l.wp * kNR, 0.0f);
    float* inner = row + s.pad_w * kNR;
    const int64_t channels = std::min<int64_t>(kNR, s.c_in - cb * kNR);
    if (channels < kNR)
      for (int64_t j = 0; j < s.w_in; ++j) std::fill(inner + j * kNR + channels, inner + (j + 1) * kNR, 0.0f);
    transpose_rows(inner, kNR, x + (b * s.c_in + cb * kNR) * plane + ii * s.w_in, plane, channels, s.w_in);
  }
}

// Row i (i < h_out) of image b's dY blocks, from dY: zeros past w_out and past c_out.
void fill_dyt_row(float* dyt, const float* dy, const Conv2dShape& s, const Layout& l, int64_t b, int64_t i) {
  const int64_t plane = int64_t(s.h_out) * s.w_out;
  for (int64_t ob = 0; ob < l.oblocks; ++ob) {
    float* row = dyt + b * l.dy_image + ob * l.dy_block + i * l.wp * kMR;
    std::fill(row + int64_t(s.w_out) * kMR, row + l.wp * kMR, 0.0f);
    const int64_t channels = std::min<int64_t>(kMR, s.c_out - ob * kMR);
    if (channels < kMR)
      for (int64_t j = 0; j < s.w_out; ++j) std::fill(row + j * kMR + channels, row + (j + 1) * kMR, 0.0f);
    transpose_rows(row, kMR, dy + (b * s.c_out + ob * kMR) * plane + i * s.w_out, plane, channels, s.w_out);
  }
}

}  // namespace

bool taps_takes(const Conv2dShape& s) { return s.stride_h == 1 && s.stride_w == 1; }

void conv2d_backward_weight_taps(ThreadPool* pool, float* dw, const float* x, const float* dy, const Conv2dShape& s,
                                 Isa isa) {
  TINT_CHECK(taps_takes(s), "cpu conv taps: backward-weight needs stride 1, got {}", s.str());
  const TileKernel gemm(isa);  // the last block of output channels (64 = 5 x 12 + 4) is an edge
  const Layout l(s);
  // The copies are the calling thread's scratch, shared read-only by the tasks.
  Scratch& own = scratch();
  float* xt = own.xt.get(s.n * l.x_image);
  float* dyt = own.dyt.get(s.n * l.dy_image);
  run_tasks(pool, s.n * l.xrows, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) fill_xt_row(xt, x, s, l, t / l.xrows, t % l.xrows);
  });
  run_tasks(pool, int64_t(s.n) * s.h_out, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) fill_dyt_row(dyt, dy, s, l, t / s.h_out, t % s.h_out);
  });

  const int64_t taps = int64_t(s.kh) * s.kw;
  const int threads = pool ? pool->size() : 1;
  // Taps are grouped so that a task's blocks of dyt and xt serve several taps from L2, split only as far as
  // the threads need: the fewest equal groups that give every thread a task, and the same number of tasks
  // each where a split allows (64 channels on 2 threads: 2 tasks of 9 taps; on 3 threads, 2 x 3 groups of 3;
  // the first cut, ceil(2 threads / blocks) groups, gave one of 2 threads 10 tap blocks against 8).
  int64_t groups = taps;
  for (int64_t g = taps; g >= 1; --g) {
    if (taps % g || l.cblocks * g < threads) continue;
    if ((l.cblocks * g) % threads == 0 || g == 1) groups = g;
  }
  const int64_t per_group = ceil_div(taps, groups);
  const int64_t tile = l.oblocks * kMR * kNR;  // one tap's accumulator: every output channel, kNR inputs
  run_tasks(pool, l.cblocks * groups, [&](int64_t task_begin, int64_t task_end) {
    float* acc = scratch().acc.get(per_group * tile);
    for (int64_t task = task_begin; task < task_end; ++task) {
      const int64_t cb = task % l.cblocks, g = task / l.cblocks;
      const int64_t tap0 = g * per_group, tap1 = std::min(taps, tap0 + per_group);
      bool first = true;
      for (int64_t b = 0; b < s.n; ++b) {
        const float* xb = xt + b * l.x_image + cb * l.x_block;
        const float* dyb = dyt + b * l.dy_image;
        for (int64_t k0 = 0; k0 < l.pixels; k0 += kKC) {
          const int64_t kc = std::min(kKC, l.pixels - k0);
          for (int64_t tap = tap0; tap < tap1; ++tap) {
            const int64_t offset = (tap / s.kw) * l.wp + tap % s.kw;
            const float* panel_b = xb + (k0 + offset) * kNR;
            float* c = acc + (tap - tap0) * tile;
            for (int64_t ob = 0; ob < l.oblocks; ++ob) {
              const float* panel_a = dyb + ob * l.dy_block + k0 * kMR;
              const int64_t rows = std::min<int64_t>(kMR, s.c_out - ob * kMR);
              gemm(rows, kNR, kc, panel_a, panel_b, c + ob * kMR * kNR, kNR, !first);
            }
          }
          first = false;
        }
      }
      const int64_t cols = std::min<int64_t>(kNR, s.c_in - cb * kNR);
      for (int64_t tap = tap0; tap < tap1; ++tap) {
        const float* c = acc + (tap - tap0) * tile;
        for (int64_t o = 0; o < s.c_out; ++o)
          for (int64_t j = 0; j < cols; ++j) dw[(o * s.c_in + cb * kNR + j) * taps + tap] = c[o * kNR + j];
      }
    }
  });
}

}  // namespace tint::cpu
