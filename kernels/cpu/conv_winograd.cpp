// Winograd F(4x4,3x3), F(2x2,3x3), F(4x4,2x2) and F(2x2,2x2) on the CPU: see conv_winograd.h for the math,
// the matrices, the error and the work split.
//
// Every transform works on kNR = 32 tiles (or channels) at once, one per lane, on the ISA's vectors, and
// reads or writes the micro-kernel's packed panels in place where their layout allows. Where the 32 tiles
// are one tile row's (every block at 128 and 256 px), they are gathered from image rows, and the output
// tiles scattered back, by vector shuffles (Transforms::split, merge): lane l reads columns M*l .. M*l+a-1,
// a stride-M gather that a scalar load and store per element made as costly as the GEMMs. Other blocks
// (tile rows shorter than 32 tiles, blocks straddling rows or images) take the same shuffles per group of
// the vector width (Transforms::vw tiles) that lies in one tile row, and a scalar path per tile for the
// rest. Backward-weight packs its tiles x channels operands four channels at a time by 4x4 transposes.
#include "kernels/cpu/conv_winograd.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <type_traits>

#include "engine/error.h"
#include "engine/thread_pool.h"
#include "kernels/cpu/conv_tasks.h"
#include "kernels/cpu/conv_winograd_transforms.h"

// The portable build of the transforms; conv_winograd_avx2.cpp and conv_winograd_avx512.cpp compile the same
// code for their ISAs.
#define TINT_WINO_VW 4
#define TINT_WINO_TABLE transforms_generic
#include "kernels/cpu/conv_winograd_transforms.inc"
#undef TINT_WINO_TABLE
#undef TINT_WINO_VW

namespace tint::cpu {

namespace {

using winograd::kLanes;
using winograd::Transforms;

const Transforms& transforms_for(Isa isa, int m, int r) {
  if (isa == Isa::avx512) return winograd::transforms_avx512(m, r);
  if (isa == Isa::avx2) return winograd::transforms_avx2(m, r);
  return winograd::transforms_generic(m, r);
}

constexpr int64_t kKC = 256;  // GEMM depth per micro-kernel call (channels, or tiles in backward-weight)
constexpr int64_t kTileBlock = 64;  // forward: tiles per task; a multiple of kNR
static_assert(kTileBlock % kNR == 0 && kKC % kNR == 0);

struct Scratch {
  ScratchBuffer weights;  // the caller's: transformed weights shared by the tasks of one call
  ScratchBuffer v, m, tile;
  ScratchBuffer panel;  // forward with one tile block: a row panel's transformed kernels, one depth block
  // The caller's: forward with one tile block, V computed once for every task. Not `v`: a one-thread call
  // of the same shape leaves a correct V there, which would hide a channel the shared pass failed to write.
  ScratchBuffer shared_v;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// Tiles of m x m output pixels cover the output of every image, numbered over the whole batch.
struct Tiling {
  int64_t th, tw, per_image, total;
  Tiling(const Conv2dShape& s, int m)
      : th(ceil_div(s.h_out, m)), tw(ceil_div(s.w_out, m)), per_image(th * tw), total(per_image * s.n) {}
};

// Image, tile row and tile column of consecutive tiles, stepped without a division per tile (three 64-bit
// divisions per lane were a tenth of a transform's time).
struct TileCursor {
  int64_t b, ty, tx;
  TileCursor(const Tiling& tl, int64_t t)
      : b(t / tl.per_image), ty((t % tl.per_image) / tl.tw), tx(t % tl.tw) {}
  void next(const Tiling& tl) {
    if (++tx < tl.tw) return;
    tx = 0;
    if (++ty < tl.th) return;
    ty = 0, ++b;
  }
};

// Rows of `width` floats starting at column j0 of plane rows i0, i0 + 1, ..., for the vector split and
// merge (Transforms::split, merge): a row inside the plane is used in place; one that crosses its left or
// right edge is copied into `stage` with zeros for the padding; one above or below it is `zeros`.
struct RowSpan {
  int64_t i0, j0, width;
};
void row_pointers(const float** rows, int count, const float* plane, int64_t h, int64_t w,
                  const RowSpan& span, float* stage, const float* zeros) {
  const int64_t lo = std::max<int64_t>(span.j0, 0), hi = std::min<int64_t>(span.j0 + span.width, w);
  const bool inside = span.j0 >= 0 && span.j0 + span.width <= w;
  for (int r = 0; r < count; ++r) {
    const int64_t i = span.i0 + r;
    if (i < 0 || i >= h || hi <= lo) {
      rows[r] = zeros;
    } else if (inside) {
      rows[r] = plane + i * w + span.j0;
    } else {
      float* row = stage + r * span.width;
      std::fill(row, row + (lo - span.j0), 0.0f);
      std::memcpy(row + (lo - span.j0), plane + i * w + lo, size_t(hi - lo) * sizeof(float));
      std::fill(row + (hi - span.j0), row + span.width, 0.0f);
      rows[r] = row;
    }
  }
}

// Whether the kLanes tiles from t0 on lie in one tile row of one image (then the vector split and merge
// take them): always when a tile row is a multiple of kLanes tiles, as at 128 and 256 px.
bool one_tile_row(const Tiling& tl, int64_t t0) {
  return t0 % tl.tw + kLanes <= tl.tw;
}

// Whether the `count` tiles from t on lie in one tile row of one image, before the end: a group of the
// ISA's vector width (Transforms::vw) that the vector split and merge take when the kLanes tiles do not
// (tile rows of 16 tiles, at 64 px, are two groups of 8 or one of 16).
bool group_in_row(const Tiling& tl, int64_t t, int count) {
  return t + count <= tl.total && t % tl.tw + count <= tl.tw;
}

// Walks `count` tiles from t0 on (count <= kLanes): vector(l0, lanes, at) once for all kLanes when they are
// one tile row's, else for each group of vw tiles that lies in one tile row; scalar(l, at) for every other
// lane l below count, past the end of the batch included. `at` is the tile of lane l0 (or l).
template <typename Vector, typename Scalar>
void for_tile_groups(const Tiling& tl, int64_t t0, int count, int vw, Vector&& vector, Scalar&& scalar) {
  if (count == kLanes && one_tile_row(tl, t0)) {
    vector(0, kLanes, TileCursor(tl, t0));
    return;
  }
  for (int l0 = 0; l0 < count; l0 += vw) {
    TileCursor at(tl, t0 + l0);
    if (group_in_row(tl, t0 + l0, vw)) {
      vector(l0, vw, at);
      continue;
    }
    for (int l = l0; l < std::min(l0 + vw, count); ++l, at.next(tl)) scalar(l, at);
  }
}

// d[r][c][l] = the a x a input tile (a = M + R - 1) of tile t0 + l of channel `channel` (zero in the padding
// and for tiles past the end). `stage` holds a * (M * kLanes + M) floats, `zeros` M * kLanes + M zeros.
template <int M, int R>
void gather_input(float* d, const float* x, const Conv2dShape& s, const Tiling& tl, int64_t channel,
                  int64_t t0, const Transforms& tf, float* stage, const float* zeros) {
  constexpr int a = M + R - 1;
  const int64_t plane = int64_t(s.h_in) * s.w_in;
  auto vector_group = [&](int l0, int lanes, const TileCursor& at) {
    const float* rows[a];
    row_pointers(rows, a, x + (at.b * s.c_in + channel) * plane, s.h_in, s.w_in,
                 {at.ty * M - s.pad_h, at.tx * M - s.pad_w, M * lanes + M}, stage, zeros);
    tf.split(rows, a, d, l0, lanes);
  };
  for_tile_groups(tl, t0, kLanes, tf.vw, vector_group, [&](int l, const TileCursor& at) {
    if (t0 + l >= tl.total) {
      for (int e = 0; e < a * a; ++e) d[e * kLanes + l] = 0.0f;
      return;
    }
    const float* xc = x + (at.b * s.c_in + channel) * plane;
    const int64_t i0 = at.ty * M - s.pad_h, j0 = at.tx * M - s.pad_w;
    if (i0 >= 0 && i0 + a <= s.h_in && j0 >= 0 && j0 + a <= s.w_in) {  // most tiles: no bounds to test
      for (int r = 0; r < a; ++r) {
        const float* row = xc + (i0 + r) * s.w_in + j0;
        for (int c = 0; c < a; ++c) d[(r * a + c) * kLanes + l] = row[c];
      }
      return;
    }
    for (int r = 0; r < a; ++r) {
      const int64_t ii = i0 + r;
      const bool row_in = ii >= 0 && ii < s.h_in;
      for (int c = 0; c < a; ++c) {
        const int64_t jj = j0 + c;
        d[(r * a + c) * kLanes + l] = row_in && jj >= 0 && jj < s.w_in ? xc[ii * s.w_in + jj] : 0.0f;
      }
    }
  });
}

// g[p][q][l] = the R x R kernel (o, i0 + l) (zero for l past `count`); flipped: the kernel of
// backward-data, w[i0 + l][o] turned 180 degrees, where w is laid out (c_in of s, c_out of s, R, R).
// Four lanes at a time by 4x4 transposes of their kernels' elements (lane l's kernel is a row, lds floats
// after lane l - 1's), the elements past the last multiple of 4 and the lanes past the last group of four
// one at a time. A flipped kernel's elements are read last to first: the transpose of elements rr-4-e0 ..
// rr-1-e0 is stored upwards from row e0 + 3 (a negative row stride). One element at a time, the gather was
// a fifth of the op's time on 1024 -> 512 at 16^2 in F(2x2) (perf), more than the transforms it fed.
template <int R>
void gather_weights(float* g, const float* w, const Conv2dShape& s, bool flipped, int64_t o, int64_t i0,
                    int64_t count) {
  constexpr int rr = R * R, rr4 = rr / 4 * 4;
  const int64_t lds = flipped ? int64_t(s.c_out) * rr : rr;
  const float* k0 = flipped ? w + (i0 * s.c_out + o) * rr : w + (o * s.c_in + i0) * rr;  // lane 0's kernel
  int64_t l = 0;
  for (; l + 4 <= count; l += 4) {
    const float* k = k0 + l * lds;
    for (int e0 = 0; e0 < rr4; e0 += 4) {
      if (flipped)
        transpose4x4(g + (e0 + 3) * kLanes + l, -kLanes, k + rr - 4 - e0, lds);
      else
        transpose4x4(g + e0 * kLanes + l, kLanes, k + e0, lds);
    }
    for (int e = rr4; e < rr; ++e)
      for (int64_t q = 0; q < 4; ++q) g[e * kLanes + l + q] = k[q * lds + (flipped ? rr - 1 - e : e)];
  }
  for (; l < count; ++l) {
    const float* k = k0 + l * lds;
    for (int e = 0; e < rr; ++e) g[e * kLanes + l] = flipped ? k[rr - 1 - e] : k[e];
  }
  for (int e = 0; e < rr; ++e) std::fill(g + e * kLanes + count, g + (e + 1) * kLanes, 0.0f);
}

// The a*a transformed kernels U[xi](o, i) of output channels o0 .. o0 + kMR - 1 (zero past c_out) and input
// channels i0 .. i0 + count - 1 (count <= kLanes), in the micro-kernel's A-operand layout: U[xi](o0 + r,
// i0 + l) at dst + xi * xi_stride + l * kMR + r. The kMR output channels' transforms of the kLanes input
// channels, then per xi a kMR x kLanes -> kLanes x kMR transpose by 4x4 blocks (one store per element, at a
// stride of kMR floats, took as long as the 32 x 32 GEMMs they fed at 64 tiles: perf on up.2.conv at
// 128^2). g: R*R*kLanes floats of scratch, ug: kMR*a*a*kLanes.
template <int M, int R>
void transform_weight_group(float* dst, int64_t xi_stride, const float* w, const Conv2dShape& s, bool flipped,
                            int64_t o0, int64_t i0, int count, const Transforms& tf, float* g, float* ug) {
  constexpr int a = M + R - 1, aa = a * a;
  static_assert(kMR % 4 == 0 && kLanes % 4 == 0);
  const int64_t rows = std::min<int64_t>(kMR, s.c_out - o0);
  for (int64_t r = 0; r < kMR; ++r) {
    float* ur = ug + r * aa * kLanes;  // [row of the panel][xi][lane]
    if (r >= rows) {
      std::fill(ur, ur + aa * kLanes, 0.0f);
      continue;
    }
    gather_weights<R>(g, w, s, flipped, o0 + r, i0, count);
    tf.weight(g, kLanes, ur, kLanes);
  }
  for (int xi = 0; xi < aa; ++xi)
    for (int r0 = 0; r0 < kMR; r0 += 4)
      for (int l0 = 0; l0 < count; l0 += 4)
        transpose4x4(dst + xi * xi_stride + l0 * kMR + r0, kMR, ug + r0 * aa * kLanes + xi * kLanes + l0,
                     aa * kLanes, std::min(4, count - l0));
}

// U[xi] packed as the micro-kernel's A operand, all a*a of them: U + xi*Mp*C, row panel r0 at + r0*C,
// element (o, i) at i*kMR + o % kMR. Rows past c_out are zero. One task per row panel.
template <int M, int R>
void transform_weights(ThreadPool* pool, float* u, const float* w, const Conv2dShape& s, bool flipped,
                       Isa isa) {
  const Transforms& tf = transforms_for(isa, M, R);
  constexpr int a = M + R - 1, aa = a * a, rr = R * R;
  const int64_t C = s.c_in, Mp = round_up(s.c_out, kMR);
  run_tasks(pool, Mp / kMR, [&](int64_t p_begin, int64_t p_end) {
    float* g = scratch().tile.get((rr + kMR * aa) * kLanes);
    for (int64_t p = p_begin; p < p_end; ++p)
      for (int64_t i0 = 0; i0 < C; i0 += kLanes)
        transform_weight_group<M, R>(u + p * kMR * C + i0 * kMR, Mp * C, w, s, flipped, p * kMR, i0,
                                     int(std::min<int64_t>(kLanes, C - i0)), tf, g, g + rr * kLanes);
  });
}

// The m x m output tiles y[r][c][l], lanes l0 .. l0 + lanes - 1, of one tile row (from `at` on) into their
// output plane: rows that hold all M * lanes columns in place, the others (cut at the right edge, or below
// the bottom one) through `stage`.
template <int M>
void store_tile_row(float* plane, const Conv2dShape& s, const TileCursor& at, const Transforms& tf,
                    const float* y, float* stage, int l0, int lanes) {
  const int64_t j0 = at.tx * M, width = std::min<int64_t>(M * lanes, s.w_out - j0);
  const int64_t rmax = std::min<int64_t>(M, s.h_out - at.ty * M);
  float* rows[M];
  for (int r = 0; r < M; ++r)
    rows[r] = r < rmax && width == M * lanes ? plane + (at.ty * M + r) * s.w_out + j0 : stage + r * M * lanes;
  tf.merge(y, rows, l0, lanes);
  if (width == M * lanes) return;
  for (int64_t r = 0; r < rmax; ++r)
    std::memcpy(plane + (at.ty * M + r) * s.w_out + j0, rows[r], size_t(width) * sizeof(float));
}

// The valid part of the output tiles y[r][c][l] of output channel o, tiles t0 + l for l < count: by vector
// merges where the tiles lie in one tile row (all kLanes, or a group of the vector width), else one scalar
// store per pixel.
template <int M>
void store_tiles(float* y, const Conv2dShape& s, const Tiling& tl, int64_t o, int64_t t0, int64_t count,
                 const Transforms& tf, const float* vt, float* stage) {
  const int64_t out_plane = int64_t(s.h_out) * s.w_out;
  auto plane = [&](const TileCursor& at) { return y + (at.b * s.c_out + o) * out_plane; };
  auto vector = [&](int l0, int lanes, const TileCursor& at) {
    store_tile_row<M>(plane(at), s, at, tf, vt, stage, l0, lanes);
  };
  for_tile_groups(tl, t0, int(count), tf.vw, vector, [&](int l, const TileCursor& at) {
    float* yo = plane(at);
    const int64_t rmax = std::min<int64_t>(M, s.h_out - at.ty * M),
                  cmax = std::min<int64_t>(M, s.w_out - at.tx * M);
    for (int64_t r = 0; r < rmax; ++r)
      for (int64_t cc = 0; cc < cmax; ++cc)
        yo[(at.ty * M + r) * s.w_out + at.tx * M + cc] = vt[(r * M + cc) * kLanes + l];
  });
}

template <int M, int R>
void forward(ThreadPool* pool, float* y, const float* x, const float* w, const Conv2dShape& s, bool flipped,
             Isa isa, const ConvEpilogue& ep) {
  constexpr int a = M + R - 1, aa = a * a;
  const TileKernel tile(isa);
  const Transforms& tf = transforms_for(isa, M, R);
  const Tiling tl(s, M);
  const int64_t C = s.c_in, Mp = round_up(s.c_out, kMR);
  const int64_t tblocks = ceil_div(tl.total, kTileBlock);
  const int threads = pool ? pool->size() : 1;
  int64_t mblocks = split_for_threads(threads, tblocks, Mp, kMR);
  const int64_t mstep = round_up(ceil_div(Mp, mblocks), kMR);
  mblocks = ceil_div(Mp, mstep);

  // With one block of tiles (at most 64: the deep layers at batch 1) every transformed kernel feeds one
  // task's GEMMs only, so each task transforms its own, one row panel and depth block at a time, just
  // before the GEMMs that read it (`fused`), and U never goes through memory: transformed up front, U
  // (a*a/9 times the weights: 33.5 MiB for 1024 -> 512 in F(2x2)) was written out and read back. The
  // GEMMs see the same panels and sum in the same order, so the bits are the same either way.
  const bool fused = tblocks == 1;
  float* u = nullptr;
  if (!fused) {
    u = scratch().weights.get(aa * Mp * C);
    transform_weights<M, R>(pool, u, w, s, flipped, isa);
  }

  // V[xi][tile panel][channel][kNR], the input tiles transformed, of tile block tb into v: channels
  // [c0, c1) of it. d, stage and zeros are a thread's tile scratch (below).
  const int64_t width = M * kLanes + M;
  auto tile_scratch = [&](Scratch& sc) {
    float* d = sc.tile.get(2 * aa * kLanes + (a + 1) * width);
    float* zeros = d + 2 * aa * kLanes + a * width;
    std::fill(zeros, zeros + width, 0.0f);
    return d;
  };
  auto transform_input = [&](float* v, int64_t tb, int64_t c0, int64_t c1, float* d) {
    float* stage = d + 2 * aa * kLanes;
    const float* zeros = stage + a * width;
    const int64_t t0 = tb * kTileBlock, nt = std::min(kTileBlock, tl.total - t0), panels = ceil_div(nt, kNR);
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t p = 0; p < panels; ++p) {
        gather_input<M, R>(d, x, s, tl, c, t0 + p * kNR, tf, stage, zeros);
        tf.input(d, kLanes, v + p * C * kNR + c * kNR, panels * C * kNR);
      }
  };
  // With one block of tiles split by rows over the threads (the deep layers at batch 1), every task would
  // transform the same input: V is made once, the channels split over the pool, and the tasks read it.
  // Each task making its own V was 14% of the forward's time at 16^2 (1024 -> 512, F(2x2), perf). Shared,
  // alternated call by call with the old way (2 threads, 40 pairs, 48 MB written between calls, 2-core
  // Xeon, 2026-12-01), old / new per pair: 1024 -> 512 at 16^2 forward 1.069, backward-data 1.081;
  // 512 -> 512 at 16^2 1.072 and 1.092. In the whole 128^2 batch-1 step, the build without it against
  // the build with it, interleaved (tint bench --serve as the peer): 1.012 over 40 pairs, where the same
  // build against itself gave 0.991.
  float* shared_v = nullptr;
  if (tblocks == 1 && mblocks > 1) {
    shared_v = scratch().shared_v.get(aa * C * kTileBlock);
    run_tasks(pool, C, [&](int64_t c0, int64_t c1) {
      transform_input(shared_v, 0, c0, c1, tile_scratch(scratch()));
    });
  }

  auto body = [&](int64_t task_begin, int64_t task_end) {
    Scratch& sc = scratch();
    float* v = shared_v ? shared_v : sc.v.get(aa * C * kTileBlock);
    float* mm = sc.m.get(aa * mstep * kTileBlock);  // M[xi][row][tile]
    float* d = tile_scratch(sc);
    float* vt = d + aa * kLanes;
    float* stage = vt + aa * kLanes;
    constexpr int rr = R * R;
    float* upanel = fused ? sc.panel.get(aa * kKC * kMR + (rr + kMR * aa) * kLanes) : nullptr;
    float* g = fused ? upanel + aa * kKC * kMR : nullptr;
    float* ug = fused ? g + rr * kLanes : nullptr;
    for (int64_t task = task_begin; task < task_end; ++task) {
      const int64_t mb = task % mblocks, tb = task / mblocks;
      const int64_t m0 = mb * mstep, m1 = std::min(Mp, m0 + mstep), rows = m1 - m0;
      const int64_t t0 = tb * kTileBlock, nt = std::min(kTileBlock, tl.total - t0);
      const int64_t panels = ceil_div(nt, kNR), ntp = panels * kNR;
      if (!shared_v) transform_input(v, tb, 0, C, d);
      // The rows of U past c_out are padding: the last panel computes only the real ones (c_out = 64 is
      // five panels and 4 rows, not six panels). The output transform never reads the others.
      auto gemms = [&](int xi, const float* a_panel, int64_t r, int64_t pc, int64_t kc) {
        const float* vxi = v + xi * panels * C * kNR;
        float* mxi = mm + xi * rows * ntp;
        const int64_t real = std::min<int64_t>(kMR, s.c_out - r);
        for (int64_t p = 0; p < panels; ++p)
          tile(real, kNR, kc, a_panel, vxi + p * C * kNR + pc * kNR, mxi + (r - m0) * ntp + p * kNR, ntp, pc > 0);
      };
      if (fused) {
        for (int64_t r = m0; r < m1; r += kMR)
          for (int64_t pc = 0; pc < C; pc += kKC) {
            const int64_t kc = std::min(kKC, C - pc);
            for (int64_t i0 = pc; i0 < pc + kc; i0 += kLanes)
              transform_weight_group<M, R>(upanel + (i0 - pc) * kMR, kc * kMR, w, s, flipped, r, i0,
                                           int(std::min<int64_t>(kLanes, C - i0)), tf, g, ug);
            for (int xi = 0; xi < aa; ++xi) gemms(xi, upanel + xi * kc * kMR, r, pc, kc);
          }
      } else {
        for (int xi = 0; xi < aa; ++xi)
          for (int64_t pc = 0; pc < C; pc += kKC)
            for (int64_t r = m0; r < m1; r += kMR)
              gemms(xi, u + xi * Mp * C + r * C + pc * kMR, r, pc, std::min(kKC, C - pc));
      }
      // Output transform, kLanes tiles at a time, then the valid part of each tile is stored.
      for (int64_t o = m0; o < std::min<int64_t>(m1, s.c_out); ++o)
        for (int64_t p = 0; p < panels; ++p) {
          tf.output(mm + (o - m0) * ntp + p * kNR, rows * ntp, vt, kLanes);
          if (ep.any()) epilogue_row(vt, M * M * kLanes, ep.bias_of(o), ep.relu);  // lanes past the tiles unread
          store_tiles<M>(y, s, tl, o, t0 + p * kNR, std::min<int64_t>(kNR, nt - p * kNR), tf, vt, stage);
        }
    }
  };
  run_tasks(pool, tblocks * mblocks, body);
}

// dyt[r][c][l] = the m x m output-gradient tile of tile t0 + l of channel o (zero past the output's edge
// and for tiles past the end). stage and zeros as for gather_input.
template <int M>
void gather_output(float* dyt, const float* dy, const Conv2dShape& s, const Tiling& tl, int64_t o, int64_t t0,
                   const Transforms& tf, float* stage, const float* zeros) {
  const int64_t plane = int64_t(s.h_out) * s.w_out;
  auto vector_group = [&](int l0, int lanes, const TileCursor& at) {
    const float* rows[M];
    row_pointers(rows, M, dy + (at.b * s.c_out + o) * plane, s.h_out, s.w_out,
                 {at.ty * M, at.tx * M, M * lanes}, stage, zeros);
    tf.split(rows, M, dyt, l0, lanes);
  };
  for_tile_groups(tl, t0, kLanes, tf.vw, vector_group, [&](int l, const TileCursor& at) {
    for (int e = 0; e < M * M; ++e) dyt[e * kLanes + l] = 0.0f;
    if (t0 + l >= tl.total) return;
    const float* src = dy + (at.b * s.c_out + o) * plane;
    const int64_t rmax = std::min<int64_t>(M, s.h_out - at.ty * M),
                  cmax = std::min<int64_t>(M, s.w_out - at.tx * M);
    for (int64_t r = 0; r < rmax; ++r)
      for (int64_t c = 0; c < cmax; ++c)
        dyt[(r * M + c) * kLanes + l] = src[(at.ty * M + r) * s.w_out + at.tx * M + c];
  });
}

// dst[l * ld + k] = t[k * ldt + l] for k < 4, l < lanes: four channels' lanes (tiles) into rows of a packed
// operand, by 4x4 transposes (SSE shuffles, in every build).
void transpose4(const float* t, int64_t ldt, int lanes, float* dst, int64_t ld) {
  for (int l0 = 0; l0 < lanes; l0 += 4) transpose4x4(dst + l0 * ld, ld, t + l0, ldt, std::min(4, lanes - l0));
}

template <int M, int R>
void backward_weight(ThreadPool* pool, float* dw, const float* x, const float* dy, const Conv2dShape& s,
                     Isa isa) {
  constexpr int a = M + R - 1, aa = a * a, rr = R * R;
  const TileKernel tile(isa);
  const Transforms& tf = transforms_for(isa, M, R);
  const Tiling tl(s, M);
  const int threads = pool ? pool->size() : 1;
  // The tiles are cut into `chunks` ranges, each summed into an S of its own, the chunks then added in
  // order; c_in into blocks of multiples of kNR and c_out of kMR. A task is one (chunk, c_out block, c_in
  // block): it transforms the input channels of its c_in block and the gradient channels of its c_out
  // block for the tiles of its chunk. More channel blocks mean transforms done again (each channel's for
  // every c_out or c_in block); more chunks do not. The chunk count depends on the shape alone, so the order
  // of every sum, and the bits, are the same for any thread count; the channel split then minimises the
  // busiest thread's time per tile, in units of one GEMM multiply-add: a*a*mstep*nstep for the GEMMs plus
  // (mstep + nstep) transforms of kTransformCost each (an estimate: perf put the transforms level with the
  // GEMMs on the U-Net's 64-channel layers), under a cap on the accumulators' size.
  //
  // Before the chunks, a 64 -> 64 layer was split by c_out in two on two threads, and each thread
  // transformed every input channel of every tile: 1.56 times the transforms of a split by tiles.
  constexpr double kTransformCost = 1250;
  constexpr int64_t kMaxAccumulator = int64_t(1) << 22;  // floats of S per task (16 MiB)
  constexpr int64_t kChunkTiles = 512;                     // tiles from which a chunk of its own pays
  const int64_t Mp = round_up(s.c_out, kMR), Np = round_up(s.c_in, kNR);
  int64_t nchunks = std::clamp<int64_t>(tl.total / kChunkTiles, 1, 4);
  if (nchunks * aa * Mp * Np > 2 * kMaxAccumulator) nchunks = 1;  // the chunks' sums: at most 32 MiB
  int64_t nstep = Np, mstep = Mp;
  double best = -1;
  for (int64_t nb = 1; nb <= ceil_div(s.c_in, kNR); ++nb)
    for (int64_t mb = 1; mb <= ceil_div(s.c_out, kMR); ++mb) {
      const int64_t ns = round_up(ceil_div(s.c_in, nb), kNR), ms = round_up(ceil_div(s.c_out, mb), kMR);
      if (ceil_div(s.c_in, ns) != nb || ceil_div(s.c_out, ms) != mb)
        continue;  // same split as a smaller count
      if (aa * ms * ns > kMaxAccumulator && (ns > kNR || ms > kMR)) continue;
      const double rounds = double(ceil_div(nchunks * nb * mb, threads)) / double(nchunks);
      const double cost = rounds * (double(aa) * double(ms * ns) + kTransformCost * double(ms + ns));
      if (best < 0 || cost < best) best = cost, nstep = ns, mstep = ms;
    }
  const int64_t nblocks = ceil_div(s.c_in, nstep), mblocks = ceil_div(s.c_out, mstep);
  const int64_t block_tiles = ceil_div(tl.total, nchunks);  // a chunk's tiles; none is empty (512+ each)
  // S of (chunk, c_out block, c_in block) at sums + ((chunk * mblocks + mb) * nblocks + nb) * aa * mstep *
  // nstep, laid out [xi][row][column]; with one chunk each task keeps its own.
  const int64_t s_size = aa * mstep * nstep;
  float* sums = nchunks > 1 ? scratch().weights.get(nchunks * mblocks * nblocks * s_size) : nullptr;

  // dg = G^T S G per (o, i) of rows [r0, r1) of a c_out block, kLanes input channels at a time.
  auto weight_grads = [&](const float* acc, int64_t m0, int64_t n0, int64_t r0, int64_t r1, int64_t nc,
                          float* vt) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c0 = 0; c0 < nc; c0 += kLanes) {
        const int lanes = int(std::min<int64_t>(kLanes, nc - c0));
        tf.weight_grad(acc + r * nstep + c0, mstep * nstep, vt, kLanes);
        for (int l = 0; l < lanes; ++l) {
          float* k = dw + ((m0 + r) * s.c_in + n0 + c0 + l) * rr;
          for (int e = 0; e < rr; ++e) k[e] = vt[e * kLanes + l];
        }
      }
  };

  auto body = [&](int64_t task_begin, int64_t task_end) {
    Scratch& sc = scratch();
    float* ap =
        sc.v.get(aa * (mstep + nstep) * kKC);  // Yhat[xi][row panel][tile][kMR], V[xi][panel][tile][kNR]
    float* bp = ap + aa * mstep * kKC;
    float* own = nchunks > 1 ? nullptr : sc.m.get(s_size);
    const int64_t width = M * kLanes + M;
    float* d = sc.tile.get(6 * aa * kLanes + (a + 1) * width);
    float* vt = d + aa * kLanes;
    float* group = vt + aa * kLanes;  // four channels' transforms, [channel][xi][lane]
    float* stage = group + 4 * aa * kLanes;
    float* zeros = stage + a * width;
    std::fill(zeros, zeros + width, 0.0f);
    for (int64_t task = task_begin; task < task_end; ++task) {
      const int64_t mb = task % mblocks, nb = task / mblocks % nblocks, chunk = task / (mblocks * nblocks);
      const int64_t m0 = mb * mstep, mc = std::min<int64_t>(mstep, s.c_out - m0), mcp = round_up(mc, kMR);
      const int64_t n0 = nb * nstep, nc = std::min<int64_t>(nstep, s.c_in - n0), ncp = round_up(nc, kNR);
      const int64_t t_begin = chunk * block_tiles, t_end = std::min(tl.total, t_begin + block_tiles);
      float* acc = own ? own : sums + task * s_size;
      for (int64_t t0 = t_begin; t0 < t_end; t0 += kKC) {
        const int64_t kt = std::min(kKC, t_end - t0);
        // Four channels at a time, so that their transforms go to the packed operands (tiles down, channels
        // across) by 4x4 transposes, each store four floats, not one float per 48 or 128 bytes.
        for (int64_t r0 = 0; r0 < mcp; r0 += 4)
          for (int64_t tq = 0; tq < kt; tq += kLanes) {
            const int lanes = int(std::min<int64_t>(kLanes, kt - tq));
            for (int k = 0; k < 4; ++k) {
              float* tk = group + k * aa * kLanes;
              if (r0 + k >= mc) {
                std::fill(tk, tk + aa * kLanes, 0.0f);
                continue;
              }
              gather_output<M>(d, dy, s, tl, m0 + r0 + k, t0 + tq, tf, stage, zeros);
              tf.output_grad(d, kLanes, tk, kLanes);
            }
            float* dst = ap + (r0 / kMR) * kMR * kKC + tq * kMR + r0 % kMR;
            for (int xi = 0; xi < aa; ++xi)
              transpose4(group + xi * kLanes, aa * kLanes, lanes, dst + xi * mstep * kKC, kMR);
          }
        for (int64_t c0 = 0; c0 < ncp; c0 += 4)
          for (int64_t tq = 0; tq < kt; tq += kLanes) {
            const int lanes = int(std::min<int64_t>(kLanes, kt - tq));
            for (int k = 0; k < 4; ++k) {
              float* tk = group + k * aa * kLanes;
              if (c0 + k >= nc) {
                std::fill(tk, tk + aa * kLanes, 0.0f);
                continue;
              }
              gather_input<M, R>(d, x, s, tl, n0 + c0 + k, t0 + tq, tf, stage, zeros);
              tf.input(d, kLanes, tk, kLanes);
            }
            float* dst = bp + (c0 / kNR) * kNR * kKC + tq * kNR + c0 % kNR;
            for (int xi = 0; xi < aa; ++xi)
              transpose4(group + xi * kLanes, aa * kLanes, lanes, dst + xi * nstep * kKC, kNR);
          }
        for (int xi = 0; xi < aa; ++xi)
          for (int64_t r = 0; r < mcp; r += kMR) {
            const int64_t real = std::min<int64_t>(kMR, mc - r);  // rows past mc are padding, never read
            for (int64_t c = 0; c < ncp; c += kNR)
              tile(real, kNR, kt, ap + xi * mstep * kKC + r * kKC, bp + xi * nstep * kKC + c * kKC,
                   acc + xi * mstep * nstep + r * nstep + c, nstep, t0 > t_begin);
          }
      }
      if (own) weight_grads(acc, m0, n0, 0, mc, nc, vt);
    }
  };
  run_tasks(pool, nchunks * mblocks * nblocks, body);
  if (nchunks == 1) return;

  // The chunks' sums added in chunk order into chunk 0's, then dg; a task per kMR rows of a c_out block.
  const int64_t row_groups = ceil_div(mstep, kMR);
  run_tasks(pool, mblocks * nblocks * row_groups, [&](int64_t begin, int64_t end) {
    float* vt = scratch().tile.get(aa * kLanes);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t g = task % row_groups, block = task / row_groups;
      const int64_t mb = block % mblocks, nb = block / mblocks;
      const int64_t m0 = mb * mstep, mc = std::min<int64_t>(mstep, s.c_out - m0);
      const int64_t n0 = nb * nstep, nc = std::min<int64_t>(nstep, s.c_in - n0);
      const int64_t r0 = g * kMR, r1 = std::min(mc, r0 + kMR);
      if (r0 >= r1) continue;
      float* first = sums + block * s_size;
      for (int64_t chunk = 1; chunk < nchunks; ++chunk) {
        const float* other = sums + (chunk * mblocks * nblocks + block) * s_size;
        for (int xi = 0; xi < aa; ++xi)
          for (int64_t r = r0; r < r1; ++r) {
            const int64_t at = xi * mstep * nstep + r * nstep;
            add_row(first + at, other + at, nc);
          }
      }
      weight_grads(first, m0, n0, r0, r1, nc, vt);
    }
  });
}

// f(M, R) as compile-time constants: F(M x M, R x R) for the shape's kernel size R.
template <typename F>
void dispatch(int tile_m, const Conv2dShape& s, F&& f) {
  TINT_CHECK(tile_m == 4 || tile_m == 2, "cpu winograd: tile size {} (must be 4 or 2)", tile_m);
  TINT_CHECK(winograd_takes(s),
             "cpu winograd: shape {} is not a 3x3 or 2x2 stride-1 convolution with padding below the kernel size",
             s.str());
  using I4 = std::integral_constant<int, 4>;
  using I3 = std::integral_constant<int, 3>;
  using I2 = std::integral_constant<int, 2>;
  if (s.kh == 3) {
    if (tile_m == 4)
      f(I4{}, I3{});
    else
      f(I2{}, I3{});
  } else if (tile_m == 4) {
    f(I4{}, I2{});
  } else {
    f(I2{}, I2{});
  }
}

}  // namespace

bool winograd_takes(const Conv2dShape& s) {
  const int r = s.kh;
  return (r == 3 || r == 2) && s.kw == r && s.stride_h == 1 && s.stride_w == 1 && s.pad_h >= 0 &&
         s.pad_h < r && s.pad_w >= 0 && s.pad_w < r;
}

void conv2d_forward_winograd(int tile_m, ThreadPool* pool, float* y, const float* x, const float* w,
                             const Conv2dShape& s, Isa isa, const ConvEpilogue& ep) {
  dispatch(tile_m, s, [&](auto m, auto r) {
    forward<decltype(m)::value, decltype(r)::value>(pool, y, x, w, s, false, isa, ep);
  });
}

void conv2d_backward_data_winograd(int tile_m, ThreadPool* pool, float* dx, const float* dy, const float* w,
                                   const Conv2dShape& s, Isa isa, const ConvEpilogue& ep) {
  // dx = conv(dY, w turned 180 degrees, c_in and c_out swapped), padding r - 1 - pad: its output is
  // h_in x w_in.
  Conv2dShape t = s;
  t.c_in = s.c_out, t.h_in = s.h_out, t.w_in = s.w_out;
  t.c_out = s.c_in, t.h_out = s.h_in, t.w_out = s.w_in;
  t.pad_h = s.kh - 1 - s.pad_h, t.pad_w = s.kw - 1 - s.pad_w;
  dispatch(tile_m, s, [&](auto m, auto r) {
    forward<decltype(m)::value, decltype(r)::value>(pool, dx, dy, w, t, true, isa, ep);
  });
}

void conv2d_backward_weight_winograd(int tile_m, ThreadPool* pool, float* dw, const float* x, const float* dy,
                                     const Conv2dShape& s, Isa isa) {
  dispatch(tile_m, s, [&](auto m, auto r) {
    backward_weight<decltype(m)::value, decltype(r)::value>(pool, dw, x, dy, s, isa);
  });
}

WinogradMatrices winograd_matrices(int tile_m, int r) {
  TINT_CHECK(tile_m == 4 || tile_m == 2, "cpu winograd: tile size {} (must be 4 or 2)", tile_m);
  TINT_CHECK(r == 3 || r == 2, "cpu winograd: kernel size {} (must be 3 or 2)", r);
  if (r == 2) {
    if (tile_m == 4) return {4, 5, 2, &winograd::kBt4k2[0][0], &winograd::kG4k2[0][0], &winograd::kAt4k2[0][0]};
    return {2, 3, 2, &winograd::kBt2k2[0][0], &winograd::kG2k2[0][0], &winograd::kAt2k2[0][0]};
  }
  if (tile_m == 4) return {4, 6, 3, &winograd::kBt4[0][0], &winograd::kG4[0][0], &winograd::kAt4[0][0]};
  return {2, 4, 3, &winograd::kBt2[0][0], &winograd::kG2[0][0], &winograd::kAt2[0][0]};
}

}  // namespace tint::cpu
