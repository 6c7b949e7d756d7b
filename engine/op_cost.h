// What one call of a contract entry costs: floating-point operations and bytes moved, from its shape.
//
// The one place these counts are written. The profiler, the op registry, the benchmarks and `tint op` all
// read them from here, so that GFLOP/s and GB/s mean the same thing everywhere. Bytes are the minimum
// traffic (every input read once, every output written once, float32); a kernel that re-reads its inputs
// moves more, which is exactly what the achieved-bandwidth figure is for.
#pragma once

#include <cstdint>

#include "engine/backend.h"

namespace tint {

struct OpCost {
  double flops = 0;
  double bytes = 0;
};

// The three products of a convolution (a transposed convolution uses the same three with roles swapped).
enum class ConvProduct { forward, backward_data, backward_weight };
const char* conv_product_name(ConvProduct p);  // "fwd", "bwd-data", "bwd-weight"

// 2 * multiply-adds for each product; bytes: the two operands read, the result written.
OpCost conv2d_cost(const Conv2dShape& s, ConvProduct p);

// An element-wise pass over n floats: `reads` input arrays and `writes` output arrays of n floats each,
// `flops_per_element` arithmetic operations per element.
OpCost elementwise_cost(int64_t n, int reads, int writes, double flops_per_element);

// bias_add (in place: y read and written, bias read) and bias_backward (dy read, dbias written).
OpCost bias_add_cost(int n, int c, int64_t hw);
OpCost bias_backward_cost(int n, int c, int64_t hw);
// bias_relu_forward (y read and written in place, bias read) and bias_relu_backward (dy and y read, dz and
// dbias written); a missing bias or dbias counts nothing.
OpCost bias_relu_forward_cost(int n, int c, int64_t hw, bool bias);
OpCost bias_relu_backward_cost(int n, int c, int64_t hw, bool dbias);
// concat_channels and split_channels: every element read once and written once.
OpCost concat_cost(int n, int ca, int cb, int64_t hw);
// Masked losses over pred/target (n, c, hw) with an optional mask (n, 1, hw).
OpCost loss_forward_cost(int n, int c, int64_t hw, bool masked);
OpCost loss_backward_cost(int n, int c, int64_t hw, bool masked);
// The fused softmax cross-entropy over logits/target (n, k, hw) with optional weight and mask (n, 1, hw)
// (`per_pixel_inputs`: how many of the two are given), and the annealed-mean decode (n, k, hw) -> (n, 2, hw).
// Exponentials count as one operation each.
OpCost softmax_ce_forward_cost(int n, int k, int64_t hw, int per_pixel_inputs);
OpCost softmax_ce_backward_cost(int n, int k, int64_t hw, int per_pixel_inputs);
OpCost annealed_mean_decode_cost(int n, int k, int64_t hw);
// One fused Adam step over n parameters: p, g, m, v read; p, m, v written.
OpCost adam_cost(int64_t n);

// The remaining contract entries, one each, so the profiler can price every call it times.
OpCost fill_cost(int64_t n);              // write n
OpCost copy_cost(int64_t n);              // read n, write n
OpCost add_cost(int64_t n);               // y = a + b
OpCost scale_cost(int64_t n);             // y = alpha x
OpCost axpy_cost(int64_t n);              // y += alpha x (y read and written)
OpCost sum_cost(int64_t n);               // n reads, one scalar out
OpCost broadcast_scalar_cost(int64_t n);  // one scalar in, n writes
OpCost relu_forward_cost(int64_t n);
OpCost relu_backward_cost(int64_t n);     // dy and x read
OpCost tanh_forward_cost(int64_t n);
OpCost tanh_backward_cost(int64_t n);     // dy and y read: dy * (1 - y^2)
OpCost transfer_cost(size_t bytes);       // host <-> device copy: bytes only

}  // namespace tint
