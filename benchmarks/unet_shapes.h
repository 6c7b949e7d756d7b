// The convolutions of the colorizer's U-Net (models/unet.h with its defaults: width 64, 4 levels, 256x256
// input), as kernel-contract shapes, for the kernel benchmarks of every backend. Transposed convolutions
// are given as the shape of their role-swapped convolution (make_conv_transpose2d): their forward is that
// shape's backward-data, their input gradient its forward.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "engine/backend.h"

namespace tint::bench {

struct ConvLayer {
  std::string name;   // as in the checkpoint: "down.1.conv1", "up.0.upconv", "head"
  Conv2dShape shape;  // the convolution's shape (role-swapped for a transposed convolution)
  bool transposed = false;
};

// Every convolution of one training step, in forward order. Layers of the same shape appear once each
// (the U-Net has none twice).
inline std::vector<ConvLayer> unet_conv_layers(int batch, int size = 256, int width = 64, int levels = 4) {
  auto channels = [&](int level) { return width * (1 << std::min(level, 3)); };
  std::vector<ConvLayer> layers;
  int s = size;
  for (int k = 0; k <= levels; ++k) {
    const std::string name = "down." + std::to_string(k);
    if (k == 0) {
      layers.push_back({name + ".conv1", make_conv2d(batch, 1, s, s, channels(0), 3, 3, 1, 1, 1, 1)});
    } else {
      layers.push_back({name + ".conv1", make_conv2d(batch, channels(k - 1), s, s, channels(k), 4, 4, 2, 2, 1, 1)});
      s /= 2;
    }
    layers.push_back({name + ".conv2", make_conv2d(batch, channels(k), s, s, channels(k), 3, 3, 1, 1, 1, 1)});
  }
  for (int k = levels - 1; k >= 0; --k) {
    const std::string name = "up." + std::to_string(k);
    layers.push_back({name + ".upconv",
                      make_conv_transpose2d(batch, channels(k + 1), s, s, channels(k), 4, 4, 2, 2, 1, 1, 0, 0), true});
    s *= 2;
    layers.push_back({name + ".conv", make_conv2d(batch, 2 * channels(k), s, s, channels(k), 3, 3, 1, 1, 1, 1)});
  }
  layers.push_back({"head", make_conv2d(batch, channels(0), s, s, 2, 1, 1, 1, 1, 0, 0)});
  return layers;
}

}  // namespace tint::bench
