#include "models/unet.h"

#include <algorithm>

#include "engine/error.h"

namespace tint::models {

namespace {
// A level of the encoder or decoder registered under one name, so checkpoints read "down.1.conv1.weight".
struct Block : nn::Module {
  Tensor forward(const Tensor&) override { throw Error("Block is a container"); }
  template <class M>
  std::shared_ptr<M> add(const std::string& name, std::shared_ptr<M> m) {
    return register_module(name, std::move(m));
  }
};
}  // namespace

UNet::UNet(const UNetConfig& config, Rng& rng) : config_(config) {
  TINT_CHECK(config.width > 0 && config.levels >= 1 && config.levels <= 6, "UNet: invalid width {} or levels {}",
             config.width, config.levels);
  auto channels = [&](int level) { return config.width * (1 << std::min(level, 3)); };
  auto down = register_module("down", std::make_shared<Block>());
  for (int k = 0; k <= config.levels; ++k) {
    auto block = down->add(std::to_string(k), std::make_shared<Block>());
    Level level;
    level.block = block;
    if (k == 0)
      level.a =
          block->add("conv1", std::make_shared<nn::Conv2d>(config.in_channels, channels(0), 3, 1, 1, rng));
    else
      level.a = block->add("conv1", std::make_shared<nn::Conv2d>(channels(k - 1), channels(k), 4, 2, 1, rng));
    level.b = block->add("conv2", std::make_shared<nn::Conv2d>(channels(k), channels(k), 3, 1, 1, rng));
    down_.push_back(level);
  }
  auto up = register_module("up", std::make_shared<Block>());
  for (int k = config.levels - 1; k >= 0; --k) {
    auto block = up->add(std::to_string(k), std::make_shared<Block>());
    Up u;
    u.block = block;
    u.up = block->add("upconv", std::make_shared<nn::ConvTranspose2d>(channels(k + 1), channels(k), 4, 2, 1, 0, rng));
    u.fuse = block->add("conv", std::make_shared<nn::Conv2d>(2 * channels(k), channels(k), 3, 1, 1, rng));
    up_.push_back(u);
  }
  TINT_CHECK(config.bins >= 0 && config.bins <= 4096, "UNet: invalid bin count {}", config.bins);
  TINT_CHECK(config.in_channels == 1 || config.in_channels == 4,
             "UNet: {} input channels (1: L, 4: L and hints)", config.in_channels);
  head_ = register_module(
      "head", std::make_shared<nn::Conv2d>(channels(0), config.bins > 0 ? config.bins : 2, 1, 1, 0, rng));
  name_modules();
}

std::vector<ConvLayer> unet_conv_layers(UNet& unet, int batch, int image_size) {
  const int div = 1 << unet.config().levels;
  TINT_CHECK(batch > 0 && image_size > 0 && image_size % div == 0,
             "unet_conv_layers: batch {} and image size {} (must be a positive multiple of {} = 2^levels)", batch,
             image_size, div);
  std::vector<ConvLayer> layers;
  int h = image_size, w = image_size;
  for (auto& [name, module] : unet.named_modules()) {
    if (auto* conv = dynamic_cast<nn::Conv2d*>(module)) {
      const Tensor& k = *conv->weight;  // (c_out, c_in, kh, kw)
      const ops::Conv2dOptions& o = conv->options;
      const Conv2dShape s = make_conv2d(batch, int(k.size(1)), h, w, int(k.size(0)), int(k.size(2)), int(k.size(3)),
                                        o.stride_h, o.stride_w, o.pad_h, o.pad_w);
      layers.push_back({name, s, false});
      h = s.h_out, w = s.w_out;
    } else if (auto* up = dynamic_cast<nn::ConvTranspose2d*>(module)) {
      const Tensor& k = *up->weight;  // (cin_t, cout_t, kh, kw)
      const ops::Conv2dOptions& o = up->options;
      const Conv2dShape s = make_conv_transpose2d(batch, int(k.size(0)), h, w, int(k.size(1)), int(k.size(2)),
                                                  int(k.size(3)), o.stride_h, o.stride_w, o.pad_h, o.pad_w,
                                                  o.out_pad_h, o.out_pad_w);
      layers.push_back({name, s, true});
      h = s.h_in, w = s.w_in;
    }
  }
  return layers;
}

std::vector<ConvLayer> unet_conv_layers(const UNetConfig& config, int batch, int image_size) {
  Rng rng(0);
  UNet unet(config, rng);
  return unet_conv_layers(unet, batch, image_size);
}

Tensor UNet::forward(const Tensor& L) {
  TINT_CHECK(L.dim() == 4 && L.size(1) == config_.in_channels, "UNet: input must be (N, {}, H, W), got {}",
             config_.in_channels, shape_str(L.shape()));
  const int64_t div = int64_t(1) << config_.levels;
  TINT_CHECK(L.size(2) % div == 0 && L.size(3) % div == 0,
             "UNet: input {} must have H and W divisible by {} (2^levels)", shape_str(L.shape()), div);
  // With one image, level k's concat buffer [up conv's output; skip k] is made before the skip, which is
  // written into its second half; the up conv later writes the first half (set_skips_in_place).
  const bool in_place = skips_in_place_ && L.size(0) == 1;
  std::vector<Tensor> skips, buffers;
  Tensor h = L;
  for (size_t k = 0; k < down_.size(); ++k) {
    const Level& level = down_[k];
    profiler::Scope scope(level.block->path());
    h = level.a->forward_relu(h);
    Tensor skip_slot;
    if (in_place && k + 1 < down_.size()) {
      const int64_t c = level.b->weight->size(0);  // the skip's channels, and the up conv's
      buffers.push_back(Tensor::empty({1, 2 * c, h.size(2), h.size(3)}, h.device()));
      skip_slot = buffers.back().narrow_channels(c, c);
    }
    h = level.b->forward_relu(h, skip_slot);
    skips.push_back(h);
  }
  skips.pop_back();  // the bottom level is not a skip
  for (auto& u : up_) {
    profiler::Scope scope(u.block->path());
    Tensor up_slot;
    if (in_place) {
      up_slot = buffers.back().narrow_channels(0, skips.back().size(1));
      buffers.pop_back();
    }
    h = u.up->forward_relu(h, up_slot);
    h = ops::concat_channels(h, skips.back());
    skips.pop_back();
    h = u.fuse->forward_relu(h);
  }
  profiler::Scope scope(head_->path());
  return config_.bins > 0 ? (*head_)(h) : ops::tanh((*head_)(h));
}

void UNet::set_decode(Tensor centres, float temperature) {
  TINT_CHECK(config_.bins > 0, "UNet: a decode is only for the classification head");
  TINT_CHECK(centres.dim() == 2 && centres.size(0) == config_.bins && centres.size(1) == 2,
             "UNet: decode centres {} must be ({}, 2)", shape_str(centres.shape()), config_.bins);
  centres_ = std::move(centres);
  temperature_ = temperature;
}

Tensor UNet::predict_ab(const Tensor& L) {
  if (config_.bins == 0) return forward(L);
  TINT_CHECK(centres_.defined(), "UNet: a classification model needs its bins (set_decode) to predict ab");
  return ops::annealed_mean_decode(forward(L).detach(), centres_, temperature_);
}

}  // namespace tint::models
