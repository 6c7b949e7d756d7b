// Resampling 8-bit RGB with a separable triangle (tent) filter whose support grows with the shrink factor, so
// that shrinking averages every source pixel instead of point-sampling (no aliasing on fine patterns, as
// PIL's antialiased BILINEAR). Enlarging is plain bilinear. Sample positions follow the pixel-centre
// convention: output x maps to source (x + 0.5) * in / out - 0.5.
#pragma once

#include "data/image.h"

namespace tint {

Image resize_image(const Image& src, int out_width, int out_height);

// Output size that fits the longest side to `side` (at least 1 pixel on the other).
void fit_longest_side(int width, int height, int side, int& out_width, int& out_height);
// Output size that makes the shortest side `side`.
void fit_shortest_side(int width, int height, int side, int& out_width, int& out_height);

}  // namespace tint
