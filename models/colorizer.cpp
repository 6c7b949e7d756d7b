#include "models/colorizer.h"

#include <algorithm>
#include <cmath>

#include "data/colour.h"
#include "data/loader.h"
#include "engine/autograd.h"
#include "engine/error.h"

namespace tint::models {

namespace {

// One axis of a bilinear resampling: for each output index, the two source indices and the weight of the
// second. Shared by resize_plane_bilinear and the row-at-a-time loop of combine_with_original.
struct BilinearAxis {
  std::vector<int> lo, hi;
  std::vector<float> w;
  BilinearAxis(int src, int dst) : lo(size_t(dst)), hi(size_t(dst)), w(size_t(dst)) {
    const double scale = double(src) / double(dst);
    for (int i = 0; i < dst; ++i) {
      const double s = std::clamp((i + 0.5) * scale - 0.5, 0.0, double(src - 1));
      const int i0 = int(s);
      lo[size_t(i)] = i0;
      hi[size_t(i)] = std::min(i0 + 1, src - 1);
      w[size_t(i)] = float(s - i0);
    }
  }
};

}  // namespace

int colorize_size(const ModelInfo& info, int requested) {
  const int div = 1 << info.config.levels;
  const int size = requested > 0 ? requested : (info.image_size > 0 ? info.image_size : 256);
  TINT_CHECK(size % div == 0 && size >= div && size <= 8192,
             "--size {} must be a multiple of {} (2^levels of the model '{}') between {} and 8192", size, div,
             info.path, div);
  return size;
}

ColorizeInput prepare_colorize_input(const Image& original, int size) {
  TINT_CHECK(
      original.width > 0 && original.height > 0 && original.rgb.size() == size_t(original.pixels()) * 3,
      "colorize: an empty or malformed image ({}x{})", original.width, original.height);
  const Image prepared = prepare_image(original, size, FitMode::pad);
  ColorizeInput in;
  in.real_width = prepared.width;
  in.real_height = prepared.height;
  const size_t plane = size_t(size) * size_t(size);
  in.L.resize(plane);
  std::vector<float> ab(2 * plane), mask(plane);
  write_sample(prepared, size, false, 0, in.L.data(), ab.data(), mask.data());
  return in;
}

std::vector<std::vector<float>> predict_ab(UNet& unet, Device device, int size,
                                           const std::vector<const ColorizeInput*>& inputs) {
  if (inputs.empty()) return {};
  const size_t plane = size_t(size) * size_t(size);
  const int channels = unet.config().in_channels;
  std::vector<float> L(inputs.size() * plane * size_t(channels), 0.0f);
  for (size_t i = 0; i < inputs.size(); ++i) {
    TINT_CHECK(inputs[i]->L.size() == plane, "colorize: input {} was prepared for another size", i);
    TINT_CHECK(inputs[i]->hint.empty() || channels == 4,
               "colorize: hints given to a model trained without them");
    TINT_CHECK(inputs[i]->hint.empty() || inputs[i]->hint.size() == 3 * plane,
               "colorize: the hints of input {} were prepared for another size", i);
    const auto at = L.begin() + std::ptrdiff_t(i * plane * size_t(channels));
    std::copy(inputs[i]->L.begin(), inputs[i]->L.end(), at);
    if (!inputs[i]->hint.empty())
      std::copy(inputs[i]->hint.begin(), inputs[i]->hint.end(), at + std::ptrdiff_t(plane));
  }
  NoGradGuard no_grad;
  const Tensor x = Tensor::from_vector(L, {int64_t(inputs.size()), channels, size, size}, device);
  const std::vector<float> ab = unet.predict_ab(x).to_vector();
  std::vector<std::vector<float>> out(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i)
    out[i].assign(ab.begin() + std::ptrdiff_t(2 * i * plane),
                  ab.begin() + std::ptrdiff_t(2 * (i + 1) * plane));
  return out;
}

void resize_plane_bilinear(const float* src, int src_stride, int src_width, int src_height, float* dst,
                           int dst_width, int dst_height) {
  TINT_CHECK(src_width > 0 && src_height > 0 && dst_width > 0 && dst_height > 0 && src_stride >= src_width,
             "resize_plane_bilinear: bad sizes {}x{} (stride {}) -> {}x{}", src_width, src_height, src_stride,
             dst_width, dst_height);
  const BilinearAxis xs(src_width, dst_width), ys(src_height, dst_height);
  for (int y = 0; y < dst_height; ++y) {
    const float* r0 = src + int64_t(ys.lo[size_t(y)]) * src_stride;
    const float* r1 = src + int64_t(ys.hi[size_t(y)]) * src_stride;
    const float wy = ys.w[size_t(y)];
    float* out = dst + int64_t(y) * dst_width;
    for (int x = 0; x < dst_width; ++x) {
      const int x0 = xs.lo[size_t(x)], x1 = xs.hi[size_t(x)];
      const float wx = xs.w[size_t(x)];
      const float top = r0[x0] + wx * (r0[x1] - r0[x0]);
      const float bottom = r1[x0] + wx * (r1[x1] - r1[x0]);
      out[x] = top + wy * (bottom - top);
    }
  }
}

void lab_to_rgb8_keep_L(float L, float a, float b, uint8_t* rgb) {
  // lab_to_srgb clamps linear light to [0, 1], so a channel exactly at 0 or at the encoded 1.0 means the
  // colour was (or touches) the gamut's edge; clipping there is what would change L.
  static const float kTop = colour::linear_to_srgb(1.0f);
  auto inside = [&](float t, float& r, float& g, float& bl) {
    colour::lab_to_srgb(L, t * a, t * b, r, g, bl);
    return r > 0.f && g > 0.f && bl > 0.f && r < kTop && g < kTop && bl < kTop;
  };
  float r, g, bl;
  if (!inside(1.f, r, g, bl)) {
    // The gamut at a fixed L is star-shaped around grey in (a, b), so the in-gamut chroma scales form an
    // interval [0, t*]: bisect for t*. Grey at L <= 0 or L >= 100 is itself on the edge (black, white): t = 0
    // then.
    float lo = 0.f, hi = 1.f;
    for (int i = 0; i < 14; ++i) {
      const float mid = 0.5f * (lo + hi);
      if (inside(mid, r, g, bl))
        lo = mid;
      else
        hi = mid;
    }
    colour::lab_to_srgb(L, lo * a, lo * b, r, g, bl);
  }
  rgb[0] = colour::to_u8(r);
  rgb[1] = colour::to_u8(g);
  rgb[2] = colour::to_u8(bl);
}

Image combine_with_original(const Image& original, const float* a, const float* b, int size, int real_width,
                            int real_height) {
  const int W = original.width, H = original.height;
  TINT_CHECK(W > 0 && H > 0 && original.rgb.size() == size_t(original.pixels()) * 3,
             "colorize: an empty or malformed image ({}x{})", W, H);
  TINT_CHECK(real_width >= 1 && real_height >= 1 && real_width <= size && real_height <= size,
             "colorize: real region {}x{} does not fit the {}x{} prediction", real_width, real_height, size,
             size);
  Image out;
  out.width = W;
  out.height = H;
  out.rgb.resize(original.rgb.size());
  // Row at a time, so a large photo needs a few rows of float scratch instead of five full-size planes.
  const BilinearAxis xs(real_width, W), ys(real_height, H);
  const size_t row_pixels = static_cast<size_t>(W);
  std::vector<float> L(row_pixels), a_in(row_pixels), b_in(row_pixels);
  for (int y = 0; y < H; ++y) {
    const size_t row = size_t(y) * size_t(W) * 3;
    rgb8_to_lab_scaled(original.rgb.data() + row, W, L.data(), a_in.data(), b_in.data());
    const int64_t y0 = int64_t(ys.lo[size_t(y)]) * size, y1 = int64_t(ys.hi[size_t(y)]) * size;
    const float wy = ys.w[size_t(y)];
    for (int x = 0; x < W; ++x) {
      const int x0 = xs.lo[size_t(x)], x1 = xs.hi[size_t(x)];
      const float wx = xs.w[size_t(x)];
      auto sample = [&](const float* p) {
        const float top = p[y0 + x0] + wx * (p[y0 + x1] - p[y0 + x0]);
        const float bottom = p[y1 + x0] + wx * (p[y1 + x1] - p[y1 + x0]);
        return top + wy * (bottom - top);
      };
      lab_to_rgb8_keep_L(colour::unscale_L(L[size_t(x)]), colour::unscale_ab(sample(a)),
                         colour::unscale_ab(sample(b)), &out.rgb[row + size_t(x) * 3]);
    }
  }
  return out;
}

std::vector<Image> colorize(UNet& unet, Device device, int size, const std::vector<Image>& images) {
  std::vector<ColorizeInput> inputs;
  std::vector<const ColorizeInput*> pointers;
  inputs.reserve(images.size());
  for (const Image& img : images) inputs.push_back(prepare_colorize_input(img, size));
  for (const ColorizeInput& in : inputs) pointers.push_back(&in);
  const std::vector<std::vector<float>> ab = predict_ab(unet, device, size, pointers);
  const size_t plane = size_t(size) * size_t(size);
  std::vector<Image> out;
  out.reserve(images.size());
  for (size_t i = 0; i < images.size(); ++i)
    out.push_back(combine_with_original(images[i], ab[i].data(), ab[i].data() + plane, size,
                                        inputs[i].real_width, inputs[i].real_height));
  return out;
}

}  // namespace tint::models
