#include "engine/op_cost.h"

namespace tint {

namespace {
constexpr double kFloat = sizeof(float);
}

const char* conv_product_name(ConvProduct p) {
  switch (p) {
    case ConvProduct::forward: return "fwd";
    case ConvProduct::backward_data: return "bwd-data";
    case ConvProduct::backward_weight: return "bwd-weight";
  }
  return "?";
}

OpCost conv2d_cost(const Conv2dShape& s, ConvProduct p) {
  // All three products do the same multiply-adds; only which tensor is the result differs.
  const double x = double(s.x_size()), w = double(s.w_size()), y = double(s.y_size());
  double bytes = 0;
  switch (p) {
    case ConvProduct::forward: bytes = x + w + y; break;          // read x, w; write y
    case ConvProduct::backward_data: bytes = y + w + x; break;    // read dy, w; write dx
    case ConvProduct::backward_weight: bytes = x + y + w; break;  // read x, dy; write dw
  }
  return {s.flops(), bytes * kFloat};
}

OpCost elementwise_cost(int64_t n, int reads, int writes, double flops_per_element) {
  return {double(n) * flops_per_element, double(n) * (reads + writes) * kFloat};
}

OpCost bias_add_cost(int n, int c, int64_t hw) {
  const double e = double(n) * c * double(hw);
  return {e, (2 * e + c) * kFloat};
}

OpCost bias_backward_cost(int n, int c, int64_t hw) {
  const double e = double(n) * c * double(hw);
  return {e, (e + c) * kFloat};
}

OpCost bias_relu_forward_cost(int n, int c, int64_t hw, bool bias) {
  const double e = double(n) * c * double(hw);
  return {(bias ? 2 : 1) * e, (2 * e + (bias ? c : 0)) * kFloat};  // add, max
}

OpCost bias_relu_backward_cost(int n, int c, int64_t hw, bool dbias) {
  const double e = double(n) * c * double(hw);
  return {(dbias ? 2 : 1) * e, (3 * e + (dbias ? c : 0)) * kFloat};  // select, add
}

OpCost concat_cost(int n, int ca, int cb, int64_t hw) {
  const double e = double(n) * (ca + cb) * double(hw);
  return {0, 2 * e * kFloat};
}

OpCost loss_forward_cost(int n, int c, int64_t hw, bool masked) {
  const double e = double(n) * c * double(hw);
  const double mask = masked ? double(n) * double(hw) : 0;
  return {3 * e, (2 * e + mask + 2) * kFloat};  // difference, f, masked add; two scalars out
}

OpCost loss_backward_cost(int n, int c, int64_t hw, bool masked) {
  const double e = double(n) * c * double(hw);
  const double mask = masked ? double(n) * double(hw) : 0;
  return {4 * e, (3 * e + mask + 3) * kFloat};  // read pred, target, mask, 3 scalars; write dpred
}

OpCost softmax_ce_forward_cost(int n, int k, int64_t hw, int per_pixel_inputs) {
  const double e = double(n) * k * double(hw), px = double(n) * double(hw);
  // max, subtract, exp, add; then the target's sum and its dot with z - max: 8 per logit.
  return {8 * e, (2 * e + per_pixel_inputs * px + 2) * kFloat};
}

OpCost softmax_ce_backward_cost(int n, int k, int64_t hw, int per_pixel_inputs) {
  const double e = double(n) * k * double(hw), px = double(n) * double(hw);
  // the forward's softmax again (4), the target's sum (1), then exp, scale, multiply-subtract (4).
  return {9 * e, (3 * e + per_pixel_inputs * px + 3) * kFloat};
}

OpCost annealed_mean_decode_cost(int n, int k, int64_t hw) {
  const double e = double(n) * k * double(hw), px = double(n) * double(hw);
  // max; then subtract, scale, exp, add and two multiply-adds, twice exp'd (the sum and the weights).
  return {12 * e, (e + 2 * px + 2.0 * k) * kFloat};
}

OpCost adam_cost(int64_t n) {
  // Per element: the two moment updates, the two bias corrections, sqrt, divide, update: about 12.
  return {12.0 * double(n), 7.0 * double(n) * kFloat};
}

OpCost fill_cost(int64_t n) { return elementwise_cost(n, 0, 1, 0); }
OpCost copy_cost(int64_t n) { return elementwise_cost(n, 1, 1, 0); }
OpCost add_cost(int64_t n) { return elementwise_cost(n, 2, 1, 1); }
OpCost scale_cost(int64_t n) { return elementwise_cost(n, 1, 1, 1); }
OpCost axpy_cost(int64_t n) { return elementwise_cost(n, 2, 1, 2); }
OpCost sum_cost(int64_t n) { return {double(n), (double(n) + 1) * kFloat}; }
OpCost broadcast_scalar_cost(int64_t n) { return {double(n), (double(n) + 1) * kFloat}; }
OpCost relu_forward_cost(int64_t n) { return elementwise_cost(n, 1, 1, 1); }
OpCost relu_backward_cost(int64_t n) { return elementwise_cost(n, 2, 1, 1); }
// tanh counted as one operation per element, as the other element-wise entries: what a GPU's special
// function unit spends on it is not a multiply-add count.
OpCost tanh_forward_cost(int64_t n) { return elementwise_cost(n, 1, 1, 1); }
OpCost tanh_backward_cost(int64_t n) { return elementwise_cost(n, 2, 1, 3); }
OpCost transfer_cost(size_t bytes) { return {0, double(bytes)}; }

}  // namespace tint
