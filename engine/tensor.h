// Tensor: float32, NCHW, contiguous, on a Device, with reference-counted storage.
//
// A Tensor is a handle: copies share the same data and autograd state. Views (reshape, narrow along the
// first dimension) share storage without copying; every tensor is contiguous, so kernels get raw pointers.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"

namespace tint {

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);  // "(8, 2, 256, 256)"
int64_t shape_numel(const Shape& s);

class Rng;
struct Node;

// Device memory, returned to its device's caching allocator when the last tensor using it goes.
struct Storage {
  Device device;
  float* data = nullptr;
  int64_t numel = 0;
  Storage(Device d, int64_t n);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  Shape strides;
  bool requires_grad = false;
  std::shared_ptr<struct TensorImpl> grad;  // accumulated gradient (leaves), same shape and device
  // The gradient is zero without having been written (nn::FlatParameters::zero_grad): the next backward's
  // first contribution overwrites it instead of adding to it, and whoever reads the gradients first calls
  // FlatParameters::finish_grads, which zeroes the ones no backward reached.
  bool grad_zero_pending = false;
  std::shared_ptr<Node> grad_fn;            // the op that made this tensor (non-leaves)
  std::string name;                         // parameters: PyTorch-style dotted name
};

class Tensor {
 public:
  Tensor() = default;  // undefined
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- creation -------------------------------------------------------------------------------------
  static Tensor empty(const Shape& shape, Device device = Device::cpu());
  static Tensor full(const Shape& shape, float value, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, Device device = Device::cpu()) { return full(shape, 0.f, device); }
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape, Device device = Device::cpu());
  static Tensor uniform(const Shape& shape, float lo, float hi, Rng& rng, Device device = Device::cpu());
  static Tensor normal(const Shape& shape, float mean, float stddev, Rng& rng, Device device = Device::cpu());

  // ---- inspection -----------------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  int64_t dim() const { return int64_t(shape().size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const;
  Device device() const;
  float* data() const;  // device pointer to the first element
  std::vector<float> to_vector() const;  // synchronous copy to the host
  float item() const;                    // the single element of a 1-element tensor
  std::string str() const;               // "Tensor(2, 3) cpu"

  // ---- movement and views ---------------------------------------------------------------------------
  Tensor to(Device device) const;  // a copy on `device` (a new leaf), or this tensor when already there
  Tensor clone() const;            // a copy on the same device (a new leaf)
  Tensor reshape(const Shape& shape) const;           // a view; autograd flows through it
  Tensor narrow(int64_t start, int64_t length) const;  // rows [start, start+length) of dim 0; a view, no grad
  // Channels [start, start+length) of a single image (N = 1, so the slice is contiguous): a view, no grad.
  Tensor narrow_channels(int64_t start, int64_t length) const;
  // A contiguous view of this tensor's storage of `shape`, from element `offset` of the storage (not of this
  // tensor), which must lie inside it; no grad.
  Tensor storage_view(const Shape& shape, int64_t offset) const;
  Tensor detach() const;  // same data, no history, no requires_grad
  void copy_(const Tensor& src);  // overwrite values from src (any device), same numel; not recorded
  void fill_(float value);        // not recorded

  // ---- autograd -------------------------------------------------------------------------------------
  bool requires_grad() const;
  Tensor& set_requires_grad(bool on);
  Tensor grad() const;  // undefined until a backward reaches this leaf
  void set_grad(const Tensor& g);
  void zero_grad();     // fills an existing gradient with 0
  const std::shared_ptr<Node>& grad_fn() const;
  void set_grad_fn(std::shared_ptr<Node> fn);
  // Back-propagates from this tensor (a scalar: its gradient is 1; otherwise pass `grad`).
  void backward(const Tensor& grad = Tensor()) const;
  const std::string& name() const;
  void set_name(const std::string& name);

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
  void check_defined(const char* what) const;
};

// Deterministic random numbers, passed explicitly (no global generator).
class Rng {
 public:
  explicit Rng(uint64_t seed = 0x7145u) : state_(seed) {}
  uint64_t next_u64();
  float uniform01();  // [0, 1)
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform01(); }
  float normal();  // standard normal
  uint64_t state() const { return state_; }

 private:
  uint64_t state_;
  bool has_spare_ = false;
  float spare_ = 0;
};

}  // namespace tint
