// The emulator's warp matrix functions: the subset of <mma.h> (namespace nvcuda::wmma) that tint's TF32
// kernels use, so that the same source compiles with nvcc (tensor cores) and here. Included by
// kernels/emu/cuda_emu.h; never by code that nvcc compiles.
//
// Supported: the TF32 shape only, m16n16k8:
//   fragment<matrix_a, 16, 16, 8, precision::tf32, row_major | col_major>   16 x 8,  4 floats per lane
//   fragment<matrix_b, 16, 16, 8, precision::tf32, row_major | col_major>   8 x 16,  4 floats per lane
//   fragment<accumulator, 16, 16, 8, float>                                  16 x 16, 8 floats per lane
//   load_matrix_sync, store_matrix_sync (mem_row_major | mem_col_major for the accumulator), fill_fragment,
//   mma_sync (d = a b + c, d may be c), __float_to_tf32, and fragment::num_elements / x[].
//
// What it models, so that code that is wrong on a GPU is wrong here:
//   - Which element of the tile a lane's x[i] holds is unspecified by CUDA. Here it is a permutation drawn
//     from the schedule seed (tint::emu::schedule_seed(); a fixed scrambled one for seed 0), different for
//     each fragment kind and layout: code may apply the same operation to every x[i] (scale, convert), but
//     code that assumes an element's place gets wrong answers, and different ones under different seeds.
//   - TF32 inputs: __float_to_tf32 rounds to 10 mantissa bits, to nearest with ties away from zero (PTX's
//     cvt.rna.tf32.f32). mma_sync reads only those bits of its inputs (the low 13 bits of each float are
//     dropped, as the tensor cores ignore them), so a missing conversion truncates instead of rounding.
//     Products are exact (11 x 11 significant bits) and accumulate in float, in k order.
//   - Collectives: every lane of a full warp must call each function with the same pointer and ldm; a
//     diverged or partial warp, a pointer not 32-byte aligned or an ldm that is not a multiple of 4 elements
//     fails the launch with the thread named.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <type_traits>
#include <utility>

namespace nvcuda::wmma {

struct row_major;
struct col_major;
struct matrix_a;
struct matrix_b;
struct accumulator;
namespace precision {
struct tf32;
}
enum layout_t { mem_row_major, mem_col_major };

template <class T, int Size>
struct emu_frag_base {
  enum { num_elements = Size };
  float x[Size];
  using element_type = float;
};

template <class Use, int M, int N, int K, class T, class Layout = void>
class fragment {
  static_assert(sizeof(Use) == 0, "the emulator supports only m16n16k8 tf32 fragments (kernels/emu/emu_wmma.h)");
};
template <class Layout>
class fragment<matrix_a, 16, 16, 8, precision::tf32, Layout> : public emu_frag_base<precision::tf32, 4> {};
template <class Layout>
class fragment<matrix_b, 16, 16, 8, precision::tf32, Layout> : public emu_frag_base<precision::tf32, 4> {};
template <>
class fragment<accumulator, 16, 16, 8, float, void> : public emu_frag_base<float, 8> {};

inline float __float_to_tf32(float in) {
  if (!std::isfinite(in)) return in;
  uint32_t u;
  std::memcpy(&u, &in, 4);
  u = (u + 0x1000u) & 0xFFFFE000u;  // magnitude rounding on sign-magnitude bits: ties go away from zero
  float out;
  std::memcpy(&out, &u, 4);
  return out;
}

namespace emu_detail {

// The low 13 bits the tensor cores do not read.
inline float tf32_truncate(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  if ((u & 0x7F800000u) == 0x7F800000u) return v;  // inf, NaN
  u &= 0xFFFFE000u;
  std::memcpy(&v, &u, 4);
  return v;
}

enum Kind { a_row, a_col, b_row, b_col, acc, kinds };
inline constexpr int kElements[kinds] = {128, 128, 128, 128, 256};  // 16x8, 16x8, 8x16, 8x16, 16x16

// slot[kind][lane * per_lane + i] = the tile element (row * cols + col) that lane's x[i] holds;
// where[kind][element] = lane * per_lane + i.
struct Layouts {
  uint64_t seed = ~uint64_t(0);
  uint16_t slot[kinds][256];
  uint16_t where[kinds][256];
};

inline uint64_t mix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

inline const Layouts& layouts() {
  thread_local Layouts l;
  const uint64_t seed = ::tint::emu::schedule_seed();
  if (l.seed != seed) {
    l.seed = seed;
    for (int k = 0; k < kinds; ++k) {
      uint64_t s = seed * 0x2545F4914F6CDD1Dull + uint64_t(k) * 0x632BE59BD9B4E019ull + 0x5851F42D4C957F2Dull;
      const int n = kElements[k];
      for (int e = 0; e < n; ++e) l.slot[k][e] = uint16_t(e);
      for (int e = n - 1; e > 0; --e) std::swap(l.slot[k][e], l.slot[k][mix(s) % uint64_t(e + 1)]);
      for (int i = 0; i < n; ++i) l.where[k][l.slot[k][i]] = uint16_t(i);
    }
  }
  return l;
}

struct LaneOf {
  int warp, lane;
};

// Checks that the whole warp takes part with the same pointer and ldm (a collective: a diverged warp
// fails in the shuffle), and the alignment rules.
inline LaneOf enter(const char* what, const void* ptr, unsigned ldm) {
  const unsigned threads = blockDim.x * blockDim.y * blockDim.z;
  const unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  char msg[200];
  if ((t / 32 + 1) * 32 > threads) {
    std::snprintf(msg, sizeof msg, "%s in a partial warp (block of %u threads): wmma needs all 32 lanes", what,
                  threads);
    ::tint::emu::detail::kernel_error(msg);
  }
  if (ptr) {
    const uintptr_t p = reinterpret_cast<uintptr_t>(ptr);
    if (__shfl_sync(0xffffffffu, p, 0) != p || __shfl_sync(0xffffffffu, ldm, 0) != ldm) {
      std::snprintf(msg, sizeof msg, "%s: lanes of one warp pass different pointers or ldm", what);
      ::tint::emu::detail::kernel_error(msg);
    }
    if (p % 32 != 0 || ldm % 4 != 0) {
      std::snprintf(msg, sizeof msg, "%s: pointer %p must be 32-byte aligned and ldm %u a multiple of 4", what,
                    ptr, ldm);
      ::tint::emu::detail::kernel_error(msg);
    }
  } else {
    __syncwarp();
  }
  return LaneOf{int(t / 32), int(t % 32)};
}

template <class Layout>
constexpr Kind kind_a() {
  return std::is_same_v<Layout, row_major> ? a_row : a_col;
}
template <class Layout>
constexpr Kind kind_b() {
  return std::is_same_v<Layout, row_major> ? b_row : b_col;
}

// A lane's four operand elements: element e of the (cols-wide) matrix is (e / cols, e % cols), read from a
// row-major or column-major p.
inline void load_operand(float* x, Kind k, int cols, bool row_major_p, const float* p, unsigned ldm, int lane) {
  const auto& l = layouts();
  for (int i = 0; i < 4; ++i) {
    const int e = l.slot[k][lane * 4 + i], r = e / cols, c = e % cols;
    x[i] = row_major_p ? p[size_t(r) * ldm + c] : p[size_t(c) * ldm + r];
  }
}

}  // namespace emu_detail

// A: 16 x 8 (row r, column k); B: 8 x 16 (row k, column n). row_major: element (i, j) at p[i * ldm + j].
template <class Layout>
void load_matrix_sync(fragment<matrix_a, 16, 16, 8, precision::tf32, Layout>& a, const float* p, unsigned ldm) {
  const auto at = emu_detail::enter("wmma::load_matrix_sync", p, ldm);
  constexpr emu_detail::Kind k = emu_detail::kind_a<Layout>();
  emu_detail::load_operand(a.x, k, 8, k == emu_detail::a_row, p, ldm, at.lane);
}
template <class Layout>
void load_matrix_sync(fragment<matrix_b, 16, 16, 8, precision::tf32, Layout>& b, const float* p, unsigned ldm) {
  const auto at = emu_detail::enter("wmma::load_matrix_sync", p, ldm);
  constexpr emu_detail::Kind k = emu_detail::kind_b<Layout>();
  emu_detail::load_operand(b.x, k, 16, k == emu_detail::b_row, p, ldm, at.lane);
}
inline void load_matrix_sync(fragment<accumulator, 16, 16, 8, float>& c, const float* p, unsigned ldm,
                             layout_t layout) {
  const auto at = emu_detail::enter("wmma::load_matrix_sync", p, ldm);
  const auto& l = emu_detail::layouts();
  for (int i = 0; i < 8; ++i) {
    const int e = l.slot[emu_detail::acc][at.lane * 8 + i], r = e / 16, col = e % 16;
    c.x[i] = layout == mem_row_major ? p[size_t(r) * ldm + col] : p[size_t(col) * ldm + r];
  }
}
inline void store_matrix_sync(float* p, const fragment<accumulator, 16, 16, 8, float>& c, unsigned ldm,
                              layout_t layout) {
  const auto at = emu_detail::enter("wmma::store_matrix_sync", p, ldm);
  const auto& l = emu_detail::layouts();
  for (int i = 0; i < 8; ++i) {
    const int e = l.slot[emu_detail::acc][at.lane * 8 + i], r = e / 16, col = e % 16;
    (layout == mem_row_major ? p[size_t(r) * ldm + col] : p[size_t(col) * ldm + r]) = c.x[i];
  }
}
template <class Use, int M, int N, int K, class T, class Layout>
void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, float v) {
  for (float& x : f.x) x = v;
}

// d = a b + c. Each lane posts its a and b to the warp's staging area, the warp meets, each lane computes
// its own elements of d from every lane's posts, and the warp meets again before the area can be reused.
template <class LayoutA, class LayoutB>
void mma_sync(fragment<accumulator, 16, 16, 8, float>& d, const fragment<matrix_a, 16, 16, 8, precision::tf32, LayoutA>& a,
              const fragment<matrix_b, 16, 16, 8, precision::tf32, LayoutB>& b,
              const fragment<accumulator, 16, 16, 8, float>& c) {
  thread_local float posted[32][32][8];  // [warp][lane][a's 4, b's 4]; one block per host thread at a time
  const auto at = emu_detail::enter("wmma::mma_sync", nullptr, 0);
  for (int i = 0; i < 4; ++i) {
    posted[at.warp][at.lane][i] = a.x[i];
    posted[at.warp][at.lane][4 + i] = b.x[i];
  }
  __syncwarp();
  constexpr emu_detail::Kind ka = emu_detail::kind_a<LayoutA>(), kb = emu_detail::kind_b<LayoutB>();
  const auto& l = emu_detail::layouts();
  float out[8];
  for (int i = 0; i < 8; ++i) {
    const int e = l.slot[emu_detail::acc][at.lane * 8 + i], r = e / 16, n = e % 16;
    float sum = c.x[i];
    for (int k = 0; k < 8; ++k) {
      const int wa = l.where[ka][r * 8 + k], wb = l.where[kb][k * 16 + n];
      const float av = emu_detail::tf32_truncate(posted[at.warp][wa / 4][wa % 4]);
      const float bv = emu_detail::tf32_truncate(posted[at.warp][wb / 4][4 + wb % 4]);
      sum = std::fma(av, bv, sum);
    }
    out[i] = sum;
  }
  __syncwarp();
  for (int i = 0; i < 8; ++i) d.x[i] = out[i];
}

}  // namespace nvcuda::wmma
