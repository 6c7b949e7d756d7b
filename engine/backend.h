// The kernel contract: every kernel a backend must provide, and nothing else.
//
// Each entry takes raw device pointers, shapes and a Stream; it allocates nothing and knows nothing of
// autograd. A backend fills one `Backend` table; engine/ dispatches on a tensor's device. Adding a backend
// means filling the table.
//
// Conventions, for every entry:
//   * float32, NCHW, contiguous. `hw` is H*W. Counts of elements are int64_t.
//   * Outputs are OVERWRITTEN, never accumulated into (the engine accumulates gradients with `axpy`).
//   * Outputs never alias inputs unless the entry says so.
//   * Kernels may run asynchronously on `stream`; only `copy_to_host` followed by `synchronize` makes a
//     result visible to the host.
//
// The math of each backward is stated beside its entry, once, here. `dz` always means dLoss/dz.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tint {

class ThreadPool;  // engine/thread_pool.h

// Where a kernel runs. The CUDA backends use `handle` (a cudaStream_t, or the emulator's stream; nullptr is
// the default stream); the CPU backends use `pool` (nullptr: run on the calling thread).
// `workspace` is scratch device memory owned by the engine, at least `workspace_bytes` long; a kernel that
// needs scratch asks for it through Backend::conv2d_workspace_bytes before it is called.
struct Stream {
  void* handle = nullptr;
  ThreadPool* pool = nullptr;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
};

// Reductions (sum, the loss forwards, bias_backward) may keep per-block partial sums in the first this many
// bytes of Stream::workspace; with a smaller workspace they must still be right (in one block). The engine
// makes every stream's workspace at least this large before it calls them.
inline constexpr size_t kReductionWorkspaceBytes = 64 * 1024;

// One 2-D convolution: x (n, c_in, h_in, w_in) * w (c_out, c_in, kh, kw) -> y (n, c_out, h_out, w_out),
//   y[n,o,i,j] = sum_{c,p,q} x[n, c, i*stride_h - pad_h + p, j*stride_w - pad_w + q] * w[o,c,p,q]
// with x read as zero outside its bounds. No dilation, no groups. h_out/w_out are stored (not derived) so
// that a transposed convolution with output_padding maps onto the same shape: see make_conv_transpose2d.
struct Conv2dShape {
  int n = 0;
  int c_in = 0, h_in = 0, w_in = 0;
  int c_out = 0, h_out = 0, w_out = 0;
  int kh = 0, kw = 0;
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;

  int64_t x_size() const { return int64_t(n) * c_in * h_in * w_in; }
  int64_t y_size() const { return int64_t(n) * c_out * h_out * w_out; }
  int64_t w_size() const { return int64_t(c_out) * c_in * kh * kw; }
  // Multiply-adds of one of the three products, times two.
  double flops() const { return 2.0 * double(y_size()) * c_in * kh * kw; }
  std::string str() const;  // "n2 c3x7x9 -> c4x4x5 k3x3 s2x2 p1x1", for messages
};

// Shape of conv2d(x, w) with x (n, c_in, h, w) and w (c_out, c_in, kh, kw). Throws on a shape that gives
// an empty output or non-positive sizes, naming the shape.
Conv2dShape make_conv2d(int n, int c_in, int h_in, int w_in, int c_out, int kh, int kw, int stride_h,
                        int stride_w, int pad_h, int pad_w);

// A transposed convolution x_t (n, cin_t, h, w) with weight (cin_t, cout_t, kh, kw) (PyTorch's layout) is the
// backward-data of the convolution whose *output* is x_t and whose *input* is the transposed conv's output:
//   conv_transpose2d(x_t, W)       == conv2d_backward_data(dy = x_t, W)           on the returned shape
//   d x_t                          == conv2d_forward(x = d y_t, W)
//   d W                            == conv2d_backward_weight(x = d y_t, dy = x_t)
// The returned shape is that convolution's: c_in = cout_t, c_out = cin_t, h_in = output height
// (h-1)*stride - 2*pad + kh + output_padding, h_out = h. Weight layout (cin_t, cout_t, kh, kw) is then
// exactly conv2d's (c_out, c_in, kh, kw).
Conv2dShape make_conv_transpose2d(int n, int cin_t, int h, int w, int cout_t, int kh, int kw, int stride_h,
                                  int stride_w, int pad_h, int pad_w, int out_pad_h, int out_pad_w);

// Hyper-parameters of one Adam/AdamW step. `step` is the number of steps taken BEFORE this one (0 for the
// first step, as optim::Adam and the checkpoints count them); the kernel's bias corrections use t = step + 1.
// One meaning everywhere, so no caller has to translate.
struct AdamHyper {
  float lr = 3e-4f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
  bool decoupled = false;  // false: Adam (L2 added to the gradient); true: AdamW (decay applied to the weight)
  int64_t step = 0;
};

struct Backend {
  const char* name;  // "cpu", "cpu-ref", "cuda-emu", "cuda"

  // ---- memory ---------------------------------------------------------------------------------------
  void* (*alloc)(size_t bytes);  // throws tint::Error on failure, naming the size
  void (*free)(void* p);
  // Optional: page-locked host memory for fast uploads (cudaMallocHost). nullptr: plain host memory is used.
  void* (*alloc_pinned)(size_t bytes) = nullptr;
  void (*free_pinned)(void* p) = nullptr;
  void (*copy_from_host)(const Stream&, void* dst, const void* host_src, size_t bytes);
  void (*copy_to_host)(const Stream&, void* host_dst, const void* src, size_t bytes);
  void (*synchronize)(const Stream&);
  // Optional (nullptr: the runtime uses the default stream, handle = nullptr). The engine creates one stream
  // per device runtime and passes it in Stream::handle.
  void* (*create_stream)() = nullptr;
  void (*destroy_stream)(void* handle) = nullptr;

  // ---- element-wise and fills ------------------------------------------------------------------------
  void (*fill)(const Stream&, float* y, float value, int64_t n);
  void (*copy)(const Stream&, float* y, const float* x, int64_t n);  // device to device
  // y = a + b.          Backward: da = dy, db = dy.
  void (*add)(const Stream&, float* y, const float* a, const float* b, int64_t n);
  // y = alpha * x.      Backward: dx = alpha * dy (the same kernel).
  void (*scale)(const Stream&, float* y, const float* x, float alpha, int64_t n);
  // y += alpha * x.     Used to accumulate gradients; y and x must not alias.
  void (*axpy)(const Stream&, float* y, const float* x, float alpha, int64_t n);

  // ---- reductions (deterministic: the same bits on every run) ----------------------------------------
  // out[0] = sum_i x[i].   Backward (see broadcast_scalar): dx_i = dout.
  void (*sum)(const Stream&, float* out, const float* x, int64_t n);
  // y[i] = alpha * s[0], s a device scalar. The backward of sum (alpha = 1) and mean (alpha = 1/n).
  void (*broadcast_scalar)(const Stream&, float* y, const float* s, float alpha, int64_t n);

  // ---- activations ----------------------------------------------------------------------------------
  // y = max(x, 0).      Backward: dx = dy * (x > 0)   (the gradient at x == 0 is 0, as in PyTorch).
  void (*relu_forward)(const Stream&, float* y, const float* x, int64_t n);
  void (*relu_backward)(const Stream&, float* dx, const float* dy, const float* x, int64_t n);
  // y = tanh(x).        Backward: dx = dy * (1 - y^2), computed from the saved output y.
  void (*tanh_forward)(const Stream&, float* y, const float* x, int64_t n);
  void (*tanh_backward)(const Stream&, float* dx, const float* dy, const float* y, int64_t n);

  // ---- bias ------------------------------------------------------------------------------------------
  // y[b,c,:] += bias[c]  (in place: the one entry that updates its output).
  // Backward: dbias[c] = sum_{b, i<hw} dy[b,c,i]; dy passes through unchanged to the input.
  void (*bias_add)(const Stream&, float* y, const float* bias, int n, int c, int64_t hw);
  void (*bias_backward)(const Stream&, float* dbias, const float* dy, int n, int c, int64_t hw);
  // The two above fused with a ReLU, for a convolution followed by bias and ReLU (ops::Activation::relu):
  //   forward, in place on the convolution's output:  y[b,c,i] = max(y[b,c,i] + bias[c], 0)
  //   backward, from the saved output y:              dz[b,c,i] = dy[b,c,i] * (y[b,c,i] > 0)
  //                                                   dbias[c] = sum_{b,i} dz[b,c,i]
  // (y > 0 exactly where the pre-activation z = conv + bias is, so this is relu_backward at z.) One pass
  // over y where bias_add and relu_forward take two, and one over dy and y where relu_backward and
  // bias_backward take two. Each backend gives the bits of its bias_add then relu_forward, and of its
  // relu_backward then bias_backward. bias may be nullptr (a ReLU alone), and so may dbias (not needed).
  void (*bias_relu_forward)(const Stream&, float* y, const float* bias, int n, int c, int64_t hw);
  void (*bias_relu_backward)(const Stream&, float* dz, float* dbias, const float* dy, const float* y, int n, int c,
                             int64_t hw);

  // ---- skip connections ------------------------------------------------------------------------------
  // y (n, ca+cb, hw) = [a (n, ca, hw), b (n, cb, hw)] along channels.
  // Backward (split): da = dy[:, :ca], db = dy[:, ca:]. Either of da, db may be nullptr (not needed).
  void (*concat_channels)(const Stream&, float* y, const float* a, const float* b, int n, int ca, int cb,
                          int64_t hw);
  void (*split_channels)(const Stream&, float* da, float* db, const float* dy, int n, int ca, int cb,
                         int64_t hw);

  // ---- convolution: the three products ---------------------------------------------------------------
  // y = conv2d(x, w) as in Conv2dShape. Transposed convolutions use the same three entries with roles
  // swapped (make_conv_transpose2d).
  void (*conv2d_forward)(const Stream&, float* y, const float* x, const float* w, const Conv2dShape&);
  // dx[n,c,h,w] = sum_{o,p,q : h = i*s_h - pad_h + p, w = j*s_w - pad_w + q} dy[n,o,i,j] * w[o,c,p,q]
  //   (the "full" correlation of dy with the flipped kernel; positions of x that no output reads get 0).
  void (*conv2d_backward_data)(const Stream&, float* dx, const float* dy, const float* w,
                               const Conv2dShape&);
  // dw[o,c,p,q] = sum_{n,i,j} dy[n,o,i,j] * x[n, c, i*s_h - pad_h + p, j*s_w - pad_w + q]
  void (*conv2d_backward_weight)(const Stream&, float* dw, const float* x, const float* dy,
                                 const Conv2dShape&);
  // Scratch the three products need for this shape (0 for most backends). The engine provides at least
  // this much in Stream::workspace.
  size_t (*conv2d_workspace_bytes)(const Conv2dShape&);
  // Optional (nullptr: the backend has none): conv2d_forward, and conv2d_backward_data for a transposed
  // convolution's forward, with the bias (nullptr: none) and the ReLU applied to each output element as it
  // is stored, while it is in cache: the bits of the product followed by bias_add or bias_relu_forward.
  // Returns false where the algorithm for this shape cannot, having stored the plain product; the engine
  // then makes the separate call.
  bool (*conv2d_forward_epilogue)(const Stream&, float* y, const float* x, const float* w, const float* bias,
                                  bool relu, const Conv2dShape&) = nullptr;
  bool (*conv2d_backward_data_epilogue)(const Stream&, float* dx, const float* dy, const float* w,
                                        const float* bias, bool relu, const Conv2dShape&) = nullptr;

  // ---- losses (masked mean; deterministic) -----------------------------------------------------------
  // pred, target: (n, c, hw); mask: (n, 1, hw) of 0/1 broadcast over channels, or nullptr for "all ones".
  //   loss_out[1] = count = c * sum_{b,i} mask[b,i]           (n*c*hw without a mask)
  //   loss_out[0] = sum_{b,ch,i} mask[b,i] * f(pred - target) / count      (0 when count == 0)
  // L1: f(d) = |d|.  Backward: dpred = g * sign(d) * mask / count   (sign(0) = 0, as in PyTorch)
  // L2: f(d) = d^2.  Backward: dpred = g * 2 d * mask / count
  // g = grad_loss[0] and count = loss_out[1] are device scalars, so backward never syncs with the host.
  void (*l1_loss_forward)(const Stream&, float* loss_out2, const float* pred, const float* target,
                          const float* mask, int n, int c, int64_t hw);
  void (*l1_loss_backward)(const Stream&, float* dpred, const float* grad_loss, const float* loss_out2,
                           const float* pred, const float* target, const float* mask, int n, int c,
                           int64_t hw);
  void (*mse_loss_forward)(const Stream&, float* loss_out2, const float* pred, const float* target,
                           const float* mask, int n, int c, int64_t hw);
  void (*mse_loss_backward)(const Stream&, float* dpred, const float* grad_loss, const float* loss_out2,
                            const float* pred, const float* target, const float* mask, int n, int c,
                            int64_t hw);

  // ---- classification over ab bins (colorization as classification) ---------------------------------
  // logits, target: (n, k, hw), k classes per pixel; weight, mask: (n, 1, hw), nullptr for "all ones".
  // Per pixel, over the classes: p = softmax(logits), computed as exp(z - max z) / sum exp(z - max z) so
  // large logits never overflow, and log p = z - max z - log sum exp(z - max z).
  //   loss_out2[1] = count = sum_{b,i} mask[b,i]                                       (n*hw without a mask)
  //   loss_out2[0] = sum_{b,i} mask * weight * (-sum_k target[b,k,i] * log p[b,k,i]) / count   (0 if no
  //   count)
  // The target is a soft distribution (it need not be one-hot, nor even sum to 1: with T = sum_k target_k,
  //   Backward: dlogits[b,k,i] = g * mask * weight * (T * p_k - target_k) / count,
  // which is g * mask * weight * (p - target) / count for targets that sum to 1.) g = grad_loss[0] and count
  // are device scalars, as for the losses above. Deterministic like them.
  void (*softmax_ce_forward)(const Stream&, float* loss_out2, const float* logits, const float* target,
                             const float* weight, const float* mask, int n, int k, int64_t hw);
  void (*softmax_ce_backward)(const Stream&, float* dlogits, const float* grad_loss, const float* loss_out2,
                              const float* logits, const float* target, const float* weight,
                              const float* mask, int n, int k, int64_t hw);
  // Annealed-mean decode (inference only, no backward): centres (k, 2) holds each class's (a, b), stored
  // interleaved a0 b0 a1 b1 ...; ab is (n, 2, hw).
  //   temperature T > 0:  q = softmax(logits / T) = softmax(log p / T) renormalised;
  //                       ab[b,0,i] = sum_k q_k centres[k,0],  ab[b,1,i] = sum_k q_k centres[k,1]
  //                       (T = 1 is the mean of the predicted distribution; T -> 0 tends to its mode)
  //   T <= 0:             the mode: the centre of argmax_k logits (the lowest k among equal maxima).
  void (*annealed_mean_decode)(const Stream&, float* ab, const float* logits, const float* centres,
                               float temperature, int n, int k, int64_t hw);

  // ---- optimiser -------------------------------------------------------------------------------------
  // One launch over every parameter: the engine keeps all parameters (and their gradients and moments) in
  // one flat buffer each, so "all parameters" is one contiguous range of n floats.
  //   Adam:  g' = g + wd * p
  //   AdamW: p  = p * (1 - lr * wd);  g' = g
  //   m = b1 m + (1 - b1) g';   v = b2 v + (1 - b2) g'^2
  //   p = p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps),   t = step + 1
  // The per-element formula is kernels/common/pointwise.h (adam_update), shared by every backend.
  void (*adam_step)(const Stream&, float* param, const float* grad, float* m, float* v, int64_t n,
                    const AdamHyper&);

  // ---- graphs (optional; nullptr: the backend cannot record its work) --------------------------------
  // Stream capture, as CUDA graphs. Between begin_capture and end_capture the entries above RECORD their
  // work on the stream instead of running it: nothing is computed and no output is written until the graph
  // is launched. Meanwhile the host must not wait for the stream (synchronize is an error, and it spoils
  // the capture: end_capture then throws, naming the call). end_capture always ends the capture and
  // returns an executable graph, and in *nodes how many launches, copies and fills it holds; launch_graph
  // runs it on the stream, every time with the pointers and arguments recorded, reading any host source of
  // copy_from_host anew; destroy_graph frees it.
  void (*begin_capture)(const Stream&) = nullptr;
  void* (*end_capture)(const Stream&, size_t* nodes) = nullptr;
  void (*launch_graph)(const Stream&, void* graph) = nullptr;
  void (*destroy_graph)(void* graph) = nullptr;
};

// The backends this build has. cpu and cpu-ref always; cuda-emu always; cuda only when built with nvcc
// (and then only usable when a device is present: see cuda_device_available()).
const Backend& cpu_backend();            // fast kernels (threads, vectorised)
const Backend& cpu_reference_backend();  // the oracle: plain loops
const Backend& cuda_emu_backend();       // kernels/cuda/*.cu run on the CPU through kernels/emu
const Backend* cuda_backend();           // nullptr when built without nvcc
bool cuda_device_available();            // a real GPU is present and usable

}  // namespace tint
