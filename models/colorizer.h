// Inference: decoded photos in, colorized photos out, each at its own resolution.
//
//   original (W x H) --prepare_image + write_sample (as in training)--> L at S x S, the real w x h top-left
//   --U-Net (no grad, any device, a batch at a time)--> ab at S x S
//   --the real w x h of ab only, bilinear to W x H--> joined with the ORIGINAL full-resolution L --> sRGB
//   8-bit
//
// The network never sees the padding's prediction leave the canvas: only the real region of its ab is used.
// Only the L of the input is used, so colour inputs work too.
//
// "L kept" means: decode the output, convert it to Lab, and its L equals the input's L up to the 8-bit
// rounding of the output's three channels: at most 0.26 L units anywhere in the sRGB cube (dark greens, where
// L is steepest in the 8-bit values), 0.14 for greys, and exactly for a grey input given zero a/b; tested in
// tests/test_colorize.cpp through a PNG round trip. For that to hold, a colour
// the network asks for that lies outside sRGB is brought into gamut by shrinking its chroma (a and b
// together, towards grey) at the same L; clipping the channels instead would change L.
#pragma once

#include <vector>

#include "data/image.h"
#include "engine/device.h"
#include "models/model_file.h"
#include "models/unet.h"

namespace tint::models {

// The side the network runs at: `requested` when > 0, else the model's training image_size, else 256.
// Throws unless it is a multiple of 2^levels (the U-Net's input constraint) and within 2^levels..8192.
int colorize_size(const ModelInfo& info, int requested);

// What the network sees of one image: the L plane at S x S, scaled and zero-padded (black) as in training,
// and the extent of the real pixels in it.
struct ColorizeInput {
  int real_width = 0, real_height = 0;
  std::vector<float> L;     // size * size, L/50 - 1
  std::vector<float> hint;  // 3 * size * size: hint a, b, mask (data/hints.h); empty: no hints
};
ColorizeInput prepare_colorize_input(const Image& original, int size);

// Runs the U-Net on a batch under NoGradGuard; returns one scaled ab per input (2 * size * size: a then b).
// A model trained with hints gets each input's hint planes (none where an input has no hints); giving hints
// to a model without them is an error.
std::vector<std::vector<float>> predict_ab(UNet& unet, Device device, int size,
                                           const std::vector<const ColorizeInput*>& inputs);

// Joins a prediction with the original: the top-left real_width x real_height of the size x size planes `a`
// and `b` (scaled) are upsampled bilinearly to the original's width x height, combined with its own L and
// converted to sRGB. Nothing outside the real region is read.
Image combine_with_original(const Image& original, const float* a, const float* b, int size, int real_width,
                            int real_height);

// All of the above for a batch of images of any sizes.
std::vector<Image> colorize(UNet& unet, Device device, int size, const std::vector<Image>& images);

// Bilinear resampling of the src_width x src_height plane at `src` (rows `src_stride` apart) to
// dst_width x dst_height, pixel centres aligned: output x samples source (x + 0.5) * src_width / dst_width -
// 0.5, clamped to the source's edge pixels.
void resize_plane_bilinear(const float* src, int src_stride, int src_width, int src_height, float* dst,
                           int dst_width, int dst_height);

// Lab (unscaled: L 0..100) -> 8-bit sRGB, keeping L: when (a, b) is out of the sRGB gamut at this L, the
// largest t in [0, 1] for which (t*a, t*b) is inside is used instead.
void lab_to_rgb8_keep_L(float L, float a, float b, uint8_t* rgb);

}  // namespace tint::models
