// The CUDA kernels on a real GPU (label `gpu`): the op registry's matrix (test_cuda_matrix.h) for the native
// `cuda` backend against cpu-ref, then the registry's U-Net cases (models/unet_cases.h). There the
// convolutions are too big for the CPU reference: every tuned conv variant is checked against the naive one
// (independent code) on the GPU, at batch 1 (the naive kernel takes seconds per layer at batch 8, which the
// GPU check's time budget cannot afford; bench_gpu_conv compares batch 8 with cuDNN); the other ops against
// cpu-ref at batch 1 and 8, under every reduce variant.
// Without a GPU (or a build without nvcc) every test exits with code 77, which ctest reports as skipped.
#include <cstdio>
#include <cstdlib>

#include "engine/error.h"
#include "kernels/cuda/reduce.h"
#include "models/unet_cases.h"
#include "tests/test_cuda_matrix.h"

using namespace tint;
using namespace tint::cuda_matrix;

namespace {

// Called first in every test: test discovery runs this binary without a GPU too, so the check cannot sit
// in a static initialiser.
Target require_gpu() {
#ifdef TINT_HAVE_CUDA
  if (cuda_device_available()) {
    Target t{cuda_backend()};
    t.variants = cuda::conv_variants, t.set_variant = cuda::set_conv_variant;
    t.variant = cuda::conv_variant;
    t.default_variant = cuda::conv_default_variant, t.set_tile = cuda::set_conv_tile;
    return t;
  }
  std::printf("SKIP: no CUDA device\n");
#else
  std::printf("SKIP: no CUDA device (built without nvcc)\n");
#endif
  std::fflush(stdout);
  std::exit(77);
}

std::vector<OpCase> unet_cases(bool conv) {
  std::vector<OpCase> out;
  for (int batch : conv ? std::vector<int>{1} : std::vector<int>{1, 8})
    for (const OpCase& c : models::unet_op_cases(models::UNetConfig{}, 256, batch))
      if (is_conv(*c.op) == conv) out.push_back(c);
  return out;
}

}  // namespace

TEST_CASE("gpu: every registry case, small shapes, every conv variant, against cpu-ref", "[gpu]") {
  const Target t = require_gpu();
  check_cases(t, small_op_cases(), /*all_variants=*/true);
  check_contract_corners(t);
  check_conv_wide(t);
  check_conv_forced_tiles(t);
}

TEST_CASE("gpu: the U-Net's non-conv cases (batch 1 and 8) against cpu-ref", "[gpu]") {
  const Target t = require_gpu();
#ifdef TINT_HAVE_CUDA
  // Every reduce variant: "tree" runs many blocks only at these sizes (the small cases barely split).
  for (const std::string& v : cuda::reduce_variants()) {
    cuda::set_reduce_variant(v);
    INFO("reduce variant " << v);
    check_cases(t, unet_cases(false), false);
  }
  cuda::set_reduce_variant(cuda::reduce_default_variant);
#else
  (void)t;
#endif
}

TEST_CASE("gpu: conv on the U-Net layers (batch 1), tuned variants against naive", "[gpu]") {
  const Target t = require_gpu();
  for (const OpCase& c : unet_cases(true)) {
    const auto in = make_op_inputs(*c.op, c.dims, 1);
    t.set_variant("naive");
    const auto ref = run_op_case(*t.backend, *c.op, c.dims, in);
    for (const std::string& v : t.variants()) {
      if (v == "naive") continue;
      t.set_variant(v);
      INFO("conv variant " << v);
      check_against(t, c, in, ref, true, true);  // bits too: split-K is deterministic in every variant
    }
    t.set_variant(t.default_variant);
  }
}

TEST_CASE("gpu: out of device memory names the size and the memory in use", "[gpu]") {
  const Target t = require_gpu();
  try {
    t.backend->alloc(size_t(1) << 50);
    FAIL("a 1 PiB allocation succeeded");
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("1125899906842624 bytes") != std::string::npos);
    CHECK(msg.find("in use") != std::string::npos);
  }
  // The failure must not poison later launches.
  check_cases(t, cases_of(small_op_cases(), "relu"), false);
}
