// The reference kernels: every entry of the kernel contract (engine/backend.h) as plain loops, written to
// be read. They are templates so that the tests can run them in double (finite-difference gradient checks)
// and the `cpu-ref` backend in float. They are the oracle every other backend is compared against, so they
// favour the obvious loop over the fast one: one output element at a time, the formula of the contract
// written out. Sums run in the order of the loops, accumulated in T (double for the losses and `sum`, so the
// float oracle stays accurate on large tensors).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "engine/backend.h"
#include "kernels/common/pointwise.h"

namespace tint::ref {

// ---- element-wise and fills ----------------------------------------------------------------------------

template <class T>
void fill(T* y, T value, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = value;
}

template <class T>
void copy(T* y, const T* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i];
}

template <class T>
void add(T* y, const T* a, const T* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

template <class T>
void scale(T* y, const T* x, T alpha, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = alpha * x[i];
}

template <class T>
void axpy(T* y, const T* x, T alpha, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

// ---- reductions ----------------------------------------------------------------------------------------

template <class T>
void sum(T* out, const T* x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += double(x[i]);
  out[0] = T(s);
}

template <class T>
void broadcast_scalar(T* y, const T* s, T alpha, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = alpha * s[0];
}

// ---- activations ---------------------------------------------------------------------------------------

template <class T>
void relu_forward(T* y, const T* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = pointwise::relu(x[i]);
}

template <class T>
void relu_backward(T* dx, const T* dy, const T* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = pointwise::relu_backward(dy[i], x[i]);
}

template <class T>
void tanh_forward(T* y, const T* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}

template <class T>
void tanh_backward(T* dx, const T* dy, const T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dx[i] = pointwise::tanh_backward(dy[i], y[i]);
}

// ---- bias ----------------------------------------------------------------------------------------------

template <class T>
void bias_add(T* y, const T* bias, int n, int c, int64_t hw) {
  for (int b = 0; b < n; ++b)
    for (int ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < hw; ++i) y[(int64_t(b) * c + ch) * hw + i] += bias[ch];
}

template <class T>
void bias_backward(T* dbias, const T* dy, int n, int c, int64_t hw) {
  for (int ch = 0; ch < c; ++ch) {
    double s = 0;
    for (int b = 0; b < n; ++b)
      for (int64_t i = 0; i < hw; ++i) s += double(dy[(int64_t(b) * c + ch) * hw + i]);
    dbias[ch] = T(s);
  }
}

// The fused pair (engine/backend.h): bias then ReLU in place, and its backward from the saved output.
template <class T>
void bias_relu_forward(T* y, const T* bias, int n, int c, int64_t hw) {
  for (int b = 0; b < n; ++b)
    for (int ch = 0; ch < c; ++ch) {
      T* row = y + (int64_t(b) * c + ch) * hw;
      for (int64_t i = 0; i < hw; ++i) row[i] = pointwise::relu(bias ? row[i] + bias[ch] : row[i]);
    }
}

template <class T>
void bias_relu_backward(T* dz, T* dbias, const T* dy, const T* y, int n, int c, int64_t hw) {
  relu_backward(dz, dy, y, int64_t(n) * c * hw);
  if (dbias) bias_backward(dbias, dz, n, c, hw);
}

// ---- skip connections ----------------------------------------------------------------------------------

template <class T>
void concat_channels(T* y, const T* a, const T* b, int n, int ca, int cb, int64_t hw) {
  const int c = ca + cb;
  for (int s = 0; s < n; ++s)
    for (int ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < hw; ++i)
        y[(int64_t(s) * c + ch) * hw + i] =
            ch < ca ? a[(int64_t(s) * ca + ch) * hw + i] : b[(int64_t(s) * cb + (ch - ca)) * hw + i];
}

template <class T>
void split_channels(T* da, T* db, const T* dy, int n, int ca, int cb, int64_t hw) {
  const int c = ca + cb;
  for (int s = 0; s < n; ++s)
    for (int ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < hw; ++i) {
        const T g = dy[(int64_t(s) * c + ch) * hw + i];
        if (ch < ca) {
          if (da) da[(int64_t(s) * ca + ch) * hw + i] = g;
        } else if (db) {
          db[(int64_t(s) * cb + (ch - ca)) * hw + i] = g;
        }
      }
}

// ---- convolution ---------------------------------------------------------------------------------------
// Indexing helpers, so that each product below reads like its formula in the contract.

inline int64_t x_index(const Conv2dShape& s, int b, int c, int h, int w) {
  return ((int64_t(b) * s.c_in + c) * s.h_in + h) * s.w_in + w;
}
inline int64_t y_index(const Conv2dShape& s, int b, int o, int i, int j) {
  return ((int64_t(b) * s.c_out + o) * s.h_out + i) * s.w_out + j;
}
inline int64_t w_index(const Conv2dShape& s, int o, int c, int p, int q) {
  return ((int64_t(o) * s.c_in + c) * s.kh + p) * s.kw + q;
}

// y[b,o,i,j] = sum_{c,p,q} x[b, c, i*s_h - pad_h + p, j*s_w - pad_w + q] * w[o,c,p,q]
template <class T>
void conv2d_forward(T* y, const T* x, const T* w, const Conv2dShape& s) {
  for (int b = 0; b < s.n; ++b)
    for (int o = 0; o < s.c_out; ++o)
      for (int i = 0; i < s.h_out; ++i)
        for (int j = 0; j < s.w_out; ++j) {
          T acc = 0;
          for (int c = 0; c < s.c_in; ++c)
            for (int p = 0; p < s.kh; ++p)
              for (int q = 0; q < s.kw; ++q) {
                const int h = i * s.stride_h - s.pad_h + p;
                const int ww = j * s.stride_w - s.pad_w + q;
                if (h < 0 || h >= s.h_in || ww < 0 || ww >= s.w_in) continue;  // zero padding
                acc += x[x_index(s, b, c, h, ww)] * w[w_index(s, o, c, p, q)];
              }
          y[y_index(s, b, o, i, j)] = acc;
        }
}

// dx[b,c,h,w] = sum over the (o,p,q,i,j) with h = i*s_h - pad_h + p and w = j*s_w - pad_w + q of
//               dy[b,o,i,j] * w[o,c,p,q]
// Written as a scatter: every product of the forward pass sends its share back to the input it read.
template <class T>
void conv2d_backward_data(T* dx, const T* dy, const T* w, const Conv2dShape& s) {
  fill(dx, T(0), s.x_size());
  for (int b = 0; b < s.n; ++b)
    for (int o = 0; o < s.c_out; ++o)
      for (int i = 0; i < s.h_out; ++i)
        for (int j = 0; j < s.w_out; ++j) {
          const T g = dy[y_index(s, b, o, i, j)];
          for (int c = 0; c < s.c_in; ++c)
            for (int p = 0; p < s.kh; ++p)
              for (int q = 0; q < s.kw; ++q) {
                const int h = i * s.stride_h - s.pad_h + p;
                const int ww = j * s.stride_w - s.pad_w + q;
                if (h < 0 || h >= s.h_in || ww < 0 || ww >= s.w_in) continue;
                dx[x_index(s, b, c, h, ww)] += g * w[w_index(s, o, c, p, q)];
              }
        }
}

// dw[o,c,p,q] = sum_{b,i,j} dy[b,o,i,j] * x[b, c, i*s_h - pad_h + p, j*s_w - pad_w + q]
template <class T>
void conv2d_backward_weight(T* dw, const T* x, const T* dy, const Conv2dShape& s) {
  for (int o = 0; o < s.c_out; ++o)
    for (int c = 0; c < s.c_in; ++c)
      for (int p = 0; p < s.kh; ++p)
        for (int q = 0; q < s.kw; ++q) {
          T acc = 0;
          for (int b = 0; b < s.n; ++b)
            for (int i = 0; i < s.h_out; ++i)
              for (int j = 0; j < s.w_out; ++j) {
                const int h = i * s.stride_h - s.pad_h + p;
                const int ww = j * s.stride_w - s.pad_w + q;
                if (h < 0 || h >= s.h_in || ww < 0 || ww >= s.w_in) continue;
                acc += dy[y_index(s, b, o, i, j)] * x[x_index(s, b, c, h, ww)];
              }
          dw[w_index(s, o, c, p, q)] = acc;
        }
}

// ---- losses --------------------------------------------------------------------------------------------
// Masked mean of f(pred - target): see the contract. The mask is per pixel, shared by the channels.

template <class T, class F>
void masked_loss_forward(T* loss_out2, const T* pred, const T* target, const T* mask, int n, int c,
                         int64_t hw, F f) {
  double total = 0, count = 0;
  for (int b = 0; b < n; ++b)
    for (int ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < hw; ++i) {
        const int64_t k = (int64_t(b) * c + ch) * hw + i;
        const double m = mask ? double(mask[int64_t(b) * hw + i]) : 1.0;
        total += m * f(double(pred[k]) - double(target[k]));
        count += m;
      }
  loss_out2[0] = T(count > 0 ? total / count : 0.0);
  loss_out2[1] = T(count);
}

// dpred = g * f'(pred - target) * mask / count, with g and count read from device scalars.
template <class T, class DF>
void masked_loss_backward(T* dpred, const T* grad_loss, const T* loss_out2, const T* pred, const T* target,
                          const T* mask, int n, int c, int64_t hw, DF df) {
  const T count = loss_out2[1];
  const T g = count > T(0) ? grad_loss[0] / count : T(0);
  for (int b = 0; b < n; ++b)
    for (int ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < hw; ++i) {
        const int64_t k = (int64_t(b) * c + ch) * hw + i;
        const T m = mask ? mask[int64_t(b) * hw + i] : T(1);
        dpred[k] = g * m * df(pred[k] - target[k]);
      }
}

template <class T>
void l1_loss_forward(T* loss_out2, const T* pred, const T* target, const T* mask, int n, int c, int64_t hw) {
  masked_loss_forward(loss_out2, pred, target, mask, n, c, hw, [](double d) { return std::fabs(d); });
}
template <class T>
void l1_loss_backward(T* dpred, const T* grad_loss, const T* loss_out2, const T* pred, const T* target,
                      const T* mask, int n, int c, int64_t hw) {
  masked_loss_backward(dpred, grad_loss, loss_out2, pred, target, mask, n, c, hw, [](T d) { return pointwise::l1_grad(d); });
}
template <class T>
void mse_loss_forward(T* loss_out2, const T* pred, const T* target, const T* mask, int n, int c, int64_t hw) {
  masked_loss_forward(loss_out2, pred, target, mask, n, c, hw, [](double d) { return d * d; });
}
template <class T>
void mse_loss_backward(T* dpred, const T* grad_loss, const T* loss_out2, const T* pred, const T* target,
                       const T* mask, int n, int c, int64_t hw) {
  masked_loss_backward(dpred, grad_loss, loss_out2, pred, target, mask, n, c, hw,
                       [](T d) { return pointwise::mse_grad(d); });
}

// ---- classification over ab bins -----------------------------------------------------------------------
// One pixel's classes are `hw` apart in memory; these loops follow the contract one pixel at a time.

template <class T>
void softmax_ce_forward(T* loss_out2, const T* logits, const T* target, const T* weight, const T* mask, int n,
                        int k, int64_t hw) {
  double total = 0, count = 0;
  for (int b = 0; b < n; ++b)
    for (int64_t i = 0; i < hw; ++i) {
      const T* z = logits + int64_t(b) * k * hw + i;
      const T* t = target + int64_t(b) * k * hw + i;
      double zmax = double(z[0]);
      for (int c = 1; c < k; ++c) zmax = std::max(zmax, double(z[int64_t(c) * hw]));
      double sum_exp = 0;
      for (int c = 0; c < k; ++c) sum_exp += std::exp(double(z[int64_t(c) * hw]) - zmax);
      const double log_sum = std::log(sum_exp);
      double ce = 0;
      for (int c = 0; c < k; ++c)
        ce -= double(t[int64_t(c) * hw]) * (double(z[int64_t(c) * hw]) - zmax - log_sum);
      const double m = mask ? double(mask[int64_t(b) * hw + i]) : 1.0;
      const double w = weight ? double(weight[int64_t(b) * hw + i]) : 1.0;
      total += m * w * ce;
      count += m;
    }
  loss_out2[0] = T(count > 0 ? total / count : 0.0);
  loss_out2[1] = T(count);
}

template <class T>
void softmax_ce_backward(T* dlogits, const T* grad_loss, const T* loss_out2, const T* logits, const T* target,
                         const T* weight, const T* mask, int n, int k, int64_t hw) {
  const T count = loss_out2[1];
  const T g = count > T(0) ? grad_loss[0] / count : T(0);
  for (int b = 0; b < n; ++b)
    for (int64_t i = 0; i < hw; ++i) {
      const int64_t base = int64_t(b) * k * hw + i;
      T zmax = logits[base];
      for (int c = 1; c < k; ++c) zmax = std::max(zmax, logits[base + int64_t(c) * hw]);
      T sum_exp = 0, t_sum = 0;
      for (int c = 0; c < k; ++c) {
        sum_exp += std::exp(logits[base + int64_t(c) * hw] - zmax);
        t_sum += target[base + int64_t(c) * hw];
      }
      const T m = mask ? mask[int64_t(b) * hw + i] : T(1);
      const T w = weight ? weight[int64_t(b) * hw + i] : T(1);
      for (int c = 0; c < k; ++c) {
        const int64_t idx = base + int64_t(c) * hw;
        const T p = std::exp(logits[idx] - zmax) / sum_exp;
        dlogits[idx] = g * m * w * (t_sum * p - target[idx]);
      }
    }
}

template <class T>
void annealed_mean_decode(T* ab, const T* logits, const T* centres, T temperature, int n, int k, int64_t hw) {
  for (int b = 0; b < n; ++b)
    for (int64_t i = 0; i < hw; ++i) {
      const T* z = logits + int64_t(b) * k * hw + i;
      T* out_a = ab + int64_t(b) * 2 * hw + i;
      T* out_b = out_a + hw;
      int best = 0;
      for (int c = 1; c < k; ++c)
        if (z[int64_t(c) * hw] > z[int64_t(best) * hw]) best = c;
      if (temperature <= T(0)) {
        *out_a = centres[2 * best];
        *out_b = centres[2 * best + 1];
        continue;
      }
      const T zmax = z[int64_t(best) * hw];
      T sum = 0, sa = 0, sb = 0;
      for (int c = 0; c < k; ++c) {
        const T q = std::exp((z[int64_t(c) * hw] - zmax) / temperature);
        sum += q;
        sa += q * centres[2 * c];
        sb += q * centres[2 * c + 1];
      }
      *out_a = sa / sum;
      *out_b = sb / sum;
    }
}

// ---- optimiser -----------------------------------------------------------------------------------------

template <class T>
void adam_step(T* param, const T* grad, T* m, T* v, int64_t n, const AdamHyper& h) {
  const pointwise::AdamConstants<T> c = pointwise::adam_constants<T>(h);
  for (int64_t i = 0; i < n; ++i) pointwise::adam_update(param[i], grad[i], m[i], v[i], c);
}

}  // namespace tint::ref
