// The `cpu-ref` backend: the reference kernels of reference.h in float, on the calling thread. It ignores
// Stream::pool on purpose: the oracle must not depend on threading.
#include "engine/backend.h"
#include "kernels/cpu/host_memory.h"
#include "kernels/cpu/reference.h"

namespace tint {

namespace {

Backend make_reference_backend() {
  Backend b{};
  b.name = "cpu-ref";
  b.alloc = cpu::host_alloc;
  b.free = cpu::host_free;
  b.copy_from_host = cpu::host_copy_from_host;
  b.copy_to_host = cpu::host_copy_to_host;
  b.synchronize = cpu::host_synchronize;
  b.fill = [](const Stream&, float* y, float v, int64_t n) { ref::fill(y, v, n); };
  b.copy = [](const Stream&, float* y, const float* x, int64_t n) { ref::copy(y, x, n); };
  b.add = [](const Stream&, float* y, const float* a, const float* c, int64_t n) { ref::add(y, a, c, n); };
  b.scale = [](const Stream&, float* y, const float* x, float alpha, int64_t n) { ref::scale(y, x, alpha, n); };
  b.axpy = [](const Stream&, float* y, const float* x, float alpha, int64_t n) { ref::axpy(y, x, alpha, n); };
  b.sum = [](const Stream&, float* out, const float* x, int64_t n) { ref::sum(out, x, n); };
  b.broadcast_scalar = [](const Stream&, float* y, const float* s, float alpha, int64_t n) {
    ref::broadcast_scalar(y, s, alpha, n);
  };
  b.relu_forward = [](const Stream&, float* y, const float* x, int64_t n) { ref::relu_forward(y, x, n); };
  b.relu_backward = [](const Stream&, float* dx, const float* dy, const float* x, int64_t n) {
    ref::relu_backward(dx, dy, x, n);
  };
  b.tanh_forward = [](const Stream&, float* y, const float* x, int64_t n) { ref::tanh_forward(y, x, n); };
  b.tanh_backward = [](const Stream&, float* dx, const float* dy, const float* y, int64_t n) {
    ref::tanh_backward(dx, dy, y, n);
  };
  b.bias_add = [](const Stream&, float* y, const float* bias, int n, int c, int64_t hw) {
    ref::bias_add(y, bias, n, c, hw);
  };
  b.bias_backward = [](const Stream&, float* db, const float* dy, int n, int c, int64_t hw) {
    ref::bias_backward(db, dy, n, c, hw);
  };
  b.bias_relu_forward = [](const Stream&, float* y, const float* bias, int n, int c, int64_t hw) {
    ref::bias_relu_forward(y, bias, n, c, hw);
  };
  b.bias_relu_backward = [](const Stream&, float* dz, float* db, const float* dy, const float* y, int n, int c,
                            int64_t hw) { ref::bias_relu_backward(dz, db, dy, y, n, c, hw); };
  b.concat_channels = [](const Stream&, float* y, const float* a, const float* bb, int n, int ca, int cb,
                         int64_t hw) { ref::concat_channels(y, a, bb, n, ca, cb, hw); };
  b.split_channels = [](const Stream&, float* da, float* db, const float* dy, int n, int ca, int cb,
                        int64_t hw) { ref::split_channels(da, db, dy, n, ca, cb, hw); };
  b.conv2d_forward = [](const Stream&, float* y, const float* x, const float* w, const Conv2dShape& s) {
    ref::conv2d_forward(y, x, w, s);
  };
  b.conv2d_backward_data = [](const Stream&, float* dx, const float* dy, const float* w,
                              const Conv2dShape& s) { ref::conv2d_backward_data(dx, dy, w, s); };
  b.conv2d_backward_weight = [](const Stream&, float* dw, const float* x, const float* dy,
                                const Conv2dShape& s) { ref::conv2d_backward_weight(dw, x, dy, s); };
  b.conv2d_workspace_bytes = [](const Conv2dShape&) -> size_t { return 0; };
  b.l1_loss_forward = [](const Stream&, float* out, const float* p, const float* t, const float* m, int n,
                         int c, int64_t hw) { ref::l1_loss_forward(out, p, t, m, n, c, hw); };
  b.l1_loss_backward = [](const Stream&, float* dp, const float* g, const float* lo, const float* p,
                          const float* t, const float* m, int n, int c, int64_t hw) {
    ref::l1_loss_backward(dp, g, lo, p, t, m, n, c, hw);
  };
  b.mse_loss_forward = [](const Stream&, float* out, const float* p, const float* t, const float* m, int n,
                          int c, int64_t hw) { ref::mse_loss_forward(out, p, t, m, n, c, hw); };
  b.mse_loss_backward = [](const Stream&, float* dp, const float* g, const float* lo, const float* p,
                           const float* t, const float* m, int n, int c, int64_t hw) {
    ref::mse_loss_backward(dp, g, lo, p, t, m, n, c, hw);
  };
  b.softmax_ce_forward = [](const Stream&, float* out, const float* z, const float* t, const float* w,
                            const float* m, int n, int k,
                            int64_t hw) { ref::softmax_ce_forward(out, z, t, w, m, n, k, hw); };
  b.softmax_ce_backward = [](const Stream&, float* dz, const float* g, const float* lo, const float* z,
                             const float* t, const float* w, const float* m, int n, int k,
                             int64_t hw) { ref::softmax_ce_backward(dz, g, lo, z, t, w, m, n, k, hw); };
  b.annealed_mean_decode = [](const Stream&, float* ab, const float* z, const float* centres,
                              float temperature, int n, int k, int64_t hw) {
    ref::annealed_mean_decode(ab, z, centres, temperature, n, k, hw);
  };
  b.adam_step = [](const Stream&, float* p, const float* g, float* m, float* v, int64_t n,
                   const AdamHyper& h) { ref::adam_step(p, g, m, v, n, h); };
  return b;
}

}  // namespace

// A function-local static: other static initialisers (test registries, tools) may ask for the table.
const Backend& cpu_reference_backend() {
  static const Backend table = make_reference_backend();
  return table;
}

}  // namespace tint
