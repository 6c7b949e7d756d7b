// The U-Net's layer shapes as the op registry, the benchmarks and the GPU test get them: walked from the real
// module tree (models::unet_conv_layers), checked against the architecture worked out by hand and against
// the parameters the model actually holds.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <string>

#include "engine/error.h"
#include "models/unet.h"
#include "models/unet_cases.h"

using namespace tint;
using namespace tint::models;

TEST_CASE("models: the default U-Net's convolutions, walked from the module tree, by hand") {
  Rng rng(1);
  UNet unet(UNetConfig{}, rng);
  const std::vector<ConvLayer> layers = unet_conv_layers(unet, 8, 256);
  REQUIRE(layers.size() == 19);  // 5 encoder levels x 2, 4 decoder levels x 2, the head
  const char* names[] = {"down.0.conv1", "down.0.conv2", "down.1.conv1", "down.1.conv2", "down.2.conv1",
                         "down.2.conv2", "down.3.conv1", "down.3.conv2", "down.4.conv1", "down.4.conv2",
                         "up.3.upconv",  "up.3.conv",    "up.2.upconv",  "up.2.conv",    "up.1.upconv",
                         "up.1.conv",    "up.0.upconv",  "up.0.conv",    "head"};
  for (size_t i = 0; i < layers.size(); ++i) CHECK(layers[i].name == names[i]);
  CHECK(layers[0].shape.str() == "n8 c1x256x256 -> c64x256x256 k3x3 s1x1 p1x1");
  CHECK(layers[2].shape.str() == "n8 c64x256x256 -> c128x128x128 k4x4 s2x2 p1x1");
  CHECK(layers[8].shape.str() == "n8 c512x32x32 -> c512x16x16 k4x4 s2x2 p1x1");  // width capped at 8x
  CHECK(layers[9].shape.str() == "n8 c512x16x16 -> c512x16x16 k3x3 s1x1 p1x1");
  // up.3.upconv: 512 channels at 16x16 up to 512 at 32x32, as its role-swapped conv (32x32 -> 16x16).
  CHECK(layers[10].transposed);
  CHECK(layers[10].shape.str() == "n8 c512x32x32 -> c512x16x16 k4x4 s2x2 p1x1");
  CHECK(layers[11].shape.str() == "n8 c1024x32x32 -> c512x32x32 k3x3 s1x1 p1x1");  // after the concat
  CHECK(layers[16].shape.str() == "n8 c64x256x256 -> c128x128x128 k4x4 s2x2 p1x1");
  CHECK(layers[17].shape.str() == "n8 c128x256x256 -> c64x256x256 k3x3 s1x1 p1x1");
  CHECK(layers[18].shape.str() == "n8 c64x256x256 -> c2x256x256 k1x1 s1x1 p0x0");
  // Every weight, and one bias per output channel, is every parameter the model holds.
  int64_t params = 0;
  for (const ConvLayer& l : layers)
    params += l.shape.w_size() + (l.transposed ? l.shape.c_in : l.shape.c_out);
  CHECK(params == unet.parameter_count());
}

TEST_CASE("models: a small U-Net's layers follow its config, and bad sizes are refused") {
  const std::vector<ConvLayer> layers = unet_conv_layers(UNetConfig{4, 2}, 1, 16);
  REQUIRE(layers.size() == 11);
  CHECK(layers[4].shape.str() == "n1 c8x8x8 -> c16x4x4 k4x4 s2x2 p1x1");  // bottom: 16 / 2^2, width 4 * 4
  CHECK(layers[5].shape.str() == "n1 c16x4x4 -> c16x4x4 k3x3 s1x1 p1x1");
  CHECK(layers.back().shape.str() == "n1 c4x16x16 -> c2x16x16 k1x1 s1x1 p0x0");
  CHECK_THROWS_WITH(unet_conv_layers(UNetConfig{4, 2}, 1, 18), Catch::Contains("multiple of 4"));
}

TEST_CASE("models: the U-Net's registry cases parse as their ops' shapes and cover the model") {
  const std::vector<OpCase> cases = unet_op_cases(UNetConfig{4, 2}, 16, 2);
  int convs = 0;
  for (const OpCase& c : cases) {
    INFO(c.str());
    CHECK(c.op->parse(c.dims) == c.dims);
    CHECK(c.tags == kUNetCase);
    CHECK(!c.label.empty());
    const std::string name = c.op->name;
    if (name == "conv2d" || name == "conv_transpose2d") {
      ++convs;
      CHECK(c.dims[0] == 2);
    }
    if (name == "adam_step") {
      Rng rng(0);
      UNet unet(UNetConfig{4, 2}, rng);
      CHECK(c.dims[0] == unet.parameter_count());
    }
    if (name == "relu") CHECK(c.dims[0] == 2 * 4 * 16 * 16);               // the widest full-size activation
    if (name == "concat_channels") CHECK(c.dims == OpDims{2, 4, 4, 256});  // up.0: [upsampled, skip 0]
  }
  CHECK(convs == 11);
  // A transposed case maps back onto the layer's own shape.
  for (const OpCase& c : cases)
    if (c.label == "up.1.upconv") CHECK(conv_shape_of(c).str() == "n2 c8x8x8 -> c16x4x4 k4x4 s2x2 p1x1");
}

TEST_CASE("models: one image's skips written in place give the bits of the copying concat, gradients included") {
  // Three runs of one image: skips in place (the concat and its backward copy nothing), skips copied (the
  // concat kernel; the backward still hands out views), and the image as the first of a batch of two whose
  // second image is masked out of the loss (the concat kernel and the split kernel: nothing of the one-image
  // paths). The first two must agree bit for bit; the third, whose kernels may sum in another order, closely.
  for (Device d : {Device::cpu(), Device::cpu_ref(), Device::cuda_emu()}) {
    for (int in_channels : {1, 4}) {
      INFO(d.str() << ", " << in_channels << " input channels");
      const int h = 16, w = 24;
      auto run = [&](bool in_place, int batch) {
        Rng rng(3);
        UNet unet(UNetConfig{4, 3, 0, in_channels}, rng);
        unet.to(d);
        unet.set_skips_in_place(in_place);
        std::vector<float> lv, tv;  // the first image's input and target are the same in every run
        for (int b = 0; b < batch; ++b) {
          for (float v : Tensor::uniform({1, in_channels, h, w}, -1, 1, rng).to_vector()) lv.push_back(v);
          for (float v : Tensor::uniform({1, 2, h, w}, -1, 1, rng).to_vector()) tv.push_back(v);
        }
        Tensor L = Tensor::from_vector(lv, {batch, in_channels, h, w}, d);
        L.set_requires_grad(true);
        Tensor target = Tensor::from_vector(tv, {batch, 2, h, w}, d);
        std::vector<float> mask(size_t(batch * h * w), 0.0f);
        std::fill(mask.begin(), mask.begin() + h * w, 1.0f);  // the first image only
        Tensor pred = unet(L);
        ops::mse_loss(pred, target, Tensor::from_vector(mask, {batch, 1, h, w}, d)).backward();
        auto first = [&](const Tensor& t) {  // the first image's part
          std::vector<float> v = t.to_vector();
          v.resize(v.size() / size_t(batch));
          return v;
        };
        std::vector<std::vector<float>> got = {first(pred), first(L.grad())};
        for (Tensor* p : unet.parameters()) got.push_back(p->grad().to_vector());
        return got;
      };
      const auto in_place = run(true, 1), copied = run(false, 1), batched = run(true, 2);
      REQUIRE(in_place.size() == copied.size());
      REQUIRE(in_place.size() == batched.size());
      for (size_t k = 0; k < in_place.size(); ++k) {
        INFO("tensor " << k << " (output, input gradient, then the parameters' gradients)");
        CHECK(in_place[k] == copied[k]);
        REQUIRE(in_place[k].size() == batched[k].size());
        double worst = 0, scale = 0;
        for (size_t i = 0; i < in_place[k].size(); ++i) {
          worst = std::max(worst, std::fabs(double(in_place[k][i]) - batched[k][i]));
          scale = std::max(scale, std::fabs(double(batched[k][i])));
        }
        CHECK(scale > 0);
        CHECK(worst <= 1e-4 * scale);
      }
    }
  }
}
