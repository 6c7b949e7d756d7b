// conv2d forward, backward-data and backward-weight: the three products of a convolution, each an implicit
// GEMM C[M][N] = sum_k A(m, k) * B(k, n) whose operands are gathered straight from the NCHW tensors (no
// im2col buffer):
//
//   forward          M = c_out  N = n*h_out*w_out (output pixels)   K = c_in*kh*kw   A = w   B = x gathered
//   backward-weight  M = c_out  N = c_in*kh*kw                      K = n*h_out*w_out A = dy B = x gathered
//   backward-data    M = c_in   N = input pixels of one phase       K = c_out*taps   A = w   B = dy gathered
//
// Backward-data with stride s is split into s_h*s_w "phases" (input rows h = ph + s*hh, columns likewise):
// within a phase only the kernel taps p = (ph + pad) mod s + s*t ever land on an output position, so each
// phase is a dense GEMM over exactly those taps. Without this, a stride-2 4x4 kernel (the U-Net's transposed
// up-sampling runs through this path) would spend 3/4 of its multiply-adds on taps that hit no output.
//
// One kernel template serves the three products: a 256-thread block computes a BM x BN tile of C, each
// thread a TM x TN register block, streaming BK-deep slices of A and B through double-buffered shared memory
// (one barrier per slice; the next slice's global loads are in flight while the current one is multiplied).
// Loads run along the operand's contiguous dimension (coalesced), four at a time as float4 where the
// operand is contiguous and aligned.
//
// When the output alone makes too few blocks to fill the GPU (deep layers at batch 1; backward-weight,
// whose output is only c_out x c_in*kh*kw), the K range is split: each split writes its partial C into
// Stream::workspace and a second kernel sums the splits in a fixed order. This is deterministic (the same
// bits on every run), unlike float atomics, at the price of workspace (conv2d_workspace_bytes) and one
// extra pass over C, which is small wherever splitting is chosen.
#include "kernels/cuda/cuda_compat.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>
#include <type_traits>

#include "engine/backend.h"
#include "kernels/cuda/conv2d.h"
#include "kernels/cuda/conv_winograd.h"
#include "kernels/cuda/ops.h"

namespace tint {
namespace TINT_CUDA_NS {

namespace {

enum class Dir { forward, backward_data, backward_weight };

constexpr int kThreads = 256;
constexpr int kBK = 8;
// Blocks that fill the device a couple of times over (132 SMs on an H100). A fixed number, not the device's
// count, so that the plan (and the workspace size) depends on the shape alone.
constexpr int kTargetBlocks = 264;
constexpr int kMaxSplits = 32;

__host__ __device__ inline int ceil_div(int a, int b) { return (a + b - 1) / b; }

// The convolution seen as a GEMM (plain data, passed to kernels by value).
struct ConvGemm {
  int n, c_in, h_in, w_in, c_out, h_out, w_out, kh, kw, sh, sw, ph, pw;
  int M;       // rows of C
  int phases;  // s_h * s_w for backward-data, 1 otherwise
  int splits;  // K split into this many ranges (1: no workspace)
  int n_pad;   // row length of the split-K partials (largest phase's N, rounded up to 4)
  bool vec_a;  // A's base pointer is 16-byte aligned (float4 loads allowed where contiguous)
  bool vec_out;
  ConvEpilogue epi;  // forward and backward-data: bias and ReLU applied as C is stored (channel m)
  bool a_relaid = false;  // igemm2w's backward-data: A is the weights re-laid per phase (relayout_kernel)
};

// One phase of backward-data (for the other products: the whole problem).
struct PhaseInfo {
  int N, K;
  int hp, wp;        // backward-data: rows and columns of input pixels in this phase
  int row0, col0;    // first input row / column of the phase
  int rp, rq;        // first kernel tap of the phase
  int tp, tq;        // taps per dimension
  int off_h, off_w;  // output row = hh + off_h - t
};

template <Dir D>
__host__ __device__ inline PhaseInfo phase_info(const ConvGemm& g, int phase) {
  PhaseInfo f{};
  if constexpr (D == Dir::forward) {
    f.N = g.n * g.h_out * g.w_out;
    f.K = g.c_in * g.kh * g.kw;
  } else if constexpr (D == Dir::backward_weight) {
    f.N = g.c_in * g.kh * g.kw;
    f.K = g.n * g.h_out * g.w_out;
  } else {
    f.row0 = phase / g.sw;
    f.col0 = phase % g.sw;
    f.hp = (g.h_in - f.row0 + g.sh - 1) / g.sh;
    f.wp = (g.w_in - f.col0 + g.sw - 1) / g.sw;
    f.rp = (f.row0 + g.ph) % g.sh;
    f.rq = (f.col0 + g.pw) % g.sw;
    f.tp = g.kh > f.rp ? (g.kh - f.rp + g.sh - 1) / g.sh : 0;
    f.tq = g.kw > f.rq ? (g.kw - f.rq + g.sw - 1) / g.sw : 0;
    f.off_h = (f.row0 + g.ph - f.rp) / g.sh;
    f.off_w = (f.col0 + g.pw - f.rq) / g.sw;
    f.N = g.n * f.hp * f.wp;
    f.K = g.c_out * f.tp * f.tq;
  }
  return f;
}

// Where C[m][n] lives in the output tensor.
template <Dir D>
__device__ __forceinline__ int64_t out_offset(const ConvGemm& g, const PhaseInfo& f, int m, int n) {
  if constexpr (D == Dir::forward) {
    const int hw = g.h_out * g.w_out;
    const int img = n / hw;
    return (int64_t(img) * g.c_out + m) * hw + (n - img * hw);
  } else if constexpr (D == Dir::backward_weight) {
    return int64_t(m) * f.N + n;
  } else {
    const int per_img = f.hp * f.wp;
    const int img = n / per_img;
    const int r = n - img * per_img;
    const int hh = r / f.wp;
    const int ww = r - hh * f.wp;
    return ((int64_t(img) * g.c_in + m) * g.h_in + f.row0 + g.sh * hh) * g.w_in + f.col0 + g.sw * ww;
  }
}

// Four consecutive columns n..n+3 (n a multiple of 4) are four consecutive floats of the output.
template <Dir D>
__device__ __forceinline__ bool out_contiguous4(const ConvGemm& g, const PhaseInfo& f) {
  if constexpr (D == Dir::forward) return (g.h_out * g.w_out) % 4 == 0;
  else if constexpr (D == Dir::backward_weight) return f.N % 4 == 0;
  else return g.sh == 1 && g.sw == 1 && (g.h_in * g.w_in) % 4 == 0;
}

__device__ __forceinline__ void load_smem4(const float* p, float* r) {
#if defined(__CUDACC__)
  const float4 v = *reinterpret_cast<const float4*>(p);
  r[0] = v.x, r[1] = v.y, r[2] = v.z, r[3] = v.w;
#else
  r[0] = p[0], r[1] = p[1], r[2] = p[2], r[3] = p[3];
#endif
}

// Operand loaders. A thread loads E elements of a BK x BX slice.
//   along-X: the thread keeps one column x = t % BX (decoded once) and walks k; neighbouring threads read
//            neighbouring x (coalesced where the operand is contiguous along X).
//   along-K: the thread keeps one x = t / (BK/E) and loads E consecutive k (a float4 when E == 4 and the
//            operand is contiguous along K).
template <int BX, int E>
struct AlongX {
  static constexpr int kStep = kThreads / BX;
  __device__ __forceinline__ static int x(int t) { return t % BX; }
  __device__ __forceinline__ static int k(int t, int e) { return t / BX + e * kStep; }
};
template <int BX, int E>
struct AlongK {
  __device__ __forceinline__ static int x(int t) { return t / (kBK / E); }
  __device__ __forceinline__ static int k(int t, int e) { return (t % (kBK / E)) * E + e; }
};

// The epilogue of the tiled kernels: thread (tx, ty)'s TM x TN register block of the tile at (m0, n0), as
// float4 runs where the output allows, into this split's partial (split-K) or into the output itself.
template <Dir D, int TM, int TN>
__device__ __forceinline__ void store_acc(const ConvGemm& g, const PhaseInfo& f, float* __restrict__ out,
                                          float* __restrict__ partial, const float (&acc)[TM][TN], int m0,
                                          int n0, int tx, int ty, int phase, int split) {
  const bool contiguous4 = out_contiguous4<D>(g, f);
#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int m = m0 + (i / 4) * 64 + ty * 4 + (i % 4);
    if (m >= g.M) continue;
#pragma unroll
    for (int gj = 0; gj < TN / 4; ++gj) {
      const int n = n0 + gj * 64 + tx * 4;
      if (n >= f.N) continue;
      if (g.splits > 1) {
        float* p = partial + ((int64_t(phase) * g.splits + split) * g.M + m) * g.n_pad + n;
        *reinterpret_cast<float4*>(p) =
            make_float4(acc[i][gj * 4], acc[i][gj * 4 + 1], acc[i][gj * 4 + 2], acc[i][gj * 4 + 3]);
        continue;
      }
      float v[4] = {acc[i][gj * 4], acc[i][gj * 4 + 1], acc[i][gj * 4 + 2], acc[i][gj * 4 + 3]};
      if constexpr (D != Dir::backward_weight) {
        if (g.epi.any()) {
#pragma unroll
          for (int j = 0; j < 4; ++j) v[j] = apply_epilogue(g.epi, v[j], m);
        }
      }
      const int64_t off = out_offset<D>(g, f, m, n);
      if (contiguous4 && g.vec_out && n + 3 < f.N && off % 4 == 0) {
        *reinterpret_cast<float4*>(out + off) = make_float4(v[0], v[1], v[2], v[3]);
      } else {
#pragma unroll
        for (int j = 0; j < 4; ++j)
          if (n + j < f.N) out[out_offset<D>(g, f, m, n + j)] = v[j];
      }
    }
  }
}

template <Dir D, int TM, int TN>
// Small tiles: ask for two resident blocks per SM (<= 128 registers); ptxas otherwise settles on 64 and spills.
__global__ void __launch_bounds__(kThreads, TM * TN >= 64 ? 1 : 2)
    conv_igemm_kernel(ConvGemm g, float* __restrict__ out, const float* __restrict__ a_src,
                      const float* __restrict__ b_src, float* __restrict__ partial) {
  constexpr int BM = 16 * TM, BN = 16 * TN;
  constexpr int EA = BM * kBK / kThreads, EB = BN * kBK / kThreads;
  static_assert(EA >= 1 && EB >= 1 && kBK % EA == 0 && kBK % EB == 0, "tile does not divide among threads");
  // Rows padded by 4 floats: the along-K stores of two k-groups land 16 banks apart, float4 alignment kept.
  constexpr int LDA = BM + 4, LDB = BN + 4;
  using LA = typename std::conditional<D == Dir::backward_data, AlongX<BM, EA>, AlongK<BM, EA>>::type;
  using LB = typename std::conditional<D == Dir::backward_weight, AlongK<BN, EB>, AlongX<BN, EB>>::type;

  __shared__ __align__(16) float As[2][kBK][LDA];
  __shared__ __align__(16) float Bs[2][kBK][LDB];

  const int phase = blockIdx.z / g.splits;
  const int split = blockIdx.z % g.splits;
  const PhaseInfo f = phase_info<D>(g, phase);
  const int m0 = blockIdx.y * BM;
  const int n0 = blockIdx.x * BN;
  if (n0 >= f.N) return;  // this phase is smaller than the largest one (whole block leaves together)
  const int k_per_split = ceil_div(ceil_div(f.K, g.splits), kBK) * kBK;
  const int k_begin = split * k_per_split;
  const int k_end = f.K < k_begin + k_per_split ? f.K : k_begin + k_per_split;

  const int t = threadIdx.x;
  const int hw_in = g.h_in * g.w_in, hw_out = g.h_out * g.w_out, khkw = g.kh * g.kw;

  // ---- per-thread constants of the two loaders (the fixed column of each) ----
  const int a_x = LA::x(t);
  const int a_m = m0 + a_x;
  const bool a_valid = a_m < g.M;
  const int b_x = LB::x(t);
  const int b_n = n0 + b_x;
  const bool b_valid = b_n < f.N;
  // forward: B column = output pixel; backward-data: B column = input pixel of the phase;
  // backward-weight: B column = (c, p, q).
  int b_img = 0, b_r0 = 0, b_c0 = 0, b_c = 0, b_p = 0, b_q = 0;
  if (b_valid) {
    if constexpr (D == Dir::forward) {
      b_img = b_n / hw_out;
      const int pix = b_n - b_img * hw_out;
      const int i = pix / g.w_out;
      b_r0 = i * g.sh - g.ph;
      b_c0 = (pix - i * g.w_out) * g.sw - g.pw;
    } else if constexpr (D == Dir::backward_data) {
      const int per_img = f.hp * f.wp;
      b_img = b_n / per_img;
      const int r = b_n - b_img * per_img;
      const int hh = r / f.wp;
      b_r0 = hh + f.off_h;
      b_c0 = r - hh * f.wp + f.off_w;
    } else {
      b_c = b_n / khkw;
      const int r = b_n - b_c * khkw;
      b_p = r / g.kw;
      b_q = r - b_p * g.kw;
    }
  }

  float ra[EA], rb[EB];

  auto load_a = [&](int kt) {
    if constexpr (D == Dir::forward || D == Dir::backward_weight) {
      const int k0 = kt + LA::k(t, 0);
      // forward: A = w (c_out rows of K contiguous floats). backward-weight: A(o, k) = dy[img, o, pix].
      bool vec = EA == 4 && g.vec_a && a_valid && k0 + 3 < k_end;
      const float* src = nullptr;
      if constexpr (D == Dir::forward) {
        vec = vec && f.K % 4 == 0;
        src = a_src + int64_t(a_m) * f.K + k0;
      } else {
        vec = vec && hw_out % 4 == 0;
        const int img = k0 / hw_out;
        src = a_src + (int64_t(img) * g.c_out + a_m) * hw_out + (k0 - img * hw_out);
      }
      if (vec) {
        const float4 v = *reinterpret_cast<const float4*>(src);
        ra[0] = v.x, ra[1] = v.y, ra[2] = v.z, ra[3] = v.w;
      } else {
#pragma unroll
        for (int e = 0; e < EA; ++e) {
          const int k = k0 + e;
          float v = 0.0f;
          if (a_valid && k < k_end) {
            if constexpr (D == Dir::forward) {
              v = a_src[int64_t(a_m) * f.K + k];
            } else {
              const int img = k / hw_out;
              v = a_src[(int64_t(img) * g.c_out + a_m) * hw_out + (k - img * hw_out)];
            }
          }
          ra[e] = v;
        }
      }
    } else {  // backward-data: A(c, (o, tp, tq)) = w[o, c, rp + s*tp, rq + s*tq]
      const int taps = f.tp * f.tq;
#pragma unroll
      for (int e = 0; e < EA; ++e) {
        const int k = kt + LA::k(t, e);
        float v = 0.0f;
        if (a_valid && k < k_end) {
          const int o = k / taps;
          const int r = k - o * taps;
          const int ip = r / f.tq;
          const int p = f.rp + g.sh * ip;
          const int q = f.rq + g.sw * (r - ip * f.tq);
          v = a_src[((int64_t(o) * g.c_in + a_m) * g.kh + p) * g.kw + q];
        }
        ra[e] = v;
      }
    }
  };

  auto load_b = [&](int kt) {
#pragma unroll
    for (int e = 0; e < EB; ++e) {
      const int k = kt + LB::k(t, e);
      float v = 0.0f;
      if (b_valid && k < k_end) {
        if constexpr (D == Dir::forward) {  // B((c, p, q), pixel) = x[img, c, r0 + p, c0 + q]
          const int c = k / khkw;
          const int r = k - c * khkw;
          const int p = r / g.kw;
          const int h = b_r0 + p;
          const int w = b_c0 + (r - p * g.kw);
          if (h >= 0 && h < g.h_in && w >= 0 && w < g.w_in)
            v = b_src[(int64_t(b_img) * g.c_in + c) * hw_in + h * g.w_in + w];
        } else if constexpr (D == Dir::backward_data) {  // B((o, tp, tq), pixel) = dy[img, o, r0 - tp, c0 - tq]
          const int taps = f.tp * f.tq;
          const int o = k / taps;
          const int r = k - o * taps;
          const int ip = r / f.tq;
          const int i = b_r0 - ip;
          const int j = b_c0 - (r - ip * f.tq);
          if (i >= 0 && i < g.h_out && j >= 0 && j < g.w_out)
            v = b_src[(int64_t(b_img) * g.c_out + o) * hw_out + i * g.w_out + j];
        } else {  // B((img, i, j), (c, p, q)) = x[img, c, i*s - pad + p, j*s - pad + q]
          const int img = k / hw_out;
          const int pix = k - img * hw_out;
          const int i = pix / g.w_out;
          const int h = i * g.sh - g.ph + b_p;
          const int w = (pix - i * g.w_out) * g.sw - g.pw + b_q;
          if (h >= 0 && h < g.h_in && w >= 0 && w < g.w_in)
            v = b_src[(int64_t(img) * g.c_in + b_c) * hw_in + h * g.w_in + w];
        }
      }
      rb[e] = v;
    }
  };

  auto store_tiles = [&](int buf) {
#pragma unroll
    for (int e = 0; e < EA; ++e) As[buf][LA::k(t, e)][a_x] = ra[e];
#pragma unroll
    for (int e = 0; e < EB; ++e) Bs[buf][LB::k(t, e)][b_x] = rb[e];
  };

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;

  const int tx = t % 16, ty = t / 16;
  load_a(k_begin);
  load_b(k_begin);
  store_tiles(0);
  __syncthreads();
  int buf = 0;
  for (int kt = k_begin; kt < k_end; kt += kBK) {
    const bool has_next = kt + kBK < k_end;
    if (has_next) {
      load_a(kt + kBK);
      load_b(kt + kBK);
    }
#pragma unroll
    for (int kk = 0; kk < kBK; ++kk) {
      float a[TM], b[TN];
#pragma unroll
      for (int gi = 0; gi < TM / 4; ++gi) load_smem4(&As[buf][kk][gi * 64 + ty * 4], &a[gi * 4]);
#pragma unroll
      for (int gj = 0; gj < TN / 4; ++gj) load_smem4(&Bs[buf][kk][gj * 64 + tx * 4], &b[gj * 4]);
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    if (has_next) store_tiles(buf ^ 1);
    __syncthreads();
    buf ^= 1;
  }

  store_acc<D, TM, TN>(g, f, out, partial, acc, m0, n0, tx, ty, phase, split);
}

// Sums the split-K partials in split order (fixed, hence deterministic) into the output.
template <Dir D>
__global__ void conv_splitk_reduce_kernel(ConvGemm g, float* __restrict__ out, const float* __restrict__ partial) {
  const int64_t per_phase = int64_t(g.M) * g.n_pad;
  const int64_t total = per_phase * g.phases;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int phase = int(idx / per_phase);
    const int64_t r = idx - phase * per_phase;
    const int m = int(r / g.n_pad);
    const int n = int(r - int64_t(m) * g.n_pad);
    const PhaseInfo f = phase_info<D>(g, phase);
    if (n >= f.N) continue;
    const float* p = partial + (int64_t(phase) * g.splits * g.M + m) * g.n_pad + n;
    float s = 0.0f;
    for (int k = 0; k < g.splits; ++k) s += p[int64_t(k) * g.M * g.n_pad];
    if constexpr (D != Dir::backward_weight) s = apply_epilogue(g.epi, s, m);
    out[out_offset<D>(g, f, m, n)] = s;
  }
}

// ---- variant 3 "igemm2": deeper slices, no integer division in the main loop ---------------------------
//
// The GEMM mapping of conv_igemm_kernel, changed where the H200 measurement (2026-11-26) pointed: forward
// ran at ~20 TFLOP/s and backward-data, whose loaders divide most, at ~14, both far under the FMA peak.
// - Every thread loads a run of E consecutive k of one column (the old loaders strided k by 256/BX) and
//   walks the gather coordinates of k with a mixed-radix counter (KDigits): the divisions happen once per
//   block; per element there is only an increment with carries. The old loaders did two or three integer
//   divisions by run-time values per element, a ~20-instruction sequence each.
// - BK = 16: half the barriers, and twice the multiply-adds between a slice's global loads and their use.
// - Backward-weight (K = all output pixels, C small) takes the large tiles and splits K further (up to
//   kMaxSplits2, workspace capped at kMaxWorkspace2): the old plan chose 64x64 tiles there.
constexpr int kBK2 = 16;
constexpr int kMaxSplits2 = 128;
constexpr size_t kMaxWorkspace2 = size_t(64) << 20;

// A position in K written as k = (u * r1 + v) * r2 + w.
struct KDigits {
  int u, v, w;
};

struct KRadix {
  int r1, r2;
  int su, sv, sw;  // kBK2 written in the same digits (sv < r1, sw < r2)
};

__host__ __device__ inline KRadix make_radix(int r1, int r2) {
  KRadix r{};
  r.r1 = r1 > 0 ? r1 : 1;  // a backward-data phase without taps has K = 0 and never counts
  r.r2 = r2 > 0 ? r2 : 1;
  const int span = r.r1 * r.r2;
  r.su = kBK2 / span;
  const int rem = kBK2 - r.su * span;
  r.sv = rem / r.r2;
  r.sw = rem - r.sv * r.r2;
  return r;
}

__device__ __forceinline__ KDigits to_digits(const KRadix& r, int k) {
  KDigits d;
  const int span = r.r1 * r.r2;
  d.u = k / span;
  const int rem = k - d.u * span;
  d.v = rem / r.r2;
  d.w = rem - d.v * r.r2;
  return d;
}

__device__ __forceinline__ void digits_incr(const KRadix& r, KDigits& d) {
  if (++d.w == r.r2) {
    d.w = 0;
    if (++d.v == r.r1) {
      d.v = 0;
      ++d.u;
    }
  }
}

// d += 4, for r2 % 4 == 0 and d.w % 4 == 0 (the float4 path: four k that stay in one run of w).
__device__ __forceinline__ void digits_incr4(const KRadix& r, KDigits& d) {
  d.w += 4;
  if (d.w == r.r2) {
    d.w = 0;
    if (++d.v == r.r1) {
      d.v = 0;
      ++d.u;
    }
  }
}

__device__ __forceinline__ void digits_step(const KRadix& r, KDigits& d) {  // d += kBK2
  d.w += r.sw;
  if (d.w >= r.r2) d.w -= r.r2, ++d.v;
  d.v += r.sv;
  if (d.v >= r.r1) d.v -= r.r1, ++d.u;
  d.u += r.su;
}

// A thread's share of a kBK2 x BX slice: one column x and E consecutive k from k0.
//   along-X: neighbouring threads take neighbouring x (coalesced where the operand is contiguous along X)
//   along-K: neighbouring threads continue each other's k run (contiguous along K: float4 loads)
template <int BX, bool kAlongK>
struct Run {
  static constexpr int E = BX * kBK2 / kThreads;
  static_assert(E == 4 || E == 8, "a run is one or two float4");
  __device__ __forceinline__ static int x(int t) { return kAlongK ? t / (kBK2 / E) : t % BX; }
  __device__ __forceinline__ static int k0(int t) { return kAlongK ? (t % (kBK2 / E)) * E : (t / BX) * E; }
};

// igemm2w: backward-data's A, the weights w (c_out, c_in, kh, kw), re-laid per phase as wt[phase][k][c]
// with k = (o, tp, tq) the phase's taps in igemm2's order: the loaders of neighbouring channels c then read
// neighbouring floats, where w puts them kh*kw floats apart (a 4x4 kernel: 64 bytes, one sector each).
// Every tap lands in exactly one phase, so wt holds w's c_out*c_in*kh*kw floats. Where phase p starts:
__host__ __device__ inline int64_t relaid_phase_offset(const ConvGemm& g, int phase) {
  int64_t off = 0;
  for (int p = 0; p < phase; ++p) off += int64_t(phase_info<Dir::backward_data>(g, p).K) * g.M;
  return off;
}

__global__ void relayout_kernel(ConvGemm g, float* __restrict__ wt, const float* __restrict__ w) {
  const int phase = blockIdx.z;
  const PhaseInfo f = phase_info<Dir::backward_data>(g, phase);
  float* dst = wt + relaid_phase_offset(g, phase);
  const int taps = f.tp * f.tq, khkw = g.kh * g.kw;
  const int64_t total = int64_t(f.K) * g.M;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int k = int(i / g.M), c = int(i - int64_t(k) * g.M);
    const int o = k / taps, r = k - o * taps, ip = r / f.tq, iq = r - ip * f.tq;
    dst[i] = w[(int64_t(o) * g.c_in + c) * khkw + (f.rp + g.sh * ip) * g.kw + f.rq + g.sw * iq];
  }
}

template <Dir D, int TM, int TN>
__global__ void __launch_bounds__(kThreads, TM * TN >= 64 ? 1 : 2)
    conv_igemm2_kernel(ConvGemm g, float* __restrict__ out, const float* __restrict__ a_src,
                       const float* __restrict__ b_src, float* __restrict__ partial) {
  constexpr int BM = 16 * TM, BN = 16 * TN;
  using LA = Run<BM, D != Dir::backward_data>;
  using LB = Run<BN, D == Dir::backward_weight>;
  constexpr int EA = LA::E, EB = LB::E;
  // Rows padded by 4 floats (float4 alignment kept); along-X stores are a warp-wide row, conflict-free.
  constexpr int LDA = BM + 4, LDB = BN + 4;

  __shared__ __align__(16) float As[2][kBK2][LDA];
  __shared__ __align__(16) float Bs[2][kBK2][LDB];

  const int phase = blockIdx.z / g.splits;
  const int split = blockIdx.z % g.splits;
  const PhaseInfo f = phase_info<D>(g, phase);
  const int m0 = blockIdx.y * BM;
  const int n0 = blockIdx.x * BN;
  if (n0 >= f.N) return;  // this phase is smaller than the largest one (whole block leaves together)
  const int k_per_split = ceil_div(ceil_div(f.K, g.splits), kBK2) * kBK2;
  const int k_begin = split * k_per_split;
  const int k_end = f.K < k_begin + k_per_split ? f.K : k_begin + k_per_split;

  const int t = threadIdx.x;
  const int hw_in = g.h_in * g.w_in, hw_out = g.h_out * g.w_out, khkw = g.kh * g.kw;

  // ---- per-thread constants: the fixed column of each loader, and where its k run starts ----
  const int a_m = m0 + LA::x(t);
  const bool a_valid = a_m < g.M;
  const int b_n = n0 + LB::x(t);
  const bool b_valid = b_n < f.N;
  const int a_k0 = LA::k0(t), b_k0 = LB::k0(t);

  // Digits of k: forward B (c, p, q); backward-data A and B (o, tp, tq); backward-weight A (img, 0, pixel),
  // B (img, i, j). Offsets: element = base + u * ustride + (terms of v and w).
  KRadix ra{}, rb{};
  if constexpr (D == Dir::forward) {
    rb = make_radix(g.kh, g.kw);
  } else if constexpr (D == Dir::backward_data) {
    ra = rb = make_radix(f.tp, f.tq);
  } else {
    ra = make_radix(1, hw_out);
    rb = make_radix(g.h_out, g.w_out);
  }
  int64_t a_base = 0, a_ustride = 0, b_base = 0, b_ustride = 0;
  int b_r0 = 0, b_c0 = 0;  // forward / backward-data: top-left input (output) pixel of the column
  int b_p = 0, b_q = 0;    // backward-weight: the column's tap
  if constexpr (D == Dir::forward) {
    a_base = int64_t(a_m) * f.K;
    b_ustride = hw_in;
    if (b_valid) {
      const int img = b_n / hw_out;
      const int pix = b_n - img * hw_out;
      const int i = pix / g.w_out;
      b_r0 = i * g.sh - g.ph;
      b_c0 = (pix - i * g.w_out) * g.sw - g.pw;
      b_base = int64_t(img) * g.c_in * hw_in;
    }
  } else if constexpr (D == Dir::backward_data) {
    a_base = g.a_relaid ? relaid_phase_offset(g, phase) + a_m : int64_t(a_m) * khkw + f.rp * g.kw + f.rq;
    a_ustride = int64_t(g.c_in) * khkw;
    b_ustride = hw_out;
    if (b_valid) {
      const int per_img = f.hp * f.wp;
      const int img = b_n / per_img;
      const int r = b_n - img * per_img;
      const int hh = r / f.wp;
      b_r0 = hh + f.off_h;
      b_c0 = r - hh * f.wp + f.off_w;
      b_base = int64_t(img) * g.c_out * hw_out;
    }
  } else {
    a_base = int64_t(a_m) * hw_out;
    a_ustride = int64_t(g.c_out) * hw_out;
    b_ustride = int64_t(g.c_in) * hw_in;
    if (b_valid) {
      const int c = b_n / khkw;
      const int r = b_n - c * khkw;
      b_p = r / g.kw;
      b_q = r - b_p * g.kw;
      b_base = int64_t(c) * hw_in;
    }
  }
  KDigits a_d{}, b_d{};
  if constexpr (D != Dir::forward) a_d = to_digits(ra, k_begin + a_k0);
  b_d = to_digits(rb, k_begin + b_k0);
  // float4 loads of A: forward (rows of w), backward-weight (runs of dy pixels within one image).
  const bool a_vec = g.vec_a && a_valid &&
                     (D == Dir::forward ? f.K % 4 == 0 : D == Dir::backward_weight ? hw_out % 4 == 0 : false);

  float ra_[EA], rb_[EB];

  auto load_a = [&](int kt) {  // the slice starting at kt; a_d holds the digits of kt + a_k0
    const int k0 = kt + a_k0;
    if constexpr (D == Dir::forward || D == Dir::backward_weight) {
      KDigits d = a_d;
#pragma unroll
      for (int e4 = 0; e4 < EA; e4 += 4) {
        const float* src = D == Dir::forward ? a_src + a_base + k0 + e4 : a_src + a_base + d.u * a_ustride + d.w;
        if (a_vec && k0 + e4 + 3 < k_end) {
          const float4 v = *reinterpret_cast<const float4*>(src);
          ra_[e4] = v.x, ra_[e4 + 1] = v.y, ra_[e4 + 2] = v.z, ra_[e4 + 3] = v.w;
          if constexpr (D == Dir::backward_weight) digits_incr4(ra, d);
        } else {
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            float v = 0.0f;
            if (a_valid && k0 + e4 + e < k_end) {
              if constexpr (D == Dir::forward) v = src[e];
              else v = a_src[a_base + d.u * a_ustride + d.w];
            }
            ra_[e4 + e] = v;
            if constexpr (D == Dir::backward_weight) digits_incr(ra, d);
          }
        }
      }
    } else if (g.a_relaid) {  // backward-data, igemm2w: A(c, k) = wt[phase][k][c], neighbouring c adjacent
#pragma unroll
      for (int e = 0; e < EA; ++e) ra_[e] = a_valid && k0 + e < k_end ? a_src[a_base + int64_t(k0 + e) * g.M] : 0.0f;
    } else {  // backward-data: A(c, (o, tp, tq)) = w[o, c, rp + s*tp, rq + s*tq]
      KDigits d = a_d;
#pragma unroll
      for (int e = 0; e < EA; ++e) {
        float v = 0.0f;
        if (a_valid && k0 + e < k_end) v = a_src[a_base + d.u * a_ustride + g.sh * d.v * g.kw + g.sw * d.w];
        ra_[e] = v;
        digits_incr(ra, d);
      }
    }
  };

  auto load_b = [&](int kt) {  // b_d holds the digits of kt + b_k0
    const int k0 = kt + b_k0;
    KDigits d = b_d;
#pragma unroll
    for (int e = 0; e < EB; ++e) {
      float v = 0.0f;
      if (b_valid && k0 + e < k_end) {
        if constexpr (D == Dir::forward) {  // B((c, p, q), pixel) = x[img, c, r0 + p, c0 + q]
          const int h = b_r0 + d.v, w = b_c0 + d.w;
          if (unsigned(h) < unsigned(g.h_in) && unsigned(w) < unsigned(g.w_in))
            v = b_src[b_base + d.u * b_ustride + h * g.w_in + w];
        } else if constexpr (D == Dir::backward_data) {  // B((o, tp, tq), pixel) = dy[img, o, r0 - tp, c0 - tq]
          const int i = b_r0 - d.v, j = b_c0 - d.w;
          if (unsigned(i) < unsigned(g.h_out) && unsigned(j) < unsigned(g.w_out))
            v = b_src[b_base + d.u * b_ustride + i * g.w_out + j];
        } else {  // B((img, i, j), (c, p, q)) = x[img, c, i*s - pad + p, j*s - pad + q]
          const int h = d.v * g.sh - g.ph + b_p, w = d.w * g.sw - g.pw + b_q;
          if (unsigned(h) < unsigned(g.h_in) && unsigned(w) < unsigned(g.w_in))
            v = b_src[b_base + d.u * b_ustride + h * g.w_in + w];
        }
      }
      rb_[e] = v;
      digits_incr(rb, d);
    }
  };

  auto store_tiles = [&](int buf) {
    const int ax = LA::x(t), bx = LB::x(t);
#pragma unroll
    for (int e = 0; e < EA; ++e) As[buf][a_k0 + e][ax] = ra_[e];
#pragma unroll
    for (int e = 0; e < EB; ++e) Bs[buf][b_k0 + e][bx] = rb_[e];
  };

  auto advance = [&]() {
    if constexpr (D != Dir::forward) digits_step(ra, a_d);
    digits_step(rb, b_d);
  };

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;

  const int tx = t % 16, ty = t / 16;
  load_a(k_begin);
  load_b(k_begin);
  advance();
  store_tiles(0);
  __syncthreads();
  int buf = 0;
  for (int kt = k_begin; kt < k_end; kt += kBK2) {
    const bool has_next = kt + kBK2 < k_end;
    if (has_next) {
      load_a(kt + kBK2);
      load_b(kt + kBK2);
      advance();
    }
#pragma unroll
    for (int kk = 0; kk < kBK2; ++kk) {
      float a[TM], b[TN];
#pragma unroll
      for (int gi = 0; gi < TM / 4; ++gi) load_smem4(&As[buf][kk][gi * 64 + ty * 4], &a[gi * 4]);
#pragma unroll
      for (int gj = 0; gj < TN / 4; ++gj) load_smem4(&Bs[buf][kk][gj * 64 + tx * 4], &b[gj * 4]);
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    if (has_next) store_tiles(buf ^ 1);
    __syncthreads();
    buf ^= 1;
  }

  store_acc<D, TM, TN>(g, f, out, partial, acc, m0, n0, tx, ty, phase, split);
}

// ---- variant 4 "igemm3": a three-stage cp.async pipeline ----------------------------------------------
//
// The 64x64 tile of conv_igemm_kernel (4x4 per thread, BK = 8), with its operands brought into shared memory
// by asynchronous copies (cp.async through <cuda_pipeline.h>) three slices deep: slice s+2 is in flight
// while slice s is multiplied, and the copies need no registers, so loads and FMAs overlap without the
// register double-buffering of igemm/igemm2. Out-of-bounds elements (padding, the ragged edges of M, N and
// K) are zero-filled by the copy itself (src-size 0), not by a branch around a load.
// Gather offsets: every element's source is base(column) + koff(k). The column part is computed once per
// thread; the k part of each slice is decoded once per block, by BK threads, one slice ahead, into a small
// shared table (KSlot), so the per-element work is two adds and two bounds tests, whatever the product
// (column part + k part):
//   forward          A = w   m*K + k                      B = x   (img, i*s-pad, j*s-pad) + (c, p, q)
//   backward-data    A = w   c*kh*kw + (o, p, q)          B = dy  (img, r0, c0) + (o, -tp, -tq)
//   backward-weight  A = dy  o*hw_out + (img, pix)        B = x   (c, p, q) + (img, i*s-pad, j*s-pad)
// with the row and column of the B element (column part + k part) tested against the gathered tensor.
// Split-K and the split reduce are igemm's (same plan, same partials).
constexpr int kStages3 = 3;

struct KSlot {
  int64_t a, b;  // the k part of the A and B offsets
  int dh, dw;    // the k part of B's row and column
  int valid;     // k < the split's end
};

template <Dir D>
__device__ __forceinline__ KSlot decode_k(const ConvGemm& g, const PhaseInfo& f, int k, int k_end) {
  KSlot s{0, 0, 0, 0, k < k_end};
  if (!s.valid) return s;
  const int hw_in = g.h_in * g.w_in, hw_out = g.h_out * g.w_out, khkw = g.kh * g.kw;
  if constexpr (D == Dir::forward) {
    const int c = k / khkw, r = k - c * khkw, p = r / g.kw, q = r - p * g.kw;
    s.a = k;
    s.b = int64_t(c) * hw_in + p * g.w_in + q;
    s.dh = p, s.dw = q;
  } else if constexpr (D == Dir::backward_data) {
    const int taps = f.tp * f.tq;
    const int o = k / taps, r = k - o * taps, ip = r / f.tq, iq = r - ip * f.tq;
    const int p = f.rp + g.sh * ip, q = f.rq + g.sw * iq;
    s.a = int64_t(o) * g.c_in * khkw + p * g.kw + q;
    s.b = int64_t(o) * hw_out - ip * g.w_out - iq;
    s.dh = -ip, s.dw = -iq;
  } else {
    const int img = k / hw_out, pix = k - img * hw_out, i = pix / g.w_out, j = pix - i * g.w_out;
    const int h0 = i * g.sh - g.ph, w0 = j * g.sw - g.pw;
    s.a = int64_t(img) * g.c_out * hw_out + pix;
    s.b = int64_t(img) * g.c_in * hw_in + int64_t(h0) * g.w_in + w0;
    s.dh = h0, s.dw = w0;
  }
  return s;
}

template <Dir D>
__global__ void __launch_bounds__(kThreads, 2)
    conv_igemm3_kernel(ConvGemm g, float* __restrict__ out, const float* __restrict__ a_src,
                       const float* __restrict__ b_src, float* __restrict__ partial) {
  constexpr int TM = 4, TN = 4, BM = 64, BN = 64, LD = 64 + 4;
  constexpr int E = BM * kBK / kThreads;  // elements of each operand a thread copies per slice (2)
  __shared__ __align__(16) float As[kStages3][kBK][LD];
  __shared__ __align__(16) float Bs[kStages3][kBK][LD];
  __shared__ KSlot slots[kStages3][kBK];

  const int phase = blockIdx.z / g.splits;
  const int split = blockIdx.z % g.splits;
  const PhaseInfo f = phase_info<D>(g, phase);
  const int m0 = blockIdx.y * BM;
  const int n0 = blockIdx.x * BN;
  if (n0 >= f.N) return;  // this phase is smaller than the largest one (whole block leaves together)
  const int k_per_split = ceil_div(ceil_div(f.K, g.splits), kBK) * kBK;
  const int k_begin = split * k_per_split;
  const int k_end = f.K < k_begin + k_per_split ? f.K : k_begin + k_per_split;
  const int slices = k_end > k_begin ? ceil_div(k_end - k_begin, kBK) : 0;

  const int t = threadIdx.x;
  const int x = t % 64;  // this thread's column of both operand tiles; its k are t / 64 + 4 * e
  const int hw_in = g.h_in * g.w_in, hw_out = g.h_out * g.w_out, khkw = g.kh * g.kw;

  // ---- the column parts, once ----
  const int m = m0 + x;
  const bool a_valid = m < g.M;
  int64_t a_base = 0;
  if constexpr (D == Dir::forward)
    a_base = int64_t(m) * f.K;
  else if constexpr (D == Dir::backward_data)
    a_base = int64_t(m) * khkw;
  else
    a_base = int64_t(m) * hw_out;
  const int n = n0 + x;
  const bool b_valid = n < f.N;
  int64_t b_base = 0;
  int col_h = 0, col_w = 0, rows = g.h_in, cols = g.w_in;
  if (b_valid) {
    if constexpr (D == Dir::forward) {
      const int img = n / hw_out, pix = n - img * hw_out, i = pix / g.w_out;
      col_h = i * g.sh - g.ph, col_w = (pix - i * g.w_out) * g.sw - g.pw;
      b_base = int64_t(img) * g.c_in * hw_in + int64_t(col_h) * g.w_in + col_w;
    } else if constexpr (D == Dir::backward_data) {
      const int per_img = f.hp * f.wp, img = n / per_img, r = n - img * per_img, hh = r / f.wp;
      col_h = hh + f.off_h, col_w = r - hh * f.wp + f.off_w;
      rows = g.h_out, cols = g.w_out;
      b_base = int64_t(img) * g.c_out * hw_out + int64_t(col_h) * g.w_out + col_w;
    } else {
      const int c = n / khkw, r = n - c * khkw, p = r / g.kw;
      col_h = p, col_w = r - p * g.kw;
      b_base = int64_t(c) * hw_in + int64_t(p) * g.w_in + col_w;
    }
  }

  // Slot `stage` gets the k parts of slice `s` (BK threads, one k each).
  auto decode_slice = [&](int s) {
    if (t < kBK && s < slices) slots[s % kStages3][t] = decode_k<D>(g, f, k_begin + s * kBK + t, k_end);
  };
  // Every thread copies its E elements of A and of B of slice `s` (a zero-filled copy where out of bounds).
  auto issue_slice = [&](int s) {
    if (s >= slices) return;
    const int st = s % kStages3;
#pragma unroll
    for (int e = 0; e < E; ++e) {
      const int kk = t / 64 + 4 * e;
      const KSlot& ks = slots[st][kk];
      const bool a_ok = a_valid && ks.valid;
      __pipeline_memcpy_async(&As[st][kk][x], a_ok ? a_src + a_base + ks.a : a_src, 4, a_ok ? 0 : 4);
      const int h = col_h + ks.dh, w = col_w + ks.dw;
      const bool b_ok = b_valid && ks.valid && h >= 0 && h < rows && w >= 0 && w < cols;
      __pipeline_memcpy_async(&Bs[st][kk][x], b_ok ? b_src + b_base + ks.b : b_src, 4, b_ok ? 0 : 4);
    }
  };

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;

  const int tx = t % 16, ty = t / 16;
  decode_slice(0);
  decode_slice(1);
  __syncthreads();
  issue_slice(0);
  __pipeline_commit();
  issue_slice(1);
  __pipeline_commit();
  decode_slice(2);  // its slot is read only after the loop's first barrier
  for (int s = 0; s < slices; ++s) {
    __pipeline_wait_prior(1);  // this thread's copies of slice s have landed (s + 1 may be in flight)
    // Everyone's slice s has landed; everyone is done with slice s - 1, whose stage slice s + 2 reuses;
    // slice s + 2's slot was decoded before this barrier.
    __syncthreads();
    issue_slice(s + 2);
    __pipeline_commit();  // possibly empty: the group count stays one per slice
    decode_slice(s + 3);  // into slice s's slot, last read when slice s was issued
    const int st = s % kStages3;
#pragma unroll
    for (int kk = 0; kk < kBK; ++kk) {
      float a[TM], b[TN];
      load_smem4(&As[st][kk][ty * 4], a);
      load_smem4(&Bs[st][kk][tx * 4], b);
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
  }
  __pipeline_wait_prior(0);  // no copy outlives the block (the groups left are empty)

  store_acc<D, TM, TN>(g, f, out, partial, acc, m0, n0, tx, ty, phase, split);
}

// ---- variant 0: one thread per output element ----------------------------------------------------------

__global__ void conv_naive_forward_kernel(ConvGemm g, float* __restrict__ y, const float* __restrict__ x,
                                          const float* __restrict__ w) {
  const int64_t total = int64_t(g.n) * g.c_out * g.h_out * g.w_out;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int j = int(idx % g.w_out);
    const int i = int(idx / g.w_out % g.h_out);
    const int o = int(idx / (int64_t(g.w_out) * g.h_out) % g.c_out);
    const int img = int(idx / (int64_t(g.w_out) * g.h_out * g.c_out));
    float s = 0.0f;
    for (int c = 0; c < g.c_in; ++c)
      for (int p = 0; p < g.kh; ++p) {
        const int h = i * g.sh - g.ph + p;
        if (h < 0 || h >= g.h_in) continue;
        for (int q = 0; q < g.kw; ++q) {
          const int ww = j * g.sw - g.pw + q;
          if (ww < 0 || ww >= g.w_in) continue;
          s = fmaf(x[((int64_t(img) * g.c_in + c) * g.h_in + h) * g.w_in + ww],
                   w[((int64_t(o) * g.c_in + c) * g.kh + p) * g.kw + q], s);
        }
      }
    y[idx] = s;
  }
}

__global__ void conv_naive_backward_data_kernel(ConvGemm g, float* __restrict__ dx, const float* __restrict__ dy,
                                                const float* __restrict__ w) {
  const int64_t total = int64_t(g.n) * g.c_in * g.h_in * g.w_in;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int ww = int(idx % g.w_in);
    const int h = int(idx / g.w_in % g.h_in);
    const int c = int(idx / (int64_t(g.w_in) * g.h_in) % g.c_in);
    const int img = int(idx / (int64_t(g.w_in) * g.h_in * g.c_in));
    float s = 0.0f;
    for (int o = 0; o < g.c_out; ++o)
      for (int p = 0; p < g.kh; ++p) {
        const int ih = h + g.ph - p;  // = i * stride when an output row i reads input row h through tap p
        if (ih < 0 || ih % g.sh != 0 || ih / g.sh >= g.h_out) continue;
        for (int q = 0; q < g.kw; ++q) {
          const int jw = ww + g.pw - q;
          if (jw < 0 || jw % g.sw != 0 || jw / g.sw >= g.w_out) continue;
          s = fmaf(dy[((int64_t(img) * g.c_out + o) * g.h_out + ih / g.sh) * g.w_out + jw / g.sw],
                   w[((int64_t(o) * g.c_in + c) * g.kh + p) * g.kw + q], s);
        }
      }
    dx[idx] = s;
  }
}

__global__ void conv_naive_backward_weight_kernel(ConvGemm g, float* __restrict__ dw, const float* __restrict__ x,
                                                  const float* __restrict__ dy) {
  const int64_t total = int64_t(g.c_out) * g.c_in * g.kh * g.kw;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < total;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int q = int(idx % g.kw);
    const int p = int(idx / g.kw % g.kh);
    const int c = int(idx / (int64_t(g.kw) * g.kh) % g.c_in);
    const int o = int(idx / (int64_t(g.kw) * g.kh * g.c_in));
    float s = 0.0f;
    for (int img = 0; img < g.n; ++img)
      for (int i = 0; i < g.h_out; ++i) {
        const int h = i * g.sh - g.ph + p;
        if (h < 0 || h >= g.h_in) continue;
        for (int j = 0; j < g.w_out; ++j) {
          const int ww = j * g.sw - g.pw + q;
          if (ww < 0 || ww >= g.w_in) continue;
          s = fmaf(dy[((int64_t(img) * g.c_out + o) * g.h_out + i) * g.w_out + j],
                   x[((int64_t(img) * g.c_in + c) * g.h_in + h) * g.w_in + ww], s);
        }
      }
    dw[idx] = s;
  }
}

// ---- planning and launch ------------------------------------------------------------------------------

// The variants' names, indexed by the number the planner and the launcher switch on.
const char* const kVariantNames[] = {"naive",          "igemm",          "igemm-nosplit",   "igemm2",
                                     "igemm3",         "igemm2w",        "winograd4",       "winograd2",
                                     "winograd4-tf32", "winograd2-tf32", "winograd4-tf32x3"};
constexpr int kIgemm2w = 5;        // igemm2, backward-data reading weights re-laid per phase
constexpr int kFirstWinograd = 6;  // from here on: Winograd, by tile and by where its GEMMs run
struct WinoVariant {
  int tile;
  WinoMath math;
};
constexpr WinoVariant kWino[] = {{4, WinoMath::fp32},
                                 {2, WinoMath::fp32},
                                 {4, WinoMath::tf32},
                                 {2, WinoMath::tf32},
                                 {4, WinoMath::tf32x3}};
static_assert(kFirstWinograd + sizeof(kWino) / sizeof(kWino[0]) == sizeof(kVariantNames) / sizeof(kVariantNames[0]));
constexpr int wino_tile(int variant) { return kWino[variant - kFirstWinograd].tile; }
constexpr WinoMath wino_math(int variant) { return kWino[variant - kFirstWinograd].math; }
constexpr int kDefaultVariant = 6;  // winograd4 (conv2d.h has the measurement)
std::atomic<int> g_variant{kDefaultVariant};
std::atomic<int> g_forced_tm{0}, g_forced_tn{0};  // set_conv_tile (tests): 0 lets the planner choose

struct Plan {
  ConvGemm g;
  int tm, tn;  // register block per thread; the block's tile is 16*tm x 16*tn
  int n_max, k_max;
};

inline void force_tile(Plan& plan) {
  const int tm = g_forced_tm.load(std::memory_order_relaxed), tn = g_forced_tn.load(std::memory_order_relaxed);
  if (tm != 0) plan.tm = tm, plan.tn = tn;
}

template <Dir D>
Plan make_plan(const Conv2dShape& s, int variant, size_t workspace_bytes) {
  Plan plan{};
  ConvGemm& g = plan.g;
  g.n = s.n, g.c_in = s.c_in, g.h_in = s.h_in, g.w_in = s.w_in, g.c_out = s.c_out, g.h_out = s.h_out;
  g.w_out = s.w_out, g.kh = s.kh, g.kw = s.kw, g.sh = s.stride_h, g.sw = s.stride_w, g.ph = s.pad_h;
  g.pw = s.pad_w;
  g.M = D == Dir::backward_data ? s.c_in : s.c_out;
  g.phases = D == Dir::backward_data ? s.stride_h * s.stride_w : 1;
  g.splits = 1;
  for (int ph = 0; ph < g.phases; ++ph) {
    const PhaseInfo f = phase_info<D>(g, ph);
    plan.n_max = std::max(plan.n_max, f.N);
    plan.k_max = std::max(plan.k_max, f.K);
  }
  g.n_pad = (plan.n_max + 3) / 4 * 4;
  // The largest tile that still gives about one block per SM: 128x128 (8x8 per thread, 16 FFMA per shared
  // load), 64x128 for the 64-channel layers (U-Net level 0), else 64x64 (four times the blocks).
  const auto tiles = [&](int bm, int bn) {
    return int64_t(ceil_div(g.M, bm)) * ceil_div(plan.n_max, bn) * g.phases;
  };
  if (variant == 3) {
    // A cost model picks the tile and the split count together: waves of blocks (one resident 128x128
    // block per SM, two of the smaller ones) times one block's multiply-adds at a per-tile efficiency, plus
    // the partials' round trip through memory and the reduce launch. It splits backward-weight (C small, K
    // huge) wide with large tiles, and leaves alone a grid that already fills the device in whole waves.
    // Rates are an H200's (132 SMs, ~254 G FMA/s per SM, ~4 TB/s); a wrong guess costs speed, not results.
    constexpr double kSMs = 132, kSmFma = 0.254e12, kBytesPerS = 4.0e12, kReduceLaunch = 4e-6;
    const size_t per_split = size_t(g.phases) * g.M * g.n_pad * sizeof(float);
    const int max_splits = int(std::min<size_t>(
        size_t(std::min(kMaxSplits2, std::max(1, plan.k_max / (16 * kBK2)))),  // >= 16 slices per split
        std::max<size_t>(1, std::min(workspace_bytes, kMaxWorkspace2) / std::max<size_t>(per_split, 1))));
    const int forced_tm = g_forced_tm.load(std::memory_order_relaxed);
    const int forced_tn = g_forced_tn.load(std::memory_order_relaxed);
    struct Tile { int tm, tn, per_sm; double efficiency; };
    const Tile choices[] = {{8, 8, 1, 0.60}, {4, 8, 2, 0.50}, {4, 4, 2, 0.35}};
    double best = -1;
    for (const Tile& c : choices) {
      if (forced_tm != 0 && (c.tm != forced_tm || c.tn != forced_tn)) continue;
      const int64_t blocks = tiles(16 * c.tm, 16 * c.tn);
      for (int splits = 1; splits <= max_splits; ++splits) {
        const double k_split = double(ceil_div(ceil_div(plan.k_max, splits), kBK2) * kBK2);
        const double waves = std::ceil(double(blocks) * splits / (kSMs * c.per_sm));
        double cost = waves * c.per_sm * (256.0 * c.tm * c.tn) * k_split / (kSmFma * c.efficiency);
        if (splits > 1) cost += (2.0 * splits + 1.0) * double(per_split) / kBytesPerS + kReduceLaunch;
        if (best < 0 || cost < best) best = cost, plan.tm = c.tm, plan.tn = c.tn, g.splits = splits;
      }
    }
    return plan;
  }
  if (variant == 4) {
    plan.tm = 4, plan.tn = 4;  // igemm3 has the one tile
  } else if (g.M >= 96 && plan.n_max >= 96 && tiles(128, 128) >= kTargetBlocks / 2) {
    plan.tm = 8, plan.tn = 8;
  } else if (plan.n_max >= 96 && tiles(64, 128) >= kTargetBlocks / 2) {
    plan.tm = 4, plan.tn = 8;
  } else {
    plan.tm = 4, plan.tn = 4;
  }
  if (variant != 4) force_tile(plan);
  const int64_t blocks = tiles(16 * plan.tm, 16 * plan.tn);
  if ((variant == 1 || variant == 4) && blocks < kTargetBlocks) {
    // Each split keeps at least 32 slices of K, so that the loop still hides its loads.
    const int by_blocks = int(ceil_div(kTargetBlocks, int(blocks)));
    const int by_depth = std::max(1, plan.k_max / (32 * kBK));
    int splits = std::min({by_blocks, by_depth, kMaxSplits});
    const size_t per_split = size_t(g.phases) * g.M * g.n_pad * sizeof(float);
    splits = int(std::min<size_t>(size_t(splits), workspace_bytes / per_split));
    g.splits = std::max(1, splits);
  }
  return plan;
}

constexpr WinoProduct wino_product(Dir d) {
  return d == Dir::forward ? WinoProduct::forward
                           : d == Dir::backward_data ? WinoProduct::backward_data : WinoProduct::backward_weight;
}

// igemm2w's re-laid weights, at the start of the workspace (the split-K partials follow), 16-byte aligned.
inline size_t relaid_bytes(const Conv2dShape& s) { return (size_t(s.w_size()) * sizeof(float) + 15) / 16 * 16; }

// Enough for every splitting variant (1, 3 and 4), whichever is selected when the kernel runs, and for the
// Winograd variant when one is selected now (its transformed operands are several times the activations,
// so the default variant does not reserve them; the engine sizes the workspace before each launch).
template <Dir D>
size_t workspace_for(const Conv2dShape& s) {
  size_t bytes = 0;
  const int selected = g_variant.load(std::memory_order_relaxed);
  if (selected >= kFirstWinograd)
    bytes = winograd_workspace_bytes(wino_tile(selected), wino_product(D), s);
  for (int variant : {1, 3, 4}) {
    const Plan p = make_plan<D>(s, variant, SIZE_MAX);
    size_t need = p.g.splits > 1 ? size_t(p.g.splits) * p.g.phases * p.g.M * p.g.n_pad * sizeof(float) : 0;
    if (variant == 3 && D == Dir::backward_data && selected == kIgemm2w) need += relaid_bytes(s);
    bytes = std::max(bytes, need);
  }
  return bytes;
}

// Returns whether `epi` was applied: every variant but naive applies it as it stores the output.
template <Dir D>
bool launch_conv(const Stream& stream, float* out, const float* a, const float* b, const Conv2dShape& s,
                 const ConvEpilogue& epi = {}) {
  int variant = g_variant.load(std::memory_order_relaxed);
  if (variant >= kFirstWinograd) {
    // The operands in the Winograd entry's order: forward (x, w), backward-data (dy, w), backward-weight
    // (x, dy), which is (b, a) here.
    if (winograd_run(wino_tile(variant), wino_product(D), wino_math(variant), stream, out, b, a, s, epi)) return true;
    variant = 3;  // a shape Winograd does not take (not 3x3 stride 1), or too little workspace: igemm2
  }
  const bool ws_aligned = reinterpret_cast<uintptr_t>(stream.workspace) % 16 == 0;
  size_t ws_bytes = stream.workspace && ws_aligned ? stream.workspace_bytes : 0;
  float* ws = static_cast<float*>(stream.workspace);
  // igemm2w is igemm2 everywhere; its backward-data re-lays the weights into the workspace first (and runs
  // as igemm2 when the workspace cannot hold them).
  const bool relaid = variant == kIgemm2w && D == Dir::backward_data && ws_bytes >= relaid_bytes(s);
  if (variant == kIgemm2w) variant = 3;
  float* wt = nullptr;
  if (relaid) {
    wt = ws;
    ws += relaid_bytes(s) / sizeof(float);
    ws_bytes -= relaid_bytes(s);
  }
  Plan plan = make_plan<D>(s, variant, ws_bytes);
  ConvGemm& g = plan.g;
  const cudaStream_t st = stream_of(stream);
  if (relaid) {
    g.a_relaid = true;
    int64_t k_max_m = 0;
    for (int ph = 0; ph < g.phases; ++ph) k_max_m = std::max(k_max_m, int64_t(phase_info<D>(g, ph).K) * g.M);
    const dim3 grid(unsigned(std::min<int64_t>((k_max_m + 255) / 256, 1024)), 1, unsigned(g.phases));
    TINT_LAUNCH(relayout_kernel, grid, 256, 0, st, g, wt, a);
    a = wt;
  }
  if (variant == 0) {
    const int64_t total = D == Dir::forward ? s.y_size() : D == Dir::backward_data ? s.x_size() : s.w_size();
    const unsigned grid = static_cast<unsigned>(std::min<int64_t>((total + 255) / 256, 65535));
    // The naive kernels take their operands in the contract's order (out, input, input), which is (b, a).
    if constexpr (D == Dir::forward) TINT_LAUNCH(conv_naive_forward_kernel, grid, 256, 0, st, g, out, b, a);
    if constexpr (D == Dir::backward_data)
      TINT_LAUNCH(conv_naive_backward_data_kernel, grid, 256, 0, st, g, out, b, a);
    if constexpr (D == Dir::backward_weight)
      TINT_LAUNCH(conv_naive_backward_weight_kernel, grid, 256, 0, st, g, out, b, a);
    return false;  // the contract's formula as written: the caller adds the bias and ReLU in a second pass
  }
  if constexpr (D != Dir::backward_weight) g.epi = epi;
  g.vec_a = reinterpret_cast<uintptr_t>(a) % 16 == 0;
  g.vec_out = reinterpret_cast<uintptr_t>(out) % 16 == 0;
  float* partial = g.splits > 1 ? ws : nullptr;
  const dim3 grid(unsigned(ceil_div(plan.n_max, 16 * plan.tn)), unsigned(ceil_div(g.M, 16 * plan.tm)),
                  unsigned(g.phases * g.splits));
  if (variant == 4) {
    TINT_LAUNCH(conv_igemm3_kernel<D>, grid, kThreads, 0, st, g, out, a, b, partial);
  } else if (variant == 3) {
    if (plan.tm == 8)
      TINT_LAUNCH((conv_igemm2_kernel<D, 8, 8>), grid, kThreads, 0, st, g, out, a, b, partial);
    else if (plan.tn == 8)
      TINT_LAUNCH((conv_igemm2_kernel<D, 4, 8>), grid, kThreads, 0, st, g, out, a, b, partial);
    else
      TINT_LAUNCH((conv_igemm2_kernel<D, 4, 4>), grid, kThreads, 0, st, g, out, a, b, partial);
  } else if (plan.tm == 8)
    TINT_LAUNCH((conv_igemm_kernel<D, 8, 8>), grid, kThreads, 0, st, g, out, a, b, partial);
  else if (plan.tn == 8)
    TINT_LAUNCH((conv_igemm_kernel<D, 4, 8>), grid, kThreads, 0, st, g, out, a, b, partial);
  else
    TINT_LAUNCH((conv_igemm_kernel<D, 4, 4>), grid, kThreads, 0, st, g, out, a, b, partial);
  if (g.splits > 1) {
    const int64_t total = int64_t(g.phases) * g.M * g.n_pad;
    TINT_LAUNCH(conv_splitk_reduce_kernel<D>, grid_for(total, 256), 256, 0, st, g, out, partial);
  }
  return true;
}

}  // namespace

const std::vector<std::string>& conv_variants() {
  static const std::vector<std::string> names(std::begin(kVariantNames), std::end(kVariantNames));
  return names;
}

std::string conv_variant() { return kVariantNames[g_variant.load()]; }

void set_conv_variant(const std::string& name) {
  const std::vector<std::string>& names = conv_variants();
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) {
      g_variant.store(int(i));
      return;
    }
  std::string valid;
  for (const std::string& n : names) {
    if (!valid.empty()) valid += ", ";
    valid += n;
  }
  raise_error(format_message("%s: unknown conv variant '%s' (valid: %s)", TINT_BACKEND_NAME, name.c_str(),
                             valid.c_str()));
}

void set_conv_tile(int tm, int tn) {
  const bool ok = (tm == 0 && tn == 0) || (tm == 8 && tn == 8) || (tm == 4 && tn == 8) || (tm == 4 && tn == 4);
  if (!ok)
    raise_error(format_message("%s: conv tile %dx%d is not one of 0x0, 8x8, 4x8, 4x4", TINT_BACKEND_NAME, tm, tn));
  g_forced_tm.store(tm);
  g_forced_tn.store(tn);
}

// x (n, c_in, h, w) * w (c_out, c_in, kh, kw) -> y
void conv2d_forward(const Stream& s, float* y, const float* x, const float* w, const Conv2dShape& shape) {
  launch_conv<Dir::forward>(s, y, w, x, shape);
}

void conv2d_backward_data(const Stream& s, float* dx, const float* dy, const float* w, const Conv2dShape& shape) {
  launch_conv<Dir::backward_data>(s, dx, w, dy, shape);
}

bool conv2d_forward_epilogue(const Stream& s, float* y, const float* x, const float* w, const float* bias, bool relu,
                             const Conv2dShape& shape) {
  return launch_conv<Dir::forward>(s, y, w, x, shape, ConvEpilogue{bias, relu});
}

bool conv2d_backward_data_epilogue(const Stream& s, float* dx, const float* dy, const float* w, const float* bias,
                                   bool relu, const Conv2dShape& shape) {
  return launch_conv<Dir::backward_data>(s, dx, w, dy, shape, ConvEpilogue{bias, relu});
}

void conv2d_backward_weight(const Stream& s, float* dw, const float* x, const float* dy, const Conv2dShape& shape) {
  launch_conv<Dir::backward_weight>(s, dw, dy, x, shape);
}

size_t conv2d_workspace_bytes(const Conv2dShape& s) {
  return std::max({workspace_for<Dir::forward>(s), workspace_for<Dir::backward_data>(s),
                   workspace_for<Dir::backward_weight>(s)});
}

}  // namespace TINT_CUDA_NS
}  // namespace tint
