// The CUDA kernels (kernels/cuda/*.cu) run through the emulator (cuda-emu) against the CPU reference, case
// by case from the op registry: see test_cuda_matrix.h for the method and engine/op_registry.h for the
// tolerances. Where this build has nvcc and a GPU is present, the native `cuda` backend runs the same
// matrix (tests/gpu_cuda_backends.cpp does it at scale, on the U-Net's layers).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "engine/error.h"
#include "kernels/cuda/reduce.h"
#include "kernels/emu/cuda_emu.h"
#include "tests/test_cuda_matrix.h"

using namespace tint;
using namespace tint::cuda_matrix;

namespace {

Target emu_target() {
  Target t{&cuda_emu_backend()};
  t.variants = cuda_emu::conv_variants, t.set_variant = cuda_emu::set_conv_variant;
  t.variant = cuda_emu::conv_variant;
  t.default_variant = cuda_emu::conv_default_variant, t.set_tile = cuda_emu::set_conv_tile;
  return t;
}

// TINT_TEST_SKIP_EMU=1 leaves the emulated target out: benchmarks/gpu/check.sh sets it under
// compute-sanitizer, which checks the native launches only (the emulated half is host code, already run).
std::vector<Target> targets() {
  std::vector<Target> t;
  const char* skip_emu = std::getenv("TINT_TEST_SKIP_EMU");
  if (!skip_emu || std::string(skip_emu) != "1") t.push_back(emu_target());
#ifdef TINT_HAVE_CUDA
  if (cuda_device_available()) {
    Target g{cuda_backend()};
    g.variants = cuda::conv_variants, g.set_variant = cuda::set_conv_variant;
    g.variant = cuda::conv_variant;
    g.default_variant = cuda::conv_default_variant, g.set_tile = cuda::set_conv_tile;
    t.push_back(g);
  }
#endif
  return t;
}

std::vector<OpCase> small_cases(bool conv) {
  std::vector<OpCase> out;
  for (const OpCase& c : small_op_cases())
    if (is_conv(*c.op) == conv) out.push_back(c);
  return out;
}

// The reductions at the registry's small shapes and at shapes that give the "tree" variant several blocks
// (16 floats a thread, 256 threads: 4096 floats a block or split; "tree4" 16384, its four loads in flight
// ending mid-step) with their edges: a float4 tail, hw not a multiple of 4, one pixel, all-zero masks, a
// channel count that caps the splits.
std::vector<OpCase> reduction_cases() {
  std::vector<OpCase> out;
  for (const OpCase& c : small_op_cases()) {
    const std::string name = c.op->name;
    if (name == "sum" || name == "bias_add" || name == "l1_loss" || name == "mse_loss") out.push_back(c);
  }
  const OpDef& sum = find_op("sum");
  const OpDef& bias = find_op("bias_add");
  for (const OpDims& d : std::vector<OpDims>{{4096}, {4097}, {8 * 4096 + 3}, {200001}})
    out.push_back({&sum, d, "", kSmallCase});
  for (const OpDims& d :
       std::vector<OpDims>{{2, 3, 3 * 4096 + 4}, {3, 2, 9001}, {1, 40, 4097}, {5, 1, 4096}, {2, 2, 40003}, {1, 2, 40004}})
    out.push_back({&bias, d, "", kSmallCase});
  for (const char* loss : {"l1_loss", "mse_loss"})
    for (const OpDims& d :
         std::vector<OpDims>{{3, 2, 9000, 1}, {2, 2, 5000, 0}, {2, 3, 4097, 2}, {1, 2, 8193, 1}, {2, 2, 40001, 1}})
      out.push_back({&find_op(loss), d, "", kSmallCase});
  return out;
}

// The reduce-variant switch of a target's backend (kernels/cuda/reduce.h).
struct ReduceSwitch {
  const std::vector<std::string>& (*variants)();
  void (*set)(const std::string&);
  const char* default_variant;
};

ReduceSwitch reduce_switch(const Target& t) {
#ifdef TINT_HAVE_CUDA
  if (t.backend == cuda_backend())
    return {cuda::reduce_variants, cuda::set_reduce_variant, cuda::reduce_default_variant};
#endif
  (void)t;
  return {cuda_emu::reduce_variants, cuda_emu::set_reduce_variant, cuda_emu::reduce_default_variant};
}

}  // namespace

TEST_CASE("cuda backends: every registry op but the convolutions, small shapes, matches cpu-ref", "[cuda]") {
  for (const Target& t : targets()) check_cases(t, small_cases(false), false);
}

TEST_CASE("cuda backends: contract corners (misaligned pointers, split with one output)", "[cuda]") {
  for (const Target& t : targets()) check_contract_corners(t);
}

TEST_CASE("cuda backends: conv2d, every variant, small shapes", "[cuda][conv]") {
  for (const Target& t : targets()) check_cases(t, small_cases(true), /*all_variants=*/true);
}

TEST_CASE("cuda backends: conv2d 128x128 tiles", "[cuda][conv]") {
  for (const Target& t : targets()) check_conv_wide(t);
}

TEST_CASE("cuda backends: conv2d tuned variants with forced large tiles", "[cuda][conv]") {
  for (const Target& t : targets()) check_conv_forced_tiles(t);
}

// The Winograd variants on shapes the registry's small cases do not reach: the 128x128 GEMM tile (c_out
// above 64 and enough tiles), channel counts that are not multiples of 4, paddings 0 and 2, ragged last
// tiles, backward-weight's split reduction (hundreds of tiles). Each product must differ in its bits from
// igemm2's (so the Winograd path ran, not the fallback), and without a workspace it must fall back and stay
// right.
TEST_CASE("cuda backends: conv2d winograd variants, wide tiles, paddings, split reduction", "[cuda][conv]") {
  const OpDef& conv = find_op("conv2d");
  const std::vector<OpCase> cases = {
      {&conv, {2, 8, 64, 64, 72, 3, 3, 1, 1, 1, 1}, "", kSmallCase},  // 128x128 tile forward; 512 tiles
      {&conv, {1, 70, 8, 8, 66, 3, 3, 1, 1, 1, 1}, "", kSmallCase},   // channels past 64, not multiples of 4
      {&conv, {1, 8, 13, 10, 12, 3, 3, 1, 1, 0, 2}, "", kSmallCase},  // paddings 0 and 2, ragged tiles
      {&conv, {2, 9, 9, 11, 10, 3, 3, 1, 1, 2, 0}, "", kSmallCase},
  };
  for (const Target& t : targets()) {
    for (const OpCase& c : cases) {
      const std::vector<std::vector<float>> in = make_op_inputs(*c.op, c.dims, 3);
      const std::vector<std::vector<float>> ref = reference_outputs(c, in);
      t.set_variant("igemm2");
      const std::vector<std::vector<float>> direct = run_op_case(*t.backend, *c.op, c.dims, in, t.stream);
      std::vector<std::vector<float>> fp32_bits;
      // winograd4-tf32x3 is held to the fp32 tolerance (check_against): its split products keep fp32's accuracy.
      for (const char* v : {"winograd4", "winograd2", "winograd4-tf32", "winograd2-tf32", "winograd4-tf32x3"}) {
        t.set_variant(v);
        INFO("conv variant " << v);
        check_against(t, c, in, ref, true, true);
        check_against(t, c, in, ref, false, false);  // no workspace: igemm2
        const std::vector<std::vector<float>> got = run_op_case(*t.backend, *c.op, c.dims, in, t.stream);
        REQUIRE(got.size() == direct.size());
        for (size_t i = 0; i < got.size(); ++i) {
          INFO(t.backend->name << " " << c.str() << " output " << i << " has igemm2's exact bits");
          CHECK(got[i] != direct[i]);
        }
        // The tensor-core variants round their GEMM operands: their bits differ from the fp32 Winograd's.
        if (std::string(v) == "winograd4") fp32_bits = got;
        if (std::string(v) == "winograd4-tf32" || std::string(v) == "winograd4-tf32x3")
          for (size_t i = 0; i < got.size(); ++i) {
            INFO(t.backend->name << " " << c.str() << " output " << i << " has winograd4's fp32 bits");
            CHECK(got[i] != fp32_bits[i]);
          }
      }
      t.set_variant(t.default_variant);
    }
  }
}

// With fewer than 8 input channels (the U-Net's first layer) forward and backward-weight run igemm2, bit for
// bit, while backward-data (whose transformed input is dy, with c_out channels) still runs Winograd.
TEST_CASE("cuda backends: winograd leaves products with under 8 transformed channels to igemm2", "[cuda][conv]") {
  const OpDef& conv = find_op("conv2d");
  const OpCase c{&conv, {1, 3, 12, 12, 16, 3, 3, 1, 1, 1, 1}, "", kSmallCase};
  const std::vector<std::vector<float>> in = make_op_inputs(*c.op, c.dims, 4);
  for (const Target& t : targets()) {
    t.set_variant("igemm2");
    const std::vector<std::vector<float>> direct = run_op_case(*t.backend, *c.op, c.dims, in, t.stream);
    t.set_variant("winograd4");
    const std::vector<std::vector<float>> got = run_op_case(*t.backend, *c.op, c.dims, in, t.stream);
    t.set_variant(t.default_variant);
    REQUIRE(got.size() == 3);  // y, dx, dw
    CHECK(got[0] == direct[0]);
    CHECK(got[1] != direct[1]);
    CHECK(got[2] == direct[2]);
  }
}

TEST_CASE("cuda-emu: table, variants by name and errors", "[cuda]") {
  const Backend& b = cuda_emu_backend();
  CHECK(std::string(b.name) == "cuda-emu");
  CHECK(cuda_emu::conv_variant() == cuda_emu::conv_default_variant);
  CHECK(cuda_emu::conv_variants() ==
        std::vector<std::string>{"naive", "igemm", "igemm-nosplit", "igemm2", "igemm3", "igemm2w", "winograd4", "winograd2",
                                 "winograd4-tf32", "winograd2-tf32", "winograd4-tf32x3"});
  cuda_emu::set_conv_variant("naive");
  CHECK(cuda_emu::conv_variant() == "naive");
  try {
    cuda_emu::set_conv_variant("igemm9");
    FAIL("an unknown variant was accepted");
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("'igemm9'") != std::string::npos);
    CHECK(msg.find("naive, igemm, igemm-nosplit, igemm2, igemm3, igemm2w, winograd4, winograd2, winograd4-tf32, "
                   "winograd2-tf32, winograd4-tf32x3") != std::string::npos);
  }
  CHECK(cuda_emu::conv_variant() == "naive");  // a refused name changes nothing
  cuda_emu::set_conv_variant(cuda_emu::conv_default_variant);
  CHECK_THROWS_AS(cuda_emu::set_conv_tile(8, 4), Error);
  // The workspace covers split-K where it is chosen, and nothing where it is not.
  CHECK(b.conv2d_workspace_bytes(make_conv2d(1, 64, 4, 4, 8, 3, 3, 1, 1, 1, 1)) > 0);
  CHECK(b.conv2d_workspace_bytes(make_conv2d(1, 1, 3, 3, 1, 1, 1, 1, 1, 0, 0)) == 0);
  // A Winograd variant (the default is one) reserves its transformed operands only while selected, and only
  // for 3x3 stride 1:
  // F(4x4,3x3) on 16x16 pixels, 8 channels in and out: V and M are 36 x 8 x 16 tiles each, U 36 x 8 x 8.
  const Conv2dShape s3 = make_conv2d(1, 8, 16, 16, 8, 3, 3, 1, 1, 1, 1);
  cuda_emu::set_conv_variant("igemm2");
  const size_t plain = b.conv2d_workspace_bytes(s3);
  cuda_emu::set_conv_variant("winograd4");
  CHECK(b.conv2d_workspace_bytes(s3) == std::max(plain, size_t(36 * (8 * 16 + 8 * 16 + 8 * 8)) * sizeof(float)));
  CHECK(b.conv2d_workspace_bytes(make_conv2d(1, 1, 3, 3, 1, 1, 1, 1, 1, 0, 0)) == 0);
  cuda_emu::set_conv_variant(cuda_emu::conv_default_variant);
  // A failed copy names the call, the file and the line.
  try {
    Stream s;
    float host = 0;
    b.copy_to_host(s, &host, reinterpret_cast<const void*>(uintptr_t(16)), sizeof(float));
    FAIL("copy from a bad pointer did not throw");
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("cudaMemcpyAsync") != std::string::npos);
    CHECK(msg.find("backend.cu") != std::string::npos);
  }
}

TEST_CASE("cuda backends: reductions, every variant, multi-block shapes, against cpu-ref", "[cuda][reduce]") {
  const std::vector<OpCase> cases = reduction_cases();
  for (const Target& t : targets()) {
    const ReduceSwitch r = reduce_switch(t);
    for (const std::string& v : r.variants()) {
      r.set(v);
      INFO(t.backend->name << " reduce variant " << v);
      check_cases(t, cases, false);  // bit-exact ops run twice: the same bits
      // Without a workspace, "tree" falls back to one block and must stay right.
      for (const OpCase& c : cases) {
        const auto in = make_op_inputs(*c.op, c.dims, 2);
        check_against(t, c, in, reference_outputs(c, in), /*with_workspace=*/false, false);
      }
    }
    r.set(r.default_variant);
  }
}

TEST_CASE("cuda-emu: tree reductions give the same bits under every schedule and host-thread count",
          "[cuda][reduce]") {
  const Target t = emu_target();
  const std::vector<OpCase> cases = reduction_cases();
  const uint64_t saved_seed = emu::schedule_seed();
  const int saved_threads = emu::block_threads();
  for (const char* variant : {"tree", "tree4"}) {
    cuda_emu::set_reduce_variant(variant);
    for (const OpCase& c : cases) {
      const auto in = make_op_inputs(*c.op, c.dims, 3);
      emu::set_schedule_seed(0);
      emu::set_block_threads(1);
      const auto first = run_op_case(*t.backend, *c.op, c.dims, in);
      const std::pair<uint64_t, int> runs[] = {{1, 1}, {7, 2}, {12345, 3}};
      for (const auto& [seed, threads] : runs) {
        emu::set_schedule_seed(seed);
        emu::set_block_threads(threads);
        const auto again = run_op_case(*t.backend, *c.op, c.dims, in);
        REQUIRE(again.size() == first.size());
        for (size_t i = 0; i < first.size(); ++i) {
          INFO(variant << " " << c.str() << " output " << i << " differs under schedule seed " << seed << " on "
                       << threads << " host threads");
          CHECK(std::memcmp(again[i].data(), first[i].data(), first[i].size() * sizeof(float)) == 0);
        }
      }
    }
  }
  emu::set_schedule_seed(saved_seed);
  emu::set_block_threads(saved_threads);
  cuda_emu::set_reduce_variant(cuda_emu::reduce_default_variant);
}

TEST_CASE("cuda-emu: reduce variants by name and errors", "[cuda][reduce]") {
  CHECK(cuda_emu::reduce_variant() == cuda_emu::reduce_default_variant);
  CHECK(cuda_emu::reduce_variants() == std::vector<std::string>{"block", "tree", "tree4"});
  cuda_emu::set_reduce_variant("block");
  CHECK(cuda_emu::reduce_variant() == "block");
  try {
    cuda_emu::set_reduce_variant("atomic");
    FAIL("an unknown reduce variant was accepted");
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("'atomic'") != std::string::npos);
    CHECK(msg.find("block, tree, tree4") != std::string::npos);
  }
  CHECK(cuda_emu::reduce_variant() == "block");  // a refused name changes nothing
  cuda_emu::set_reduce_variant(cuda_emu::reduce_default_variant);
}

// The bias and ReLU applied as a convolution stores its output (conv2d_forward_epilogue, and
// conv2d_backward_data_epilogue for a transposed convolution's forward) against the plain product followed by
// bias_add or bias_relu_forward, as the engine runs them without the epilogue: the same bits, for every
// variant and both products, on shapes that reach Winograd's output transform, the phase split (with phases
// no tap reaches), igemm2's split-K reduction and ragged edges. Outputs are poisoned first. Every variant but
// naive applies it; naive says it did not (and stored the plain product).
TEST_CASE("cuda backends: conv epilogues give the bits of the product then bias and ReLU", "[cuda][conv]") {
  struct Case {
    Conv2dShape s;
    const char* what;
  };
  const std::vector<Case> cases = {
      {make_conv2d(2, 8, 10, 9, 12, 3, 3, 1, 1, 1, 1), "3x3 stride 1 (Winograd), ragged tiles"},
      {make_conv2d(1, 6, 12, 12, 10, 4, 4, 2, 2, 1, 1), "4x4 stride 2 (four phases)"},
      {make_conv2d(1, 5, 11, 13, 7, 2, 2, 3, 3, 0, 0), "2x2 stride 3 (backward-data phases without taps)"},
      {make_conv2d(1, 256, 4, 4, 8, 3, 3, 1, 1, 1, 1), "deep and small (split-K)"},
  };
  for (const Target& t : targets()) {
    const Backend& b = *t.backend;
    INFO("backend " << b.name);
    for (const std::string& variant : t.variants()) {
      t.set_variant(variant);
      INFO("variant " << variant);
      for (const Case& c : cases) {
        INFO(c.what << ": " << c.s.str());
        for (int forward = 0; forward < 2; ++forward) {
          INFO((forward ? "forward" : "backward-data"));
          const int64_t in_n = forward ? c.s.x_size() : c.s.y_size();
          const int64_t out_n = forward ? c.s.y_size() : c.s.x_size();
          const int channels = forward ? c.s.c_out : c.s.c_in;
          const int64_t hw = out_n / (int64_t(c.s.n) * channels);
          std::mt19937 rng(unsigned(c.s.c_in * 131 + forward));
          const auto uniform = [&](float lo, float hi) {
            return std::uniform_real_distribution<float>(lo, hi)(rng);
          };
          std::vector<float> in(static_cast<size_t>(in_n)), w(static_cast<size_t>(c.s.w_size()));
          std::vector<float> bias(static_cast<size_t>(channels));
          for (float& v : in) v = uniform(-1, 1);
          for (float& v : w) v = uniform(-0.3f, 0.3f);
          for (float& v : bias) v = uniform(-0.5f, 0.5f);
          const auto upload = [&](const std::vector<float>& h) {
            float* d = static_cast<float*>(b.alloc(h.size() * sizeof(float)));
            b.copy_from_host(Stream{}, d, h.data(), h.size() * sizeof(float));
            return d;
          };
          float* d_in = upload(in);
          float* d_w = upload(w);
          float* d_bias = upload(bias);
          float* plain = static_cast<float*>(b.alloc(size_t(out_n) * sizeof(float)));
          float* fused = static_cast<float*>(b.alloc(size_t(out_n) * sizeof(float)));
          Stream st = t.stream;
          const size_t ws = std::max(b.conv2d_workspace_bytes(c.s), kReductionWorkspaceBytes);
          st.workspace = b.alloc(ws), st.workspace_bytes = ws;
          for (int mode = 0; mode < 3; ++mode) {  // bias and ReLU, bias alone, ReLU alone
            const float* bias_ptr = mode == 2 ? nullptr : d_bias;
            const bool relu = mode != 1;
            INFO("bias " << (bias_ptr ? "yes" : "no") << ", relu " << relu);
            b.fill(st, plain, std::nanf(""), out_n);
            b.fill(st, fused, std::nanf(""), out_n);
            (forward ? b.conv2d_forward : b.conv2d_backward_data)(st, plain, d_in, d_w, c.s);
            if (relu)
              b.bias_relu_forward(st, plain, bias_ptr, c.s.n, channels, hw);
            else
              b.bias_add(st, plain, bias_ptr, c.s.n, channels, hw);
            REQUIRE(b.conv2d_forward_epilogue != nullptr);
            const bool applied = (forward ? b.conv2d_forward_epilogue : b.conv2d_backward_data_epilogue)(
                st, fused, d_in, d_w, bias_ptr, relu, c.s);
            CHECK(applied == (variant != "naive"));
            if (!applied) {
              if (relu)
                b.bias_relu_forward(st, fused, bias_ptr, c.s.n, channels, hw);
              else
                b.bias_add(st, fused, bias_ptr, c.s.n, channels, hw);
            }
            std::vector<float> want(static_cast<size_t>(out_n)), got(static_cast<size_t>(out_n));
            b.copy_to_host(st, want.data(), plain, want.size() * sizeof(float));
            b.copy_to_host(st, got.data(), fused, got.size() * sizeof(float));
            b.synchronize(st);
            size_t differ = 0, zeros = 0, nans = 0;
            for (size_t i = 0; i < want.size(); ++i) {
              nans += std::isnan(want[i]);
              differ += std::memcmp(&want[i], &got[i], sizeof(float)) != 0;
              zeros += want[i] == 0.0f;
            }
            INFO(differ << " of " << want.size() << " outputs differ");
            REQUIRE(nans == 0);
            REQUIRE(differ == 0);
            if (relu) CHECK(zeros > 0);  // the ReLU cut something
          }
          for (void* p : {static_cast<void*>(d_in), static_cast<void*>(d_w), static_cast<void*>(d_bias),
                          static_cast<void*>(plain), static_cast<void*>(fused), st.workspace})
            b.free(p);
        }
      }
    }
    t.set_variant(t.default_variant);
  }
}
