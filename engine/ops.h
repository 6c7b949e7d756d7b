// Differentiable ops. Each checks its inputs (shapes, devices) with an error that names them, runs the
// forward kernels of the input's device, and records a Node whose backward calls the backward kernels.
// The math of every backward is stated once, in engine/backend.h.
#pragma once

#include "engine/autograd.h"
#include "engine/tensor.h"

namespace tint::ops {

struct Conv2dOptions {
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
  int out_pad_h = 0, out_pad_w = 0;  // conv_transpose2d only
  static Conv2dOptions square(int stride, int pad, int out_pad = 0) {
    return {stride, stride, pad, pad, out_pad, out_pad};
  }
};

// What follows a convolution's bias inside the op. Activation::relu is relu(conv(x) + bias) as one node: the
// same values and gradients, bit for bit, as ops::relu of the unfused result, with the bias and the ReLU in
// one pass over the output (bias_relu_forward) and their backward in one pass (bias_relu_backward, from the
// saved output), and no separate pre-activation tensor kept for the backward.
enum class Activation { none, relu };

// x (N, Cin, H, W), weight (Cout, Cin, kh, kw), bias (Cout) or undefined -> (N, Cout, Ho, Wo).
// `out`, when given, is where the result goes (and the tensor returned): a fresh tensor of the output's
// shape on x's device, typically a view into a larger buffer (Tensor::narrow_channels), so that a later
// concat_channels finds its inputs side by side and copies nothing.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& o,
              Activation act = Activation::none, const Tensor& out = Tensor());
// x (N, Cin, H, W), weight (Cin, Cout, kh, kw) as in PyTorch, bias (Cout) or undefined.
// Output height (H-1)*stride - 2*pad + kh + output_padding. `out` as for conv2d.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& o,
                        Activation act = Activation::none, const Tensor& out = Tensor());
// (N, Ca, H, W) ++ (N, Cb, H, W) -> (N, Ca+Cb, H, W). For one image (N = 1) whose a and b already lie side
// by side in one storage (b starting where a ends), the result is a view of both and nothing is copied; its
// backward then hands out views of the incoming gradient, where otherwise it splits it into two copies.
Tensor concat_channels(const Tensor& a, const Tensor& b);
Tensor relu(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor add(const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& x, float alpha);
Tensor sum(const Tensor& x);   // a scalar (shape {})
Tensor mean(const Tensor& x);  // a scalar
// Mean absolute / squared error over the pixels where mask == 1 (mask (N, 1, H, W) broadcast over the
// channels of pred (N, C, H, W)); every pixel when mask is undefined. A scalar.
// `count` > 0 divides by `count` instead of this call's own element count (c * sum of the mask): the count of
// a whole batch of which this call sees a part (a rank's shard, a micro-batch). The parts' losses then add
// up to the whole batch's loss, and each element's gradient is the whole batch's, bit for bit.
Tensor l1_loss(const Tensor& pred, const Tensor& target, const Tensor& mask = Tensor(), double count = 0);
Tensor mse_loss(const Tensor& pred, const Tensor& target, const Tensor& mask = Tensor(), double count = 0);

// Colorization as classification. logits and target (N, K, H, W): K classes per pixel, the target a soft
// distribution over them; weight and mask (N, 1, H, W) or undefined (all ones). The mean over the pixels
// where mask == 1 of weight * (-sum_k target_k log softmax(logits)_k): a scalar, differentiable in logits.
Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight = Tensor(),
                             const Tensor& mask = Tensor());
// (N, K, H, W) logits, centres (K, 2) -> (N, 2, H, W): the expectation of the centres under
// softmax(logits / temperature); temperature <= 0 gives the centre of the most likely class (the mode).
// Not differentiable (inference only).
Tensor annealed_mean_decode(const Tensor& logits, const Tensor& centres, float temperature);

}  // namespace tint::ops
