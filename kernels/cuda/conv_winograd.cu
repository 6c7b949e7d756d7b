// Winograd convolutions for the CUDA backends: see kernels/cuda/conv_winograd.h for the algorithm and the
// workspace, and kernels/cpu/conv_winograd.h for the matrices written out.
#include "kernels/cuda/cuda_compat.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/cuda/conv_winograd.h"
#include "kernels/cuda/ops.h"

namespace tint {
namespace TINT_CUDA_NS {

namespace {

constexpr int kThreads = 256;

__host__ __device__ inline int ceil_div(int a, int b) { return (a + b - 1) / b; }
__host__ __device__ inline int round4(int v) { return (v + 3) / 4 * 4; }

// The convolution in forward form: `ci` channels in, `ko` out, a 3x3 kernel, stride 1. For backward-data it
// is dy's convolution with the turned weights; for backward-weight, x's input patches against dy's tiles.
struct WinoShape {
  int n, ci, ko;
  int h_in, w_in;    // the input the patches are read from (x, or dy for backward-data)
  int h_out, w_out;  // the pixels the tiles cover (the output, or dy for backward-weight)
  int pad_h, pad_w;
  int th, tw;        // tiles per image along h and w
  int P;             // tiles in the batch
  int ci4, ko4, p4;  // ci, ko, P rounded up to 4 (row lengths of the transformed operands)
};

WinoShape wino_shape(int m, WinoProduct product, const Conv2dShape& s) {
  WinoShape g{};
  g.n = s.n;
  if (product == WinoProduct::backward_data) {
    g.ci = s.c_out, g.ko = s.c_in;
    g.h_in = s.h_out, g.w_in = s.w_out, g.h_out = s.h_in, g.w_out = s.w_in;
    g.pad_h = 2 - s.pad_h, g.pad_w = 2 - s.pad_w;
  } else {
    g.ci = s.c_in, g.ko = s.c_out;
    g.h_in = s.h_in, g.w_in = s.w_in, g.h_out = s.h_out, g.w_out = s.w_out;
    g.pad_h = s.pad_h, g.pad_w = s.pad_w;
  }
  g.th = ceil_div(g.h_out, m), g.tw = ceil_div(g.w_out, m);
  g.P = g.n * g.th * g.tw;
  g.ci4 = round4(g.ci), g.ko4 = round4(g.ko), g.p4 = round4(g.P);
  return g;
}

// ---- the 1-D transforms, written out (zeros of the matrices skipped) --------------------------------------
// data: B^T d (a -> a); filter: G g (3 -> a); output: A^T v (a -> m); for backward-weight's F(3, m):
// grad_filter: A g (m -> a), grad_output: G^T v (a -> 3).
enum class Op { data, filter, output, grad_filter, grad_output };

template <int M>
struct Wino;

template <>
struct Wino<4> {
  __device__ __forceinline__ static void data(const float* d, float* r) {
    r[0] = 4.f * d[0] - 5.f * d[2] + d[4];
    r[1] = -4.f * (d[1] + d[2]) + d[3] + d[4];
    r[2] = 4.f * (d[1] - d[2]) - d[3] + d[4];
    r[3] = 2.f * (d[3] - d[1]) - d[2] + d[4];
    r[4] = 2.f * (d[1] - d[3]) - d[2] + d[4];
    r[5] = 4.f * d[1] - 5.f * d[3] + d[5];
  }
  __device__ __forceinline__ static void filter(const float* g, float* u) {
    u[0] = 0.25f * g[0];
    u[1] = -(g[0] + g[1] + g[2]) * (1.f / 6.f);
    u[2] = -(g[0] - g[1] + g[2]) * (1.f / 6.f);
    u[3] = g[0] * (1.f / 24.f) + g[1] * (1.f / 12.f) + g[2] * (1.f / 6.f);
    u[4] = g[0] * (1.f / 24.f) - g[1] * (1.f / 12.f) + g[2] * (1.f / 6.f);
    u[5] = g[2];
  }
  __device__ __forceinline__ static void output(const float* v, float* y) {
    const float p12 = v[1] + v[2], m12 = v[1] - v[2], p34 = v[3] + v[4], m34 = v[3] - v[4];
    y[0] = v[0] + p12 + p34;
    y[1] = m12 + 2.f * m34;
    y[2] = p12 + 4.f * p34;
    y[3] = m12 + 8.f * m34 + v[5];
  }
  __device__ __forceinline__ static void grad_filter(const float* g, float* u) {
    const float p02 = g[0] + g[2], p13 = g[1] + g[3];
    u[0] = g[0];
    u[1] = p02 + p13;
    u[2] = p02 - p13;
    u[3] = g[0] + 2.f * g[1] + 4.f * g[2] + 8.f * g[3];
    u[4] = g[0] - 2.f * g[1] + 4.f * g[2] - 8.f * g[3];
    u[5] = g[3];
  }
  __device__ __forceinline__ static void grad_output(const float* v, float* y) {
    const float p12 = v[1] + v[2], m12 = v[1] - v[2], p34 = v[3] + v[4], m34 = v[3] - v[4];
    y[0] = 0.25f * v[0] - p12 * (1.f / 6.f) + p34 * (1.f / 24.f);
    y[1] = -m12 * (1.f / 6.f) + m34 * (1.f / 12.f);
    y[2] = (p34 - p12) * (1.f / 6.f) + v[5];
  }
};

template <>
struct Wino<2> {
  __device__ __forceinline__ static void data(const float* d, float* r) {
    r[0] = d[0] - d[2];
    r[1] = d[1] + d[2];
    r[2] = d[2] - d[1];
    r[3] = d[1] - d[3];
  }
  __device__ __forceinline__ static void filter(const float* g, float* u) {
    u[0] = g[0];
    u[1] = 0.5f * (g[0] + g[1] + g[2]);
    u[2] = 0.5f * (g[0] - g[1] + g[2]);
    u[3] = g[2];
  }
  __device__ __forceinline__ static void output(const float* v, float* y) {
    y[0] = v[0] + v[1] + v[2];
    y[1] = v[1] - v[2] - v[3];
  }
  __device__ __forceinline__ static void grad_filter(const float* g, float* u) {
    u[0] = g[0];
    u[1] = g[0] + g[1];
    u[2] = g[0] - g[1];
    u[3] = -g[1];
  }
  __device__ __forceinline__ static void grad_output(const float* v, float* y) {
    y[0] = v[0] + 0.5f * (v[1] + v[2]);
    y[1] = 0.5f * (v[1] - v[2]);
    y[2] = 0.5f * (v[1] + v[2]) + v[3];
  }
};

template <int M, Op O>
__device__ __forceinline__ void apply1d(const float* in, float* out) {
  if constexpr (O == Op::data) Wino<M>::data(in, out);
  else if constexpr (O == Op::filter) Wino<M>::filter(in, out);
  else if constexpr (O == Op::output) Wino<M>::output(in, out);
  else if constexpr (O == Op::grad_filter) Wino<M>::grad_filter(in, out);
  else Wino<M>::grad_output(in, out);
}

// out = T in T^T for the O x I matrix T of transform O: columns first, then rows.
template <int M, Op O, int I, int N>
__device__ __forceinline__ void transform2d(const float (&in)[I][I], float (&out)[N][N]) {
  float tmp[N][I];
#pragma unroll
  for (int j = 0; j < I; ++j) {
    float col[I], res[N];
#pragma unroll
    for (int i = 0; i < I; ++i) col[i] = in[i][j];
    apply1d<M, O>(col, res);
#pragma unroll
    for (int o = 0; o < N; ++o) tmp[o][j] = res[o];
  }
#pragma unroll
  for (int o = 0; o < N; ++o) apply1d<M, O>(tmp[o], out[o]);
}

// ---- transforms ------------------------------------------------------------------------------------------
// Each writes a*a planes of a padded matrix; `plane` floats apart. Padding entries are written as zeros.

// U[e][ci][ko4] from w (c_out, c_in, 3, 3); `turn`: backward-data's weights, w[ci][ko] turned 180 degrees.
template <int M>
__global__ void wino_weight_kernel(WinoShape g, bool turn, float* __restrict__ u, const float* __restrict__ w) {
  constexpr int A = M + 2;
  const int64_t plane = int64_t(g.ci) * g.ko4;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < plane; i += int64_t(gridDim.x) * blockDim.x) {
    const int ci = int(i / g.ko4), ko = int(i - int64_t(ci) * g.ko4);
    float t[A][A];
    if (ko < g.ko) {
      float k[3][3];
      const float* src = turn ? w + (int64_t(ci) * g.ko + ko) * 9 : w + (int64_t(ko) * g.ci + ci) * 9;
#pragma unroll
      for (int r = 0; r < 3; ++r)
#pragma unroll
        for (int c = 0; c < 3; ++c) k[r][c] = turn ? src[(2 - r) * 3 + (2 - c)] : src[r * 3 + c];
      transform2d<M, Op::filter>(k, t);
    } else {
#pragma unroll
      for (int r = 0; r < A; ++r)
#pragma unroll
        for (int c = 0; c < A; ++c) t[r][c] = 0.f;
    }
#pragma unroll
    for (int e = 0; e < A * A; ++e) u[e * plane + i] = t[e / A][e % A];
  }
}

// The a x a input patch of tile p of channel ci (zeros outside the image), transformed: B^T d B.
template <int M>
__device__ __forceinline__ void input_tile(const WinoShape& g, const float* __restrict__ x, int ci, int p,
                                           float (&t)[M + 2][M + 2]) {
  constexpr int A = M + 2;
  const int per_img = g.th * g.tw;
  const int img = p / per_img;
  const int rem = p - img * per_img;
  const int ty = rem / g.tw;
  const int y0 = ty * M - g.pad_h, x0 = (rem - ty * g.tw) * M - g.pad_w;
  const float* src = x + (int64_t(img) * g.ci + ci) * g.h_in * g.w_in;
  float d[A][A];
#pragma unroll
  for (int r = 0; r < A; ++r) {
    const int yy = y0 + r;
    const bool row_in = yy >= 0 && yy < g.h_in;
#pragma unroll
    for (int c = 0; c < A; ++c) {
      const int xx = x0 + c;
      d[r][c] = row_in && xx >= 0 && xx < g.w_in ? src[int64_t(yy) * g.w_in + xx] : 0.f;
    }
  }
  transform2d<M, Op::data>(d, t);
}

// Forward's V[e][ci][p4] (kTilesOuter false: neighbouring threads take neighbouring tiles) or backward-
// weight's X[e][p][ci4] (true: neighbouring channels).
template <int M, bool kTilesOuter>
__global__ void wino_input_kernel(WinoShape g, float* __restrict__ v, const float* __restrict__ x) {
  constexpr int A = M + 2;
  const int cols = kTilesOuter ? g.ci4 : g.p4;
  const int64_t plane = int64_t(kTilesOuter ? g.P : g.ci) * cols;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < plane; i += int64_t(gridDim.x) * blockDim.x) {
    const int row = int(i / cols), col = int(i - int64_t(row) * cols);
    const int ci = kTilesOuter ? col : row, p = kTilesOuter ? row : col;
    float t[A][A];
    if (ci < g.ci && p < g.P) {
      input_tile<M>(g, x, ci, p, t);
    } else {
#pragma unroll
      for (int r = 0; r < A; ++r)
#pragma unroll
        for (int c = 0; c < A; ++c) t[r][c] = 0.f;
    }
#pragma unroll
    for (int e = 0; e < A * A; ++e) v[e * plane + i] = t[e / A][e % A];
  }
}

// y from M[e][ko][p4]: A^T M A, the m x m pixels of the tile that lie inside the output.
template <int M>
__global__ void wino_output_kernel(WinoShape g, float* __restrict__ y, const float* __restrict__ mm, ConvEpilogue epi) {
  constexpr int A = M + 2;
  const int64_t plane = int64_t(g.ko) * g.p4;
  const int64_t total = int64_t(g.ko) * g.P;
  const int per_img = g.th * g.tw;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int ko = int(i / g.P), p = int(i - int64_t(ko) * g.P);
    const float* src = mm + int64_t(ko) * g.p4 + p;
    float t[A][A], o[M][M];
#pragma unroll
    for (int e = 0; e < A * A; ++e) t[e / A][e % A] = src[e * plane];
    transform2d<M, Op::output>(t, o);
    const int img = p / per_img;
    const int rem = p - img * per_img;
    const int ty = rem / g.tw;
    const int y0 = ty * M, x0 = (rem - ty * g.tw) * M;
    float* dst = y + (int64_t(img) * g.ko + ko) * g.h_out * g.w_out;
#pragma unroll
    for (int r = 0; r < M; ++r) {
      if (y0 + r >= g.h_out) break;
#pragma unroll
      for (int c = 0; c < M; ++c)
        if (x0 + c < g.w_out) dst[int64_t(y0 + r) * g.w_out + x0 + c] = apply_epilogue(epi, o[r][c], ko);
    }
  }
}

// Backward-weight's Dy[e][p][ko4]: dy's m x m tile p of channel ko (zeros past the edge), A dY A^T.
template <int M>
__global__ void wino_grad_kernel(WinoShape g, float* __restrict__ dyt, const float* __restrict__ dy) {
  constexpr int A = M + 2;
  const int64_t plane = int64_t(g.P) * g.ko4;
  const int per_img = g.th * g.tw;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < plane; i += int64_t(gridDim.x) * blockDim.x) {
    const int p = int(i / g.ko4), ko = int(i - int64_t(p) * g.ko4);
    float t[A][A];
    if (ko < g.ko) {
      const int img = p / per_img;
      const int rem = p - img * per_img;
      const int ty = rem / g.tw;
      const int y0 = ty * M, x0 = (rem - ty * g.tw) * M;
      const float* src = dy + (int64_t(img) * g.ko + ko) * g.h_out * g.w_out;
      float d[M][M];
#pragma unroll
      for (int r = 0; r < M; ++r)
#pragma unroll
        for (int c = 0; c < M; ++c)
          d[r][c] = y0 + r < g.h_out && x0 + c < g.w_out ? src[int64_t(y0 + r) * g.w_out + x0 + c] : 0.f;
      transform2d<M, Op::grad_filter>(d, t);
    } else {
#pragma unroll
      for (int r = 0; r < A; ++r)
#pragma unroll
        for (int c = 0; c < A; ++c) t[r][c] = 0.f;
    }
#pragma unroll
    for (int e = 0; e < A * A; ++e) dyt[e * plane + i] = t[e / A][e % A];
  }
}

// dw from the splits of S[split][e][ko][ci4], summed in split order (the same bits on every run): G^T S G.
template <int M>
__global__ void wino_weight_grad_kernel(WinoShape g, int splits, float* __restrict__ dw, const float* __restrict__ s) {
  constexpr int A = M + 2;
  const int64_t plane = int64_t(g.ko) * g.ci4;
  const int64_t total = int64_t(g.ko) * g.ci;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int ko = int(i / g.ci), ci = int(i - int64_t(ko) * g.ci);
    const float* src = s + int64_t(ko) * g.ci4 + ci;
    float t[A][A], o[3][3];
#pragma unroll
    for (int e = 0; e < A * A; ++e) t[e / A][e % A] = src[e * plane];
    for (int k = 1; k < splits; ++k)
#pragma unroll
      for (int e = 0; e < A * A; ++e) t[e / A][e % A] += src[(int64_t(k) * A * A + e) * plane];
    transform2d<M, Op::grad_output>(t, o);
#pragma unroll
    for (int e = 0; e < 9; ++e) dw[i * 9 + e] = o[e / 3][e % 3];
  }
}

// ---- the batched GEMM --------------------------------------------------------------------------------------
// C[z][m][n] = sum over k in this split's range of A[z][k][m] * B[z][k][n], for z < batch; blockIdx.z is
// split * batch + z, and split s writes its own C (s * batch * stride_c further on).
struct BatchedGemm {
  int M, N, K;
  int lda, ldb, ldc;  // multiples of 4; A has K rows of lda, B K rows of ldb, C M rows of ldc
  int64_t stride_a, stride_b, stride_c;
  int batch, splits;
};

constexpr int kBK = 8;

// Row (or column) of the tile that register i of thread coordinate t holds: runs of 4, 64 apart.
__device__ __forceinline__ int tile_index(int t, int i) { return (i / 4) * 64 + t * 4 + (i % 4); }

template <int BX>
__device__ __forceinline__ float4 load_row4(const float* __restrict__ src, int ld, int k, int k_end, int x0, int t) {
  // The slice is kBK rows of BX floats: float4 number t of it (callers pass t < kBK * BX / 4).
  const int row = t / (BX / 4), col = x0 + (t % (BX / 4)) * 4;
  if (k + row < k_end && col < ld) return *reinterpret_cast<const float4*>(src + int64_t(k + row) * ld + col);
  return make_float4(0.f, 0.f, 0.f, 0.f);
}

// The registers' share of the next slice, A's and B's (threads past A4 or B4 load none of that operand).
template <int BM, int BN>
__device__ __forceinline__ void load_slice(const BatchedGemm& p, const float* __restrict__ a,
                                           const float* __restrict__ b, int k, int k_end, int m0, int n0, int t,
                                           float4& ra, float4& rb) {
  if (t < kBK * BM / 4) ra = load_row4<BM>(a, p.lda, k, k_end, m0, t);
  if (t < kBK * BN / 4) rb = load_row4<BN>(b, p.ldb, k, k_end, n0, t);
}

template <int TM, int TN>
__global__ void __launch_bounds__(kThreads, TM * TN >= 64 ? 1 : 2)
    wino_gemm_kernel(BatchedGemm p, const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ c) {
  constexpr int BM = 16 * TM, BN = 16 * TN;
  constexpr int A4 = kBK * BM / 4, B4 = kBK * BN / 4;  // float4 loads per slice
  __shared__ __align__(16) float As[2][kBK][BM];
  __shared__ __align__(16) float Bs[2][kBK][BN];

  const int z = blockIdx.z % p.batch, split = blockIdx.z / p.batch;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int k_per_split = ceil_div(ceil_div(p.K, p.splits), kBK) * kBK;
  const int k_begin = split * k_per_split;
  const int k_end = min(p.K, k_begin + k_per_split);
  a += z * p.stride_a;
  b += z * p.stride_b;
  c += (int64_t(split) * p.batch + z) * p.stride_c;

  const int t = threadIdx.x, tx = t % 16, ty = t / 16;
  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;

  float4 ra = make_float4(0.f, 0.f, 0.f, 0.f), rb = ra;
  const auto stage = [&](int buf) {
    if (t < A4) *reinterpret_cast<float4*>(&As[buf][t / (BM / 4)][(t % (BM / 4)) * 4]) = ra;
    if (t < B4) *reinterpret_cast<float4*>(&Bs[buf][t / (BN / 4)][(t % (BN / 4)) * 4]) = rb;
  };
  if (k_begin < k_end) {
    load_slice<BM, BN>(p, a, b, k_begin, k_end, m0, n0, t, ra, rb);
    stage(0);
  }
  __syncthreads();
  int buf = 0;
  for (int k0 = k_begin; k0 < k_end; k0 += kBK) {
    const bool more = k0 + kBK < k_end;
    if (more) {
      load_slice<BM, BN>(p, a, b, k0 + kBK, k_end, m0, n0, t, ra, rb);
    }
#pragma unroll
    for (int kk = 0; kk < kBK; ++kk) {
      float av[TM], bv[TN];
#pragma unroll
      for (int i = 0; i < TM; i += 4) {
        const float4 v = *reinterpret_cast<const float4*>(&As[buf][kk][tile_index(ty, i)]);
        av[i] = v.x, av[i + 1] = v.y, av[i + 2] = v.z, av[i + 3] = v.w;
      }
#pragma unroll
      for (int j = 0; j < TN; j += 4) {
        const float4 v = *reinterpret_cast<const float4*>(&Bs[buf][kk][tile_index(tx, j)]);
        bv[j] = v.x, bv[j + 1] = v.y, bv[j + 2] = v.z, bv[j + 3] = v.w;
      }
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    if (more) stage(buf ^ 1);
    __syncthreads();
    buf ^= 1;
  }

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int m = m0 + tile_index(ty, i);
    if (m >= p.M) continue;
#pragma unroll
    for (int j = 0; j < TN; j += 4) {
      const int n = n0 + tile_index(tx, j);
      if (n < p.ldc)
        *reinterpret_cast<float4*>(c + int64_t(m) * p.ldc + n) =
            make_float4(acc[i][j], acc[i][j + 1], acc[i][j + 2], acc[i][j + 3]);
    }
  }
}

// The same product on the tensor cores in TF32 (variants winograd4-tf32 and winograd2-tf32): the operands
// are staged exactly as above, rounded to TF32 once on their way into shared memory (__float_to_tf32,
// round-to-nearest), and the block's eight warps, 2 along M by 4 along N, each multiply a (BM/2) x (BN/4)
// piece as 16x16x8 wmma products accumulated in fp32. Shared rows are padded by 4 floats, which keeps
// every fragment 32-byte aligned and shifts consecutive k rows by 4 banks. The accumulators leave through
// a 16x16 staging tile per warp, so that partial tiles at the edges of C are cut to M rows and ldc columns.
// kSplit (variant winograd4-tf32x3) keeps fp32's accuracy on the same tensor cores: each operand is split
// into a TF32 head and the TF32 rounding of what the head left out (x = hi + lo, |lo| <= 2^-11 |x|), and
// a*b is taken as a_lo*b_hi + a_hi*b_lo + a_hi*b_hi (small terms first); the dropped a_lo*b_lo is below
// 2^-22 of the product, under fp32's own rounding. Three tensor-core products per step instead of one.
template <int TM, int TN, bool kSplit>
__global__ void __launch_bounds__(kThreads, kSplit ? 1 : 2)  // split: twice the fragments, 128 registers spill
    wino_gemm_tf32_kernel(BatchedGemm p, const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ c) {
  namespace wmma = nvcuda::wmma;
  constexpr int BM = 16 * TM, BN = 16 * TN, LA = BM + 4, LB = BN + 4;
  constexpr int A4 = kBK * BM / 4, B4 = kBK * BN / 4;
  constexpr int WM = BM / 2, WN = BN / 4, FM = WM / 16, FN = WN / 16;
  constexpr int kParts = kSplit ? 2 : 1;  // [0] the TF32 head, [1] the remainder's TF32 rounding
  static_assert(kBK == 8 && FM >= 1 && FN >= 1, "one 16x16x8 step per slice; a warp covers whole fragments");
  __shared__ __align__(32) float As[2][kParts][kBK][LA];
  __shared__ __align__(32) float Bs[2][kParts][kBK][LB];
  __shared__ __align__(32) float Cs[kThreads / 32][16 * 16];

  const int z = blockIdx.z % p.batch, split = blockIdx.z / p.batch;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int k_per_split = ceil_div(ceil_div(p.K, p.splits), kBK) * kBK;
  const int k_begin = split * k_per_split;
  const int k_end = min(p.K, k_begin + k_per_split);
  a += z * p.stride_a;
  b += z * p.stride_b;
  c += (int64_t(split) * p.batch + z) * p.stride_c;

  const int t = threadIdx.x, warp = t / 32, lane = t % 32;
  const int wm0 = (warp / 4) * WM, wn0 = (warp % 4) * WN;
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[FM][FN];
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) wmma::fill_fragment(acc[i][j], 0.f);

  float4 ra = make_float4(0.f, 0.f, 0.f, 0.f), rb = ra;
  const auto tf32 = [](float4 v) {
    return make_float4(wmma::__float_to_tf32(v.x), wmma::__float_to_tf32(v.y), wmma::__float_to_tf32(v.z),
                       wmma::__float_to_tf32(v.w));
  };
  const auto put = [&](float* head, float* rest, float4 v) {
    const float4 hi = tf32(v);
    *reinterpret_cast<float4*>(head) = hi;
    if (kSplit)
      *reinterpret_cast<float4*>(rest) = tf32(make_float4(v.x - hi.x, v.y - hi.y, v.z - hi.z, v.w - hi.w));
  };
  const auto stage = [&](int buf) {
    const int ak = t / (BM / 4), am = (t % (BM / 4)) * 4, bk = t / (BN / 4), bn = (t % (BN / 4)) * 4;
    if (t < A4) put(&As[buf][0][ak][am], &As[buf][kParts - 1][ak][am], ra);
    if (t < B4) put(&Bs[buf][0][bk][bn], &Bs[buf][kParts - 1][bk][bn], rb);
  };
  if (k_begin < k_end) {
    load_slice<BM, BN>(p, a, b, k_begin, k_end, m0, n0, t, ra, rb);
    stage(0);
  }
  __syncthreads();
  int buf = 0;
  for (int k0 = k_begin; k0 < k_end; k0 += kBK) {
    const bool more = k0 + kBK < k_end;
    if (more) {
      load_slice<BM, BN>(p, a, b, k0 + kBK, k_end, m0, n0, t, ra, rb);
    }
    // A's slice holds k rows of m: the 16 x 8 fragment (m, k) is column-major with ldm LA.
    wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::col_major> fa[kParts][FM];
    wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fb[kParts][FN];
#pragma unroll
    for (int h = 0; h < kParts; ++h) {
#pragma unroll
      for (int i = 0; i < FM; ++i) wmma::load_matrix_sync(fa[h][i], &As[buf][h][0][wm0 + 16 * i], LA);
#pragma unroll
      for (int j = 0; j < FN; ++j) wmma::load_matrix_sync(fb[h][j], &Bs[buf][h][0][wn0 + 16 * j], LB);
    }
#pragma unroll
    for (int i = 0; i < FM; ++i)
#pragma unroll
      for (int j = 0; j < FN; ++j) {
        if (kSplit) {
          wmma::mma_sync(acc[i][j], fa[1][i], fb[0][j], acc[i][j]);
          wmma::mma_sync(acc[i][j], fa[0][i], fb[1][j], acc[i][j]);
        }
        wmma::mma_sync(acc[i][j], fa[0][i], fb[0][j], acc[i][j]);
      }
    if (more) stage(buf ^ 1);
    __syncthreads();
    buf ^= 1;
  }

  // Each lane writes half a row of the staged 16 x 16 tile: row lane / 2, columns (lane % 2) * 8 + 0..7.
  float* staged = Cs[warp];
  const int row = lane / 2, col = (lane % 2) * 8;
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) {
      wmma::store_matrix_sync(staged, acc[i][j], 16, wmma::mem_row_major);
      __syncwarp();
      const int m = m0 + wm0 + 16 * i + row, n = n0 + wn0 + 16 * j + col;
      if (m < p.M) {
        float* dst = c + int64_t(m) * p.ldc + n;
        const float* src = staged + row * 16 + col;
        if (n < p.ldc) *reinterpret_cast<float4*>(dst) = *reinterpret_cast<const float4*>(src);
        if (n + 4 < p.ldc) *reinterpret_cast<float4*>(dst + 4) = *reinterpret_cast<const float4*>(src + 4);
      }
      __syncwarp();
    }
}

struct GemmTile {
  int tm, tn;
};

// The largest tile that still gives most of a wave of blocks (132 SMs on an H100/H200).
GemmTile choose_tile(int M, int N, int batch) {
  const auto blocks = [&](int bm, int bn) { return int64_t(ceil_div(M, bm)) * ceil_div(N, bn) * batch; };
  if (M > 64 && N > 64 && blocks(128, 128) >= 132) return {8, 8};
  if (N > 64 && blocks(64, 128) >= 132) return {4, 8};
  return {4, 4};
}

// Splits of backward-weight's reduction over tiles (its output, c_out x c_in per matrix, is small; the
// reduction is every tile of the batch). The count that minimises whole waves of blocks (132 SMs, one 128x128
// block or two smaller ones per SM) times the depth of one split, each split at least 32 slices deep, at
// most 32, with each extra split charged the partial it writes and the output transform reads back. A
// function of the shape alone, so the workspace is too.
int choose_splits(const WinoShape& g, int batch) {
  const GemmTile t = choose_tile(g.ko, g.ci, batch);
  const int per_sm = t.tm * t.tn >= 64 ? 1 : 2;
  const int64_t blocks = int64_t(ceil_div(g.ko, 16 * t.tm)) * ceil_div(g.ci, 16 * t.tn) * batch;
  const int max_splits = std::max(1, std::min(32, g.P / (32 * kBK)));
  constexpr double kSMs = 132, kSmFma = 0.254e12, kBytesPerS = 4.0e12;  // an H200's, as conv2d.cu's plan
  const double block_fma = 256.0 * t.tm * t.tn * g.P;                    // one block, the whole reduction
  const double partial_bytes = double(batch) * g.ko * g.ci4 * sizeof(float);
  int best = 1;
  double best_cost = 0;
  for (int s = 1; s <= max_splits; ++s) {
    const double waves = std::ceil(double(blocks) * s / (kSMs * per_sm));
    const double cost = waves * per_sm * (block_fma / s) / kSmFma + 2.0 * s * partial_bytes / kBytesPerS;
    if (s == 1 || cost < best_cost) best = s, best_cost = cost;
  }
  return best;
}

template <bool kSplit>
void launch_tf32(cudaStream_t st, GemmTile t, dim3 grid, const BatchedGemm& p, const float* a, const float* b,
                 float* c) {
  if (t.tm == 8) TINT_LAUNCH((wino_gemm_tf32_kernel<8, 8, kSplit>), grid, kThreads, 0, st, p, a, b, c);
  else if (t.tn == 8) TINT_LAUNCH((wino_gemm_tf32_kernel<4, 8, kSplit>), grid, kThreads, 0, st, p, a, b, c);
  else TINT_LAUNCH((wino_gemm_tf32_kernel<4, 4, kSplit>), grid, kThreads, 0, st, p, a, b, c);
}

void launch_gemm(cudaStream_t st, WinoMath math, const BatchedGemm& p, const float* a, const float* b, float* c) {
  const GemmTile t = choose_tile(p.M, p.N, p.batch);
  const dim3 grid(unsigned(ceil_div(p.N, 16 * t.tn)), unsigned(ceil_div(p.M, 16 * t.tm)), unsigned(p.batch * p.splits));
  if (math == WinoMath::tf32) return launch_tf32<false>(st, t, grid, p, a, b, c);
  if (math == WinoMath::tf32x3) return launch_tf32<true>(st, t, grid, p, a, b, c);
  if (t.tm == 8) TINT_LAUNCH((wino_gemm_kernel<8, 8>), grid, kThreads, 0, st, p, a, b, c);
  else if (t.tn == 8) TINT_LAUNCH((wino_gemm_kernel<4, 8>), grid, kThreads, 0, st, p, a, b, c);
  else TINT_LAUNCH((wino_gemm_kernel<4, 4>), grid, kThreads, 0, st, p, a, b, c);
}

// Workspace pieces, in floats (each a multiple of 4, so every piece stays 16-byte aligned).
struct Pieces {
  int64_t first, second, third;
  int64_t total() const { return first + second + third; }
};

Pieces pieces(int m, WinoProduct product, const WinoShape& g) {
  const int64_t aa = int64_t(m + 2) * (m + 2);
  if (product == WinoProduct::backward_weight)
    return {aa * g.P * g.ko4, aa * g.P * g.ci4, choose_splits(g, int(aa)) * aa * g.ko * g.ci4};
  return {aa * g.ci * g.ko4, aa * g.ci * g.p4, aa * g.ko * g.p4};
}

template <int M>
void run(WinoProduct product, WinoMath math, cudaStream_t st, float* ws, float* out, const float* in0, const float* in1,
         const WinoShape& g, const ConvEpilogue& epi) {
  constexpr int A = M + 2;
  const Pieces pc = pieces(M, product, g);
  float* first = ws;
  float* second = ws + pc.first;
  float* third = second + pc.second;
  if (product == WinoProduct::backward_weight) {
    // first: Dy[e][p][ko4], second: X[e][p][ci4], third: S[split][e][ko][ci4]
    const int splits = choose_splits(g, A * A);
    TINT_LAUNCH(wino_grad_kernel<M>, grid_for(int64_t(g.P) * g.ko4, kThreads), kThreads, 0, st, g, first, in1);
    TINT_LAUNCH((wino_input_kernel<M, true>), grid_for(int64_t(g.P) * g.ci4, kThreads), kThreads, 0, st, g, second, in0);
    BatchedGemm p{};
    p.M = g.ko, p.N = g.ci, p.K = g.P;
    p.lda = g.ko4, p.ldb = g.ci4, p.ldc = g.ci4;
    p.stride_a = int64_t(g.P) * g.ko4, p.stride_b = int64_t(g.P) * g.ci4, p.stride_c = int64_t(g.ko) * g.ci4;
    p.batch = A * A, p.splits = splits;
    launch_gemm(st, math, p, first, second, third);
    TINT_LAUNCH(wino_weight_grad_kernel<M>, grid_for(int64_t(g.ko) * g.ci, kThreads), kThreads, 0, st, g, splits, out, third);
    return;
  }
  // first: U[e][ci][ko4], second: V[e][ci][p4], third: M[e][ko][p4]
  const bool turn = product == WinoProduct::backward_data;
  TINT_LAUNCH(wino_weight_kernel<M>, grid_for(int64_t(g.ci) * g.ko4, kThreads), kThreads, 0, st, g, turn, first, in1);
  TINT_LAUNCH((wino_input_kernel<M, false>), grid_for(int64_t(g.ci) * g.p4, kThreads), kThreads, 0, st, g, second, in0);
  BatchedGemm p{};
  p.M = g.ko, p.N = g.P, p.K = g.ci;
  p.lda = g.ko4, p.ldb = g.p4, p.ldc = g.p4;
  p.stride_a = int64_t(g.ci) * g.ko4, p.stride_b = int64_t(g.ci) * g.p4, p.stride_c = int64_t(g.ko) * g.p4;
  p.batch = A * A, p.splits = 1;
  launch_gemm(st, math, p, first, second, third);
  TINT_LAUNCH(wino_output_kernel<M>, grid_for(int64_t(g.ko) * g.P, kThreads), kThreads, 0, st, g, out, third, epi);
}

}  // namespace

bool winograd_takes(const Conv2dShape& s) {
  return s.kh == 3 && s.kw == 3 && s.stride_h == 1 && s.stride_w == 1 && s.pad_h >= 0 && s.pad_h <= 2 &&
         s.pad_w >= 0 && s.pad_w <= 2;
}

// Whether the Winograd form of this product pays: its transformed input needs at least 8 channels. With
// fewer (the U-Net's first layer, 1 channel in) the transforms cost more than the GEMMs they shorten:
// forward and backward-weight of down.0.conv1 measured 0.25 ms against igemm2's 0.085 and 0.69 against
// 0.25 at batch 8 on an H200 (benchmarks/results/2026-11-30-h200-winograd), while its backward-data, whose
// input is the 64-channel dy, measured 0.44 against 1.46.
bool winograd_pays(WinoProduct product, const Conv2dShape& s) {
  return (product == WinoProduct::backward_data ? s.c_out : s.c_in) >= 8;
}

size_t winograd_workspace_bytes(int tile_m, WinoProduct product, const Conv2dShape& s) {
  if (!winograd_takes(s) || !winograd_pays(product, s)) return 0;
  return size_t(pieces(tile_m, product, wino_shape(tile_m, product, s)).total()) * sizeof(float);
}

bool winograd_run(int tile_m, WinoProduct product, WinoMath math, const Stream& stream, float* out, const float* in0,
                  const float* in1, const Conv2dShape& s, const ConvEpilogue& epi) {
  if (!winograd_takes(s) || !winograd_pays(product, s) || (tile_m != 2 && tile_m != 4)) return false;
  const size_t need = winograd_workspace_bytes(tile_m, product, s);
  if (!stream.workspace || stream.workspace_bytes < need || reinterpret_cast<uintptr_t>(stream.workspace) % 16 != 0)
    return false;
  const WinoShape g = wino_shape(tile_m, product, s);
  float* ws = static_cast<float*>(stream.workspace);
  if (tile_m == 4) run<4>(product, math, stream_of(stream), ws, out, in0, in1, g, epi);
  else run<2>(product, math, stream_of(stream), ws, out, in0, in1, g, epi);
  return true;
}

}  // namespace TINT_CUDA_NS
}  // namespace tint
