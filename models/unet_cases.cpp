#include "models/unet_cases.h"

#include <algorithm>

namespace tint::models {

namespace {

OpDims conv_dims(const ConvLayer& l) {
  const Conv2dShape& s = l.shape;
  if (!l.transposed)
    return {s.n, s.c_in, s.h_in, s.w_in, s.c_out, s.kh, s.kw, s.stride_h, s.stride_w, s.pad_h, s.pad_w};
  // Back to the transposed conv's own view: input (n, c_out, h_out, w_out), output padding from the sizes.
  const int op_h = s.h_in - ((s.h_out - 1) * s.stride_h - 2 * s.pad_h + s.kh);
  const int op_w = s.w_in - ((s.w_out - 1) * s.stride_w - 2 * s.pad_w + s.kw);
  return {s.n,        s.c_out,    s.h_out, s.w_out, s.c_in, s.kh, s.kw,
          s.stride_h, s.stride_w, s.pad_h, s.pad_w, op_h,   op_w};
}

std::vector<OpCase> conv_cases(UNet& unet, int image_size, int batch) {
  std::vector<OpCase> cases;
  for (const ConvLayer& l : unet_conv_layers(unet, batch, image_size))
    cases.push_back(
        {&find_op(l.transposed ? "conv_transpose2d" : "conv2d"), conv_dims(l), l.name, kUNetCase});
  return cases;
}

}  // namespace

std::vector<OpCase> unet_conv_cases(const UNetConfig& config, int image_size, int batch) {
  Rng rng(0);
  UNet unet(config, rng);
  return conv_cases(unet, image_size, batch);
}

std::vector<OpCase> unet_op_cases(const UNetConfig& config, int image_size, int batch) {
  Rng rng(0);
  UNet unet(config, rng);
  std::vector<OpCase> cases = conv_cases(unet, image_size, batch);
  // The largest activation (the output of the widest layer at full size) and the widest concat, read off
  // the convolutions just listed.
  int64_t largest = 0;
  int bias_c = 1;
  int64_t bias_hw = 1;
  OpDims concat = {1, 1, 1, 1};
  for (const ConvLayer& l : unet_conv_layers(unet, batch, image_size)) {
    const Conv2dShape& s = l.shape;
    const int c = l.transposed ? s.c_in : s.c_out;
    const int64_t hw = l.transposed ? int64_t(s.h_in) * s.w_in : int64_t(s.h_out) * s.w_out;
    if (int64_t(batch) * c * hw > largest) largest = int64_t(batch) * c * hw, bias_c = c, bias_hw = hw;
    // An up level's fusing conv reads [upsampled, skip]: two halves of its input channels.
    if (l.name.rfind("up.", 0) == 0 && !l.transposed &&
        int64_t(s.c_in) * s.h_in * s.w_in > (concat[1] + concat[2]) * concat[3])
      concat = {batch, s.c_in / 2, s.c_in - s.c_in / 2, int64_t(s.h_in) * s.w_in};
  }
  const int64_t head = int64_t(batch) * 2 * image_size * image_size;  // predicted ab
  const std::string act = "largest activation";
  for (const char* name : {"fill", "copy", "axpy", "relu"})
    cases.push_back({&find_op(name), {largest}, act, kUNetCase});
  cases.push_back({&find_op("bias_add"), {batch, bias_c, bias_hw}, act, kUNetCase});
  cases.push_back({&find_op("bias_relu"), {batch, bias_c, bias_hw, 1}, act, kUNetCase});
  cases.push_back({&find_op("concat_channels"), concat, "widest concat", kUNetCase});
  cases.push_back({&find_op("tanh"), {head}, "head output", kUNetCase});
  cases.push_back({&find_op("sum"), {largest}, act, kUNetCase});
  cases.push_back(
      {&find_op("l1_loss"), {batch, 2, int64_t(image_size) * image_size, 1}, "head output", kUNetCase});
  cases.push_back(
      {&find_op("mse_loss"), {batch, 2, int64_t(image_size) * image_size, 1}, "head output", kUNetCase});
  cases.push_back({&find_op("adam_step"), {unet.parameter_count(), 0}, "all parameters", kUNetCase});
  return cases;
}

}  // namespace tint::models
