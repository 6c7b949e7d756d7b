// The CUDA kernels (kernels/cuda/*.cu) run through the emulator (cuda-emu) against the CPU reference, entry
// by entry: see test_cuda_matrix.h for the method and the tolerances. Where this build has nvcc and a GPU is
// present, the native `cuda` backend runs the same matrix (tests/gpu_cuda_backends.cpp does it at scale).
#include "tests/test_cuda_matrix.h"

#include "engine/error.h"

using namespace tint;
using namespace tint::cuda_matrix;

namespace {

Target emu_target() {
  return Target{&cuda_emu_backend(), cuda_emu::conv_variant_count, cuda_emu::conv_variant_name,
                cuda_emu::set_conv_variant, cuda_emu::conv_default_variant, cuda_emu::set_conv_tile};
}

std::vector<Target> targets() {
  std::vector<Target> t = {emu_target()};
#ifdef TINT_HAVE_CUDA
  if (cuda_device_available())
    t.push_back(Target{cuda_backend(), cuda::conv_variant_count, cuda::conv_variant_name, cuda::set_conv_variant,
                       cuda::conv_default_variant, cuda::set_conv_tile});
#endif
  return t;
}

}  // namespace

TEST_CASE("cuda backends: element-wise entries match cpu-ref", "[cuda]") {
  for (const Target& t : targets()) check_elementwise(t);
}

TEST_CASE("cuda backends: sum matches cpu-ref and is deterministic", "[cuda]") {
  for (const Target& t : targets()) check_reductions(t);
}

TEST_CASE("cuda backends: bias, concat and split match cpu-ref", "[cuda]") {
  for (const Target& t : targets()) check_channels(t);
}

TEST_CASE("cuda backends: masked L1/L2 losses and gradients match cpu-ref", "[cuda]") {
  for (const Target& t : targets()) check_losses(t);
}

TEST_CASE("cuda backends: fused Adam and AdamW match cpu-ref", "[cuda]") {
  for (const Target& t : targets()) check_adam(t);
}

TEST_CASE("cuda backends: conv2d, every variant, small shapes", "[cuda][conv]") {
  for (const Target& t : targets()) check_conv(t, small_conv_shapes(), /*all_variants=*/true);
}

TEST_CASE("cuda backends: conv2d 128x128 tiles", "[cuda][conv]") {
  for (const Target& t : targets()) check_conv_wide(t);
}

TEST_CASE("cuda backends: conv2d tuned variants with forced large tiles", "[cuda][conv]") {
  for (const Target& t : targets()) check_conv_forced_tiles(t);
}

TEST_CASE("cuda-emu: table, variants and errors", "[cuda]") {
  const Backend& b = cuda_emu_backend();
  CHECK(std::string(b.name) == "cuda-emu");
  CHECK(cuda_emu::conv_variant() == cuda_emu::conv_default_variant);
  CHECK(std::string(cuda_emu::conv_variant_name(0)) == "naive");
  CHECK_THROWS_AS(cuda_emu::set_conv_variant(cuda_emu::conv_variant_count()), Error);
  CHECK(std::string(cuda_emu::conv_variant_name(3)) == "igemm2");
  CHECK_THROWS_AS(cuda_emu::set_conv_tile(8, 4), Error);
  // The workspace covers split-K where it is chosen, and nothing where it is not.
  CHECK(b.conv2d_workspace_bytes(make_conv2d(1, 64, 4, 4, 8, 3, 3, 1, 1, 1, 1)) > 0);
  CHECK(b.conv2d_workspace_bytes(make_conv2d(1, 1, 3, 3, 1, 1, 1, 1, 1, 0, 0)) == 0);
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
