// The per-element formulas of the kernel contract (engine/backend.h), written once for every backend: the
// reference loops (kernels/cpu/reference.h, in float and in double), the fast CPU kernels
// (kernels/cpu/cpu_backend.cpp) and the CUDA kernels (kernels/cuda/*.cu, compiled by nvcc and, for
// cuda-emu, by the host compiler). Three copies of the Adam update had drifted apart (the bias corrections
// were computed in float on one backend and in double on another); with one copy, the backends can differ
// only in how they sum, never in what they compute per element.
//
// Everything here is header-only and free of the standard library's device-unfriendly parts, so that nvcc
// accepts it in __device__ code; under g++ TINT_HD is plain `inline`.
#pragma once

#include <math.h>

#include <cstdint>

#include "engine/backend.h"

#if defined(__CUDACC__)
#define TINT_HD __host__ __device__ __forceinline__
#else
#define TINT_HD inline
#endif

namespace tint::pointwise {

// y = max(x, 0); the gradient at exactly 0 is 0, as in PyTorch.
template <class T>
TINT_HD T relu(T x) {
  return x > T(0) ? x : T(0);
}
template <class T>
TINT_HD T relu_backward(T dy, T x) {
  return x > T(0) ? dy : T(0);
}

// From the saved output y = tanh(x).
template <class T>
TINT_HD T tanh_backward(T dy, T y) {
  return dy * (T(1) - y * y);
}

// d/dd |d| with sign(0) = 0 (PyTorch's choice at the kink), and d/dd d^2.
template <class T>
TINT_HD T l1_grad(T d) {
  return d > T(0) ? T(1) : (d < T(0) ? T(-1) : T(0));
}
template <class T>
TINT_HD T mse_grad(T d) {
  return T(2) * d;
}

// The per-step constants of Adam in the element type T. The bias corrections 1 - beta^t are computed once
// per step on the host in double (float pow drifts for large t), then rounded to T: the same value on every
// backend.
template <class T>
struct AdamConstants {
  T lr, beta1, beta2, eps, weight_decay, bias1, bias2;
  bool decoupled;
};

template <class T>
AdamConstants<T> adam_constants(const AdamHyper& h) {
  const double t = double(h.step + 1);  // h.step counts the steps taken before this one
  AdamConstants<T> c;
  c.lr = T(h.lr), c.beta1 = T(h.beta1), c.beta2 = T(h.beta2), c.eps = T(h.eps),
  c.weight_decay = T(h.weight_decay);
  c.bias1 = T(1.0 - pow(double(h.beta1), t));
  c.bias2 = T(1.0 - pow(double(h.beta2), t));
  c.decoupled = h.decoupled;
  return c;
}

TINT_HD float pointwise_sqrt(float x) {
  return sqrtf(x);
}
TINT_HD double pointwise_sqrt(double x) {
  return sqrt(x);
}

// One parameter's update (the formula beside adam_step in engine/backend.h).
template <class T>
TINT_HD void adam_update(T& p, T g, T& m, T& v, const AdamConstants<T>& c) {
  if (c.decoupled)
    p *= T(1) - c.lr * c.weight_decay;
  else
    g += c.weight_decay * p;
  m = c.beta1 * m + (T(1) - c.beta1) * g;
  v = c.beta2 * v + (T(1) - c.beta2) * g * g;
  p -= c.lr * (m / c.bias1) / (pointwise_sqrt(v / c.bias2) + c.eps);
}

}  // namespace tint::pointwise
