#include "engine/nn.h"

#include <cmath>

#include "engine/error.h"

namespace tint::nn {

Tensor& Module::register_parameter(const std::string& name, Tensor t) {
  t.set_requires_grad(true);
  params_.emplace_back(name, std::make_unique<Tensor>(std::move(t)));
  return *params_.back().second;
}

void Module::collect(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out) {
  for (auto& [name, t] : params_) out.emplace_back(prefix + name, t.get());
  for (auto& [name, child] : children_) child->collect(prefix + name + ".", out);
}

void Module::name_modules(const std::string& path) {
  path_ = path;
  for (auto& [name, child] : children_) child->name_modules(path.empty() ? name : path + "." + name);
}

std::vector<std::pair<std::string, Tensor*>> Module::named_parameters() {
  if (path_.empty()) name_modules();
  std::vector<std::pair<std::string, Tensor*>> out;
  collect("", out);
  for (auto& [name, t] : out) t->set_name(name);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() {
  std::vector<std::pair<std::string, Module*>> out = {{"", this}};
  for (auto& [name, child] : children_)
    for (auto& [sub, m] : child->named_modules()) out.emplace_back(sub.empty() ? name : name + "." + sub, m);
  return out;
}

std::vector<Tensor*> Module::parameters() {
  std::vector<Tensor*> out;
  for (auto& [name, t] : named_parameters()) out.push_back(t);
  return out;
}

int64_t Module::parameter_count() {
  int64_t n = 0;
  for (Tensor* t : parameters()) n += t->numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [name, child] : children_) child->train(on);
}

void Module::to(Device device) {
  for (auto& [name, t] : named_parameters()) {
    if (t->device() == device) continue;
    Tensor moved = t->detach().to(device);
    moved.set_requires_grad(true);
    moved.set_name(name);
    *t = moved;
  }
}

// ---- Conv2d / ConvTranspose2d -------------------------------------------------------------------------

Conv2d::Conv2d(int in_channels, int out_channels, int kernel, int stride, int padding, Rng& rng, bool with_bias) {
  TINT_CHECK(in_channels > 0 && out_channels > 0 && kernel > 0 && stride > 0 && padding >= 0,
             "Conv2d({}, {}, kernel={}, stride={}, padding={}): invalid arguments", in_channels, out_channels,
             kernel, stride, padding);
  const float bound = 1.0f / std::sqrt(float(in_channels * kernel * kernel));
  weight = &register_parameter("weight", Tensor::uniform({out_channels, in_channels, kernel, kernel}, -bound,
                                                        bound, rng));
  if (with_bias) bias = &register_parameter("bias", Tensor::uniform({out_channels}, -bound, bound, rng));
  options = ops::Conv2dOptions::square(stride, padding);
}

ConvTranspose2d::ConvTranspose2d(int in_channels, int out_channels, int kernel, int stride, int padding,
                                 int output_padding, Rng& rng, bool with_bias) {
  TINT_CHECK(in_channels > 0 && out_channels > 0 && kernel > 0 && stride > 0 && padding >= 0 &&
                 output_padding >= 0,
             "ConvTranspose2d({}, {}, kernel={}, stride={}, padding={}, output_padding={}): invalid arguments",
             in_channels, out_channels, kernel, stride, padding, output_padding);
  const float bound = 1.0f / std::sqrt(float(out_channels * kernel * kernel));
  weight = &register_parameter("weight", Tensor::uniform({in_channels, out_channels, kernel, kernel}, -bound,
                                                        bound, rng));
  if (with_bias) bias = &register_parameter("bias", Tensor::uniform({out_channels}, -bound, bound, rng));
  options = ops::Conv2dOptions::square(stride, padding, output_padding);
}

Tensor Conv2d::forward(const Tensor& x) { return ops::conv2d(x, *weight, bias ? *bias : Tensor(), options); }

Tensor Conv2d::forward_relu(const Tensor& x, const Tensor& out) {
  profiler::Scope scope(path());
  return ops::conv2d(x, *weight, bias ? *bias : Tensor(), options, ops::Activation::relu, out);
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  return ops::conv_transpose2d(x, *weight, bias ? *bias : Tensor(), options);
}

Tensor ConvTranspose2d::forward_relu(const Tensor& x, const Tensor& out) {
  profiler::Scope scope(path());
  return ops::conv_transpose2d(x, *weight, bias ? *bias : Tensor(), options, ops::Activation::relu, out);
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& layer : layers_) h = (*layer)(h);
  return h;
}

// ---- flat parameters ----------------------------------------------------------------------------------

void FlatParameters::zero_grad() {
  for (auto& [name, t] : named) t->impl()->grad_zero_pending = true;
}

void FlatParameters::finish_grads() {
  for (size_t i = 0; i < named.size(); ++i) {
    TensorImpl* impl = named[i].second->impl();
    if (!impl->grad_zero_pending) continue;
    grads.narrow(offsets[i], named[i].second->numel()).fill_(0.f);
    impl->grad_zero_pending = false;
  }
}

std::vector<char> FlatParameters::pending_marks() const {
  std::vector<char> marks;
  for (const auto& [name, t] : named) marks.push_back(t->impl()->grad_zero_pending);
  return marks;
}

void FlatParameters::set_pending_marks(const std::vector<char>& marks) {
  TINT_CHECK(marks.size() == named.size(), "set_pending_marks: {} marks for {} parameters", marks.size(),
             named.size());
  for (size_t i = 0; i < named.size(); ++i) named[i].second->impl()->grad_zero_pending = marks[i] != 0;
}

FlatParameters flatten_parameters(Module& module, Device device) {
  FlatParameters flat;
  flat.named = module.named_parameters();
  for (auto& [name, t] : flat.named) {
    flat.offsets.push_back(flat.total);
    flat.total += (t->numel() + 3) / 4 * 4;
  }
  flat.params = Tensor::zeros({flat.total}, device);
  flat.grads = Tensor::zeros({flat.total}, device);
  for (size_t i = 0; i < flat.named.size(); ++i) {
    auto& [name, t] = flat.named[i];
    Tensor p = flat.params.narrow(flat.offsets[i], t->numel()).reshape(t->shape());
    p.copy_(*t);
    Tensor g = flat.grads.narrow(flat.offsets[i], t->numel()).reshape(t->shape());
    p.set_requires_grad(true);
    p.set_name(name);
    p.set_grad(g);
    *t = p;
  }
  return flat;
}

}  // namespace tint::nn
