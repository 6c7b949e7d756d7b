#include "data/grid.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "data/colour.h"
#include "data/resize.h"
#include "engine/error.h"

namespace tint {

Image compose_grid(const std::vector<std::vector<Image>>& rows, int cell_height, int gap) {
  TINT_CHECK(cell_height >= 0 && gap >= 0, "compose_grid: cell_height {} and gap {} must not be negative",
             cell_height, gap);
  // Scale every cell first, then measure.
  std::vector<std::vector<Image>> cells(rows.size());
  int64_t width = 0, height = 0;
  std::vector<int> row_height(rows.size(), 0);
  for (size_t r = 0; r < rows.size(); ++r) {
    int64_t row_width = 0;
    for (const Image& img : rows[r]) {
      TINT_CHECK(img.width > 0 && img.height > 0 && img.rgb.size() == size_t(img.pixels()) * 3,
                 "compose_grid: cell {} of row {} is empty or malformed ({}x{})", cells[r].size(), r,
                 img.width, img.height);
      if (cell_height > 0 && img.height != cell_height) {
        const int w = std::max(1, int(std::lround(double(img.width) * cell_height / img.height)));
        cells[r].push_back(resize_image(img, w, cell_height));
      } else {
        cells[r].push_back(img);
      }
      row_width += cells[r].back().width + (cells[r].size() > 1 ? gap : 0);
      row_height[r] = std::max(row_height[r], cells[r].back().height);
    }
    width = std::max(width, row_width);
    height += row_height[r] + (r > 0 ? gap : 0);
  }
  TINT_CHECK(width > 0 && height > 0, "compose_grid: nothing to lay out");
  TINT_CHECK(width * height <= int64_t(1) << 28, "compose_grid: a {}x{} canvas is too large", width, height);
  Image canvas;
  canvas.width = int(width);
  canvas.height = int(height);
  canvas.rgb.assign(size_t(width * height * 3), 255);
  int64_t y0 = 0;
  for (size_t r = 0; r < cells.size(); ++r) {
    int64_t x0 = 0;
    for (const Image& img : cells[r]) {
      for (int y = 0; y < img.height; ++y)
        std::memcpy(&canvas.rgb[size_t(((y0 + y) * width + x0) * 3)], &img.rgb[size_t(y) * img.width * 3],
                    size_t(img.width) * 3);
      x0 += img.width + gap;
    }
    y0 += row_height[r] + gap;
  }
  return canvas;
}

Image padded_sample_to_image(const float* L, const float* a, const float* b, const float* mask, int size) {
  int w = 0, h = 0;
  while (w < size && mask[w] > 0.5f) ++w;
  while (h < size && mask[int64_t(h) * size] > 0.5f) ++h;
  Image img;
  img.width = std::max(w, 1);
  img.height = std::max(h, 1);
  img.rgb.resize(size_t(img.pixels()) * 3);
  const std::vector<float> zeros(a && b ? 0 : size_t(img.width), 0.f);
  for (int y = 0; y < img.height; ++y) {
    const int64_t row = int64_t(y) * size;
    lab_scaled_to_rgb8(L + row, a ? a + row : zeros.data(), b ? b + row : zeros.data(), img.width,
                       &img.rgb[size_t(y) * img.width * 3]);
  }
  return img;
}

Image to_grey(const Image& rgb) {
  Image out = rgb;
  const int64_t n = rgb.pixels();
  std::vector<float> L(static_cast<size_t>(n)), a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
  rgb8_to_lab_scaled(rgb.rgb.data(), n, L.data(), a.data(), b.data());
  std::fill(a.begin(), a.end(), 0.f);
  std::fill(b.begin(), b.end(), 0.f);
  lab_scaled_to_rgb8(L.data(), a.data(), b.data(), n, out.rgb.data());
  out.grey = true;
  return out;
}

}  // namespace tint
