#include "kernels/cpu/conv_algos.h"

#include <atomic>
#include <fmt/format.h>

#include "engine/error.h"
#include "kernels/cpu/conv_fast.h"
#include "kernels/cpu/conv_implicit.h"
#include "kernels/cpu/conv_phase.h"
#include "kernels/cpu/conv_taps.h"
#include "kernels/cpu/conv_winograd.h"

namespace tint::cpu {

namespace {

void gemm_forward(ThreadPool* pool, float* y, const float* x, const float* w, const Conv2dShape& s, Isa isa) {
  conv2d_forward_fast(pool, y, x, w, s, isa);
}
void gemm_forward_epilogue(ThreadPool* pool, float* y, const float* x, const float* w, const Conv2dShape& s, Isa isa,
                           const ConvEpilogue& ep) {
  conv2d_forward_fast(pool, y, x, w, s, isa, ep);
}
void gemm_backward_data(ThreadPool* pool, float* dx, const float* dy, const float* w, const Conv2dShape& s,
                        Isa isa) {
  conv2d_backward_data_fast(pool, dx, dy, w, s, isa);
}
void gemm_backward_weight(ThreadPool* pool, float* dw, const float* x, const float* dy, const Conv2dShape& s,
                          Isa isa) {
  conv2d_backward_weight_fast(pool, dw, x, dy, s, isa);
}

bool winograd_takes_product(const Conv2dShape& s, ConvProduct) { return winograd_takes(s); }
bool taps_takes_product(const Conv2dShape& s, ConvProduct) { return taps_takes(s); }
bool phase_takes_product(const Conv2dShape& s, ConvProduct) { return phase_takes(s); }
bool phase_winograd_takes_product(const Conv2dShape& s, ConvProduct) { return phase_winograd_takes(s); }

// A product whose first argument is a tile size (Winograd's, or that of the phase split's inner Winograd, 0
// for its gemm), fixed at M.
using SizedFn = void (*)(int, ThreadPool*, float*, const float*, const float*, const Conv2dShape&, Isa);
template <SizedFn F, int M>
void sized(ThreadPool* pool, float* out, const float* a, const float* b, const Conv2dShape& s, Isa isa) {
  F(M, pool, out, a, b, s, isa);
}
// The same for a product that takes an epilogue: without one, and with one.
using SizedEpilogueFn = void (*)(int, ThreadPool*, float*, const float*, const float*, const Conv2dShape&, Isa,
                                 const ConvEpilogue&);
template <SizedEpilogueFn F, int M>
void sized(ThreadPool* pool, float* out, const float* a, const float* b, const Conv2dShape& s, Isa isa) {
  F(M, pool, out, a, b, s, isa, {});
}
template <SizedEpilogueFn F, int M>
void sized_epilogue(ThreadPool* pool, float* out, const float* a, const float* b, const Conv2dShape& s, Isa isa,
                    const ConvEpilogue& ep) {
  F(M, pool, out, a, b, s, isa, ep);
}
// Both epilogue products of an algorithm whose forward and backward-data are F and D at tile size M.
template <SizedEpilogueFn F, SizedEpilogueFn D, int M>
void with_epilogues(ConvAlgo& a) {
  a.forward_epilogue = sized_epilogue<F, M>;
  a.backward_data_epilogue = sized_epilogue<D, M>;
}

std::vector<ConvAlgo> make_algos() {
  std::vector<ConvAlgo> v;
  v.push_back({"gemm", "packed GEMM with im2col in the packing, col2im scatter-add for backward-data", nullptr,
               gemm_forward, gemm_backward_data, gemm_backward_weight});
  v.back().forward_epilogue = gemm_forward_epilogue;  // col2im's sums end only with the whole product
  // New algorithms are appended here, each in a file of its own.
  v.push_back({"implicit", "backward-data as a convolution of dY per stride phase, each dx element written once",
               nullptr, nullptr, conv2d_backward_data_implicit, nullptr});
  // Tolerances: the measured worst case on the U-Net's shapes with a margin (conv_winograd.h).
  v.push_back({"winograd4", "Winograd F(4x4,3x3): 36 GEMMs per tile block; 3x3 (or 2x2) stride-1 only",
               winograd_takes_product, sized<conv2d_forward_winograd, 4>, sized<conv2d_backward_data_winograd, 4>,
               sized<conv2d_backward_weight_winograd, 4>, 5e-5});
  with_epilogues<conv2d_forward_winograd, conv2d_backward_data_winograd, 4>(v.back());
  v.push_back({"winograd2", "Winograd F(2x2,3x3): 16 GEMMs per tile block; 3x3 (or 2x2) stride-1 only",
               winograd_takes_product, sized<conv2d_forward_winograd, 2>, sized<conv2d_backward_data_winograd, 2>,
               sized<conv2d_backward_weight_winograd, 2>, 5e-6});
  with_epilogues<conv2d_forward_winograd, conv2d_backward_data_winograd, 2>(v.back());
  v.push_back({"taps", "backward-weight as one GEMM per kernel tap on channels-last copies, no im2col; stride 1",
               taps_takes_product, nullptr, nullptr, conv2d_backward_weight_taps});
  // The same products as gemm summed in another order: gemm's bound.
  v.push_back({"phase", "stride-s convs as stride-1 ones of the space-to-depth input (kernel multiple of s)",
               phase_takes_product, sized<conv2d_forward_phase, 0>, sized<conv2d_backward_data_phase, 0>,
               sized<conv2d_backward_weight_phase, 0>});
  with_epilogues<conv2d_forward_phase, conv2d_backward_data_phase, 0>(v.back());
  // Tolerances as for winograd4 and winograd2 (conv_winograd.h).
  v.push_back({"phase-winograd4", "phase split, then Winograd F(4x4,2x2) on the 2x2 kernels (4x4 stride 2)",
               phase_winograd_takes_product, sized<conv2d_forward_phase, 4>, sized<conv2d_backward_data_phase, 4>,
               sized<conv2d_backward_weight_phase, 4>, 5e-5});
  with_epilogues<conv2d_forward_phase, conv2d_backward_data_phase, 4>(v.back());
  v.push_back({"phase-winograd2", "phase split, then Winograd F(2x2,2x2) on the 2x2 kernels (4x4 stride 2)",
               phase_winograd_takes_product, sized<conv2d_forward_phase, 2>, sized<conv2d_backward_data_phase, 2>,
               sized<conv2d_backward_weight_phase, 2>, 5e-6});
  with_epilogues<conv2d_forward_phase, conv2d_backward_data_phase, 2>(v.back());
  return v;
}

// -1: "auto"; otherwise an index into conv_algos().
std::atomic<int> g_selected{-1};

ConvFn fn_of(const ConvAlgo& a, ConvProduct p) {
  switch (p) {
    case ConvProduct::forward: return a.forward;
    case ConvProduct::backward_data: return a.backward_data;
    case ConvProduct::backward_weight: return a.backward_weight;
  }
  return nullptr;
}

// The "auto" rule: which algorithm is fastest for this product and shape.
//
// backward-data: "implicit" from 8 input channels up. bench_backward_data (gemm and implicit interleaved,
// median of 5 rounds, 2 threads, AVX2, 2026-11-30, on a machine shared with 4 builds, load 9-15, two runs,
// benchmarks/results/2026-11-30-cpu-implicit/): all layers at 256x256 batch 1 1.27-1.29x faster, at 128x128
// batch 8 1.28-1.34x; by layer, the 3x3 stride-1 convs 1.16-1.69x, the 4x4 stride-2 down convs 1.00-1.64x,
// the up convs' forward 1.00-1.34x, the 1x1 head 1.31-2.00x. The one loss is the first conv (c_in 1,
// 0.22-0.40x): a single input channel fills one row of the micro-kernel's 12. `tint op` on 3x3 convs to 64
// channels at 128x128: implicit slower at c_in 2 and 4, faster at 8, 12 and 24.
//
// Winograd, for the 3x3 stride-1 layers, after its tile gathers, scatters and packing went to vector
// shuffles (kernels/cpu/conv_winograd.cpp): bench_winograd --repeats 3 (gemm, winograd4, winograd2
// interleaved in one process, median of 3, 2 threads, AVX2, 2026-11-30, the shared 2-core AMD EPYC with
// load 3.4-4.9 from other builds, so only the ratios mean something; two runs each, mean of the ratios,
// benchmarks/results/2026-11-30-winofast/bench_winograd.log). Time of winograd4 / gemm, then winograd2 / gemm,
// forward, backward-data, backward-weight; "tiles" are the 4x4 output tiles of the batch:
//   256 px, batch 1
//     64 -> 64 at 256^2 (4096 tiles)      0.56 0.80 | 0.56 0.73 | 0.81 0.93
//     128 -> 128 at 128^2 (1024 tiles)    0.50 0.65 | 0.49 0.62 | 0.59 0.83
//     256 -> 256 at 64^2 (256 tiles)      0.60 0.63 | 0.47 0.69 | 0.65 0.99
//     512 -> 512 at 32^2 (64 tiles)       0.73 0.78 | 0.71 0.78 | 0.56 0.51
//     512 -> 512 at 16^2 (16 tiles)       1.77 1.29 | 2.13 1.27 | 1.38 0.85
//     1024 -> 512 at 32^2 (64 tiles)      0.80 0.77 | 0.58 0.57 | 0.65 0.66
//     512 -> 256 at 64^2                  0.44 0.59 | 0.43 0.55 | 0.45 0.59
//     256 -> 128 at 128^2                 0.44 0.62 | 0.47 0.61 | 0.48 0.68
//     128 -> 64 at 256^2                  0.56 0.71 | 0.39 0.57 | 0.68 0.88
//     1 -> 64 (the stem)                  2.23 2.37 | 1.96 2.20 | 2.40 3.53
//   128 px, batch 1
//     64 -> 64 at 128^2 (1024 tiles)      0.45 0.55 | 0.46 0.59 | 0.86 1.03
//     256 -> 256 at 32^2 (64 tiles)       0.88 0.74 | 0.91 0.75 | 0.74 0.93
//     512 -> 256 at 32^2 (64 tiles)       1.02 0.74 | 0.76 0.65 | 0.59 0.71
//     512 -> 512 at 16^2 (16 tiles)       1.79 1.28 | 1.95 1.32 | 0.98 0.76
//     512 -> 512 at 8^2 (4 tiles)         5.46 2.70 | 6.63 3.23 | 3.39 1.62
//   128 px, batch 8
//     64 -> 64 at 128^2 (8192 tiles)      0.49 0.68 | 0.55 0.65 | 0.65 0.84
//     128 -> 128 at 64^2                  0.50 0.54 | 0.66 0.55 | 0.76 0.71
//     256 -> 256 at 32^2                  0.40 0.67 | 0.50 0.73 | 0.56 0.90
//     512 -> 512 at 16^2 (128 tiles)      0.49 0.53 | 0.49 0.52 | 0.54 0.65
//     512 -> 512 at 8^2 (32 tiles)        0.81 0.78 | 0.87 0.76 | 0.72 0.62
//     1 -> 64 (the stem)                  1.99 2.33 | 2.89 3.49 | 2.34 3.18
// Against the transforms before (the parent commit's binary run alternately with the same command, gemm as
// the yardstick in each process), winograd4 / gemm fell 1.5-2.5x on the 64-channel layers at 256^2 (from
// 0.87-1.99 to 0.39-0.81) and 1.9-3.0x at 128^2, batch 8 (from 0.84-1.98 to 0.39-0.65).
// So: gemm for the stem (one input channel leaves the GEMMs nothing to do next to the transforms) and
// below 32 tiles (a 64-lane tile block is mostly padding and the weight transform, c_out*c_in*36 floats,
// is not paid back; now below 16, see below), except backward-weight from 16 tiles, where winograd2 wins;
// winograd2 from 32 to 64 tiles (four times the tiles of F(4x4) fill the blocks) but for backward-weight at
// 64; winograd4 above, now on every product of the 64-channel layers too.
//
// Retaken after the three branches met (gemm's packing work made its backward-data 1.2-1.8x faster), quiet
// machine, bench_cpu_conv --batches 1 --variants auto,gemm,implicit,winograd4,winograd2 --repeats 3 at 256^2
// (benchmarks/results/2026-11-30-cpu-check/conv.log, 2-core AMD EPYC, AVX2, load 2):
//   - implicit no longer wins: over all 19 layers' backward-data it took 1013 ms against gemm's 961 (slower
//     on the 4x4 stride-2 layers, level on the up convs); it stays a named variant, auto no longer runs it.
//   - backward-weight: Winograd loses where there are many tiles and few channels (128 -> 128 at 128^2:
//     54 ms against 43; 128 -> 64 at 256^2: 138 against 91) and wins from c_in*c_out = 256*128 up
//     (256 -> 128 at 128^2: 78 against 91; 512 -> 256 at 64^2: 52 against 75).
//
// phase, for the strided layers whose kernel is a multiple of the stride (the 4x4 stride-2 down convs and
// the up convs), from 1024 output pixels in the batch. bench_cpu_conv --variants auto,gemm,phase --no-ref
// --repeats 7, --layer conv1 and --layer upconv, at 256^2 batch 1 and --size 128 batch 8 (interleaved in one
// process, 2 threads, AVX2, 2026-11-30 on the shared 2-core EPYC, load 3-5, measured peak 58-107 GFLOP/s, so
// only the ratios count; benchmarks/results/2026-11-30-cpu-phase/). Time of gemm / phase, forward,
// backward-data, backward-weight of the conv (an up conv's own forward is the conv's backward-data):
//   256 px, batch 1                             128 px, batch 8
//     down.1 64 -> 128, out 128^2  1.15 1.09 1.18    down.1 (out 64^2 x 8)   1.16 1.05 1.17
//     down.2 128 -> 256, out 64^2  1.02 1.10 1.12    down.2 (32^2 x 8)       1.07 1.02 1.08
//     down.3 256 -> 512, out 32^2  1.03 1.04 1.03    down.3 (16^2 x 8)       1.04 1.01 1.05
//     down.4 512 -> 512, out 16^2  1.16 0.94 0.96    down.4 (8^2 x 8)        0.97 1.04 0.99
//     up.0 (conv 64 -> 128, 128^2) 1.20 1.10 1.02    up.0                    1.22 1.09 1.09
//     up.1 (128 -> 256, 64^2)      1.04 1.10 1.05    up.1                    1.09 0.99 1.10
//     up.2 (256 -> 512, 32^2)      1.12 1.03 1.00    up.2                    1.01 0.99 0.99
//     up.3 (512 -> 512, 16^2)      1.41 0.92 0.94    up.3                    0.91 0.99 0.99
// The re-laid weights (c_out*c_in*16 floats, both ways) are paid per call, the saving grows with the
// pixels: below 1024 of them (down.4 and up.3 at both sizes) phase is level or slower, and on the
// same-code rows (auto = gemm) this run's noise is up to 15%. Over the eight layers gemm / phase is 1.08
// (256 px, batch 1) and 1.06 (128 px, batch 8). Retaken with the final code (space-to-depth by shuffles),
// load 5-7, .../2026-11-30-cpu-phase/final/: 1.08 and 1.06 again; down.4 and up.3 0.88-1.17, level.
//
// 64 tiles (one tile block) moved from winograd2 to winograd4 for forward and backward-data too, once a
// one-block layer was split over the threads into 2 row blocks instead of 4 (split_for_threads), each
// repeating the input transform, which costs F(4x4) more than F(2x2). bench_winograd --variants
// winograd2,winograd4, interleaved, 2-core AMD EPYC, 2026-12-01, time of winograd4 / winograd2, forward,
// backward-data: 128^2 batch 1 down.2.conv2 0.94 0.98, up.2.conv 0.99 0.93; 256^2 batch 1 down.3.conv2
// 0.92 0.94, up.3.conv 0.93 0.96. At 32 tiles (128^2 batch 8, 8^2) winograd2 still wins: 1.08-1.31.
//
// phase-winograd4 and phase-winograd2 (Winograd on the phase split's 2x2 kernels, 2.56x and 1.78x fewer
// multiplies) for the 4x4 stride-2 layers with enough 4x4 output tiles in the batch to pay for the weight
// transform (c_out*c_in*4 kernels to 25 or 9 floats each, per call): forward and backward-data F(4x4) from
// 1024 tiles and F(2x2) from 256, backward-weight (whose transforms are of the tiles, not the weights)
// F(4x4) from 256 and F(2x2) from 32. bench_cpu_conv --batches 1 --variants phase,phase-winograd4,
// phase-winograd2 --no-ref --repeats 5 --layer conv1, then --layer upconv, at --size 128 and 256, 2-core
// Intel Xeon with AVX-512 (measured peak 345 GFLOP/s), 2026-12-01. Time of phase / the variant chosen,
// forward, backward-data, backward-weight:
//   256 px   down.1 (1024 tiles)  1.67 1.49 1.44    up.0 (1024)   1.48 1.69 1.42
//            down.2 (256)         1.29 1.24 1.55    up.1 (256)    1.20 1.32 1.55
//            down.3 (64)          phase phase 1.33  up.2 (64)     phase phase 1.32
//   128 px   down.1 (256)         1.34 1.20 1.40    up.0 (256)    1.21 1.30 1.14
//            down.2 (64)          phase phase 1.27  up.1 (64)     phase phase 1.28
// Below the thresholds the weight transform, done per call, costs more than the multiplies it saves
// (down.4 at 128 px, 4 tiles: 3-9x slower forward); at 16 tiles backward-weight F(2x2) is 1.07x, not taken.
// At 128 px, batch 8 (--batches 8 --repeats 3, same machine) the rule picks the fastest or within 4% of it
// on every product but backward-weight at 32 tiles (down.4, up.3: phase / phase-winograd2 1.15x and 1.15x),
// hence F(2x2) there from 32 tiles.
//
// The same day and machine, once the vector split and merge took groups of the vector width (16 floats on
// AVX-512) as well as whole 32-tile rows: at 64 tiles (32^2, batch 1) winograd2's tile rows of 16 tiles
// are one vector group while winograd4's rows of 8 stay scalar, and forward and backward-data moved back
// to winograd2. bench_cpu_conv --variants winograd4,winograd2 --no-ref --repeats 5, time of winograd4 /
// winograd2, forward, backward-data, backward-weight: 128 px down.2.conv2 1.27 1.25 0.89, up.2.conv 1.29
// 1.17 0.81; 256 px down.3.conv2 1.15 1.24 0.87, up.3.conv 1.24 1.20 0.90. Backward-weight stays
// winograd4 from 64 tiles. (On AVX2 a group is 8 tiles, so both take the vector path there; the earlier
// AVX2 measurement, winograd4 0.92-0.99x at 64 tiles, predates the groups.)
const ConvAlgo& pick_winograd_or_gemm(const Conv2dShape& s, ConvProduct p) {
  const ConvAlgo& gemm = conv_algos().front();
  static const ConvAlgo& phase = *find_conv_algo("phase");
  const int64_t tiles = int64_t(s.n) * ((s.h_out + 3) / 4) * ((s.w_out + 3) / 4);
  const bool weight = p == ConvProduct::backward_weight;
  if (phase_winograd_takes(s) && s.c_in >= 16 && s.c_out >= 16) {
    static const ConvAlgo& pw4 = *find_conv_algo("phase-winograd4");
    static const ConvAlgo& pw2 = *find_conv_algo("phase-winograd2");
    if (tiles >= (weight ? 256 : 1024)) return pw4;
    if (tiles >= (weight ? 32 : 256)) return pw2;
  }
  if (phase_takes(s)) return int64_t(s.n) * s.h_out * s.w_out >= 1024 ? phase : gemm;
  if (!winograd_takes(s) || s.kh != 3 || s.c_in < 16 || s.c_out < 16) return gemm;
  if (tiles < 16) return gemm;
  static const ConvAlgo& winograd2 = *find_conv_algo("winograd2");
  static const ConvAlgo& winograd4 = *find_conv_algo("winograd4");
  if (tiles < (weight ? 64 : 128)) return winograd2;
  return winograd4;
}

// 16 tiles (a 16^2 layer at batch 1) moved from gemm to winograd2 for forward and backward-data, once a
// Winograd forward with one tile block transformed each row panel's kernels per task instead of all of U
// up front. `tint op --time` had said so before, but repeats one op on warm caches; these are measured with
// other work between the calls (2-core Xeon, AVX-512, 2 threads, 2026-12-01, a noisy host):
//   - the two layers' products alone, gemm and winograd2 alternated call by call with 48 MB written between
//     calls, 100 pairs, gemm / winograd2 per pair: 1024 -> 512 at 16^2 forward 1.023, backward-data 1.024;
//     512 -> 512 at 16^2 forward 1.102, backward-data 1.029;
//   - the whole step, the two rules alternated step by step in one process (tint bench --ab-variants), old /
//     new per pair: 128^2 batch 1 1.011 and 1.022 (40 pairs each) and 1.018 in the other order; 256^2 batch
//     1 1.017 (16 pairs). The same command with the old rule on both sides gave 0.989: the noise is +-1-2%.
// "taps" (conv_taps.h) is a named variant that auto does not run: before the Winograd transforms were
// vectorised it took 0.78-0.94x gemm's time on backward-weight of the 64- and 128-channel 3x3 layers, but
// Winograd now beats both there (bench_cpu_conv --size 256|128 --batches 1 --variants auto,gemm,taps,winograd4
// --layer conv, 2-core EPYC, load 1-1.5, 2026-11-30: up.0.conv at 256^2 auto 70 ms, taps 100, gemm 121;
// down.0.conv2 level, 46-48 ms), and the U-Net has no other stride-1 kernel larger than 1x1.
const ConvAlgo& pick_auto(const Conv2dShape& s, ConvProduct p) { return pick_winograd_or_gemm(s, p); }

}  // namespace

const char* product_name(ConvProduct p) {
  switch (p) {
    case ConvProduct::forward: return "forward";
    case ConvProduct::backward_data: return "backward-data";
    case ConvProduct::backward_weight: return "backward-weight";
  }
  return "?";
}

const std::vector<ConvAlgo>& conv_algos() {
  static const std::vector<ConvAlgo> algos = make_algos();
  return algos;
}

const ConvAlgo* find_conv_algo(const std::string& name) {
  for (const ConvAlgo& a : conv_algos())
    if (name == a.name) return &a;
  return nullptr;
}

std::vector<std::string> conv_variants() {
  std::vector<std::string> v = {"auto"};
  for (const ConvAlgo& a : conv_algos()) v.push_back(a.name);
  return v;
}

std::string conv_variant() {
  const int i = g_selected.load();
  return i < 0 ? "auto" : conv_algos()[size_t(i)].name;
}

void set_conv_variant(const std::string& name) {
  if (name == "auto") return g_selected.store(-1);
  const std::vector<ConvAlgo>& algos = conv_algos();
  for (size_t i = 0; i < algos.size(); ++i)
    if (name == algos[i].name) return g_selected.store(int(i));
  std::string valid;
  for (const std::string& v : conv_variants()) valid += (valid.empty() ? "" : ", ") + v;
  throw Error(fmt::format("unknown cpu conv variant '{}' (valid: {})", name, valid));
}

bool algo_takes(const ConvAlgo& algo, const Conv2dShape& s, ConvProduct p) {
  return fn_of(algo, p) != nullptr && (algo.takes == nullptr || algo.takes(s, p));
}

const ConvAlgo& algo_for(const Conv2dShape& s, ConvProduct p) {
  const int i = g_selected.load();
  if (i < 0) return pick_auto(s, p);
  const ConvAlgo& chosen = conv_algos()[size_t(i)];
  return algo_takes(chosen, s, p) ? chosen : conv_algos().front();
}

void conv_run_with(const ConvAlgo& algo, ConvProduct p, ThreadPool* pool, float* out, const float* a,
                   const float* b, const Conv2dShape& s, Isa isa) {
  const ConvAlgo& use = algo_takes(algo, s, p) ? algo : conv_algos().front();
  fn_of(use, p)(pool, out, a, b, s, isa);
}

void conv_run(ConvProduct p, ThreadPool* pool, float* out, const float* a, const float* b, const Conv2dShape& s,
              Isa isa) {
  fn_of(algo_for(s, p), p)(pool, out, a, b, s, isa);
}

bool conv_run_epilogue(ConvProduct p, ThreadPool* pool, float* out, const float* a, const float* b,
                       const Conv2dShape& s, const ConvEpilogue& ep, Isa isa, const ConvAlgo* algo) {
  const ConvAlgo& chosen = algo ? *algo : algo_for(s, p);
  const ConvAlgo& use = algo_takes(chosen, s, p) ? chosen : conv_algos().front();
  const ConvEpilogueFn with = p == ConvProduct::forward         ? use.forward_epilogue
                              : p == ConvProduct::backward_data ? use.backward_data_epilogue
                                                                : nullptr;
  if (with && ep.any()) {
    with(pool, out, a, b, s, isa, ep);
    return true;
  }
  fn_of(use, p)(pool, out, a, b, s, isa);
  return !ep.any();
}

}  // namespace tint::cpu
