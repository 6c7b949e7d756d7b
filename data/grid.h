// Pictures made of pictures: the side-by-side strips of `tint colorize --side-by-side`, the example grids of
// `tint eval` and of a training run's validation samples. Pure 8-bit RGB, no fonts.
#pragma once

#include <vector>

#include "data/image.h"

namespace tint {

// Rows of cells laid out on a white canvas, `gap` pixels apart. Every cell is scaled (antialiased, aspect
// kept) to `cell_height` pixels high; a row is as wide as its cells; the canvas is as wide as the widest row
// and rows are left-aligned. cell_height 0 keeps each cell's own size (rows then take their tallest cell).
Image compose_grid(const std::vector<std::vector<Image>>& rows, int cell_height = 0, int gap = 4);

// The real pixels of one padded training sample as RGB: planes L, a, b in the network's scaling (S x S, the
// photo at the top-left, as the loader pads it) cropped to the mask's top-left rectangle. a and b may be
// null for a grey picture.
Image padded_sample_to_image(const float* L, const float* a, const float* b, const float* mask, int size);

// Three equal channels from the image's L (what a grey photo of it looks like).
Image to_grey(const Image& rgb);

}  // namespace tint
