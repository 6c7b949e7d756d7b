#include "engine/tensor.h"

#include <cmath>
#include <cstring>

#include "engine/autograd.h"
#include "engine/error.h"

namespace tint {

std::string shape_str(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += fmt::format("{}{}", i ? ", " : "", s[i]);
  return out + ")";
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) {
    TINT_CHECK(d >= 0, "negative dimension in shape {}", shape_str(s));
    n *= d;
  }
  return n;
}

static Shape contiguous_strides(const Shape& s) {
  Shape st(s.size());
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

// ---- Storage ------------------------------------------------------------------------------------------

Storage::Storage(Device d, int64_t n) : device(d), numel(n) {
  data = static_cast<float*>(runtime(d).allocator.allocate(size_t(std::max<int64_t>(n, 1)) * sizeof(float)));
}

Storage::~Storage() { runtime(device).allocator.deallocate(data); }

// ---- Tensor -------------------------------------------------------------------------------------------

void Tensor::check_defined(const char* what) const {
  if (!impl_) throw Error(fmt::format("{}: the tensor is undefined", what));
}

Tensor Tensor::empty(const Shape& shape, Device device) {
  auto impl = std::make_shared<TensorImpl>();
  int64_t n = shape_numel(shape);
  impl->storage = std::make_shared<Storage>(device, n);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  return Tensor(impl);
}

Tensor Tensor::full(const Shape& shape, float value, Device device) {
  Tensor t = empty(shape, device);
  t.fill_(value);
  return t;
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape, Device device) {
  TINT_CHECK(int64_t(values.size()) == shape_numel(shape), "from_vector: {} values for shape {}", values.size(),
             shape_str(shape));
  Tensor t = empty(shape, device);
  auto& rt = runtime(device);
  rt.backend.copy_from_host(rt.stream, t.data(), values.data(), values.size() * sizeof(float));
  rt.synchronize();  // `values` may die right after we return
  return t;
}

Tensor Tensor::uniform(const Shape& shape, float lo, float hi, Rng& rng, Device device) {
  std::vector<float> v(size_t(shape_numel(shape)));
  for (auto& x : v) x = rng.uniform(lo, hi);
  return from_vector(v, shape, device);
}

Tensor Tensor::normal(const Shape& shape, float mean, float stddev, Rng& rng, Device device) {
  std::vector<float> v(size_t(shape_numel(shape)));
  for (auto& x : v) x = mean + stddev * rng.normal();
  return from_vector(v, shape, device);
}

const Shape& Tensor::shape() const {
  check_defined("shape");
  return impl_->shape;
}

int64_t Tensor::size(int64_t d) const {
  int64_t n = dim();
  if (d < 0) d += n;
  TINT_CHECK(d >= 0 && d < n, "size({}): tensor of shape {} has {} dimensions", d, shape_str(shape()), n);
  return impl_->shape[size_t(d)];
}

int64_t Tensor::numel() const { return shape_numel(shape()); }

Device Tensor::device() const {
  check_defined("device");
  return impl_->storage->device;
}

float* Tensor::data() const {
  check_defined("data");
  return impl_->storage->data + impl_->offset;
}

std::vector<float> Tensor::to_vector() const {
  check_defined("to_vector");
  std::vector<float> out(static_cast<size_t>(numel()));
  auto& rt = runtime(device());
  rt.backend.copy_to_host(rt.stream, out.data(), data(), out.size() * sizeof(float));
  rt.synchronize();
  return out;
}

float Tensor::item() const {
  TINT_CHECK(numel() == 1, "item(): tensor of shape {} has {} elements, not 1", shape_str(shape()), numel());
  return to_vector()[0];
}

std::string Tensor::str() const {
  if (!impl_) return "Tensor(undefined)";
  return fmt::format("Tensor{} {}", shape_str(shape()), device().str());
}

Tensor Tensor::to(Device target) const {
  check_defined("to");
  if (target == device()) return *this;
  Tensor out = empty(shape(), target);
  out.copy_(*this);
  return out;
}

Tensor Tensor::clone() const {
  check_defined("clone");
  Tensor out = empty(shape(), device());
  auto& rt = runtime(device());
  rt.backend.copy(rt.stream, out.data(), data(), numel());
  return out;
}

namespace {
struct ReshapeNode : Node {
  Shape input_shape;
  const char* name() const override { return "reshape"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {g.detach().reshape(input_shape)}; }
};
}  // namespace

Tensor Tensor::reshape(const Shape& new_shape) const {
  check_defined("reshape");
  TINT_CHECK(shape_numel(new_shape) == numel(), "reshape: cannot view {} as {}", shape_str(shape()),
             shape_str(new_shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  impl->shape = new_shape;
  impl->strides = contiguous_strides(new_shape);
  Tensor out(impl);
  if (needs_grad({this})) {
    auto node = std::make_shared<ReshapeNode>();
    node->input_shape = shape();
    record(out, node, {this});
  }
  return out;
}

Tensor Tensor::narrow(int64_t start, int64_t length) const {
  check_defined("narrow");
  TINT_CHECK(dim() >= 1 && start >= 0 && length >= 0 && start + length <= shape()[0],
             "narrow({}, {}): out of range for shape {}", start, length, shape_str(shape()));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  Shape s = shape();
  int64_t row = s.empty() ? 1 : shape_numel(Shape(s.begin() + 1, s.end()));
  impl->offset = impl_->offset + start * row;
  s[0] = length;
  impl->shape = s;
  impl->strides = contiguous_strides(s);
  return Tensor(impl);
}

Tensor Tensor::narrow_channels(int64_t start, int64_t length) const {
  check_defined("narrow_channels");
  TINT_CHECK(dim() >= 2 && shape()[0] == 1 && start >= 0 && length >= 0 && start + length <= shape()[1],
             "narrow_channels({}, {}): needs one image (N = 1) with that many channels, got shape {}", start, length,
             shape_str(shape()));
  Shape s = shape();
  const int64_t plane = shape_numel(Shape(s.begin() + 2, s.end()));
  s[1] = length;
  return storage_view(s, impl_->offset + start * plane);
}

Tensor Tensor::storage_view(const Shape& shape, int64_t offset) const {
  check_defined("storage_view");
  const int64_t n = shape_numel(shape);
  TINT_CHECK(offset >= 0 && n >= 0 && offset + n <= impl_->storage->numel,
             "storage_view: {} elements from {} do not fit a storage of {}", n, offset, impl_->storage->numel);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = offset;
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  return Tensor(impl);
}

Tensor Tensor::detach() const {
  check_defined("detach");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->offset = impl_->offset;
  impl->shape = impl_->shape;
  impl->strides = impl_->strides;
  return Tensor(impl);
}

void Tensor::copy_(const Tensor& src) {
  check_defined("copy_");
  TINT_CHECK(src.numel() == numel(), "copy_: {} elements into {}", src.numel(), numel());
  const size_t bytes = size_t(numel()) * sizeof(float);
  if (src.device() == device()) {
    auto& rt = runtime(device());
    rt.backend.copy(rt.stream, data(), src.data(), numel());
    return;
  }
  // Across devices. Every device but `cuda` keeps its memory on the host, so one side is always plain host
  // memory that the other side's backend can copy to or from.
  auto& from = runtime(src.device());
  auto& to = runtime(device());
  if (device().kind != DeviceKind::Cuda) {
    to.synchronize();
    from.backend.copy_to_host(from.stream, data(), src.data(), bytes);
    from.synchronize();
  } else {
    from.synchronize();
    to.backend.copy_from_host(to.stream, data(), src.data(), bytes);
    to.synchronize();
  }
}

void Tensor::fill_(float value) {
  auto& rt = runtime(device());
  rt.backend.fill(rt.stream, data(), value, numel());
}

bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }

Tensor& Tensor::set_requires_grad(bool on) {
  check_defined("set_requires_grad");
  TINT_CHECK(on || !impl_->grad_fn, "set_requires_grad(false) on a tensor with history: use detach()");
  impl_->requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const {
  check_defined("grad");
  return impl_->grad ? Tensor(impl_->grad) : Tensor();
}

void Tensor::set_grad(const Tensor& g) {
  check_defined("set_grad");
  if (g.defined())
    TINT_CHECK(g.shape() == shape() && g.device() == device(), "set_grad: gradient {} for tensor {}", g.str(),
               str());
  impl_->grad = g.impl_ptr();
}

void Tensor::zero_grad() {
  if (impl_ && impl_->grad) Tensor(impl_->grad).fill_(0.f);
}

const std::shared_ptr<Node>& Tensor::grad_fn() const {
  check_defined("grad_fn");
  return impl_->grad_fn;
}

void Tensor::set_grad_fn(std::shared_ptr<Node> fn) {
  check_defined("set_grad_fn");
  impl_->grad_fn = std::move(fn);
}

void Tensor::backward(const Tensor& grad) const {
  check_defined("backward");
  run_backward(*this, grad);
}

const std::string& Tensor::name() const {
  check_defined("name");
  return impl_->name;
}

void Tensor::set_name(const std::string& name) {
  check_defined("set_name");
  impl_->name = name;
}

// ---- Rng: splitmix64, and Box-Muller for normals ------------------------------------------------------

uint64_t Rng::next_u64() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

float Rng::uniform01() { return float(next_u64() >> 40) * (1.0f / 16777216.0f); }

float Rng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  double u1, u2;
  do {
    u1 = double(next_u64() >> 11) * (1.0 / 9007199254740992.0);
  } while (u1 <= 0.0);
  u2 = double(next_u64() >> 11) * (1.0 / 9007199254740992.0);
  double r = std::sqrt(-2.0 * std::log(u1));
  spare_ = float(r * std::sin(2 * M_PI * u2));
  has_spare_ = true;
  return float(r * std::cos(2 * M_PI * u2));
}

}  // namespace tint
