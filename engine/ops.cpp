#include "engine/ops.h"

#include <cmath>

#include "engine/error.h"

namespace tint::ops {

namespace {

DeviceRuntime& rt_of(const Tensor& t) { return runtime(t.device()); }

void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  TINT_CHECK(a.device() == b.device(), "{}: inputs on different devices ({} and {})", op, a.device().str(),
             b.device().str());
}

void check_4d(const char* op, const char* what, const Tensor& t) {
  TINT_CHECK(t.defined(), "{}: {} is undefined", op, what);
  TINT_CHECK(t.dim() == 4, "{}: {} must be 4-D (N, C, H, W), got {}", op, what, shape_str(t.shape()));
}

// ---- conv2d / conv_transpose2d ------------------------------------------------------------------------

void check_bias(const char* op, const Tensor& x, const Tensor& bias, int64_t channels) {
  if (!bias.defined()) return;
  check_same_device(op, x, bias);
  TINT_CHECK(bias.dim() == 1 && bias.size(0) == channels, "{}: bias {} does not match {} output channels", op,
             shape_str(bias.shape()), channels);
}

void run_with_workspace(DeviceRuntime& rt, const Conv2dShape& s) {
  if (rt.backend.conv2d_workspace_bytes) rt.ensure_workspace(rt.backend.conv2d_workspace_bytes(s));
}

struct ConvNode : Node {
  Conv2dShape shape;  // the convolution's shape (for a transposed conv: the one it is the transpose of)
  bool transposed = false;
  Tensor x, w;  // saved
  bool has_bias = false;
  bool relu = false;  // Activation::relu: the node's output is relu(conv + bias)
  Tensor y;           // saved for the ReLU's backward (detached: saving it attached would be a cycle)
  const char* name() const override { return transposed ? "conv_transpose2d" : "conv2d"; }
  void release() override { x = w = y = Tensor(); }
  std::vector<std::pair<const char*, const Tensor*>> saved() const override {
    if (relu) return {{"x", &x}, {"w", &w}, {"y", &y}};
    return {{"x", &x}, {"w", &w}};
  }
  std::vector<Tensor> backward(const Tensor& g_out) override {
    auto& rt = runtime(g_out.device());
    run_with_workspace(rt, shape);
    const int n = int(g_out.size(0)), c = int(g_out.size(1));
    const int64_t hw = g_out.size(2) * g_out.size(3);
    // The weight and bias gradients go straight into the parameters' gradients where those are pending
    // zero (claim_leaf_gradient), and are then not returned.
    Tensor db, db_in_place;
    const bool want_db = has_bias && inputs[2].defined();
    if (want_db) {
      db_in_place = claim_leaf_gradient(inputs[2]);
      db = db_in_place.defined() ? db_in_place : Tensor::empty({c}, g_out.device());
    }
    // g: the gradient at the convolution's output. With the ReLU, dz = dy * (y > 0), and the bias gradient
    // comes from the same pass.
    Tensor g = g_out;
    if (relu) {
      g = Tensor::empty(g_out.shape(), g_out.device());
      rt.backend.bias_relu_backward(rt.stream, g.data(), want_db ? db.data() : nullptr, g_out.data(), y.data(), n,
                                    c, hw);
    }
    Tensor dx, dw;
    if (inputs[0].defined()) {
      dx = Tensor::empty(x.shape(), g.device());
      if (!transposed)
        rt.backend.conv2d_backward_data(rt.stream, dx.data(), g.data(), w.data(), shape);
      else  // d x_t = conv2d(d y_t, W)
        rt.backend.conv2d_forward(rt.stream, dx.data(), g.data(), w.data(), shape);
    }
    Tensor dw_in_place;
    if (inputs[1].defined()) {
      dw_in_place = claim_leaf_gradient(inputs[1]);
      dw = dw_in_place.defined() ? dw_in_place : Tensor::empty(w.shape(), g.device());
      if (!transposed)
        rt.backend.conv2d_backward_weight(rt.stream, dw.data(), x.data(), g.data(), shape);
      else  // dW = conv2d_backward_weight(x = d y_t, dy = x_t)
        rt.backend.conv2d_backward_weight(rt.stream, dw.data(), g.data(), x.data(), shape);
    }
    if (want_db && !relu) rt.backend.bias_backward(rt.stream, db.data(), g.data(), n, c, hw);
    return {dx, dw_in_place.defined() ? Tensor() : dw, db_in_place.defined() ? Tensor() : db};
  }
};

// The tensor a convolution writes its output of `shape` into: `out` if the caller gave one, else a new one.
Tensor conv_output(const char* op, const Shape& shape, const Tensor& x, const Tensor& out) {
  if (!out.defined()) return Tensor::empty(shape, x.device());
  TINT_CHECK(out.shape() == shape && out.device() == x.device(), "{}: output tensor {} on {}, expected {} on {}", op,
             shape_str(out.shape()), out.device().str(), shape_str(shape), x.device().str());
  TINT_CHECK(!out.grad_fn() && !out.requires_grad(),
             "{}: the output tensor given is part of an autograd graph; pass a fresh one", op);
  return out;
}

// The bias (and the ReLU) on a convolution's fresh output y (n, c, hw), in place.
void finish_conv(DeviceRuntime& rt, Tensor& y, const Tensor& bias, Activation act, int n, int c, int64_t hw) {
  const float* b = bias.defined() ? bias.data() : nullptr;
  if (act == Activation::relu)
    rt.backend.bias_relu_forward(rt.stream, y.data(), b, n, c, hw);
  else if (b)
    rt.backend.bias_add(rt.stream, y.data(), b, n, c, hw);
}

// y = the convolution product `plain(a, w)`, then its bias and ReLU: applied by `fused` as it stores y,
// where the backend has it (conv2d_forward_epilogue, conv2d_backward_data_epilogue) and its algorithm for
// the shape can, else as a separate pass (finish_conv). c channels of hw pixels, n images.
using PlainConv = void (*)(const Stream&, float*, const float*, const float*, const Conv2dShape&);
using FusedConv = bool (*)(const Stream&, float*, const float*, const float*, const float*, bool, const Conv2dShape&);
void conv_with_epilogue(DeviceRuntime& rt, Tensor& y, const Tensor& a, const Tensor& w, const Tensor& bias,
                        Activation act, const Conv2dShape& s, int c, int64_t hw, FusedConv fused, PlainConv plain) {
  const float* b = bias.defined() ? bias.data() : nullptr;
  const bool relu = act == Activation::relu;
  if (fused && (b || relu)) {
    if (fused(rt.stream, y.data(), a.data(), w.data(), b, relu, s)) return;  // false: it stored the plain product
  } else {
    plain(rt.stream, y.data(), a.data(), w.data(), s);
  }
  finish_conv(rt, y, bias, act, s.n, c, hw);
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& o, Activation act,
              const Tensor& out) {
  const char* op = "conv2d";
  check_4d(op, "input", x);
  check_4d(op, "weight", weight);
  check_same_device(op, x, weight);
  TINT_CHECK(weight.size(1) == x.size(1), "conv2d: input {} has {} channels but weight {} expects {}",
             shape_str(x.shape()), x.size(1), shape_str(weight.shape()), weight.size(1));
  check_bias(op, x, bias, weight.size(0));
  Conv2dShape s = make_conv2d(int(x.size(0)), int(x.size(1)), int(x.size(2)), int(x.size(3)),
                              int(weight.size(0)), int(weight.size(2)), int(weight.size(3)), o.stride_h,
                              o.stride_w, o.pad_h, o.pad_w);
  auto& rt = rt_of(x);
  run_with_workspace(rt, s);
  Tensor y = conv_output(op, {s.n, s.c_out, s.h_out, s.w_out}, x, out);
  conv_with_epilogue(rt, y, x, weight, bias, act, s, s.c_out, int64_t(s.h_out) * s.w_out,
                     rt.backend.conv2d_forward_epilogue, rt.backend.conv2d_forward);
  if (needs_grad({&x, &weight, &bias})) {
    auto node = std::make_shared<ConvNode>();
    node->shape = s;
    node->x = x.detach();
    node->w = weight.detach();
    node->has_bias = bias.defined();
    node->relu = act == Activation::relu;
    if (node->relu) node->y = y.detach();
    record(y, node, {&x, &weight, &bias});
  }
  return y;
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dOptions& o,
                        Activation act, const Tensor& out) {
  const char* op = "conv_transpose2d";
  check_4d(op, "input", x);
  check_4d(op, "weight", weight);
  check_same_device(op, x, weight);
  TINT_CHECK(weight.size(0) == x.size(1), "conv_transpose2d: input {} has {} channels but weight {} expects {}",
             shape_str(x.shape()), x.size(1), shape_str(weight.shape()), weight.size(0));
  check_bias(op, x, bias, weight.size(1));
  Conv2dShape s = make_conv_transpose2d(int(x.size(0)), int(x.size(1)), int(x.size(2)), int(x.size(3)),
                                        int(weight.size(1)), int(weight.size(2)), int(weight.size(3)), o.stride_h,
                                        o.stride_w, o.pad_h, o.pad_w, o.out_pad_h, o.out_pad_w);
  auto& rt = rt_of(x);
  run_with_workspace(rt, s);
  Tensor y = conv_output(op, {s.n, s.c_in, s.h_in, s.w_in}, x, out);
  conv_with_epilogue(rt, y, x, weight, bias, act, s, s.c_in, int64_t(s.h_in) * s.w_in,
                     rt.backend.conv2d_backward_data_epilogue, rt.backend.conv2d_backward_data);
  if (needs_grad({&x, &weight, &bias})) {
    auto node = std::make_shared<ConvNode>();
    node->shape = s;
    node->transposed = true;
    node->x = x.detach();
    node->w = weight.detach();
    node->has_bias = bias.defined();
    node->relu = act == Activation::relu;
    if (node->relu) node->y = y.detach();
    record(y, node, {&x, &weight, &bias});
  }
  return y;
}

// ---- concat -------------------------------------------------------------------------------------------

namespace {
struct ConcatNode : Node {
  int n = 0, ca = 0, cb = 0;
  int64_t hw = 0;
  Shape a_shape, b_shape;
  const char* name() const override { return "concat_channels"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    // One image: each input's gradient is a contiguous slice of g, so a view (gradients are never
    // written in place: autograd's sums make new tensors).
    if (n == 1)
      return {inputs[0].defined() ? g.narrow_channels(0, ca) : Tensor(),
              inputs[1].defined() ? g.narrow_channels(ca, cb) : Tensor()};
    auto& rt = runtime(g.device());
    Tensor da = inputs[0].defined() ? Tensor::empty(a_shape, g.device()) : Tensor();
    Tensor db = inputs[1].defined() ? Tensor::empty(b_shape, g.device()) : Tensor();
    rt.backend.split_channels(rt.stream, da.defined() ? da.data() : nullptr, db.defined() ? db.data() : nullptr,
                              g.data(), n, ca, cb, hw);
    return {da, db};
  }
};
}  // namespace

Tensor concat_channels(const Tensor& a, const Tensor& b) {
  const char* op = "concat_channels";
  check_4d(op, "first input", a);
  check_4d(op, "second input", b);
  check_same_device(op, a, b);
  TINT_CHECK(a.size(0) == b.size(0) && a.size(2) == b.size(2) && a.size(3) == b.size(3),
             "concat_channels: shapes {} and {} differ outside the channel dimension", shape_str(a.shape()),
             shape_str(b.shape()));
  int n = int(a.size(0)), ca = int(a.size(1)), cb = int(b.size(1));
  int64_t hw = a.size(2) * a.size(3);
  const bool side_by_side = n == 1 && a.impl()->storage == b.impl()->storage &&
                            a.impl()->offset + a.numel() == b.impl()->offset;
  Tensor y;
  if (side_by_side) {  // a view of both: the storage from a's first element, with the concat's shape
    y = a.storage_view({n, ca + cb, a.size(2), a.size(3)}, a.impl()->offset);
  } else {
    y = Tensor::empty({n, ca + cb, a.size(2), a.size(3)}, a.device());
    auto& rt = rt_of(a);
    rt.backend.concat_channels(rt.stream, y.data(), a.data(), b.data(), n, ca, cb, hw);
  }
  if (needs_grad({&a, &b})) {
    auto node = std::make_shared<ConcatNode>();
    node->n = n, node->ca = ca, node->cb = cb, node->hw = hw;
    node->a_shape = a.shape(), node->b_shape = b.shape();
    record(y, node, {&a, &b});
  }
  return y;
}

// ---- activations --------------------------------------------------------------------------------------

namespace {
struct ReluNode : Node {
  Tensor x;
  const char* name() const override { return "relu"; }
  void release() override { x = Tensor(); }
  std::vector<std::pair<const char*, const Tensor*>> saved() const override { return {{"x", &x}}; }
  std::vector<Tensor> backward(const Tensor& g) override {
    auto& rt = runtime(g.device());
    Tensor dx = Tensor::empty(g.shape(), g.device());
    rt.backend.relu_backward(rt.stream, dx.data(), g.data(), x.data(), g.numel());
    return {dx};
  }
};
struct TanhNode : Node {
  Tensor y;  // the output, detached (saving it attached would be a reference cycle)
  const char* name() const override { return "tanh"; }
  void release() override { y = Tensor(); }
  std::vector<std::pair<const char*, const Tensor*>> saved() const override { return {{"y", &y}}; }
  std::vector<Tensor> backward(const Tensor& g) override {
    auto& rt = runtime(g.device());
    Tensor dx = Tensor::empty(g.shape(), g.device());
    rt.backend.tanh_backward(rt.stream, dx.data(), g.data(), y.data(), g.numel());
    return {dx};
  }
};
}  // namespace

Tensor relu(const Tensor& x) {
  TINT_CHECK(x.defined(), "relu: input is undefined");
  Tensor y = Tensor::empty(x.shape(), x.device());
  auto& rt = rt_of(x);
  rt.backend.relu_forward(rt.stream, y.data(), x.data(), x.numel());
  if (needs_grad({&x})) {
    auto node = std::make_shared<ReluNode>();
    node->x = x.detach();
    record(y, node, {&x});
  }
  return y;
}

Tensor tanh(const Tensor& x) {
  TINT_CHECK(x.defined(), "tanh: input is undefined");
  Tensor y = Tensor::empty(x.shape(), x.device());
  auto& rt = rt_of(x);
  rt.backend.tanh_forward(rt.stream, y.data(), x.data(), x.numel());
  if (needs_grad({&x})) {
    auto node = std::make_shared<TanhNode>();
    node->y = y.detach();
    record(y, node, {&x});
  }
  return y;
}

// ---- add, scale, sum, mean ----------------------------------------------------------------------------

namespace {
struct AddNode : Node {
  const char* name() const override { return "add"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {g, g}; }
};
struct ScaleNode : Node {
  float alpha = 1;
  const char* name() const override { return "scale"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    auto& rt = runtime(g.device());
    Tensor dx = Tensor::empty(g.shape(), g.device());
    rt.backend.scale(rt.stream, dx.data(), g.data(), alpha, g.numel());
    return {dx};
  }
};
struct SumNode : Node {
  Shape input_shape;
  float alpha = 1;  // 1 for sum, 1/n for mean
  bool is_mean = false;
  const char* name() const override { return is_mean ? "mean" : "sum"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    auto& rt = runtime(g.device());
    Tensor dx = Tensor::empty(input_shape, g.device());
    rt.backend.broadcast_scalar(rt.stream, dx.data(), g.data(), alpha, dx.numel());
    return {dx};
  }
};

Tensor reduce_sum(const Tensor& x, bool mean) {
  TINT_CHECK(x.defined() && x.numel() > 0, "{}: input is undefined or empty", mean ? "mean" : "sum");
  auto& rt = rt_of(x);
  Tensor total = Tensor::empty({}, x.device());
  rt.backend.sum(rt.stream, total.data(), x.data(), x.numel());
  const float alpha = mean ? float(1.0 / double(x.numel())) : 1.0f;
  Tensor y = total;
  if (mean) {
    y = Tensor::empty({}, x.device());
    rt.backend.scale(rt.stream, y.data(), total.data(), alpha, 1);
  }
  if (needs_grad({&x})) {
    auto node = std::make_shared<SumNode>();
    node->input_shape = x.shape();
    node->alpha = alpha;
    node->is_mean = mean;
    record(y, node, {&x});
  }
  return y;
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  TINT_CHECK(a.defined() && b.defined(), "add: an input is undefined");
  check_same_device("add", a, b);
  TINT_CHECK(a.shape() == b.shape(), "add: shapes {} and {} differ (no broadcasting)", shape_str(a.shape()),
             shape_str(b.shape()));
  Tensor y = Tensor::empty(a.shape(), a.device());
  auto& rt = rt_of(a);
  rt.backend.add(rt.stream, y.data(), a.data(), b.data(), a.numel());
  if (needs_grad({&a, &b})) record(y, std::make_shared<AddNode>(), {&a, &b});
  return y;
}

Tensor scale(const Tensor& x, float alpha) {
  TINT_CHECK(x.defined(), "scale: input is undefined");
  Tensor y = Tensor::empty(x.shape(), x.device());
  auto& rt = rt_of(x);
  rt.backend.scale(rt.stream, y.data(), x.data(), alpha, x.numel());
  if (needs_grad({&x})) {
    auto node = std::make_shared<ScaleNode>();
    node->alpha = alpha;
    record(y, node, {&x});
  }
  return y;
}

Tensor sum(const Tensor& x) { return reduce_sum(x, false); }
Tensor mean(const Tensor& x) { return reduce_sum(x, true); }

// ---- losses -------------------------------------------------------------------------------------------

namespace {
struct LossNode : Node {
  bool l1 = true;
  Tensor pred, target, mask, loss2;  // saved; loss2 holds [loss, count]
  int n = 0, c = 0;
  int64_t hw = 0;
  const char* name() const override { return l1 ? "l1_loss" : "mse_loss"; }
  void release() override { pred = target = mask = loss2 = Tensor(); }
  std::vector<std::pair<const char*, const Tensor*>> saved() const override {
    return {{"pred", &pred}, {"target", &target}, {"mask", &mask}, {"partial sums", &loss2}};
  }
  std::vector<Tensor> backward(const Tensor& g) override {
    auto& rt = runtime(g.device());
    Tensor dpred = Tensor::empty(pred.shape(), g.device());
    auto fn = l1 ? rt.backend.l1_loss_backward : rt.backend.mse_loss_backward;
    fn(rt.stream, dpred.data(), g.data(), loss2.data(), pred.data(), target.data(),
       mask.defined() ? mask.data() : nullptr, n, c, hw);
    return {dpred, Tensor()};
  }
};

Tensor masked_loss(const Tensor& pred, const Tensor& target, const Tensor& mask, bool l1, double count) {
  const char* op = l1 ? "l1_loss" : "mse_loss";
  check_4d(op, "prediction", pred);
  check_4d(op, "target", target);
  check_same_device(op, pred, target);
  TINT_CHECK(pred.shape() == target.shape(), "{}: prediction {} and target {} differ", op, shape_str(pred.shape()),
             shape_str(target.shape()));
  if (mask.defined()) {
    check_4d(op, "mask", mask);
    check_same_device(op, pred, mask);
    TINT_CHECK(mask.size(0) == pred.size(0) && mask.size(1) == 1 && mask.size(2) == pred.size(2) &&
                   mask.size(3) == pred.size(3),
               "{}: mask {} must be (N, 1, H, W) for prediction {}", op, shape_str(mask.shape()),
               shape_str(pred.shape()));
  }
  int n = int(pred.size(0)), c = int(pred.size(1));
  int64_t hw = pred.size(2) * pred.size(3);
  auto& rt = rt_of(pred);
  Tensor loss2 = Tensor::empty({2}, pred.device());
  auto fn = l1 ? rt.backend.l1_loss_forward : rt.backend.mse_loss_forward;
  fn(rt.stream, loss2.data(), pred.data(), target.data(), mask.defined() ? mask.data() : nullptr, n, c, hw);
  if (count > 0) {
    // Backward reads the count from loss2[1]: replacing it there is all the gradient needs. The value is
    // rescaled in double (it is only reported; the gradient does not depend on it).
    const std::vector<float> own = loss2.to_vector();
    const float both[2] = {float(double(own[0]) * double(own[1]) / count), float(count)};
    rt.backend.copy_from_host(rt.stream, loss2.data(), both, sizeof both);
    rt.synchronize();  // `both` dies on return
  }
  Tensor loss = loss2.narrow(0, 1).reshape({});
  if (needs_grad({&pred, &target})) {
    TINT_CHECK(!target.requires_grad(), "{}: the target must not require a gradient", op);
    auto node = std::make_shared<LossNode>();
    node->l1 = l1;
    node->pred = pred.detach();
    node->target = target.detach();
    node->mask = mask.defined() ? mask.detach() : Tensor();
    node->loss2 = loss2;
    node->n = n, node->c = c, node->hw = hw;
    record(loss, node, {&pred, &target});
  }
  return loss;
}
}  // namespace

Tensor l1_loss(const Tensor& pred, const Tensor& target, const Tensor& mask, double count) {
  TINT_CHECK(count >= 0, "l1_loss: count {} must be >= 0 (0: the call's own count)", count);
  return masked_loss(pred, target, mask, true, count);
}
Tensor mse_loss(const Tensor& pred, const Tensor& target, const Tensor& mask, double count) {
  TINT_CHECK(count >= 0, "mse_loss: count {} must be >= 0 (0: the call's own count)", count);
  return masked_loss(pred, target, mask, false, count);
}

// ---- classification ------------------------------------------------------------------------------------

namespace {
struct SoftmaxCrossEntropyNode : Node {
  Tensor logits, target, weight, mask, loss2;  // saved; loss2 holds [loss, count]
  int n = 0, k = 0;
  int64_t hw = 0;
  const char* name() const override { return "softmax_cross_entropy"; }
  void release() override { logits = target = weight = mask = loss2 = Tensor(); }
  std::vector<std::pair<const char*, const Tensor*>> saved() const override {
    return {{"logits", &logits},
            {"target", &target},
            {"weight", &weight},
            {"mask", &mask},
            {"partial sums", &loss2}};
  }
  std::vector<Tensor> backward(const Tensor& g) override {
    auto& rt = runtime(g.device());
    Tensor dlogits = Tensor::empty(logits.shape(), g.device());
    rt.backend.softmax_ce_backward(rt.stream, dlogits.data(), g.data(), loss2.data(), logits.data(),
                                   target.data(), weight.defined() ? weight.data() : nullptr,
                                   mask.defined() ? mask.data() : nullptr, n, k, hw);
    return {dlogits, Tensor()};
  }
};

void check_per_pixel(const char* op, const char* what, const Tensor& t, const Tensor& logits) {
  if (!t.defined()) return;
  check_4d(op, what, t);
  check_same_device(op, logits, t);
  TINT_CHECK(t.size(0) == logits.size(0) && t.size(1) == 1 && t.size(2) == logits.size(2) &&
                 t.size(3) == logits.size(3),
             "{}: {} {} must be (N, 1, H, W) for logits {}", op, what, shape_str(t.shape()),
             shape_str(logits.shape()));
  TINT_CHECK(!t.requires_grad(), "{}: the {} must not require a gradient", op, what);
}
}  // namespace

Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight,
                             const Tensor& mask) {
  const char* op = "softmax_cross_entropy";
  check_4d(op, "logits", logits);
  check_4d(op, "target", target);
  check_same_device(op, logits, target);
  TINT_CHECK(logits.shape() == target.shape(), "{}: logits {} and target {} differ", op,
             shape_str(logits.shape()), shape_str(target.shape()));
  TINT_CHECK(!target.requires_grad(), "{}: the target must not require a gradient", op);
  check_per_pixel(op, "weight", weight, logits);
  check_per_pixel(op, "mask", mask, logits);
  const int n = int(logits.size(0)), k = int(logits.size(1));
  const int64_t hw = logits.size(2) * logits.size(3);
  auto& rt = rt_of(logits);
  Tensor loss2 = Tensor::empty({2}, logits.device());
  rt.backend.softmax_ce_forward(rt.stream, loss2.data(), logits.data(), target.data(),
                                weight.defined() ? weight.data() : nullptr,
                                mask.defined() ? mask.data() : nullptr, n, k, hw);
  Tensor loss = loss2.narrow(0, 1).reshape({});
  if (needs_grad({&logits, &target})) {
    auto node = std::make_shared<SoftmaxCrossEntropyNode>();
    node->logits = logits.detach();
    node->target = target.detach();
    node->weight = weight.defined() ? weight.detach() : Tensor();
    node->mask = mask.defined() ? mask.detach() : Tensor();
    node->loss2 = loss2;
    node->n = n, node->k = k, node->hw = hw;
    record(loss, node, {&logits, &target});
  }
  return loss;
}

Tensor annealed_mean_decode(const Tensor& logits, const Tensor& centres, float temperature) {
  const char* op = "annealed_mean_decode";
  check_4d(op, "logits", logits);
  TINT_CHECK(
      centres.defined() && centres.dim() == 2 && centres.size(0) == logits.size(1) && centres.size(1) == 2,
      "{}: centres {} must be (K, 2) for logits {}", op,
      centres.defined() ? shape_str(centres.shape()) : "undefined", shape_str(logits.shape()));
  check_same_device(op, logits, centres);
  TINT_CHECK(std::isfinite(temperature), "{}: temperature {} is not finite", op, temperature);
  const int n = int(logits.size(0)), k = int(logits.size(1));
  const int64_t hw = logits.size(2) * logits.size(3);
  Tensor ab = Tensor::empty({n, 2, logits.size(2), logits.size(3)}, logits.device());
  auto& rt = rt_of(logits);
  rt.backend.annealed_mean_decode(rt.stream, ab.data(), logits.data(), centres.data(), temperature, n, k, hw);
  return ab;
}

}  // namespace tint::ops
