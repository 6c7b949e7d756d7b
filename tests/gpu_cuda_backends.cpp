// The CUDA kernels on a real GPU (label `gpu`): the all-backends matrix of test_cuda_matrix.h for the native
// `cuda` backend against cpu-ref, then the U-Net's real layers, where the CPU reference would be too slow:
// there every tuned conv variant is checked against the naive one (variant 0, independent code) on the GPU.
// Without a GPU (or a build without nvcc) every test exits with code 77, which ctest reports as skipped.
#include <cstdio>
#include <cstdlib>

#include "benchmarks/unet_shapes.h"
#include "engine/error.h"
#include "tests/test_cuda_matrix.h"

using namespace tint;
using namespace tint::cuda_matrix;

namespace {

// Called first in every test: test discovery runs this binary without a GPU too, so the check cannot sit
// in a static initialiser.
Target require_gpu() {
#ifdef TINT_HAVE_CUDA
  if (cuda_device_available())
    return Target{cuda_backend(), cuda::conv_variant_count, cuda::conv_variant_name, cuda::set_conv_variant,
                  cuda::conv_default_variant, cuda::set_conv_tile};
  std::printf("SKIP: no CUDA device\n");
#else
  std::printf("SKIP: no CUDA device (built without nvcc)\n");
#endif
  std::fflush(stdout);
  std::exit(77);
}

// One product of one layer, on the GPU, with the given variant.
std::vector<float> run_product(const Target& t, int variant, int product, const Conv2dShape& s,
                               const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& dy) {
  t.set_variant(variant);
  Device d(*t.backend);
  d.workspace(t.backend->conv2d_workspace_bytes(s));
  std::vector<float> out;
  if (product == kForward) {
    float* y = d.poisoned(s.y_size());
    t.backend->conv2d_forward(d.stream, y, d.upload(x), d.upload(w), s);
    out = d.download(y, s.y_size());
  } else if (product == kBackwardData) {
    float* dx = d.poisoned(s.x_size());
    t.backend->conv2d_backward_data(d.stream, dx, d.upload(dy), d.upload(w), s);
    out = d.download(dx, s.x_size());
  } else {
    float* dw = d.poisoned(s.w_size());
    t.backend->conv2d_backward_weight(d.stream, dw, d.upload(x), d.upload(dy), s);
    out = d.download(dw, s.w_size());
  }
  t.set_variant(t.default_variant);
  return out;
}

}  // namespace

TEST_CASE("gpu: element-wise entries match cpu-ref", "[gpu]") { check_elementwise(require_gpu()); }
TEST_CASE("gpu: sum matches cpu-ref and is deterministic", "[gpu]") { check_reductions(require_gpu()); }
TEST_CASE("gpu: bias, concat and split match cpu-ref", "[gpu]") { check_channels(require_gpu()); }
TEST_CASE("gpu: losses match cpu-ref and are deterministic", "[gpu]") { check_losses(require_gpu()); }
TEST_CASE("gpu: Adam matches cpu-ref", "[gpu]") { check_adam(require_gpu()); }

TEST_CASE("gpu: conv2d every variant, small shapes, against cpu-ref", "[gpu]") {
  const Target t = require_gpu();
  check_conv(t, small_conv_shapes(), /*all_variants=*/true);
  check_conv_wide(t);
  check_conv_forced_tiles(t);
}

TEST_CASE("gpu: conv2d on the U-Net layers (batch 1), tuned variants against naive", "[gpu]") {
  const Target t = require_gpu();
  for (const bench::ConvLayer& layer : bench::unet_conv_layers(1)) {
    const Conv2dShape& s = layer.shape;
    const auto x = random_vector(s.x_size(), 61), w = random_vector(s.w_size(), 62), dy = random_vector(s.y_size(), 63);
    const double k[3] = {double(s.c_in) * s.kh * s.kw, double(s.c_out) * s.kh * s.kw, double(s.n) * s.h_out * s.w_out};
    const int products[3] = {kForward, kBackwardData, kBackwardWeight};
    for (int i = 0; i < 3; ++i) {
      const std::vector<float> ref = run_product(t, 0, products[i], s, x, w, dy);
      for (int v = 1; v < t.variant_count(); ++v) {
        const std::vector<float> got = run_product(t, v, products[i], s, x, w, dy);
        const double err = relative_error(got, ref);
        INFO(layer.name << " " << s.str() << " product " << i << " variant " << t.variant_name(v) << ": rel err "
                        << err);
        CHECK(err <= sum_tolerance(k[i]));
        if (products[i] == kBackwardWeight) {  // split-K must be deterministic in every variant that splits
          const std::vector<float> again = run_product(t, v, products[i], s, x, w, dy);
          CHECK(std::memcmp(again.data(), got.data(), got.size() * sizeof(float)) == 0);
        }
      }
    }
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
  check_elementwise(t);
}
