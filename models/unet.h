// The colorizer's U-Net: L (N, 1, S, S) in [-1, 1] -> ab (N, 2, S, S) in [-1, 1] through tanh. With hints
// (data/hints.h) the input is L, hint a, hint b, hint mask: (N, 4, S, S).
//
//   level 0 (S)     : conv3x3(in -> w)     relu  conv3x3(w -> w)   relu          --- skip0 ---+
//   level k (S/2^k) : conv4x4 s2 (down)    relu  conv3x3           relu          --- skip k --+
//   bottom          : conv4x4 s2 (down)    relu  conv3x3           relu                       |
//   up k            : convT4x4 s2 (up)     relu  concat(skip k)    conv3x3  relu  <-----------+
//   head            : conv1x1(w -> 2)      tanh          (regression: scaled ab)
//                  or conv1x1(w -> K)                    (classification: logits over K ab bins, at full
//                                                         resolution; predict_ab decodes them)
// Channels double per level from `width` (64 by default) up to 8*width. Downsampling with stride-2
// convolutions and upsampling with stride-2 transposed convolutions keep every op in the kernel contract.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/nn.h"

namespace tint::models {

struct UNetConfig {
  int width = 64;   // channels at full resolution
  int levels = 4;   // downsamplings; the input size must be divisible by 2^levels
  int bins = 0;     // 0: the regression head (ab through tanh); K > 0: K logits over ab bins (data/ab_bins.h)
  int in_channels = 1;  // 1: L; 4: L and the hint planes a, b, mask (data/hints.h)
};

class UNet : public nn::Module {
 public:
  UNet(const UNetConfig& config, Rng& rng);
  // The head's output: scaled ab (regression) or logits (N, K, H, W) (classification).
  Tensor forward(const Tensor& L) override;
  // Scaled ab (N, 2, H, W) from either head: a classification model's logits go through the annealed-mean
  // decode over the centres given to set_decode (not differentiable; for inference and metrics).
  Tensor predict_ab(const Tensor& L);
  // The bins' scaled centres (K, 2), on the parameters' device, and the decode temperature (<= 0: the mode).
  void set_decode(Tensor centres, float temperature);
  float temperature() const { return temperature_; }
  bool classification() const { return config_.bins > 0; }
  const UNetConfig& config() const { return config_; }
  // For one image (N = 1), forward() has each skip's encoder conv write into the second half of its
  // decoder level's concat buffer and the up conv into the first half, so the concat and its backward copy
  // nothing (ops::concat_channels). Off: the concat copies, as for a batch. The same bits either way.
  void set_skips_in_place(bool on) { skips_in_place_ = on; }

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
  Tensor centres_;
  float temperature_ = 0.38f;
  bool skips_in_place_ = true;
};

// One convolution of the U-Net as a kernel-contract shape, for the op registry, the kernel tests and the
// benchmarks. A transposed convolution is given as the shape of its role-swapped convolution
// (make_conv_transpose2d): its forward is that shape's backward-data.
struct ConvLayer {
  std::string name;   // the module's name, as in the checkpoint: "down.1.conv1", "up.0.upconv", "head"
  Conv2dShape shape;
  bool transposed = false;
};

// Every convolution of `unet` on a (batch, 1, image_size, image_size) input, in forward order, found by
// walking the module tree (each conv's weight gives its channels and kernel, its options the stride and
// padding) and carrying the spatial size from one conv to the next: the U-Net registers its modules in the
// order its forward runs them, and concatenation changes channels (read from the weights), never size.
std::vector<ConvLayer> unet_conv_layers(UNet& unet, int batch, int image_size);
// The same for a U-Net of `config` (built on the CPU for the walk: its weights are initialised and dropped).
std::vector<ConvLayer> unet_conv_layers(const UNetConfig& config, int batch, int image_size);

}  // namespace tint::models
