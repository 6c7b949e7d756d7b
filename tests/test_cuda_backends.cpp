// The CUDA kernels (kernels/cuda/*.cu) run through the emulator (cuda-emu) against the CPU reference, case
// by case from the op registry: see test_cuda_matrix.h for the method and engine/op_registry.h for the
// tolerances. Where this build has nvcc and a GPU is present, the native `cuda` backend runs the same
// matrix (tests/gpu_cuda_backends.cpp does it at scale, on the U-Net's layers).
#include "engine/error.h"
#include "tests/test_cuda_matrix.h"

using namespace tint;
using namespace tint::cuda_matrix;

namespace {

Target emu_target() {
  Target t{&cuda_emu_backend()};
  t.variants = cuda_emu::conv_variants, t.set_variant = cuda_emu::set_conv_variant;
  t.default_variant = cuda_emu::conv_default_variant, t.set_tile = cuda_emu::set_conv_tile;
  return t;
}

std::vector<Target> targets() {
  std::vector<Target> t = {emu_target()};
#ifdef TINT_HAVE_CUDA
  if (cuda_device_available()) {
    Target g{cuda_backend()};
    g.variants = cuda::conv_variants, g.set_variant = cuda::set_conv_variant;
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

TEST_CASE("cuda-emu: table, variants by name and errors", "[cuda]") {
  const Backend& b = cuda_emu_backend();
  CHECK(std::string(b.name) == "cuda-emu");
  CHECK(cuda_emu::conv_variant() == cuda_emu::conv_default_variant);
  CHECK(cuda_emu::conv_variants() == std::vector<std::string>{"naive", "igemm", "igemm-nosplit", "igemm2"});
  cuda_emu::set_conv_variant("naive");
  CHECK(cuda_emu::conv_variant() == "naive");
  try {
    cuda_emu::set_conv_variant("igemm3");
    FAIL("an unknown variant was accepted");
  } catch (const Error& e) {
    const std::string msg = e.what();
    INFO(msg);
    CHECK(msg.find("'igemm3'") != std::string::npos);
    CHECK(msg.find("naive, igemm, igemm-nosplit, igemm2") != std::string::npos);
  }
  CHECK(cuda_emu::conv_variant() == "naive");  // a refused name changes nothing
  cuda_emu::set_conv_variant(cuda_emu::conv_default_variant);
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
