// The U-Net's cases for the op registry (engine/op_registry.h): every convolution of the colorizer's U-Net
// as a conv2d or conv_transpose2d case, and the other ops at the sizes the U-Net gives them (its largest
// activation, its widest concat, its head output for the losses, its parameter count for Adam). The
// shapes come from walking the real model (unet_conv_layers), never from a copy of its architecture.
#pragma once

#include <vector>

#include "engine/op_registry.h"
#include "models/unet.h"

namespace tint::models {

// Cases tagged kUNetCase, labelled with the layer ("down.1.conv1") or the tensor ("largest activation").
std::vector<OpCase> unet_op_cases(const UNetConfig& config, int image_size, int batch);
// Only the convolutions (what the conv benchmarks time).
std::vector<OpCase> unet_conv_cases(const UNetConfig& config, int image_size, int batch);

}  // namespace tint::models
