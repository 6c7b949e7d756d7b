// nn: modules with named parameters, as in PyTorch, so checkpoints use the same dotted names
// ("down.0.conv1.weight") and the same default initialisation.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/ops.h"
#include "engine/profiler.h"

namespace tint::nn {

class Module {
 public:
  virtual ~Module() = default;
  virtual Tensor forward(const Tensor& x) = 0;
  // forward, with the ops inside named after this module's path for the profiler.
  Tensor operator()(const Tensor& x) {
    profiler::Scope scope(path_);
    return forward(x);
  }

  // The module's dotted path in its model ("down.2.conv1"), set by name_modules() on the root (and by
  // named_parameters()).
  const std::string& path() const { return path_; }
  void name_modules(const std::string& path = "");

  // Every parameter of this module and its children, depth first in registration order, with dotted names.
  std::vector<std::pair<std::string, Tensor*>> named_parameters();
  std::vector<Tensor*> parameters();
  // This module ("") and every descendant, depth first in registration order, with dotted names
  // ("down.1.conv1"): what a tool walks to learn the layers without running the model.
  std::vector<std::pair<std::string, Module*>> named_modules();
  int64_t parameter_count();

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // Moves every parameter to `device` (a new leaf each, keeping requires_grad and name).
  void to(Device device);

 protected:
  Tensor& register_parameter(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }

 private:
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Tensor*>>& out);
  std::vector<std::pair<std::string, std::unique_ptr<Tensor>>> params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
  std::string path_;
};

// PyTorch's default for Conv2d and ConvTranspose2d: weight ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (that is
// kaiming_uniform with a = sqrt(5)) and the same bound for the bias, with fan_in = weight.size(1) * kh * kw
// (for a transposed conv weight.size(1) is its output channels, as PyTorch computes it).
class Conv2d : public Module {
 public:
  Conv2d(int in_channels, int out_channels, int kernel, int stride, int padding, Rng& rng, bool bias = true);
  Tensor forward(const Tensor& x) override;
  // relu(forward(x)) as one fused op (ops::Activation::relu): the same bits, one pass fewer each way.
  // `out`: where the result goes, as for ops::conv2d.
  Tensor forward_relu(const Tensor& x, const Tensor& out = Tensor());
  Tensor* weight = nullptr;  // the registered parameters (stable slots: moving or flattening replaces
  Tensor* bias = nullptr;    // the tensor in the slot, so these always see the current one)
  ops::Conv2dOptions options;
};

class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int in_channels, int out_channels, int kernel, int stride, int padding, int output_padding,
                  Rng& rng, bool bias = true);
  Tensor forward(const Tensor& x) override;
  Tensor forward_relu(const Tensor& x, const Tensor& out = Tensor());  // as Conv2d::forward_relu
  Tensor* weight = nullptr;
  Tensor* bias = nullptr;
  ops::Conv2dOptions options;
};

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override { return ops::relu(x); }
};

class Tanh : public Module {
 public:
  Tensor forward(const Tensor& x) override { return ops::tanh(x); }
};

// Runs its children in order; their names are their indices ("0", "1", ...), as in torch.nn.Sequential.
class Sequential : public Module {
 public:
  Sequential() = default;
  template <class M>
  Sequential& add(std::shared_ptr<M> m) {
    layers_.push_back(register_module(std::to_string(layers_.size()), std::move(m)));
    return *this;
  }
  Tensor forward(const Tensor& x) override;
  size_t size() const { return layers_.size(); }

 private:
  std::vector<std::shared_ptr<Module>> layers_;
};

// All parameters of a module, their gradients and (for the optimiser) extra per-parameter state, each in
// one flat buffer: parameters become views into `params`, their gradients views into `grads`. A training
// step then zeroes all gradients with one fill and updates all weights with one Adam launch.
// Each parameter starts on a 16-byte boundary (float4 access); the gaps stay zero.
struct FlatParameters {
  Tensor params;  // (total,)
  Tensor grads;   // (total,)
  std::vector<std::pair<std::string, Tensor*>> named;
  std::vector<int64_t> offsets;  // of each parameter in the flat buffers
  int64_t total = 0;
  // Marks every gradient zero without writing it: the next backward overwrites each one it reaches
  // (TensorImpl::grad_zero_pending). Read `grads` only after finish_grads().
  void zero_grad();
  // Zeroes the gradients still pending (no backward reached them since zero_grad). The optimiser and the
  // gradient all-reduce call it before they read `grads`.
  void finish_grads();
  // The pending-zero marks, one per parameter. A replayed backward (engine/graph.h) writes the gradients
  // without running the host code that clears the marks: take them after its capture and set them back
  // after each replay, as if it had run.
  std::vector<char> pending_marks() const;
  void set_pending_marks(const std::vector<char>& marks);
};
// Moves the module's parameters into flat buffers on `device`.
FlatParameters flatten_parameters(Module& module, Device device);

}  // namespace tint::nn
