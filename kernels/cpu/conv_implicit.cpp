// Backward-data as an implicit convolution: see conv_implicit.h for the phase split, gemm_micro.h for the
// packed layouts the micro-kernel reads.
//
// Blocking follows gemm's forward (conv_fast.cpp), which is the same GEMM with x in place of dY: depth
// blocks of 256 (one packed B block of 256 x 512 floats stays in L2), 96 rows of A packed at once, 512
// pixels per task. The phase buffer holds a task's whole block (its rows rounded up to the 12-row tile,
// its pixels to the 32-column tile), so the micro-kernel never needs an edge tile and the interleave into a
// strided phase of dx happens once per element, after the last depth block.
#include "kernels/cpu/conv_implicit.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>

#include "engine/error.h"
#include "engine/thread_pool.h"
#include "kernels/cpu/conv_tasks.h"

namespace tint::cpu {

namespace {

constexpr int64_t kKC = 256;  // depth of one packed block
constexpr int64_t kMC = 96;   // rows of A (input channels) packed at once; a multiple of kMR
constexpr int64_t kNC = 512;  // phase pixels per task; a multiple of kNR

static_assert(kMC % kMR == 0 && kNC % kNR == 0);


struct Scratch {
  ScratchBuffer a, b, row, acc;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// One axis (rows or columns) of one stride phase r in [0, stride): the dx positions first + u*stride for
// u < count, reached by the taps tap0 + t*stride for t < taps, through dY index u + offset - t.
struct PhaseAxis {
  int64_t first, count, tap0, taps, offset;
};

PhaseAxis phase_axis(int64_t r, int64_t pad, int64_t stride, int64_t size, int64_t k) {
  PhaseAxis a;
  a.first = ((r - pad) % stride + stride) % stride;  // the smallest i >= 0 with (i + pad) % stride == r
  a.count = a.first < size ? ceil_div(size - a.first, stride) : 0;
  a.tap0 = r;
  a.taps = r < k ? ceil_div(k - r, stride) : 0;
  a.offset = (a.first + pad - r) / stride;  // exact: first + pad >= r and congruent to it
  return a;
}

struct Phase {
  PhaseAxis h, w;
  int64_t pixels() const { return h.count * w.count; }
  int64_t taps() const { return h.taps * w.taps; }
};

Phase phase_of(const Conv2dShape& s, int64_t index) {
  return {phase_axis(index / s.stride_w, s.pad_h, s.stride_h, s.h_in, s.kh),
          phase_axis(index % s.stride_w, s.pad_w, s.stride_w, s.w_in, s.kw)};
}

// dst[t] = dY_o[t0 + t] seen through tap (th, tw) of the phase: phase pixel (u, v) reads dY row
// u + offset_h - th, column v + offset_w - tw, or 0 outside dY. Along a phase row that is one contiguous
// run of dY between two zero fills.
void gather_row(float* dst, const float* dyo, const Conv2dShape& s, const Phase& ph, int64_t th, int64_t tw,
                int64_t t0, int64_t len) {
  const int64_t wp = ph.w.count;
  int64_t u = t0 / wp, v = t0 % wp;
  for (int64_t t = 0; t < len; v = 0, ++u) {
    const int64_t seg = std::min(wp - v, len - t);
    float* d = dst + t;
    t += seg;
    const int64_t oi = u + ph.h.offset - th;
    if (oi < 0 || oi >= s.h_out) {
      std::fill(d, d + seg, 0.0f);
      continue;
    }
    const int64_t base = v + ph.w.offset - tw;  // dY column of the run's first pixel
    const int64_t lo = std::clamp<int64_t>(-base, 0, seg);
    const int64_t hi = std::clamp<int64_t>(s.w_out - base, lo, seg);
    std::fill(d, d + lo, 0.0f);
    std::memcpy(d + lo, dyo + oi * s.w_out + base + lo, size_t(hi - lo) * sizeof(float));
    std::fill(d + hi, d + seg, 0.0f);
  }
}

// B[k][j] = col(dY_b)[k0 + k][t0 + j], depth row k = (o, th, tw) in that order; panels of kNR columns,
// columns past nc zero. Each row is gathered once into `row`, then cut into panels.
void pack_b_phase(float* bp, float* row, const float* dyb, const Conv2dShape& s, const Phase& ph, int64_t k0,
                  int64_t kc, int64_t t0, int64_t nc) {
  const int64_t plane = int64_t(s.h_out) * s.w_out, taps = ph.taps();
  const int64_t ncp = round_up(nc, kNR);
  std::fill(row + nc, row + ncp, 0.0f);
  for (int64_t k = 0; k < kc; ++k) {
    const int64_t r = k0 + k, o = r / taps, th = (r % taps) / ph.w.taps, tw = r % ph.w.taps;
    gather_row(row, dyb + o * plane, s, ph, th, tw, t0, nc);
    for (int64_t j = 0; j < ncp; j += kNR) std::memcpy(bp + j * kc + k * kNR, row + j, kNR * sizeof(float));
  }
}

// A[r][k] = W[o, c0 + r, tap0_h + th*sh, tap0_w + tw*sw] for depth row k0 + k = (o, th, tw): the phase's
// sub-kernel, transposed (rows are input channels). Rows past mc are zero.
void pack_a_phase(float* ap, const float* w, const Conv2dShape& s, const Phase& ph, int64_t c0, int64_t mc,
                  int64_t k0, int64_t kc) {
  const int64_t kk = int64_t(s.kh) * s.kw, taps = ph.taps();
  for (int64_t i = 0; i < mc; i += kMR) {
    float* panel = ap + i * kc;
    const int64_t rows = std::min<int64_t>(kMR, mc - i);
    for (int64_t k = 0; k < kc; ++k) {
      const int64_t r = k0 + k, o = r / taps, th = (r % taps) / ph.w.taps, tw = r % ph.w.taps;
      const int64_t p = ph.h.tap0 + th * s.stride_h, q = ph.w.tap0 + tw * s.stride_w;
      const float* src = w + (o * s.c_in + c0 + i) * kk + p * s.kw + q;
      float* d = panel + k * kMR;
      int64_t x = 0;
      for (; x < rows; ++x) d[x] = src[x * kk];
      for (; x < kMR; ++x) d[x] = 0.0f;
    }
  }
}

// Writes rows [0, mc) of the phase buffer (row stride ldacc, phase pixels t0..t0+nc) into their dx
// positions, channel c0 onwards.
void store_phase(float* dxb, const float* acc, int64_t ldacc, const Conv2dShape& s, const Phase& ph,
                 int64_t c0, int64_t mc, int64_t t0, int64_t nc) {
  const int64_t plane = int64_t(s.h_in) * s.w_in, wp = ph.w.count;
  for (int64_t r = 0; r < mc; ++r) {
    float* dxc = dxb + (c0 + r) * plane;
    const float* src = acc + r * ldacc;
    int64_t u = t0 / wp, v = t0 % wp;
    for (int64_t t = 0; t < nc; v = 0, ++u) {
      const int64_t seg = std::min(wp - v, nc - t);
      float* d = dxc + (ph.h.first + u * s.stride_h) * s.w_in + ph.w.first + v * s.stride_w;
      if (s.stride_w == 1)
        std::memcpy(d, src + t, size_t(seg) * sizeof(float));
      else
        for (int64_t x = 0; x < seg; ++x) d[x * s.stride_w] = src[t + x];
      t += seg;
    }
  }
}

}  // namespace

void conv2d_backward_data_implicit(ThreadPool* pool, float* dx, const float* dy, const float* w,
                                   const Conv2dShape& s, Isa isa) {
  const MicroKernel micro = micro_kernel(isa);
  const int64_t M = s.c_in, phases = int64_t(s.stride_h) * s.stride_w;
  const int64_t x_image = M * s.h_in * s.w_in, y_image = int64_t(s.c_out) * s.h_out * s.w_out;
  int64_t jblocks = 0;  // of the largest phase; smaller phases leave their last tasks empty
  for (int64_t i = 0; i < phases; ++i) jblocks = std::max(jblocks, ceil_div(phase_of(s, i).pixels(), kNC));
  const int threads = pool ? pool->size() : 1;
  // Rows are split only when images x phases x pixel blocks cannot keep every thread busy twice over.
  const int64_t others = s.n * phases * jblocks;
  int64_t mblocks = threads <= 1 || others >= 2 * threads
                        ? 1
                        : std::clamp<int64_t>(ceil_div(2 * threads, others), 1, ceil_div(M, kMR));
  const int64_t mstep = round_up(ceil_div(M, mblocks), kMR);
  mblocks = ceil_div(M, mstep);

  auto body = [&](int64_t task_begin, int64_t task_end) {
    Scratch& sc = scratch();
    float* ap = sc.a.get(kMC * kKC);
    float* bp = sc.b.get(kKC * kNC);
    float* row = sc.row.get(kNC);
    float* acc = sc.acc.get(mstep * kNC);
    for (int64_t task = task_begin; task < task_end; ++task) {
      const int64_t mb = task % mblocks, jb = (task / mblocks) % jblocks;
      const int64_t phase = (task / (mblocks * jblocks)) % phases, b = task / (mblocks * jblocks * phases);
      const Phase ph = phase_of(s, phase);
      const int64_t t0 = jb * kNC;
      if (t0 >= ph.pixels()) continue;
      const int64_t nc = std::min(kNC, ph.pixels() - t0), ncp = round_up(nc, kNR);
      const int64_t m0 = mb * mstep, m1 = std::min(M, m0 + mstep);
      const int64_t K = s.c_out * ph.taps();
      const float* dyb = dy + b * y_image;
      if (K == 0) std::fill(acc, acc + (m1 - m0) * ncp, 0.0f);  // no tap reaches this phase
      for (int64_t pc = 0; pc < K; pc += kKC) {
        const int64_t kc = std::min(kKC, K - pc);
        pack_b_phase(bp, row, dyb, s, ph, pc, kc, t0, nc);
        for (int64_t ic = m0; ic < m1; ic += kMC) {
          const int64_t mc = std::min(kMC, m1 - ic);
          pack_a_phase(ap, w, s, ph, ic, mc, pc, kc);
          for (int64_t ir = 0; ir < mc; ir += kMR)
            for (int64_t jr = 0; jr < ncp; jr += kNR)
              micro(kc, ap + ir * kc, bp + jr * kc, acc + (ic - m0 + ir) * ncp + jr, ncp, pc > 0);
        }
      }
      store_phase(dx + b * x_image, acc, ncp, s, ph, m0, m1 - m0, t0, nc);
    }
  };
  run_tasks(pool, s.n * phases * jblocks * mblocks, body);
}

}  // namespace tint::cpu
