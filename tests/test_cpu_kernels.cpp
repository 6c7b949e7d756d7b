// The fast `cpu` backend against the float reference `cpu-ref`, op by op, on random inputs, with every
// output poisoned with NaN before the kernel runs (a kernel that skips an element fails). Thread pools of
// 1, 2 and 3 threads, and every micro-kernel ISA this machine has.
//
// Tolerances: convolutions compare max |fast - ref| / max |ref| (the error relative to the output's scale),
// below 2e-5: both sum the same float products in different orders, so they differ by a few ulps of the
// larger partial sums (about 1e-6 measured here); a wrong index or a dropped term is an error of order 1.
// Element-wise entries must match exactly, or to 1 ulp where the libm call may differ (tanh), and sums
// (which both do in double) to 1e-6.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "engine/backend.h"
#include "engine/error.h"
#include "kernels/cpu/conv_algos.h"
#include "kernels/cpu/conv_tasks.h"
#include "kernels/cpu/reference.h"
#include "engine/op_registry.h"
#include "engine/thread_pool.h"
#include "tests/test_cuda_matrix.h"

using namespace tint;
using Vec = std::vector<float>;

namespace {

Vec random_vec(size_t n, uint32_t seed, float lo = -1, float hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  Vec v(n);
  for (auto& e : v) e = d(rng);
  return v;
}

Vec poisoned(size_t n) { return Vec(n, NAN); }

// max |a - b| / max |b|; NaN anywhere in a makes it infinite.
double scaled_error(const Vec& a, const Vec& b) {
  REQUIRE(a.size() == b.size());
  double err = 0, scale = 1e-30;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i])) return INFINITY;
    err = std::max(err, double(std::fabs(a[i] - b[i])));
    scale = std::max(scale, double(std::fabs(b[i])));
  }
  return err / scale;
}

std::vector<cpu::Isa> isas() {
  std::vector<cpu::Isa> v = {cpu::Isa::generic};
  if (int(cpu::best_isa()) >= int(cpu::Isa::avx2)) v.push_back(cpu::Isa::avx2);
  if (cpu::best_isa() == cpu::Isa::avx512) v.push_back(cpu::Isa::avx512);
  return v;
}

// The three products of shape s through every algorithm of conv_algos.h that takes the shape (every ISA,
// pools of 1..3 threads, and no pool) against the float reference. Also checks that every thread count gives
// the same bits. `tol` is per algorithm: Winograd-type algorithms state their own bound.
void check_conv(const Conv2dShape& s, const std::vector<cpu::Isa>& which = isas()) {
  INFO("shape " << s.str());
  const Vec x = random_vec(size_t(s.x_size()), 1), w = random_vec(size_t(s.w_size()), 2);
  const Vec dy = random_vec(size_t(s.y_size()), 3);
  Vec y_ref(size_t(s.y_size())), dx_ref(size_t(s.x_size())), dw_ref(size_t(s.w_size()));
  const Backend& ref = cpu_reference_backend();
  ref.conv2d_forward({}, y_ref.data(), x.data(), w.data(), s);
  ref.conv2d_backward_data({}, dx_ref.data(), dy.data(), w.data(), s);
  ref.conv2d_backward_weight({}, dw_ref.data(), x.data(), dy.data(), s);
  using cpu::ConvProduct;
  for (const cpu::ConvAlgo& algo : cpu::conv_algos()) {
    for (ConvProduct p : {ConvProduct::forward, ConvProduct::backward_data, ConvProduct::backward_weight}) {
      if (!cpu::algo_takes(algo, s, p)) continue;
      INFO("algorithm " << algo.name << ", " << cpu::product_name(p));
      const Vec& a = p == ConvProduct::backward_data ? dy : x;
      const Vec& b = p == ConvProduct::forward ? w : p == ConvProduct::backward_data ? w : dy;
      const Vec& want = p == ConvProduct::forward ? y_ref : p == ConvProduct::backward_data ? dx_ref : dw_ref;
      for (cpu::Isa isa : which) {
        Vec first;
        for (int threads : {0, 1, 2, 3}) {
          INFO("isa " << cpu::isa_name(isa) << ", threads " << threads);
          std::unique_ptr<ThreadPool> pool = threads ? std::make_unique<ThreadPool>(threads) : nullptr;
          Vec out = poisoned(want.size());
          cpu::conv_run_with(algo, p, pool.get(), out.data(), a.data(), b.data(), s, isa);
          CHECK(scaled_error(out, want) < algo.tolerance);
          if (first.empty())
            first = out;
          else  // deterministic: the split over threads does not change any sum's order
            CHECK(std::memcmp(out.data(), first.data(), out.size() * sizeof(float)) == 0);
        }
      }
    }
  }
}

}  // namespace

TEST_CASE("cpu conv: small odd shapes against the reference") {
  check_conv(make_conv2d(1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0));     // 1x1 spatial, one channel
  check_conv(make_conv2d(2, 3, 1, 1, 5, 3, 3, 1, 1, 1, 1));     // 1x1 spatial through a 3x3 kernel
  check_conv(make_conv2d(3, 5, 9, 11, 7, 3, 3, 1, 1, 1, 1));    // batch 3, non-square
  check_conv(make_conv2d(2, 13, 17, 10, 29, 3, 3, 2, 2, 2, 2)); // stride 2, padding 2
  check_conv(make_conv2d(1, 6, 8, 8, 5, 4, 4, 2, 2, 1, 1));     // 4x4 stride-2 downsampling
  check_conv(make_conv2d(8, 3, 6, 5, 14, 3, 3, 1, 1, 0, 0));    // batch 8, no padding
  check_conv(make_conv2d(2, 7, 5, 9, 3, 2, 3, 1, 2, 0, 1));     // rectangular kernel, mixed strides
}

TEST_CASE("cpu conv: shapes that cross every blocking size") {
  // K = 70*9 = 630 > 256 (depth blocks), c_out = 101 > 96 (row blocks) and not a multiple of 12,
  // P = 40*30 = 1200 > 512 (pixel blocks) and not a multiple of 32.
  check_conv(make_conv2d(1, 70, 40, 30, 101, 3, 3, 1, 1, 1, 1), {cpu::best_isa()});
  check_conv(make_conv2d(2, 9, 23, 19, 13, 3, 3, 1, 1, 1, 1));
  // c_out = 300 > 256: backward-data's depth (over c_out) is two blocks of the packed dY panel, the second partial.
  check_conv(make_conv2d(1, 3, 6, 7, 300, 3, 3, 1, 1, 1, 1));
  // The operands packed once per call and shared by the tasks (conv_fast.cpp): W for the forward (4 images,
  // K = 270 in two depth blocks, c_out = 101 in two row blocks, the last panel partial), W^T for
  // backward-data (270 rows: a partial last panel), dY for backward-weight; then W^T in two depth blocks.
  check_conv(make_conv2d(4, 30, 6, 7, 101, 3, 3, 1, 1, 1, 1), {cpu::best_isa()});
  check_conv(make_conv2d(2, 3, 6, 7, 300, 3, 3, 1, 1, 1, 1), {cpu::best_isa()});
  // Every edge of the 12-row tile: c_out 1 to 24 (edges of 1 to 6 rows are one block, 7 to 11 two), with
  // P = 36: one full 32-column panel (written straight into the output) and one of 4 columns (through a
  // tile); K = 30*9 = 270, two depth blocks, so the edges also accumulate.
  for (int c_out = 1; c_out <= 24; ++c_out)
    check_conv(make_conv2d(1, 30, 6, 6, c_out, 3, 3, 1, 1, 1, 1), {cpu::best_isa()});
}

TEST_CASE("cpu conv: Winograd tiles, ragged edges and padding 0 to 2") {
  // The Winograd algorithms take 3x3 stride-1 shapes: outputs that are not multiples of the 4x4 and 2x2 tiles,
  // every padding they take, images smaller than one tile, tiles of one block spanning images, c_out not a
  // multiple of the 12-row panels, c_in past the 256-deep GEMM blocks and past one backward-weight block.
  check_conv(make_conv2d(1, 3, 2, 2, 5, 3, 3, 1, 1, 1, 1));      // 2x2 image, one ragged tile
  check_conv(make_conv2d(2, 5, 7, 9, 13, 3, 3, 1, 1, 0, 0));     // pad 0, output 5x7
  check_conv(make_conv2d(3, 4, 6, 5, 3, 3, 3, 1, 1, 2, 2));      // pad 2 (backward-data runs at pad 0)
  check_conv(make_conv2d(2, 6, 11, 10, 7, 3, 3, 1, 1, 2, 0));    // different paddings per axis
  check_conv(make_conv2d(5, 70, 9, 9, 25, 3, 3, 1, 1, 1, 1));    // 45 tiles over 5 images, c_in > 64
  check_conv(make_conv2d(1, 9, 70, 66, 14, 3, 3, 1, 1, 1, 1), {cpu::best_isa()});  // 306 tiles: > 256, > 64
  check_conv(make_conv2d(1, 300, 6, 6, 40, 3, 3, 1, 1, 1, 1), {cpu::best_isa()});  // c_in > 256
  // Backward-weight's tile chunks (512 tiles and more each, summed apart and then added in order): 1089
  // 4x4 tiles in 2 chunks and 4225 2x2 tiles in 4; two images of 2178 2x2 tiles in 4 chunks, one image's
  // tiles in two chunks.
  check_conv(make_conv2d(1, 3, 130, 130, 5, 3, 3, 1, 1, 1, 1), {cpu::best_isa()});
  check_conv(make_conv2d(2, 17, 65, 65, 13, 3, 3, 1, 1, 1, 1), {cpu::best_isa()});
}

TEST_CASE("cpu conv: Winograd vector split and merge, tile rows of 32 tiles and the scalar edges") {
  // The vector gather and scatter take kNR = 32 tiles of one tile row (a tile row of 32 4x4 tiles is 125 to
  // 128 output columns, of 2x2 tiles 63 to 64); anything else goes through the per-tile scalar path.
  check_conv(make_conv2d(1, 3, 7, 126, 5, 3, 3, 1, 1, 1, 1));   // 32 tiles a row, ragged last tile and row
  check_conv(make_conv2d(1, 2, 5, 127, 3, 3, 3, 1, 1, 1, 1));   // one column short of a full tile row
  check_conv(make_conv2d(2, 2, 6, 130, 3, 3, 3, 1, 1, 1, 1));   // 33 tiles a row: blocks straddle rows, images
  check_conv(make_conv2d(1, 4, 5, 134, 3, 3, 3, 1, 1, 0, 0));   // pad 0: the first block read in place
  check_conv(make_conv2d(1, 2, 9, 124, 4, 3, 3, 1, 1, 2, 2));   // pad 2, backward-data at pad 0
  check_conv(make_conv2d(2, 3, 4, 66, 2, 3, 3, 1, 1, 1, 0));    // F(2x2): 32 tiles a row, mixed padding
}

TEST_CASE("cpu conv: Winograd on 2x2 kernels, and the phase split through it") {
  // F(4x4,2x2) and F(2x2,2x2) read a = m + 1 input columns per tile: the vector split stores one column of
  // the next tile where the 3x3 kernels' stores two. Stride-1 2x2 shapes with padding 0 and 1 (backward-data
  // then runs at 1 and 0), ragged and full tile rows (32 tiles of 4: 128 columns).
  const cpu::ConvAlgo& w4 = *cpu::find_conv_algo("winograd4");
  const cpu::ConvAlgo& pw4 = *cpu::find_conv_algo("phase-winograd4");
  const cpu::ConvAlgo& pw2 = *cpu::find_conv_algo("phase-winograd2");
  using cpu::ConvProduct;
  auto reaches = [](const cpu::ConvAlgo& algo, const Conv2dShape& s) {
    for (auto p : {ConvProduct::forward, ConvProduct::backward_data, ConvProduct::backward_weight})
      REQUIRE(cpu::algo_takes(algo, s, p));
  };
  for (const Conv2dShape& s : {make_conv2d(1, 3, 7, 129, 5, 2, 2, 1, 1, 0, 0),     // 6x128 out: 32 tiles a row
                               make_conv2d(2, 5, 9, 8, 7, 2, 2, 1, 1, 1, 1),       // pad 1, 10x9 out
                               make_conv2d(1, 4, 6, 66, 3, 2, 2, 1, 1, 1, 0),      // mixed padding
                               make_conv2d(3, 70, 5, 6, 13, 2, 2, 1, 1, 0, 1)}) {  // c_in > 64, 3 images
    reaches(w4, s);
    check_conv(s);
  }
  // The 4x4 stride-2 convolutions' 2x2 phase kernels: small and odd sizes, an output row of 32 4x4 tiles
  // (backward-data's dx' is then 129 wide: tiles straddle rows), a 6x6 stride-3 kernel (2x2 after the
  // split), and the U-Net's up conv.
  for (const Conv2dShape& s : {make_conv2d(1, 3, 9, 7, 10, 4, 4, 2, 2, 1, 1),
                               make_conv2d(2, 2, 5, 4, 3, 4, 4, 2, 2, 2, 1),
                               make_conv2d(1, 3, 8, 256, 4, 4, 4, 2, 2, 1, 1),
                               make_conv2d(1, 3, 13, 11, 7, 6, 6, 3, 3, 2, 2),
                               make_conv_transpose2d(2, 12, 6, 5, 8, 4, 4, 2, 2, 1, 1, 0, 0)}) {
    reaches(pw4, s);
    reaches(pw2, s);
    check_conv(s);
  }
  CHECK_FALSE(cpu::algo_takes(pw4, make_conv2d(2, 3, 8, 7, 5, 4, 3, 2, 1, 1, 1), ConvProduct::forward));  // 2x3
}

TEST_CASE("cpu conv: transposed convolutions through the role swap") {
  check_conv(make_conv_transpose2d(2, 9, 5, 6, 7, 4, 4, 2, 2, 1, 1, 0, 0));  // U-Net upsampling, small
  check_conv(make_conv_transpose2d(1, 4, 3, 3, 5, 3, 3, 2, 2, 1, 1, 1, 1));  // output_padding 1
}

TEST_CASE("cpu conv: stride phases of unequal size, phases no tap reaches, split input channels") {
  // Odd input sizes: the four stride-2 phases hold 5x4, 5x3, 4x4 and 4x3 pixels.
  check_conv(make_conv2d(2, 5, 9, 7, 13, 4, 4, 2, 2, 1, 1));
  // Kernel smaller than the stride: three of four phases (1x1, stride 2), or whole rows and columns
  // (2x2, stride 3, and the last input row that no output reads), get no tap and must come out zero.
  check_conv(make_conv2d(1, 3, 7, 6, 5, 1, 1, 2, 2, 0, 0));
  check_conv(make_conv2d(2, 4, 10, 8, 6, 2, 2, 3, 3, 0, 0));
  check_conv(make_conv2d(1, 3, 8, 9, 7, 3, 3, 2, 2, 0, 0));   // stride 2 without padding
  // Stride 3 with pads 1 and 2: the first dx row of a phase is (phase - pad) mod 3, not (phase + pad) mod 3
  // as it would be for every stride-2 or pad-0 shape.
  check_conv(make_conv2d(1, 3, 11, 10, 4, 5, 5, 3, 3, 1, 2));
  check_conv(make_conv2d(1, 2, 2, 2, 3, 4, 4, 2, 2, 1, 1));   // 2x2 image, one output pixel
  // One image and one pixel block: 40 input channels are cut into row blocks of 12, the last one short.
  check_conv(make_conv2d(1, 40, 3, 3, 8, 3, 3, 1, 1, 1, 1));
  // Stride 2, c_in = 100 > 96 rows packed at once, depth 70*2*2 = 280 > 256, phase 25x23 = 575 > 512 pixels.
  check_conv(make_conv2d(1, 100, 50, 46, 70, 4, 4, 2, 2, 1, 1), {cpu::best_isa()});
}

// taps (conv_taps.h): the wrap of a tap into the next padded row, the extra zero row, channel blocks of 32
// with a short last one, pixel blocks of 256 across image rows, tap groups split over threads.
TEST_CASE("cpu conv: taps backward-weight, wrapped rows and short channel blocks") {
  check_conv(make_conv2d(2, 33, 7, 5, 13, 5, 5, 1, 1, 2, 2));   // 5x5, 25 taps, c_in one past a block
  check_conv(make_conv2d(1, 4, 9, 31, 7, 2, 3, 1, 1, 0, 1));    // 2x3 kernel, unequal padding, 31 wide
  check_conv(make_conv2d(3, 40, 12, 23, 12, 3, 3, 1, 1, 0, 0)); // pad 0: the wrap reads real pixels
  check_conv(make_conv2d(1, 2, 3, 3, 1, 3, 3, 1, 1, 2, 2));     // padding larger than the picture's border
}

TEST_CASE("cpu conv: the phase split's edges (kernel a multiple of the stride)") {
  // check_conv runs "phase" only where it takes the shape: make sure each of these reaches it.
  const cpu::ConvAlgo& phase = *cpu::find_conv_algo("phase");
  auto check_phase = [&](const Conv2dShape& s, const std::vector<cpu::Isa>& which = isas()) {
    INFO("shape " << s.str());
    using cpu::ConvProduct;
    for (auto p : {ConvProduct::forward, ConvProduct::backward_data, ConvProduct::backward_weight})
      REQUIRE(cpu::algo_takes(phase, s, p));
    check_conv(s, which);
  };
  check_phase(make_conv2d(1, 1, 11, 13, 16, 4, 4, 2, 2, 1, 1));  // c_in 1 (4 channels of x'), odd h and w
  check_phase(make_conv2d(2, 3, 9, 7, 10, 4, 4, 2, 2, 1, 1));    // batch 2, xpad 11x9: a ring row unused
  // Pad 0, h_in 9: x' covers xpad rows 0..7, so input row 8 (and column 9) is never read: dx there is 0.
  check_phase(make_conv2d(1, 3, 9, 10, 5, 4, 4, 2, 2, 0, 0));
  check_phase(make_conv2d(2, 3, 7, 5, 6, 2, 2, 2, 2, 0, 0));     // 2x2/s2/p0: x' is a 1x1 convolution
  check_phase(make_conv2d(1, 3, 13, 11, 7, 6, 6, 3, 3, 2, 2));   // stride 3: nine phases, pad 2
  check_phase(make_conv2d(1, 2, 5, 4, 3, 6, 6, 3, 3, 4, 4));     // pad 4 > stride: whole phase rows of zeros
  check_phase(make_conv2d(2, 3, 8, 7, 5, 4, 3, 2, 1, 1, 1));     // stride 2 down, stride 1 across
  check_phase(make_conv2d(1, 2, 6, 13, 4, 2, 6, 1, 3, 0, 1));    // stride 1 down, stride 3 across
  check_phase(make_conv2d(1, 3, 2, 2, 4, 4, 4, 2, 2, 1, 1));     // 2x2 image, one output pixel
  check_phase(make_conv2d(1, 2, 3, 2, 3, 4, 4, 2, 2, 2, 1));     // 3x2 image, pads 2 and 1
  // Rows split into four-column groups by shuffles and scalar ends: pad 2 (the groups start at j = 1), and
  // widths that end inside a group or exactly on one.
  check_phase(make_conv2d(1, 3, 5, 21, 4, 4, 4, 2, 2, 2, 2));
  check_phase(make_conv2d(2, 2, 6, 16, 3, 4, 4, 2, 2, 1, 0));
  // Depth 40*16 = 640 > 256, c_out 50 > 48, 17x15 = 255 output pixels; x' has 160 channels of 18x16.
  check_phase(make_conv2d(1, 40, 34, 30, 50, 4, 4, 2, 2, 1, 1), {cpu::best_isa()});
  // The U-Net's up conv (forward = backward-data of this shape), batch 2.
  check_phase(make_conv_transpose2d(2, 12, 6, 5, 8, 4, 4, 2, 2, 1, 1, 0, 0));
}

TEST_CASE("cpu conv: U-Net shapes (64->64 3x3 at 32x32 and the 1x1 64->2 head)") {
  check_conv(make_conv2d(1, 64, 32, 32, 64, 3, 3, 1, 1, 1, 1), {cpu::best_isa()});
  check_conv(make_conv2d(2, 64, 16, 16, 2, 1, 1, 1, 1, 0, 0), {cpu::best_isa()});
}

TEST_CASE("cpu conv epilogues: the bias and ReLU applied as the output is stored are the bits of the two passes") {
  // Every algorithm, forward and backward-data (a transposed convolution's forward), with and without a
  // bias and the ReLU, against the plain product followed by the backend's bias_add or bias_relu_forward.
  // Output channel 1 has zero weights and a zero bias: exactly 0 before the ReLU, its kink. K = 40*9 = 360
  // spans two of gemm's depth blocks, so the epilogue must wait for the last one.
  const Backend& fast = cpu_backend();
  ThreadPool pool(2);
  using cpu::ConvProduct;
  for (const Conv2dShape& s : {make_conv2d(2, 20, 13, 11, 17, 3, 3, 1, 1, 1, 1),
                               make_conv2d(1, 40, 9, 9, 14, 3, 3, 1, 1, 1, 1),
                               make_conv2d(2, 16, 12, 10, 20, 4, 4, 2, 2, 1, 1)}) {
    INFO("shape " << s.str());
    const Vec x = random_vec(size_t(s.x_size()), 1), dy = random_vec(size_t(s.y_size()), 3);
    Vec w = random_vec(size_t(s.w_size()), 2);
    const int64_t kk = int64_t(s.kh) * s.kw;
    for (int64_t i = 0; i < s.w_size(); ++i)  // w[o][c][p][q]: forward's channel 1, backward-data's too
      if (i / (int64_t(s.c_in) * kk) == 1 || (i / kk) % s.c_in == 1) w[size_t(i)] = 0.0f;
    for (const cpu::ConvAlgo& algo : cpu::conv_algos())
      for (ConvProduct p : {ConvProduct::forward, ConvProduct::backward_data}) {
        if (!cpu::algo_takes(algo, s, p)) continue;
        const bool forward = p == ConvProduct::forward;
        const int channels = forward ? s.c_out : s.c_in;
        const int64_t hw = forward ? int64_t(s.h_out) * s.w_out : int64_t(s.h_in) * s.w_in;
        Vec bias = random_vec(size_t(channels), 4);
        bias[1] = 0.0f;
        const float* a = forward ? x.data() : dy.data();
        const bool can = (forward ? algo.forward_epilogue : algo.backward_data_epilogue) != nullptr;
        for (bool with_bias : {true, false})
          for (bool relu : {true, false}) {
            if (!with_bias && !relu) continue;
            for (ThreadPool* tp : {static_cast<ThreadPool*>(nullptr), &pool}) {
              INFO("algorithm " << algo.name << ", " << cpu::product_name(p) << (with_bias ? ", bias" : "")
                                << (relu ? ", relu" : "") << (tp ? ", 2 threads" : ", no pool"));
              Stream st;
              st.pool = tp;
              const float* b = with_bias ? bias.data() : nullptr;
              Vec plain = poisoned(size_t(channels * hw * s.n)), fused = plain;
              cpu::conv_run_with(algo, p, tp, plain.data(), a, w.data(), s);
              if (relu)
                fast.bias_relu_forward(st, plain.data(), b, s.n, channels, hw);
              else
                fast.bias_add(st, plain.data(), b, s.n, channels, hw);
              const bool applied = cpu::conv_run_epilogue(p, tp, fused.data(), a, w.data(), s, {b, relu},
                                                          cpu::best_isa(), &algo);
              CHECK(applied == can);
              if (!applied) {
                if (relu)
                  fast.bias_relu_forward(st, fused.data(), b, s.n, channels, hw);
                else
                  fast.bias_add(st, fused.data(), b, s.n, channels, hw);
              }
              REQUIRE(std::memcmp(fused.data(), plain.data(), plain.size() * sizeof(float)) == 0);
              if (relu) {  // the kink channel is clipped to +0 everywhere
                int64_t kink = 0;
                for (int n = 0; n < s.n; ++n)
                  for (int64_t i = 0; i < hw; ++i) kink += std::signbit(fused[size_t((n * channels + 1) * hw + i)]) ||
                                                            fused[size_t((n * channels + 1) * hw + i)] != 0.0f;
                CHECK(kink == 0);
              }
            }
          }
      }
  }
  // Which algorithms apply it, as the backend's entries report.
  CHECK(cpu::find_conv_algo("gemm")->forward_epilogue != nullptr);
  CHECK(cpu::find_conv_algo("gemm")->backward_data_epilogue == nullptr);  // col2im's sums end last
  for (const char* name : {"winograd4", "winograd2", "phase", "phase-winograd4", "phase-winograd2"}) {
    INFO(name);
    CHECK(cpu::find_conv_algo(name)->forward_epilogue != nullptr);
    CHECK(cpu::find_conv_algo(name)->backward_data_epilogue != nullptr);
  }
}

// ---- every other entry of the table, cpu against cpu-ref ----------------------------------------------

TEST_CASE("cpu conv task split: the fewest blocks that give every thread the same number of tasks") {
  using cpu::split_for_threads;
  // Enough work along the other dimension, or one thread: no split (a split repeats the shared packing).
  CHECK(split_for_threads(1, 1, 512, 12) == 1);
  CHECK(split_for_threads(2, 4, 512, 12) == 1);
  CHECK(split_for_threads(4, 9, 512, 12) == 1);
  // One pixel block on two threads: two blocks, one per thread (the former rule made four, packing the
  // same B four times).
  CHECK(split_for_threads(2, 1, 512, 12) == 2);
  CHECK(split_for_threads(2, 3, 512, 12) == 2);  // 6 tasks, 3 each
  CHECK(split_for_threads(3, 2, 512, 12) == 3);  // 6 tasks, 2 each
  CHECK(split_for_threads(4, 1, 512, 12) == 4);
  CHECK(split_for_threads(4, 2, 512, 12) == 2);
  // No even split within the threads x 2 rule's tasks: that rule (9 tasks for 4 threads, 20 for 8).
  CHECK(split_for_threads(4, 3, 512, 12) == 3);
  CHECK(split_for_threads(8, 5, 512, 12) == 4);
  // Never more blocks than the extent has units.
  CHECK(split_for_threads(2, 1, 12, 12) == 1);
  CHECK(split_for_threads(4, 1, 24, 12) == 2);
  for (int threads = 2; threads <= 8; ++threads)
    for (int64_t other = 1; other < 2 * threads; ++other) {
      INFO("threads " << threads << ", other " << other);
      const int64_t b = split_for_threads(threads, other, 1 << 20, 1);
      CHECK(other * b >= threads);          // every thread has a task
      CHECK(other * b <= 2 * threads + other);  // and the split is no finer than the threads x 2 rule
    }
}

TEST_CASE("cpu element-wise, bias, concat and reductions match the reference") {
  const Backend& fast = cpu_backend();
  const Backend& ref = cpu_reference_backend();
  ThreadPool pool(3);
  Stream st;
  st.pool = &pool;
  const Stream serial;
  // Large enough to be split across threads and reduction blocks, odd so that no chunk is even.
  const int n = 3, c = 5;
  const int64_t hw = 100003;
  const int64_t len = int64_t(n) * c * hw;
  const Vec a = random_vec(size_t(len), 41), b = random_vec(size_t(len), 42), bias = random_vec(c, 43);
  auto same = [&](auto&& run_fast, auto&& run_ref, size_t size, double tol) {
    Vec out_fast = poisoned(size), out_ref = poisoned(size);
    run_fast(out_fast.data());
    run_ref(out_ref.data());
    CHECK(scaled_error(out_fast, out_ref) <= tol);
  };
  same([&](float* y) { fast.fill(st, y, 2.5f, len); }, [&](float* y) { ref.fill(serial, y, 2.5f, len); }, len, 0);
  same([&](float* y) { fast.copy(st, y, a.data(), len); }, [&](float* y) { ref.copy(serial, y, a.data(), len); },
       len, 0);
  same([&](float* y) { fast.add(st, y, a.data(), b.data(), len); },
       [&](float* y) { ref.add(serial, y, a.data(), b.data(), len); }, len, 0);
  same([&](float* y) { fast.scale(st, y, a.data(), -1.5f, len); },
       [&](float* y) { ref.scale(serial, y, a.data(), -1.5f, len); }, len, 0);
  same([&](float* y) { std::copy(b.begin(), b.end(), y); fast.axpy(st, y, a.data(), 0.3f, len); },
       [&](float* y) { std::copy(b.begin(), b.end(), y); ref.axpy(serial, y, a.data(), 0.3f, len); }, len, 0);
  same([&](float* y) { fast.relu_forward(st, y, a.data(), len); },
       [&](float* y) { ref.relu_forward(serial, y, a.data(), len); }, len, 0);
  same([&](float* y) { fast.relu_backward(st, y, b.data(), a.data(), len); },
       [&](float* y) { ref.relu_backward(serial, y, b.data(), a.data(), len); }, len, 0);
  same([&](float* y) { fast.tanh_forward(st, y, a.data(), len); },
       [&](float* y) { ref.tanh_forward(serial, y, a.data(), len); }, len, 1.2e-7);
  same([&](float* y) { fast.tanh_backward(st, y, b.data(), a.data(), len); },
       [&](float* y) { ref.tanh_backward(serial, y, b.data(), a.data(), len); }, len, 0);
  same([&](float* y) { std::copy(a.begin(), a.end(), y); fast.bias_add(st, y, bias.data(), n, c, hw); },
       [&](float* y) { std::copy(a.begin(), a.end(), y); ref.bias_add(serial, y, bias.data(), n, c, hw); }, len, 0);
  same([&](float* y) { fast.bias_backward(st, y, a.data(), n, c, hw); },
       [&](float* y) { ref.bias_backward(serial, y, a.data(), n, c, hw); }, c, 1e-6);
  same([&](float* y) { fast.sum(st, y, a.data(), len); }, [&](float* y) { ref.sum(serial, y, a.data(), len); }, 1,
       1e-6);
  const float s = 0.75f;
  same([&](float* y) { fast.broadcast_scalar(st, y, &s, 0.5f, len); },
       [&](float* y) { ref.broadcast_scalar(serial, y, &s, 0.5f, len); }, len, 0);
  // concat of (n, 2, hw) and (n, 3, hw), then split back.
  const int ca = 2, cb = 3;
  same([&](float* y) { fast.concat_channels(st, y, a.data(), b.data(), n, ca, cb, hw); },
       [&](float* y) { ref.concat_channels(serial, y, a.data(), b.data(), n, ca, cb, hw); }, len, 0);
  same([&](float* y) { fast.split_channels(st, y, nullptr, a.data(), n, ca, cb, hw); },
       [&](float* y) { ref.split_channels(serial, y, nullptr, a.data(), n, ca, cb, hw); }, size_t(n) * ca * hw, 0);
  same([&](float* y) { fast.split_channels(st, nullptr, y, a.data(), n, ca, cb, hw); },
       [&](float* y) { ref.split_channels(serial, nullptr, y, a.data(), n, ca, cb, hw); }, size_t(n) * cb * hw, 0);
}

TEST_CASE("cpu sums are the same bits for any thread count") {
  const Vec a = random_vec(1000003, 51);
  const Backend& fast = cpu_backend();
  float expect = NAN;
  fast.sum({}, &expect, a.data(), int64_t(a.size()));
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    Stream st;
    st.pool = &pool;
    float got = NAN, loss[2] = {NAN, NAN}, loss_serial[2] = {NAN, NAN};
    fast.sum(st, &got, a.data(), int64_t(a.size()));
    CHECK(std::memcmp(&got, &expect, sizeof(float)) == 0);
    fast.l1_loss_forward(st, loss, a.data(), a.data() + 1, nullptr, 1, 1, 1000000);
    fast.l1_loss_forward({}, loss_serial, a.data(), a.data() + 1, nullptr, 1, 1, 1000000);
    CHECK(std::memcmp(loss, loss_serial, sizeof(loss)) == 0);
  }
}

// Random inputs cannot show a split that depends on the thread count: sums kept in double round to the same
// float whatever their order. These inputs are built so that the order does show:
//  - bias gradient: each plane starts with +2^60 and ends with -2^60, ones in between. Summed in one run,
//    the ones vanish next to 2^60 (its double ulp is 256) and the plane sums to 0; split into parts, the ones
//    of a part without the +2^60 survive, and the sum is thousands.
//  - losses: N = 2^18 differences, the first 1, the second 2^-12 (L2; 2^-24 for L1), the rest 2^-30 (L2;
//    2^-60 for L1): the terms 1 + 2^-24 + tiny ones. Added to 1 one at a time the tiny ones vanish and the sum
//    is exactly the float tie 1 + 2^-24, which rounds to 1; summed apart from the 1 first, they survive and
//    push the mean over the tie. One split or the other, the float mean differs.
TEST_CASE("cpu bias gradient and losses are the same bits for any thread count, on order-sensitive inputs") {
  const Backend& fast = cpu_backend();
  const int n = 2, c = 3;
  const int64_t hw = 70001;
  Vec dy(size_t(n * c * hw), 1.0f);
  for (int64_t plane = 0; plane < n * c; ++plane) {
    dy[size_t(plane * hw)] = 0x1p60f;
    dy[size_t(plane * hw + hw - 1)] = -0x1p60f;
  }
  const int64_t total = int64_t(1) << 18;
  Vec zero(size_t(total), 0.0f), d_l2(size_t(total), 0x1p-30f), d_l1(size_t(total), 0x1p-60f);
  d_l2[0] = d_l1[0] = 1.0f;
  d_l2[1] = 0x1p-12f;
  d_l1[1] = 0x1p-24f;
  Vec mask(size_t(total / 2), 1.0f);
  mask[3] = 0.0f;  // a masked pixel: the count is 2^18 - 2, and the backward divides by it
  const float g = 1.0f;
  struct Result {
    Vec bias, l1, l2, l1_grad, l2_grad;
  };
  auto run = [&](const Stream& st) {
    Result r{poisoned(c), poisoned(2), poisoned(2), poisoned(size_t(total)), poisoned(size_t(total))};
    fast.bias_backward(st, r.bias.data(), dy.data(), n, c, hw);
    fast.l1_loss_forward(st, r.l1.data(), d_l1.data(), zero.data(), nullptr, 1, 2, total / 2);
    fast.mse_loss_forward(st, r.l2.data(), d_l2.data(), zero.data(), nullptr, 1, 2, total / 2);
    float masked[2] = {NAN, NAN};
    fast.l1_loss_forward(st, masked, d_l1.data(), zero.data(), mask.data(), 1, 2, total / 2);
    fast.l1_loss_backward(st, r.l1_grad.data(), &g, masked, d_l1.data(), zero.data(), mask.data(), 1, 2, total / 2);
    fast.mse_loss_forward(st, masked, d_l2.data(), zero.data(), mask.data(), 1, 2, total / 2);
    fast.mse_loss_backward(st, r.l2_grad.data(), &g, masked, d_l2.data(), zero.data(), mask.data(), 1, 2, total / 2);
    return r;
  };
  const Result serial = run(Stream{});
  for (int threads : {1, 2, 3, 4}) {
    INFO(threads << " threads");
    ThreadPool pool(threads);
    Stream st;
    st.pool = &pool;
    const Result r = run(st);
    auto same_bits = [](const Vec& x, const Vec& y) { return x.size() == y.size() && !std::memcmp(x.data(), y.data(), x.size() * 4); };
    CHECK(same_bits(r.bias, serial.bias));
    CHECK(same_bits(r.l1, serial.l1));
    CHECK(same_bits(r.l2, serial.l2));
    CHECK(same_bits(r.l1_grad, serial.l1_grad));
    CHECK(same_bits(r.l2_grad, serial.l2_grad));
  }
  // The count is exact; the mean is 2^-18 to float precision (the tiny terms are below it).
  CHECK(serial.l2[1] == float(total));
  CHECK(std::fabs(serial.l2[0] * double(total) - 1.0) <= 2e-7);
}

// ---- entries every backend must agree on, checked against values computed here in double -------------

TEST_CASE("losses with and without mask, on every CPU backend, against double") {
  const int n = 2, c = 2;
  const int64_t hw = 40001;
  Vec pred = random_vec(size_t(n * c * hw), 61);
  const Vec target = random_vec(pred.size(), 62);
  // The kink of L1: where pred == target exactly the gradient is sign(0) = 0, not +-1.
  for (size_t k = 0; k < pred.size(); k += 5) pred[k] = target[k];
  Vec mask(size_t(n * hw));
  for (size_t i = 0; i < mask.size(); ++i) mask[i] = (i % 7) < 4 ? 1.0f : 0.0f;
  ThreadPool pool(2);
  for (const Backend* be : {&cpu_backend(), &cpu_reference_backend()})
    for (bool l1 : {true, false})
      for (const float* m : {static_cast<const float*>(nullptr), static_cast<const float*>(mask.data())}) {
        INFO(be->name << (l1 ? " l1" : " mse") << (m ? " masked" : ""));
        double total = 0, count = 0;
        for (int b = 0; b < n; ++b)
          for (int ch = 0; ch < c; ++ch)
            for (int64_t i = 0; i < hw; ++i) {
              const size_t k = size_t((int64_t(b) * c + ch) * hw + i);
              const double mk = m ? m[size_t(b * hw + i)] : 1.0;
              const double d = double(pred[k]) - double(target[k]);
              total += mk * (l1 ? std::fabs(d) : d * d);
              count += mk;
            }
        Stream st;
        st.pool = &pool;
        float out[2] = {NAN, NAN};
        (l1 ? be->l1_loss_forward : be->mse_loss_forward)(st, out, pred.data(), target.data(), m, n, c, hw);
        CHECK(out[1] == float(count));
        CHECK(std::fabs(out[0] - total / count) <= 1e-6 * (total / count));
        const float g = 1.7f;
        Vec dpred = poisoned(pred.size());
        (l1 ? be->l1_loss_backward : be->mse_loss_backward)(st, dpred.data(), &g, out, pred.data(),
                                                            target.data(), m, n, c, hw);
        double worst = 0;
        for (int b = 0; b < n; ++b)
          for (int ch = 0; ch < c; ++ch)
            for (int64_t i = 0; i < hw; ++i) {
              const size_t k = size_t((int64_t(b) * c + ch) * hw + i);
              const double mk = m ? m[size_t(b * hw + i)] : 1.0;
              const double d = double(pred[k]) - double(target[k]);
              const double expect = 1.7 * mk * (l1 ? (d > 0) - (d < 0) : 2 * d) / count;
              worst = std::max(worst, std::fabs(dpred[k] - expect) / (1.7 * 2 * 2 / count));
            }
        CHECK(worst < 1e-6);
      }
}

TEST_CASE("relu and L1 at their kinks: the gradient at exactly 0 is 0 on every CPU backend") {
  // x = -1, -0, +0, the smallest normal, 2: relu passes the gradient only where x > 0.
  const Vec x = {-1.0f, -0.0f, 0.0f, 1.17549435e-38f, 2.0f}, dy = {1, 2, 3, 4, 5};
  const Vec expect_relu = {0, 0, 0, 4, 5};
  // L1 of (pred - target) = (-0.5, 0, 0, 0.25): mean 0.1875, gradient sign(d) / 4 = -0.25, 0, 0, 0.25.
  const Vec pred = {0.5f, 0.25f, -0.75f, 1.0f}, target = {1.0f, 0.25f, -0.75f, 0.75f};
  const Vec expect_l1 = {-0.25f, 0, 0, 0.25f};
  for (const Backend* be : {&cpu_backend(), &cpu_reference_backend()}) {
    INFO(be->name);
    Vec dx = poisoned(x.size());
    be->relu_backward({}, dx.data(), dy.data(), x.data(), int64_t(x.size()));
    CHECK(dx == expect_relu);
    float out[2] = {NAN, NAN};
    be->l1_loss_forward({}, out, pred.data(), target.data(), nullptr, 1, 1, 4);
    CHECK(out[0] == 0.1875f);
    CHECK(out[1] == 4.0f);
    const float g = 1.0f;
    Vec dpred = poisoned(4);
    be->l1_loss_backward({}, dpred.data(), &g, out, pred.data(), target.data(), nullptr, 1, 1, 4);
    CHECK(dpred == expect_l1);
  }
}

TEST_CASE("adam and adamw: three steps on every CPU backend against a hand computation in double") {
  const int64_t n = 70001;  // several threads' worth
  const Vec p0 = random_vec(n, 71), g0 = random_vec(n, 72);
  ThreadPool pool(2);
  for (const Backend* be : {&cpu_backend(), &cpu_reference_backend()})
    for (bool decoupled : {false, true}) {
      INFO(be->name << (decoupled ? " adamw" : " adam"));
      AdamHyper h;
      h.lr = 1e-2f, h.beta1 = 0.9f, h.beta2 = 0.99f, h.eps = 1e-8f, h.weight_decay = 0.1f, h.decoupled = decoupled;
      Vec p = p0, m(n, 0.0f), v(n, 0.0f), grad(n);
      std::vector<double> pd(p0.begin(), p0.end()), md(n, 0.0), vd(n, 0.0);
      Stream st;
      st.pool = &pool;
      for (int step = 1; step <= 3; ++step) {
        for (int64_t i = 0; i < n; ++i) grad[i] = g0[i] * float(step) - 0.5f * p[i];  // changes every step
        h.step = step - 1;  // steps taken before this one
        be->adam_step(st, p.data(), grad.data(), m.data(), v.data(), n, h);
        const double b1 = h.beta1, b2 = h.beta2, lr = h.lr, wd = h.weight_decay, eps = h.eps;
        for (int64_t i = 0; i < n; ++i) {
          double gi = grad[i];
          if (decoupled)
            pd[i] *= 1 - lr * wd;
          else
            gi += wd * pd[i];
          md[i] = b1 * md[i] + (1 - b1) * gi;
          vd[i] = b2 * vd[i] + (1 - b2) * gi * gi;
          pd[i] -= lr * (md[i] / (1 - std::pow(b1, step))) / (std::sqrt(vd[i] / (1 - std::pow(b2, step))) + eps);
        }
        // grad uses the float p, and the double path follows the same grads: compare p after each step.
        double worst = 0;
        // A NaN must fail: std::max would drop it.
        for (int64_t i = 0; i < n; ++i) worst = std::max(worst, std::isnan(p[i]) ? INFINITY : std::fabs(double(p[i]) - pd[i]));
        INFO("step " << step);
        CHECK(worst < 1e-6);  // each step moves p by about lr = 1e-2
        for (int64_t i = 0; i < n; ++i) pd[i] = p[i];  // re-anchor so float drift does not accumulate
      }
    }
}

TEST_CASE("cpu allocations are 64-byte aligned and a failed one names its size") {
  for (const Backend* be : {&cpu_backend(), &cpu_reference_backend()}) {
    for (size_t bytes : {size_t(0), size_t(4), size_t(1000), size_t(1) << 20}) {
      void* p = be->alloc(bytes);
      CHECK(reinterpret_cast<uintptr_t>(p) % 64 == 0);
      be->free(p);
    }
#ifndef TINT_SANITIZE  // ASan reports a huge allocation instead of returning nullptr
    try {
      be->alloc(size_t(1) << 62);
      FAIL("no error for an impossible allocation");
    } catch (const Error& e) {
      CHECK_THAT(e.what(), Catch::Contains("4611686018427387904"));
    }
#endif
  }
}

TEST_CASE("cpu thread pool: sizes outside 1..256 and a bad TINT_THREADS are errors naming the setting") {
  CHECK_THROWS_WITH(ThreadPool(ThreadPool::kMaxThreads + 1), Catch::Contains("at most 256 (TINT_THREADS)"));
  CHECK(ThreadPool(2).size() == 2);
  for (const char* bad : {"0", "257", "-3", "4x"}) {
    INFO(bad);
    ::setenv("TINT_THREADS", bad, 1);
    CHECK_THROWS_WITH(ThreadPool(), Catch::Contains(std::string("TINT_THREADS='") + bad + "': expected a whole number from 1 to 256"));
  }
  ::setenv("TINT_THREADS", "3", 1);
  CHECK(ThreadPool().size() == 3);
  ::unsetenv("TINT_THREADS");
}

TEST_CASE("cpu backend: every registry case matches cpu-ref (the all-backends matrix)") {
  // The same matrix the CUDA backends run (tests/test_cuda_matrix.h), on a pool of 3 threads so that the
  // chunked paths split.
  ThreadPool pool(3);
  cuda_matrix::Target t{&cpu_backend()};
  t.stream.pool = &pool;
  cuda_matrix::check_cases(t, small_op_cases(), false);
}

TEST_CASE("cpu conv variants are chosen by name, an unknown name lists the valid ones") {
  const std::vector<std::string> names = cpu::conv_variants();
  REQUIRE(names.size() >= 2);
  CHECK(names[0] == "auto");
  CHECK(names[1] == "gemm");
  CHECK(cpu::conv_variant() == cpu::conv_default_variant);
  for (const std::string& n : names) {
    cpu::set_conv_variant(n);
    CHECK(cpu::conv_variant() == n);
  }
  try {
    cpu::set_conv_variant("no-such-algo");
    FAIL("an unknown variant was accepted");
  } catch (const Error& e) {
    const std::string what = e.what();
    CHECK(what.find("no-such-algo") != std::string::npos);
    for (const std::string& n : names) CHECK(what.find(n) != std::string::npos);
  }
  // "auto" runs the 4x4 stride-2 layers through Winograd on the phase split from 256 4x4 output tiles
  // (backward-weight from 32), else as "phase" from 1024 output pixels in the batch and on gemm below
  // (implicit measured slower once gemm's packing got faster: the rule in conv_algos.cpp); test_winograd
  // checks its choices for the 3x3 layers.
  cpu::set_conv_variant("auto");
  auto pick = [](const Conv2dShape& s, cpu::ConvProduct p) { return std::string(cpu::algo_for(s, p).name); };
  const Conv2dShape down = make_conv2d(1, 64, 32, 32, 128, 4, 4, 2, 2, 1, 1);   // 16x16 out: 256 pixels
  const Conv2dShape first = make_conv2d(1, 1, 32, 32, 64, 4, 4, 2, 2, 1, 1);
  const Conv2dShape at_1024 = make_conv2d(1, 64, 64, 64, 128, 4, 4, 2, 2, 1, 1);  // 32x32 out
  const Conv2dShape at_1023 = make_conv2d(1, 64, 62, 66, 128, 4, 4, 2, 2, 1, 1);  // 31x33 out
  const Conv2dShape batch_4 = make_conv2d(4, 512, 32, 32, 512, 4, 4, 2, 2, 1, 1);  // 4 x 16x16 out
  const Conv2dShape at_256 = make_conv2d(1, 64, 128, 128, 128, 4, 4, 2, 2, 1, 1);  // 64x64 out
  const Conv2dShape at_32 = make_conv2d(8, 512, 16, 16, 512, 4, 4, 2, 2, 1, 1);    // 8 x 8x8 out: 32 tiles
  const Conv2dShape up = make_conv_transpose2d(1, 128, 128, 128, 64, 4, 4, 2, 2, 1, 1, 0, 0);  // up.0 at 256
  for (cpu::ConvProduct p : {cpu::ConvProduct::forward, cpu::ConvProduct::backward_data,
                             cpu::ConvProduct::backward_weight}) {
    INFO(cpu::product_name(p));
    const bool weight = p == cpu::ConvProduct::backward_weight;
    CHECK(pick(down, p) == "gemm");  // 16 tiles
    CHECK(pick(at_32, p) == (weight ? "phase-winograd2" : "gemm"));
    CHECK(pick(first, p) == "gemm");
    CHECK(pick(at_1024, p) == (weight ? "phase-winograd2" : "phase"));  // 64 tiles
    CHECK(pick(at_1023, p) == (weight ? "phase-winograd2" : "gemm"));   // 72 tiles
    CHECK(pick(batch_4, p) == (weight ? "phase-winograd2" : "phase"));  // 64 tiles
    CHECK(pick(at_256, p) == (weight ? "phase-winograd4" : "phase-winograd2"));
    CHECK(pick(up, p) == "phase-winograd4");  // 1024 tiles
  }
  // Winograd needs 16 channels in and out; the stem-like one takes phase at this size.
  CHECK(pick(make_conv2d(1, 1, 256, 256, 64, 4, 4, 2, 2, 1, 1), cpu::ConvProduct::forward) == "phase");
  const Conv2dShape odd_kernel = make_conv2d(1, 64, 64, 64, 128, 3, 3, 2, 2, 1, 1);  // 3 % 2 != 0
  CHECK(pick(odd_kernel, cpu::ConvProduct::forward) == "gemm");
  // A forced algorithm that does not take a shape falls back to gemm, never to nothing.
  const Conv2dShape s = make_conv2d(1, 3, 7, 5, 4, 2, 3, 1, 2, 0, 1);
  for (const std::string& n : names) {
    cpu::set_conv_variant(n);
    for (cpu::ConvProduct p : {cpu::ConvProduct::forward, cpu::ConvProduct::backward_data,
                               cpu::ConvProduct::backward_weight})
      CHECK(cpu::algo_takes(cpu::algo_for(s, p), s, p));
  }
  cpu::set_conv_variant(cpu::conv_default_variant);
}

TEST_CASE("cpu adam (vectorised) gives the same bits as cpu-ref's scalar formula") {
  const int64_t n = 70001;  // several threads' worth, and a tail that is not a multiple of 8
  const Vec p0 = random_vec(n, 81), g = random_vec(n, 82), m0 = random_vec(n, 83);
  Vec v0 = random_vec(n, 84);
  for (float& x : v0) x = std::fabs(x) * 0.01f;
  ThreadPool pool(2);
  for (bool decoupled : {false, true}) {
    INFO((decoupled ? "adamw" : "adam"));
    AdamHyper h;
    h.lr = 3e-4f, h.weight_decay = 0.05f, h.decoupled = decoupled, h.step = 6;
    Vec p_fast = p0, m_fast = m0, v_fast = v0, p_ref = p0, m_ref = m0, v_ref = v0;
    Stream st;
    st.pool = &pool;
    cpu_backend().adam_step(st, p_fast.data(), g.data(), m_fast.data(), v_fast.data(), n, h);
    cpu_reference_backend().adam_step({}, p_ref.data(), g.data(), m_ref.data(), v_ref.data(), n, h);
    CHECK(std::memcmp(p_fast.data(), p_ref.data(), size_t(n) * sizeof(float)) == 0);
    CHECK(std::memcmp(m_fast.data(), m_ref.data(), size_t(n) * sizeof(float)) == 0);
    CHECK(std::memcmp(v_fast.data(), v_ref.data(), size_t(n) * sizeof(float)) == 0);
    CHECK(p_fast != p0);  // it did update
  }
}
