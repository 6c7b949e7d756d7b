// The colorizer's U-Net: L (N, 1, S, S) in [-1, 1] -> ab (N, 2, S, S) in [-1, 1] through tanh.
//
//   level 0 (S)     : conv3x3(1 -> w)      relu  conv3x3(w -> w)   relu          --- skip0 ---+
//   level k (S/2^k) : conv4x4 s2 (down)    relu  conv3x3           relu          --- skip k --+
//   bottom          : conv4x4 s2 (down)    relu  conv3x3           relu                       |
//   up k            : convT4x4 s2 (up)     relu  concat(skip k)    conv3x3  relu  <-----------+
//   head            : conv1x1(w -> 2)      tanh
// Channels double per level from `width` (64 by default) up to 8*width. Downsampling with stride-2
// convolutions and upsampling with stride-2 transposed convolutions keep every op in the kernel contract.
#pragma once

#include <memory>
#include <vector>

#include "engine/nn.h"

namespace tint::models {

struct UNetConfig {
  int width = 64;   // channels at full resolution
  int levels = 4;   // downsamplings; the input size must be divisible by 2^levels
};

class UNet : public nn::Module {
 public:
  UNet(const UNetConfig& config, Rng& rng);
  Tensor forward(const Tensor& L) override;
  const UNetConfig& config() const { return config_; }

 private:
  // `block` is the level's container ("down.2"): its path names the level's relu and concat for the
  // profiler.
  struct Level {
    std::shared_ptr<nn::Module> block;
    std::shared_ptr<nn::Conv2d> a, b;  // first (down or stem) and second conv of an encoder level
  };
  struct Up {
    std::shared_ptr<nn::Module> block;
    std::shared_ptr<nn::ConvTranspose2d> up;
    std::shared_ptr<nn::Conv2d> fuse;
  };
  UNetConfig config_;
  std::vector<Level> down_;
  std::vector<Up> up_;
  std::shared_ptr<nn::Conv2d> head_;
};

}  // namespace tint::models
