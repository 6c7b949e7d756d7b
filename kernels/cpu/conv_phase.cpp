// Strided convolutions through space-to-depth and gemm's stride-1 path; the index algebra is in
// conv_phase.h.
#include "kernels/cpu/conv_phase.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/error.h"
#include "kernels/cpu/conv_fast.h"
#include "kernels/cpu/conv_tasks.h"
#include "kernels/cpu/conv_winograd.h"

namespace tint::cpu {

namespace {

// x' (or dx') and w' (or dW'): the calling thread's, kept between calls. gemm's own packing scratch is
// separate (conv_fast.cpp), so these stay valid while it runs.
struct Scratch {
  ScratchBuffer x, w;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// The j in [0, count) with 0 <= stride*j + offset < extent: one phase's columns (or rows) that fall on the
// input rather than on the padding or past it.
struct Span {
  int64_t lo, hi;
};
Span inside(int64_t offset, int64_t stride, int64_t extent, int64_t count) {
  const int64_t lo = std::min(count, offset >= 0 ? 0 : ceil_div(-offset, stride));
  const int64_t last = extent - 1 - offset;  // stride*j <= last
  const int64_t hi = last < 0 ? 0 : last / stride + 1;
  return {lo, std::clamp(hi, lo, count)};
}

// Both column phases of one input row when sw = 2: d_b[j] = src[2j + b - pw] for j in cols[b] (the rest
// zero). Where a whole group of four j lies on the row for both phases, two loads and two shuffles do it:
// the scalar strided gather took 6% of down.1's time (perf, forward and backward-weight).
void deinterleave_row(float* const d[2], const float* src, int64_t w_in, int64_t pw, const Span cols[2],
                      int64_t wp) {
  using Float4 = float __attribute__((vector_size(16)));
  using Index4 = int __attribute__((vector_size(16)));
  const int64_t j0 = ceil_div(pw, 2);  // first j with 2j - pw >= 0
  int64_t j = j0;
  for (; j + 4 <= wp && 2 * j - pw + 8 <= w_in; j += 4) {
    Float4 v0, v1;
    std::memcpy(&v0, src + 2 * j - pw, 16), std::memcpy(&v1, src + 2 * j - pw + 4, 16);
    const Float4 even = __builtin_shuffle(v0, v1, Index4{0, 2, 4, 6}),
                 odd = __builtin_shuffle(v0, v1, Index4{1, 3, 5, 7});
    std::memcpy(d[0] + j, &even, 16), std::memcpy(d[1] + j, &odd, 16);
  }
  for (int b = 0; b < 2; ++b) {
    float* db = d[b];
    const int64_t lo = cols[b].lo, hi = cols[b].hi;
    std::fill(db, db + lo, 0.0f);
    for (int64_t k = lo; k < std::min(j0, hi); ++k) db[k] = src[2 * k + b - pw];
    for (int64_t k = j; k < hi; ++k) db[k] = src[2 * k + b - pw];
    std::fill(db + hi, db + wp, 0.0f);
  }
}

// The sh*sw planes of x' (each h' x w') that input channel plane xc becomes.
void space_to_depth_plane(float* xp, const float* xc, const Conv2dShape& s, const Conv2dShape& t) {
  const int64_t hp = t.h_in, wp = t.w_in, sw = s.stride_w;
  const Span pair_cols[2] = {inside(-s.pad_w, 2, s.w_in, wp), inside(1 - s.pad_w, 2, s.w_in, wp)};
  for (int a = 0; a < s.stride_h; ++a) {
    for (int64_t i = 0; i < hp; ++i) {
      const int64_t r = int64_t(s.stride_h) * i + a - s.pad_h;
      auto row = [&](int64_t b) { return xp + ((a * sw + b) * hp + i) * wp; };
      if (r < 0 || r >= s.h_in) {
        for (int64_t b = 0; b < sw; ++b) std::fill(row(b), row(b) + wp, 0.0f);
        continue;
      }
      const float* src = xc + r * s.w_in;
      if (sw == 2) {
        float* const d[2] = {row(0), row(1)};
        deinterleave_row(d, src, s.w_in, s.pad_w, pair_cols, wp);
        continue;
      }
      for (int64_t b = 0; b < sw; ++b) {
        const Span c = inside(b - s.pad_w, sw, s.w_in, wp);
        float* d = row(b);
        std::fill(d, d + c.lo, 0.0f);
        for (int64_t j = c.lo; j < c.hi; ++j) d[j] = src[j * sw + b - s.pad_w];
        std::fill(d + c.hi, d + wp, 0.0f);
      }
    }
  }
}

// The inverse gather: dx's channel plane dxc from its sh*sw planes of dx'. Every dx element lies on exactly
// one phase; those past x' (never read by the convolution) get 0.
// ep, if any, is applied to each finished row, with channel c's bias.
void depth_to_space_plane(float* dxc, const float* dxp, const Conv2dShape& s, const Conv2dShape& t,
                          const ConvEpilogue& ep, int64_t c) {
  const int64_t hp = t.h_in, wp = t.w_in;
  // Columns t + pad_w >= sw*w' lie past x'.
  const int64_t covered = std::clamp<int64_t>(int64_t(s.stride_w) * wp - s.pad_w, 0, s.w_in);
  for (int64_t r = 0; r < s.h_in; ++r) {
    float* d = dxc + r * s.w_in;
    const int64_t a = (r + s.pad_h) % s.stride_h, i = (r + s.pad_h) / s.stride_h;
    if (i >= hp) {
      std::fill(d, d + s.w_in, 0.0f);
    } else {
      std::fill(d + covered, d + s.w_in, 0.0f);
      for (int b = 0; b < s.stride_w; ++b) {
        const float* src = dxp + ((a * s.stride_w + b) * hp + i) * wp;
        const Span cols = inside(b - s.pad_w, s.stride_w, s.w_in, wp);
        for (int64_t j = cols.lo; j < cols.hi; ++j) d[j * s.stride_w + b - s.pad_w] = src[j];
      }
    }
    if (ep.any()) epilogue_row(d, s.w_in, ep.bias_of(c), ep.relu);  // the row is final
  }
}

// One task per (image, input channel): each owns its sh*sw planes of x'.
void space_to_depth(ThreadPool* pool, float* xp, const float* x, const Conv2dShape& s, const Conv2dShape& t) {
  const int64_t plane = int64_t(s.h_in) * s.w_in, phases = int64_t(t.h_in) * t.w_in * s.stride_h * s.stride_w;
  run_tasks(pool, int64_t(s.n) * s.c_in, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) space_to_depth_plane(xp + k * phases, x + k * plane, s, t);
  });
}

void depth_to_space(ThreadPool* pool, float* dx, const float* dxp, const Conv2dShape& s, const Conv2dShape& t,
                    const ConvEpilogue& ep) {
  const int64_t plane = int64_t(s.h_in) * s.w_in, phases = int64_t(t.h_in) * t.w_in * s.stride_h * s.stride_w;
  run_tasks(pool, int64_t(s.n) * s.c_in, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k)
      depth_to_space_plane(dx + k * plane, dxp + k * phases, s, t, ep, k % s.c_in);
  });
}

// w'[o][(c*sh + a)*sw + b][p'][q'] = w[o][c][sh*p' + a][sw*q' + b] keeps every (o, c) block of kh*kw weights
// in place and permutes it: block element e of w' is element order[e] of w's block. A nest of loops over
// (a, b, p', q') took 2.7 ns a weight, a fifth of the time of 512 -> 512 at 16x16 (perf, tint op), and a
// table-driven scalar permutation 1.5 ns; the U-Net's 4x4 stride-2 block is done with vector shuffles.
std::vector<int> phase_order(const Conv2dShape& s) {
  std::vector<int> order;
  for (int a = 0; a < s.stride_h; ++a)
    for (int b = 0; b < s.stride_w; ++b)
      for (int p = a; p < s.kh; p += s.stride_h)
        for (int q = b; q < s.kw; q += s.stride_w) order.push_back(p * s.kw + q);
  return order;
}

void permute_blocks(float* dst, const float* src, const int* order, int64_t blocks, int n, bool to_phase) {
  for (int64_t k = 0; k < blocks; ++k, dst += n, src += n)
    for (int e = 0; e < n; ++e) {
      if (to_phase)
        dst[e] = src[order[e]];
      else
        dst[order[e]] = src[e];
    }
}

// The 4x4 stride-2 block: w'(a, b) = {w[a][b], w[a][b+2], w[a+2][b], w[a+2][b+2]} takes the even (b = 0) or
// odd (b = 1) elements of rows a and a+2; the inverse interleaves them back.
void permute_blocks_4x4_s2(float* dst, const float* src, int64_t blocks, bool to_phase) {
  using Float4 = float __attribute__((vector_size(16)));
  using Index4 = int __attribute__((vector_size(16)));
  for (int64_t k = 0; k < blocks; ++k, dst += 16, src += 16) {
    Float4 v[4];
    std::memcpy(v, src, sizeof v);
    Float4 out[4];
    for (int a = 0; a < 2; ++a) {
      if (to_phase) {
        out[2 * a] = __builtin_shuffle(v[a], v[a + 2], Index4{0, 2, 4, 6});
        out[2 * a + 1] = __builtin_shuffle(v[a], v[a + 2], Index4{1, 3, 5, 7});
      } else {  // v[2a] = w'(a, 0), v[2a+1] = w'(a, 1): rows a and a+2 of w
        out[a] = __builtin_shuffle(v[2 * a], v[2 * a + 1], Index4{0, 4, 1, 5});
        out[a + 2] = __builtin_shuffle(v[2 * a], v[2 * a + 1], Index4{2, 6, 3, 7});
      }
    }
    std::memcpy(dst, out, sizeof out);
  }
}

// to_phase: dst = w' from src = w; otherwise dst = dW from src = dW'.
void relayout_weights(ThreadPool* pool, float* dst, const float* src, const Conv2dShape& s, bool to_phase) {
  const int64_t n = int64_t(s.kh) * s.kw, per_out = s.c_in * n;
  const bool four_by_two = s.kh == 4 && s.kw == 4 && s.stride_h == 2 && s.stride_w == 2;
  // The table only for the other shapes: the U-Net's calls allocate nothing.
  const std::vector<int> order = four_by_two ? std::vector<int>() : phase_order(s);
  run_tasks(pool, s.c_out, [&](int64_t begin, int64_t end) {
    float* d = dst + begin * per_out;
    const float* from = src + begin * per_out;
    const int64_t blocks = (end - begin) * s.c_in;
    if (four_by_two)
      permute_blocks_4x4_s2(d, from, blocks, to_phase);
    else
      permute_blocks(d, from, order.data(), blocks, int(n), to_phase);
  });
}

}  // namespace

bool phase_takes(const Conv2dShape& s) {
  return s.stride_h >= 1 && s.stride_w >= 1 && (s.stride_h > 1 || s.stride_w > 1) && s.kh % s.stride_h == 0 &&
         s.kw % s.stride_w == 0;
}

Conv2dShape phase_shape(const Conv2dShape& s) {
  TINT_CHECK(phase_takes(s), "cpu conv phase: kernel not a multiple of the stride in {}", s.str());
  Conv2dShape t;
  t.n = s.n;
  t.c_in = s.c_in * s.stride_h * s.stride_w;
  t.kh = s.kh / s.stride_h;
  t.kw = s.kw / s.stride_w;
  t.h_out = s.h_out;
  t.w_out = s.w_out;
  t.h_in = s.h_out + t.kh - 1;
  t.w_in = s.w_out + t.kw - 1;
  t.c_out = s.c_out;
  return t;  // stride 1, pad 0
}

bool phase_winograd_takes(const Conv2dShape& s) {
  return phase_takes(s) && winograd_takes(phase_shape(s));
}

void conv2d_forward_phase(int winograd_m, ThreadPool* pool, float* y, const float* x, const float* w,
                          const Conv2dShape& s, Isa isa, const ConvEpilogue& ep) {
  const Conv2dShape t = phase_shape(s);
  Scratch& sc = scratch();
  float* xp = sc.x.get(t.x_size());
  float* wp = sc.w.get(t.w_size());
  space_to_depth(pool, xp, x, s, t);
  relayout_weights(pool, wp, w, s, true);
  if (winograd_m)  // the stride-1 convolution on t: Winograd F(m x m, k/s x k/s), or gemm's
    conv2d_forward_winograd(winograd_m, pool, y, xp, wp, t, isa, ep);
  else
    conv2d_forward_fast(pool, y, xp, wp, t, isa, ep);
}

void conv2d_backward_data_phase(int winograd_m, ThreadPool* pool, float* dx, const float* dy, const float* w,
                                const Conv2dShape& s, Isa isa, const ConvEpilogue& ep) {
  const Conv2dShape t = phase_shape(s);
  Scratch& sc = scratch();
  float* dxp = sc.x.get(t.x_size());
  float* wp = sc.w.get(t.w_size());
  relayout_weights(pool, wp, w, s, true);
  if (winograd_m)
    conv2d_backward_data_winograd(winograd_m, pool, dxp, dy, wp, t, isa);
  else
    conv2d_backward_data_fast(pool, dxp, dy, wp, t, isa);
  depth_to_space(pool, dx, dxp, s, t, ep);
}

void conv2d_backward_weight_phase(int winograd_m, ThreadPool* pool, float* dw, const float* x, const float* dy,
                                  const Conv2dShape& s, Isa isa) {
  const Conv2dShape t = phase_shape(s);
  Scratch& sc = scratch();
  float* xp = sc.x.get(t.x_size());
  float* dwp = sc.w.get(t.w_size());
  space_to_depth(pool, xp, x, s, t);
  if (winograd_m)
    conv2d_backward_weight_winograd(winograd_m, pool, dwp, xp, dy, t, isa);
  else
    conv2d_backward_weight_fast(pool, dwp, xp, dy, t, isa);
  relayout_weights(pool, dw, dwp, s, false);
}

}  // namespace tint::cpu
