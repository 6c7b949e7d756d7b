#include "engine/op_registry.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <utility>

#include "engine/error.h"

namespace tint {

namespace {

using Specs = std::vector<TensorSpec>;

TensorSpec input(std::string name, int64_t size, Init init = Init::uniform, float lo = -1, float hi = 1) {
  TensorSpec t;
  t.name = std::move(name), t.size = size, t.init = init, t.lo = lo, t.hi = hi;
  return t;
}
TensorSpec output(std::string name, int64_t size, double terms = 1, int inplace_of = -1) {
  TensorSpec t;
  t.name = std::move(name), t.size = size, t.terms = terms, t.inplace_of = inplace_of;
  return t;
}

TensorSpec shaped(TensorSpec t, std::vector<int64_t> shape) {
  t.shape = std::move(shape);
  return t;
}
std::vector<int64_t> x_shape(const Conv2dShape& s) {
  return {s.n, s.c_in, s.h_in, s.w_in};
}
std::vector<int64_t> y_shape(const Conv2dShape& s) {
  return {s.n, s.c_out, s.h_out, s.w_out};
}
std::vector<int64_t> w_shape(const Conv2dShape& s) {
  return {s.c_out, s.c_in, s.kh, s.kw};
}

std::string join(const OpDims& d) {
  std::string s;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(d[i]);
  }
  return s;
}

int to_int(int64_t v, const char* op) {
  TINT_CHECK(v > 0 && v <= std::numeric_limits<int>::max(), "{}: size {} out of range", op, v);
  return int(v);
}

// ---- element-wise ops over n floats: shape "N" ---------------------------------------------------------

OpDims parse_count(const OpDims& d) {
  TINT_CHECK(d.size() == 1 && d[0] > 0, "shape '{}' is not N (a positive element count)", join(d));
  return d;
}
std::string describe_count(const OpDims& d) {
  return "n=" + std::to_string(d[0]);
}

// ---- per-channel ops: "N,C,HW" -------------------------------------------------------------------------

OpDims parse_nchw(const OpDims& d) {
  TINT_CHECK(d.size() == 3 && d[0] > 0 && d[1] > 0 && d[2] > 0, "shape '{}' is not N,C,HW (positive)",
             join(d));
  to_int(d[0], "shape N"), to_int(d[1], "shape C");
  return d;
}
std::string describe_nchw(const OpDims& d) {
  return fmt::format("n{} c{} hw{}", d[0], d[1], d[2]);
}

// ---- convolutions --------------------------------------------------------------------------------------
// conv2d dims: n, c_in, h, w, c_out, kh, kw, stride_h, stride_w, pad_h, pad_w (the user may give the square
// form N,C,H,W,COUT,K,S,P). conv_transpose2d adds out_pad_h, out_pad_w and takes PyTorch's view: C is its
// input's channels, COUT its output's.

Conv2dShape conv_shape(const OpDims& d) {
  int v[11];
  for (int i = 0; i < 11; ++i) v[i] = int(d[size_t(i)]);
  return make_conv2d(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10]);
}
Conv2dShape convt_shape(const OpDims& d) {
  int v[13];
  for (int i = 0; i < 13; ++i) v[i] = int(d[size_t(i)]);
  return make_conv_transpose2d(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11],
                               v[12]);
}

OpDims expand_square(const OpDims& d, size_t square, size_t full, const char* op) {
  for (int64_t v : d)
    TINT_CHECK(v >= 0 && v <= std::numeric_limits<int>::max(), "{}: value {} in shape '{}' out of range", op,
               v, join(d));
  if (d.size() == full) return d;
  TINT_CHECK(d.size() == square, "{}: shape '{}' has {} values; expected {} (square) or {} (full)", op,
             join(d), d.size(), square, full);
  // N,C,H,W,COUT,K,S,P[,OUTPAD] -> n,c,h,w,cout,kh,kw,sh,sw,ph,pw[,oph,opw]
  OpDims f = {d[0], d[1], d[2], d[3], d[4], d[5], d[5], d[6], d[6], d[7], d[7]};
  if (full == 13) f.push_back(d[8]), f.push_back(d[8]);
  return f;
}

OpDims parse_conv(const OpDims& d) {
  OpDims f = expand_square(d, 8, 11, "conv2d");
  conv_shape(f);  // throws naming the shape when it is not a valid convolution
  return f;
}
OpDims parse_convt(const OpDims& given) {
  OpDims d = given;
  if (d.size() == 8) d.push_back(0);  // output padding defaults to 0
  OpDims f = expand_square(d, 9, 13, "conv_transpose2d");
  convt_shape(f);
  return f;
}

std::string describe_conv(const OpDims& d) {
  return conv_shape(d).str();
}
std::string describe_convt(const OpDims& d) {
  const Conv2dShape s = convt_shape(d);
  return fmt::format("n{} c{}x{}x{} -> c{}x{}x{} k{}x{} s{}x{} p{}x{} op{}x{}", s.n, s.c_out, s.h_out,
                     s.w_out, s.c_in, s.h_in, s.w_in, s.kh, s.kw, s.stride_h, s.stride_w, s.pad_h, s.pad_w,
                     d[11], d[12]);
}

// The GPU reductions' partial sums (engine/backend.h): what the engine gives every GPU stream.
size_t reduction_workspace(const Backend&, const OpDims&) {
  return kReductionWorkspaceBytes;
}

size_t conv_workspace(const Backend& b, const OpDims& d) {
  return b.conv2d_workspace_bytes(conv_shape(d));
}
size_t convt_workspace(const Backend& b, const OpDims& d) {
  return b.conv2d_workspace_bytes(convt_shape(d));
}

// Terms summed into one element of each product: c_in*kh*kw (forward), c_out*kh*kw (backward-data),
// n*h_out*w_out (backward-weight).
double fwd_terms(const Conv2dShape& s) {
  return double(s.c_in) * s.kh * s.kw;
}
double bwd_data_terms(const Conv2dShape& s) {
  return double(s.c_out) * s.kh * s.kw;
}
double bwd_weight_terms(const Conv2dShape& s) {
  return double(s.n) * s.h_out * s.w_out;
}

// ---- losses: "N,C,HW,MASK" with MASK 0 (none), 1 (random pixels), 2 (all zero: count 0) -----------------

OpDims parse_loss(const OpDims& given) {
  OpDims d = given;
  if (d.size() == 3) d.push_back(1);
  TINT_CHECK(d.size() == 4 && d[0] > 0 && d[1] > 0 && d[2] > 0 && d[3] >= 0 && d[3] <= 2,
             "shape '{}' is not N,C,HW[,MASK] with MASK 0 (none), 1 (random) or 2 (all zero)", join(given));
  to_int(d[0], "shape N"), to_int(d[1], "shape C");
  return d;
}
std::string describe_loss(const OpDims& d) {
  return fmt::format("n{} c{} hw{}{}", d[0], d[1], d[2],
                     d[3] == 0   ? ""
                     : d[3] == 1 ? " masked"
                                 : " zero-mask");
}
Specs loss_inputs(const OpDims& d) {
  const int64_t total = d[0] * d[1] * d[2];
  TensorSpec pred = input("pred", total, Init::ties);
  pred.tie_to = 1;
  Specs s = {pred, input("target", total)};
  if (d[3] != 0) s.push_back(input("mask", d[0] * d[2], d[3] == 1 ? Init::mask : Init::zeros));
  s.push_back(input("dloss", 1, Init::uniform, 0.5f, 1.0f));
  return s;
}
Specs loss_outputs(const OpDims& d) {
  // [value, count]: compared element by element, each against its own size (the count dwarfs the value).
  TensorSpec t = output("loss", 2, double(d[0] * d[1] * d[2]));
  t.per_element = true;
  return {t};
}
// Tensors: pred, target, [mask], dloss | loss | dpred.
const float* loss_mask(float* const* t, const OpDims& d) {
  return d[3] != 0 ? t[2] : nullptr;
}
size_t loss_base(const OpDims& d) {
  return d[3] != 0 ? 4 : 3;
}  // index of the first output

template <bool L1>
void loss_forward(const Backend& b, const Stream& st, float* const* t, const OpDims& d) {
  const size_t o = loss_base(d);
  (L1 ? b.l1_loss_forward : b.mse_loss_forward)(st, t[o], t[0], t[1], loss_mask(t, d), int(d[0]), int(d[1]),
                                                d[2]);
}
template <bool L1>
void loss_backward(const Backend& b, const Stream& st, float* const* t, const OpDims& d) {
  const size_t o = loss_base(d);
  (L1 ? b.l1_loss_backward : b.mse_loss_backward)(st, t[o + 1], t[o - 1], t[o], t[0], t[1], loss_mask(t, d),
                                                  int(d[0]), int(d[1]), d[2]);
}

// ---- Adam: "N,DECOUPLED" --------------------------------------------------------------------------------

AdamHyper adam_hyper(const OpDims& d) {
  AdamHyper h;
  h.lr = 1e-2f, h.weight_decay = 0.05f, h.decoupled = d[1] != 0, h.step = 2;
  return h;
}

std::vector<OpDef> build_registry() {
  std::vector<OpDef> r;
  const std::vector<OpDims> counts = {{1}, {7}, {64}, {1031}};

  // fill: y = 0.375.
  r.push_back(OpDef{"fill",
                    "N",
                    "y = 0.375 (fill)",
                    false,
                    parse_count,
                    describe_count,
                    [](const OpDims&) { return Specs{}; },
                    [](const OpDims& d) { return Specs{output("y", d[0])}; },
                    [](const OpDims&) { return Specs{}; },
                    {{"fwd", false, [](const OpDims& d) { return elementwise_cost(d[0], 0, 1, 0); },
                      [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
                        b.fill(s, t[0], 0.375f, d[0]);
                      }}},
                    counts});
  // copy: y = x; its backward is a copy too (not repeated).
  r.push_back(OpDef{"copy",
                    "N",
                    "y = x (copy)",
                    false,
                    parse_count,
                    describe_count,
                    [](const OpDims& d) { return Specs{input("x", d[0])}; },
                    [](const OpDims& d) { return Specs{output("y", d[0])}; },
                    [](const OpDims&) { return Specs{}; },
                    {{"fwd", false, [](const OpDims& d) { return elementwise_cost(d[0], 1, 1, 0); },
                      [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
                        b.copy(s, t[1], t[0], d[0]);
                      }}},
                    counts});
  // add: y = a + b; backward da = db = dy (two copies).
  r.push_back(OpDef{"add",
                    "N",
                    "y = a + b (add); da = db = dy (copy)",
                    false,
                    parse_count,
                    describe_count,
                    [](const OpDims& d) {
                      return Specs{input("a", d[0]), input("b", d[0]), input("dy", d[0])};
                    },
                    [](const OpDims& d) { return Specs{output("y", d[0])}; },
                    [](const OpDims& d) {
                      return Specs{output("da", d[0]), output("db", d[0])};
                    },
                    {{"fwd", false, [](const OpDims& d) { return elementwise_cost(d[0], 2, 1, 1); },
                      [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
                        b.add(s, t[3], t[0], t[1], d[0]);
                      }},
                     {"bwd", true, [](const OpDims& d) { return elementwise_cost(d[0], 2, 2, 0); },
                      [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
                        b.copy(s, t[4], t[2], d[0]);
                        b.copy(s, t[5], t[2], d[0]);
                      }}},
                    counts});
  // scale: y = -1.75 x; backward dx = -1.75 dy (the same entry).
  r.push_back(OpDef{"scale",
                    "N",
                    "y = -1.75 x (scale); dx = -1.75 dy (scale)",
                    false,
                    parse_count,
                    describe_count,
                    [](const OpDims& d) {
                      return Specs{input("x", d[0]), input("dy", d[0])};
                    },
                    [](const OpDims& d) { return Specs{output("y", d[0])}; },
                    [](const OpDims& d) { return Specs{output("dx", d[0])}; },
                    {{"fwd", false, [](const OpDims& d) { return elementwise_cost(d[0], 1, 1, 1); },
                      [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
                        b.scale(s, t[2], t[0], -1.75f, d[0]);
                      }},
                     {"bwd", true, [](const OpDims& d) { return elementwise_cost(d[0], 1, 1, 1); },
                      [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
                        b.scale(s, t[3], t[1], -1.75f, d[0]);
                      }}},
                    counts});
  // axpy: y += 0.625 x (in place; how the engine accumulates gradients).
  r.push_back(OpDef{"axpy",
                    "N",
                    "y += 0.625 x (axpy, in place)",
                    false,
                    parse_count,
                    describe_count,
                    [](const OpDims& d) {
                      return Specs{input("y0", d[0]), input("x", d[0])};
                    },
                    [](const OpDims& d) { return Specs{output("y", d[0], 1, 0)}; },
                    [](const OpDims&) { return Specs{}; },
                    {{"fwd", false, [](const OpDims& d) { return elementwise_cost(d[0], 2, 1, 2); },
                      [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
                        b.axpy(s, t[2], t[1], 0.625f, d[0]);
                      }}},
                    counts});
  // relu: exact zeros of both signs in x, where the gradient must be 0.
  r.push_back(OpDef{"relu",
                    "N",
                    "y = max(x, 0) (relu_forward); dx = dy * (x > 0) (relu_backward)",
                    false,
                    parse_count,
                    describe_count,
                    [](const OpDims& d) {
                      return Specs{input("x", d[0], Init::kinks), input("dy", d[0])};
                    },
                    [](const OpDims& d) { return Specs{output("y", d[0])}; },
                    [](const OpDims& d) { return Specs{output("dx", d[0])}; },
                    {{"fwd", false, [](const OpDims& d) { return elementwise_cost(d[0], 1, 1, 1); },
                      [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
                        b.relu_forward(s, t[2], t[0], d[0]);
                      }},
                     {"bwd", true, [](const OpDims& d) { return elementwise_cost(d[0], 2, 1, 1); },
                      [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
                        b.relu_backward(s, t[3], t[1], t[0], d[0]);
                      }}},
                    counts});
  // tanh: the backward reads the forward's output y.
  r.push_back(OpDef{"tanh",
                    "N",
                    "y = tanh(x) (tanh_forward); dx = dy * (1 - y^2) (tanh_backward)",
                    false,
                    parse_count,
                    describe_count,
                    [](const OpDims& d) {
                      return Specs{input("x", d[0], Init::uniform, -3, 3), input("dy", d[0])};
                    },
                    [](const OpDims& d) { return Specs{output("y", d[0])}; },
                    [](const OpDims& d) { return Specs{output("dx", d[0])}; },
                    {{"fwd", false, [](const OpDims& d) { return elementwise_cost(d[0], 1, 1, 1); },
                      [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
                        b.tanh_forward(s, t[2], t[0], d[0]);
                      }},
                     {"bwd", true, [](const OpDims& d) { return elementwise_cost(d[0], 2, 1, 3); },
                      [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
                        b.tanh_backward(s, t[3], t[1], t[2], d[0]);
                      }}},
                    counts});
  // sum: out = sum x; backward dx = dout (broadcast_scalar).
  r.push_back(OpDef{"sum",
                    "N",
                    "out = sum(x) (sum); dx = dout (broadcast_scalar)",
                    true,
                    parse_count,
                    describe_count,
                    [](const OpDims& d) {
                      return Specs{input("x", d[0]), input("dout", 1)};
                    },
                    [](const OpDims& d) { return Specs{output("out", 1, double(d[0]))}; },
                    [](const OpDims& d) { return Specs{output("dx", d[0])}; },
                    {{"fwd", false, [](const OpDims& d) { return elementwise_cost(d[0], 1, 0, 1); },
                      [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
                        b.sum(s, t[2], t[0], d[0]);
                      }},
                     {"bwd", true, [](const OpDims& d) { return elementwise_cost(d[0], 0, 1, 0); },
                      [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
                        b.broadcast_scalar(s, t[3], t[1], 1.0f, d[0]);
                      }}},
                    {{1}, {5}, {1000}, {40000}},
                    reduction_workspace});
  // bias_add: in place on y; backward dbias = sum over batch and pixels.
  r.push_back(OpDef{
      "bias_add",
      "N,C,HW",
      "y[b,c,:] += bias[c] (bias_add); dbias[c] = sum dy[:,c,:] (bias_backward)",
      true,
      parse_nchw,
      describe_nchw,
      [](const OpDims& d) {
        return Specs{input("y0", d[0] * d[1] * d[2]), input("bias", d[1]), input("dy", d[0] * d[1] * d[2])};
      },
      [](const OpDims& d) { return Specs{output("y", d[0] * d[1] * d[2], 1, 0)}; },
      [](const OpDims& d) { return Specs{output("dbias", d[1], double(d[0] * d[2]))}; },
      {{"fwd", false, [](const OpDims& d) { return bias_add_cost(int(d[0]), int(d[1]), d[2]); },
        [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
          b.bias_add(s, t[3], t[1], int(d[0]), int(d[1]), d[2]);
        }},
       {"bwd", true, [](const OpDims& d) { return bias_backward_cost(int(d[0]), int(d[1]), d[2]); },
        [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
          b.bias_backward(s, t[4], t[2], int(d[0]), int(d[1]), d[2]);
        }}},
      {{1, 3, 1}, {2, 5, 7}, {8, 4, 16}, {3, 2, 1000}},
      reduction_workspace});
  // bias_relu: bias_add and relu fused, in place on y (a conv's output); the backward from the saved output.
  // BIAS 0: no bias and no bias gradient (the nullptr forms). Every third bias is an exact 0 (Init::kinks), so
  // that the kinks of y0 stay kinks of y0 + bias in those channels.
  r.push_back(OpDef{
      "bias_relu",
      "N,C,HW[,BIAS]",
      "y = max(y + bias[c], 0) in place (bias_relu_forward); dz = dy * (y > 0), dbias = sum dz "
      "(bias_relu_backward)",
      true,
      [](const OpDims& given) {
        OpDims d = given;
        if (d.size() == 3) d.push_back(1);
        TINT_CHECK(d.size() == 4 && d[0] > 0 && d[1] > 0 && d[2] > 0 && (d[3] == 0 || d[3] == 1),
                   "shape '{}' is not N,C,HW[,BIAS] with BIAS 1 (default) or 0 (none)", join(given));
        to_int(d[0], "shape N"), to_int(d[1], "shape C");
        return d;
      },
      [](const OpDims& d) { return describe_nchw(d) + (d[3] ? "" : " no-bias"); },
      [](const OpDims& d) {
        return Specs{input("y0", d[0] * d[1] * d[2], Init::kinks), input("bias", d[1], Init::kinks),
                     input("dy", d[0] * d[1] * d[2])};
      },
      [](const OpDims& d) { return Specs{output("y", d[0] * d[1] * d[2], 1, 0)}; },
      [](const OpDims& d) {
        Specs g{output("dz", d[0] * d[1] * d[2])};
        if (d[3]) g.push_back(output("dbias", d[1], double(d[0] * d[2])));
        return g;
      },
      {{"fwd", false,
        [](const OpDims& d) { return bias_relu_forward_cost(int(d[0]), int(d[1]), d[2], d[3] != 0); },
        [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
          b.bias_relu_forward(s, t[3], d[3] ? t[1] : nullptr, int(d[0]), int(d[1]), d[2]);
        }},
       {"bwd", true,
        [](const OpDims& d) { return bias_relu_backward_cost(int(d[0]), int(d[1]), d[2], d[3] != 0); },
        [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
          b.bias_relu_backward(s, t[4], d[3] ? t[5] : nullptr, t[2], t[3], int(d[0]), int(d[1]), d[2]);
        }}},
      {{1, 3, 7, 1}, {2, 5, 9, 1}, {8, 4, 16, 1}, {3, 2, 1000, 1}, {2, 3, 10, 0}},
      reduction_workspace});
  // concat_channels: y = [a, b]; backward splits dy (split_channels).
  r.push_back(OpDef{
      "concat_channels",
      "N,CA,CB,HW",
      "y = [a, b] along channels (concat_channels); da, db = split dy (split_channels)",
      false,
      [](const OpDims& d) {
        TINT_CHECK(d.size() == 4 && d[0] > 0 && d[1] > 0 && d[2] > 0 && d[3] > 0,
                   "shape '{}' is not N,CA,CB,HW (positive)", join(d));
        return d;
      },
      [](const OpDims& d) { return fmt::format("n{} c{}+{} hw{}", d[0], d[1], d[2], d[3]); },
      [](const OpDims& d) {
        return Specs{input("a", d[0] * d[1] * d[3]), input("b", d[0] * d[2] * d[3]),
                     input("dy", d[0] * (d[1] + d[2]) * d[3])};
      },
      [](const OpDims& d) { return Specs{output("y", d[0] * (d[1] + d[2]) * d[3])}; },
      [](const OpDims& d) {
        return Specs{output("da", d[0] * d[1] * d[3]), output("db", d[0] * d[2] * d[3])};
      },
      {{"fwd", false, [](const OpDims& d) { return concat_cost(int(d[0]), int(d[1]), int(d[2]), d[3]); },
        [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
          b.concat_channels(s, t[3], t[0], t[1], int(d[0]), int(d[1]), int(d[2]), d[3]);
        }},
       {"bwd", true, [](const OpDims& d) { return concat_cost(int(d[0]), int(d[1]), int(d[2]), d[3]); },
        [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
          b.split_channels(s, t[4], t[5], t[2], int(d[0]), int(d[1]), int(d[2]), d[3]);
        }}},
      {{1, 3, 4, 1}, {2, 5, 6, 7}, {8, 4, 5, 16}, {3, 2, 3, 1000}}});
  // The masked losses, with exact ties pred == target where L1's gradient is sign(0) = 0.
  const std::vector<OpDims> loss_shapes = {{1, 2, 1, 0},  {2, 2, 37, 0}, {2, 2, 37, 1}, {2, 2, 37, 2},
                                           {8, 2, 64, 0}, {8, 2, 64, 1}, {8, 2, 64, 2}};
  const auto loss_grads = [](const OpDims& d) { return Specs{output("dpred", d[0] * d[1] * d[2])}; };
  r.push_back(
      OpDef{"l1_loss",
            "N,C,HW[,MASK]",
            "masked mean |pred - target| (l1_loss_forward); dpred (l1_loss_backward)",
            true,
            parse_loss,
            describe_loss,
            loss_inputs,
            loss_outputs,
            loss_grads,
            {{"fwd", false,
              [](const OpDims& d) { return loss_forward_cost(int(d[0]), int(d[1]), d[2], d[3] != 0); },
              loss_forward<true>},
             {"bwd", true,
              [](const OpDims& d) { return loss_backward_cost(int(d[0]), int(d[1]), d[2], d[3] != 0); },
              loss_backward<true>}},
            loss_shapes,
            reduction_workspace});
  r.push_back(
      OpDef{"mse_loss",
            "N,C,HW[,MASK]",
            "masked mean (pred - target)^2 (mse_loss_forward); dpred (mse_loss_backward)",
            true,
            parse_loss,
            describe_loss,
            loss_inputs,
            loss_outputs,
            loss_grads,
            {{"fwd", false,
              [](const OpDims& d) { return loss_forward_cost(int(d[0]), int(d[1]), d[2], d[3] != 0); },
              loss_forward<false>},
             {"bwd", true,
              [](const OpDims& d) { return loss_backward_cost(int(d[0]), int(d[1]), d[2], d[3] != 0); },
              loss_backward<false>}},
            loss_shapes,
            reduction_workspace});
  // adam_step: p, m, v updated in place (lr 1e-2, weight decay 0.05, the third step).
  r.push_back(OpDef{
      "adam_step",
      "N[,DECOUPLED]",
      "one fused Adam (DECOUPLED 0) or AdamW (1) step over N parameters (adam_step)",
      false,
      [](const OpDims& given) {
        OpDims d = given;
        if (d.size() == 1) d.push_back(0);
        TINT_CHECK(d.size() == 2 && d[0] > 0 && (d[1] == 0 || d[1] == 1),
                   "shape '{}' is not N[,DECOUPLED 0|1]", join(given));
        return d;
      },
      [](const OpDims& d) { return fmt::format("n={}{}", d[0], d[1] ? " adamw" : " adam"); },
      [](const OpDims& d) {
        return Specs{input("p", d[0]), input("g", d[0]), input("m", d[0], Init::uniform, -0.1f, 0.1f),
                     input("v", d[0], Init::uniform, 0.0f, 0.01f)};
      },
      [](const OpDims& d) {
        return Specs{output("p_out", d[0], 1, 0), output("m_out", d[0], 1, 2), output("v_out", d[0], 1, 3)};
      },
      [](const OpDims&) { return Specs{}; },
      {{"fwd", false, [](const OpDims& d) { return adam_cost(d[0]); },
        [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
          b.adam_step(s, t[4], t[1], t[5], t[6], d[0], adam_hyper(d));
        }}},
      {{3, 0}, {3, 1}, {1029, 0}, {1029, 1}}});
  // conv2d: the three products; tensors x, w, dy | y | dx, dw.
  r.push_back(OpDef{
      "conv2d",
      "N,C,H,W,COUT,K,S,P (or N,C,H,W,COUT,KH,KW,SH,SW,PH,PW)",
      "y = conv2d(x, w) (conv2d_forward); dx (conv2d_backward_data), dw (conv2d_backward_weight)",
      true,
      parse_conv,
      describe_conv,
      [](const OpDims& d) {
        const Conv2dShape s = conv_shape(d);
        return Specs{shaped(input("x", s.x_size()), x_shape(s)), shaped(input("w", s.w_size()), w_shape(s)),
                     shaped(input("dy", s.y_size()), y_shape(s))};
      },
      [](const OpDims& d) {
        const Conv2dShape s = conv_shape(d);
        return Specs{shaped(output("y", s.y_size(), fwd_terms(s)), y_shape(s))};
      },
      [](const OpDims& d) {
        const Conv2dShape s = conv_shape(d);
        return Specs{shaped(output("dx", s.x_size(), bwd_data_terms(s)), x_shape(s)),
                     shaped(output("dw", s.w_size(), bwd_weight_terms(s)), w_shape(s))};
      },
      {{"fwd", false, [](const OpDims& d) { return conv2d_cost(conv_shape(d), ConvProduct::forward); },
        [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
          b.conv2d_forward(s, t[3], t[0], t[1], conv_shape(d));
        }},
       {"bwd-data", true,
        [](const OpDims& d) { return conv2d_cost(conv_shape(d), ConvProduct::backward_data); },
        [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
          b.conv2d_backward_data(s, t[4], t[2], t[1], conv_shape(d));
        }},
       {"bwd-weight", true,
        [](const OpDims& d) { return conv2d_cost(conv_shape(d), ConvProduct::backward_weight); },
        [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
          b.conv2d_backward_weight(s, t[5], t[0], t[2], conv_shape(d));
        }}},
      {
          {1, 3, 7, 9, 5, 3, 3, 1, 1, 1, 1},    // 3x3 same, odd sizes
          {2, 4, 9, 7, 6, 4, 4, 2, 2, 1, 1},    // 4x4 stride-2 down-sampling
          {1, 4, 6, 6, 4, 3, 3, 2, 2, 0, 0},    // stride 2, no padding
          {1, 5, 1, 1, 3, 1, 1, 1, 1, 0, 0},    // 1x1 spatial
          {1, 6, 1, 1, 4, 3, 3, 1, 1, 1, 1},    // 1x1 spatial, 3x3 kernel: only the centre tap
          {8, 3, 5, 5, 2, 1, 1, 1, 1, 0, 0},    // batch 8, 1x1 head, hw % 4 != 0
          {8, 8, 4, 4, 2, 1, 1, 1, 1, 0, 0},    // batch 8, 1x1 head, float4 paths
          {2, 3, 5, 6, 4, 1, 1, 2, 2, 0, 0},    // 1x1 stride 2: backward-data phases with no taps
          {1, 64, 4, 4, 8, 3, 3, 1, 1, 1, 1},   // deep and small: split-K in every product
          {2, 3, 24, 24, 5, 3, 3, 1, 1, 1, 1},  // backward-weight K = 1152: split-K, float4 dy runs
          {1, 3, 5, 7, 4, 2, 3, 1, 2, 1, 0},    // non-square kernel, stride and padding
      },
      conv_workspace});
  // conv_transpose2d: the same three products with roles swapped (make_conv_transpose2d); tensors
  // x (its input), w (cin_t, cout_t, kh, kw), dy (its output's gradient) | y | dx, dw.
  r.push_back(OpDef{
      "conv_transpose2d",
      "N,C,H,W,COUT,K,S,P[,OUTPAD] (or 13 values: ...,KH,KW,SH,SW,PH,PW,OPH,OPW)",
      "y = conv_transpose2d(x, w) (conv2d_backward_data); dx (conv2d_forward), dw (conv2d_backward_weight)",
      true,
      parse_convt,
      describe_convt,
      [](const OpDims& d) {
        const Conv2dShape s = convt_shape(d);
        return Specs{shaped(input("x", s.y_size()), y_shape(s)), shaped(input("w", s.w_size()), w_shape(s)),
                     shaped(input("dy", s.x_size()), x_shape(s))};
      },
      [](const OpDims& d) {
        const Conv2dShape s = convt_shape(d);
        return Specs{shaped(output("y", s.x_size(), bwd_data_terms(s)), x_shape(s))};
      },
      [](const OpDims& d) {
        const Conv2dShape s = convt_shape(d);
        return Specs{shaped(output("dx", s.y_size(), fwd_terms(s)), y_shape(s)),
                     shaped(output("dw", s.w_size(), bwd_weight_terms(s)), w_shape(s))};
      },
      {{"fwd", false, [](const OpDims& d) { return conv2d_cost(convt_shape(d), ConvProduct::backward_data); },
        [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
          b.conv2d_backward_data(s, t[3], t[0], t[1], convt_shape(d));
        }},
       {"bwd-data", true, [](const OpDims& d) { return conv2d_cost(convt_shape(d), ConvProduct::forward); },
        [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
          b.conv2d_forward(s, t[4], t[2], t[1], convt_shape(d));
        }},
       {"bwd-weight", true,
        [](const OpDims& d) { return conv2d_cost(convt_shape(d), ConvProduct::backward_weight); },
        [](const Backend& b, const Stream& s, float* const* t, const OpDims& d) {
          b.conv2d_backward_weight(s, t[5], t[2], t[0], convt_shape(d));
        }}},
      {
          {2, 6, 4, 5, 3, 4, 4, 2, 2, 1, 1, 0, 0},  // 4x4 s2 (the U-Net's up-sampling)
          {1, 4, 3, 3, 2, 3, 3, 2, 2, 1, 1, 1, 1},  // 3x3 s2 with output padding
      },
      convt_workspace});
  return r;
}

}  // namespace

bool OpDef::has_backward() const {
  return std::any_of(launches.begin(), launches.end(), [](const OpLaunch& l) { return l.backward; });
}

OpCost OpDef::cost(bool backward, const OpDims& dims) const {
  OpCost c;
  for (const OpLaunch& l : launches)
    if (l.backward == backward) {
      const OpCost one = l.cost(dims);
      c.flops += one.flops, c.bytes += one.bytes;
    }
  return c;
}

const std::vector<OpDef>& op_registry() {
  static const std::vector<OpDef> registry = build_registry();
  return registry;
}

const OpDef& find_op(const std::string& name) {
  std::string valid;
  for (const OpDef& op : op_registry()) {
    if (name == op.name) return op;
    if (!valid.empty()) valid += ", ";
    valid += op.name;
  }
  throw Error(fmt::format("unknown op '{}' (valid: {})", name, valid));
}

Conv2dShape conv_shape_of(const OpCase& c, bool* transposed) {
  const std::string name = c.op->name;
  TINT_CHECK(name == "conv2d" || name == "conv_transpose2d", "op {} is not a convolution", name);
  if (transposed) *transposed = name == "conv_transpose2d";
  return name == "conv2d" ? conv_shape(c.dims) : convt_shape(c.dims);
}

std::vector<OpCase> small_op_cases() {
  std::vector<OpCase> cases;
  for (const OpDef& op : op_registry())
    for (const OpDims& d : op.small) cases.push_back({&op, d, "", kSmallCase});
  return cases;
}

std::string OpCase::str() const {
  std::string s = std::string(op->name) + " " + op->describe(dims);
  if (!label.empty()) s += " (" + label + ")";
  return s;
}

OpDims parse_dims(const std::string& text, const std::string& what) {
  OpDims d;
  size_t p = 0;
  while (p <= text.size()) {
    const size_t c = std::min(text.find(',', p), text.size());
    const std::string part = text.substr(p, c - p);
    TINT_CHECK(
        !part.empty() && part.size() <= 12 && part.find_first_not_of("0123456789") == std::string::npos,
        "{}: '{}' is not a list of non-negative integers separated by commas", what, text);
    d.push_back(std::stoll(part));
    p = c + 1;
  }
  return d;
}

std::vector<std::vector<float>> make_op_inputs(const OpDef& op, const OpDims& dims, uint32_t seed) {
  const Specs specs = op.inputs(dims);
  std::vector<std::vector<float>> v(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorSpec& s = specs[i];
    std::mt19937 rng(seed * 1000003u + uint32_t(i) * 7919u + 1u);
    std::uniform_real_distribution<float> dist(s.lo, s.hi);
    std::vector<float>& x = v[i];
    x.resize(size_t(s.size));
    for (float& e : x) {
      switch (s.init) {
        case Init::mask:
          e = rng() % 4 == 0 ? 0.0f : 1.0f;
          break;
        case Init::zeros:
          e = 0.0f;
          break;
        default:
          e = dist(rng);
      }
    }
    if (s.init == Init::kinks)
      for (size_t k = 1; k < x.size(); k += 3) x[k] = k % 2 ? 0.0f : -0.0f;
  }
  // Ties last: the input tied to may come later (pred ties to target).
  for (size_t i = 0; i < specs.size(); ++i)
    if (specs[i].init == Init::ties) {
      TINT_CHECK(
          specs[i].tie_to >= 0 && size_t(specs[i].tie_to) < specs.size() && size_t(specs[i].tie_to) != i,
          "op {}: input {} ties to no other input", op.name, specs[i].name);
      const std::vector<float>& other = v[size_t(specs[i].tie_to)];
      for (size_t k = 0; k < v[i].size() && k < other.size(); k += 3) v[i][k] = other[k];
    }
  return v;
}

double op_tolerance(const TensorSpec& output, const std::string& backend) {
  if (backend == "cpu-ref") return 0.0;
  return std::max(1e-5, 1e-6 * std::sqrt(output.terms));
}

// TF32 keeps 11 significant bits: rounding to nearest leaves each GEMM operand within u = 2^-11 (4.9e-4)
// of itself, each product within about 2u, and the fp32 sums of such products, their errors of either sign,
// within about u of the output's largest element: measured 4.2e-4..8.6e-4 for winograd2-tf32 on eight test
// shapes (tint op conv2d --check on cuda-emu, every product). F(4x4,3x3) samples its polynomials at +-2 and
// +-1/2, and its output transform (entries up to 8) amplifies an error of the transformed domain 8-20x:
// measured 3.4e-3..1.13e-2 for winograd4-tf32 on the same shapes (fp32 shows the same growth: winograd4
// 1.5e-6..7e-6 where the direct product, igemm2, gives 1.1e-7..1.2e-6 on the forward and backward-data).
// The bounds, 4u and 64u, are 2.3x and 2.8x the worst measured, independent of the terms' count (TF32's
// rounding, not fp32's accumulation, dominates). A wrong index or a missed tap is an error of order
// 1/sqrt(terms) of the output's scale, 0.04 and up on the test shapes.
bool is_tf32_variant(const std::string& v) {  // winograd4-tf32x3 is not: it keeps fp32's accuracy
  return v.size() > 5 && v.compare(v.size() - 5, 5, "-tf32") == 0;
}

double op_tolerance(const OpDef& op, const TensorSpec& output, const std::string& backend,
                    const std::string& conv_variant) {
  const bool conv = std::string(op.name) == "conv2d" || std::string(op.name) == "conv_transpose2d";
  if (!conv || !is_tf32_variant(conv_variant)) return op_tolerance(output, backend);
  const double u = std::ldexp(1.0, -11);
  return conv_variant.rfind("winograd2", 0) == 0 ? 4 * u : 64 * u;
}

Comparison compare_outputs(const std::vector<float>& got, const std::vector<float>& ref, bool per_element) {
  Comparison c;
  if (got.size() != ref.size()) {
    c.error = c.max_abs = std::numeric_limits<double>::infinity();
    return c;
  }
  double max_ref = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double diff = std::fabs(double(got[i]) - double(ref[i]));
    if (std::isfinite(ref[i]) && !std::isfinite(got[i])) {
      c.error = c.max_abs = std::numeric_limits<double>::infinity();
      c.worst = int64_t(i);
      return c;
    }
    if (diff > c.max_abs || c.worst < 0) {
      if (diff > c.max_abs) c.max_abs = diff;
      if (diff >= c.max_abs) c.worst = int64_t(i);
    }
    max_ref = std::max(max_ref, std::fabs(double(ref[i])));
    if (per_element)
      c.error = std::max(c.error, std::fabs(double(ref[i])) > 0 ? diff / std::fabs(double(ref[i])) : diff);
  }
  if (!per_element) c.error = max_ref > 0 ? c.max_abs / max_ref : c.max_abs;
  return c;
}

// ---- OpRun ----------------------------------------------------------------------------------------------

OpRun::OpRun(const Backend& backend, const OpDef& op, OpDims dims, std::vector<std::vector<float>> inputs,
             Stream stream, bool with_workspace)
    : b_(backend), op_(op), dims_(std::move(dims)), inputs_(std::move(inputs)), stream_(stream) {
  specs_ = tensor_specs();
  const Specs in = op_.inputs(dims_);
  TINT_CHECK(inputs_.size() == in.size(), "op {}: {} inputs given, {} expected", op_.name, inputs_.size(),
             in.size());
  for (size_t i = 0; i < in.size(); ++i)
    TINT_CHECK(int64_t(inputs_[i].size()) == in[i].size,
               "op {}: input {} has {} elements, the shape {} needs {}", op_.name, in[i].name,
               inputs_[i].size(), op_.describe(dims_), in[i].size);
  try {
    for (const TensorSpec& s : specs_)
      tensors_.push_back(static_cast<float*>(b_.alloc(size_t(std::max<int64_t>(s.size, 1)) * sizeof(float))));
    const size_t ws = with_workspace && op_.workspace ? op_.workspace(b_, dims_) : 0;
    if (ws > 0) {
      workspace_ = b_.alloc(ws);
      stream_.workspace = workspace_, stream_.workspace_bytes = ws;
    } else if (!with_workspace) {
      stream_.workspace = nullptr, stream_.workspace_bytes = 0;
    }
  } catch (...) {
    for (float* p : tensors_) b_.free(p);
    throw;
  }
}

OpRun::~OpRun() {
  for (float* p : tensors_) b_.free(p);
  if (workspace_) b_.free(workspace_);
}

std::vector<TensorSpec> OpRun::tensor_specs() const {
  Specs all = op_.inputs(dims_);
  for (const Specs& part : {op_.outputs(dims_), op_.grads(dims_)})
    all.insert(all.end(), part.begin(), part.end());
  return all;
}

size_t OpRun::output_count() const {
  return specs_.size() - inputs_.size();
}

void OpRun::reset() {
  for (size_t i = 0; i < specs_.size(); ++i) {
    const TensorSpec& s = specs_[i];
    if (s.size == 0) continue;
    if (i < inputs_.size()) {
      b_.copy_from_host(stream_, tensors_[i], inputs_[i].data(), inputs_[i].size() * sizeof(float));
    } else if (s.inplace_of >= 0) {
      const auto& src = inputs_[size_t(s.inplace_of)];
      b_.copy_from_host(stream_, tensors_[i], src.data(), src.size() * sizeof(float));
    } else {
      const std::vector<float> nan(size_t(s.size), std::numeric_limits<float>::quiet_NaN());
      b_.copy_from_host(stream_, tensors_[i], nan.data(), nan.size() * sizeof(float));
      b_.synchronize(stream_);  // the host buffer dies here
    }
  }
  b_.synchronize(stream_);
}

void OpRun::launch(size_t index) {
  op_.launches.at(index).run(b_, stream_, tensors_.data(), dims_);
}

void OpRun::forward() {
  for (size_t i = 0; i < op_.launches.size(); ++i)
    if (!op_.launches[i].backward) launch(i);
}

void OpRun::backward() {
  for (size_t i = 0; i < op_.launches.size(); ++i)
    if (op_.launches[i].backward) launch(i);
}

void OpRun::synchronize() {
  b_.synchronize(stream_);
}

std::vector<float> OpRun::download(size_t tensor) {
  std::vector<float> host(size_t(specs_.at(tensor).size));
  if (!host.empty()) b_.copy_to_host(stream_, host.data(), tensors_[tensor], host.size() * sizeof(float));
  b_.synchronize(stream_);
  return host;
}

std::vector<std::vector<float>> run_op_case(const Backend& backend, const OpDef& op, const OpDims& dims,
                                            const std::vector<std::vector<float>>& inputs, Stream stream,
                                            bool with_workspace) {
  OpRun run(backend, op, dims, inputs, stream, with_workspace);
  run.reset();
  run.forward();
  run.backward();
  std::vector<std::vector<float>> out;
  for (size_t i = run.input_count(); i < run.input_count() + run.output_count(); ++i)
    out.push_back(run.download(i));
  return out;
}

}  // namespace tint
