// The `cpu` backend: the fast convolutions of conv_fast.h, and simple threaded loops for everything else
// (those are memory-bound; a plain loop the compiler vectorises is as fast as anything cleverer).
//
// Determinism: reductions (sum, losses, bias gradient) cut their input into fixed blocks of kReduceBlock
// elements, whatever the thread count, sum each block in double, then add the block sums in order. The
// result is the same bits for any pool.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "engine/backend.h"
#include "engine/thread_pool.h"
#include "kernels/common/pointwise.h"
#include "kernels/cpu/conv_algos.h"
#include "kernels/cpu/conv_epilogue.h"
#include "kernels/cpu/host_memory.h"

namespace tint {

namespace {

constexpr int64_t kGrain = 1 << 15;         // elements per chunk of an element-wise loop
constexpr int64_t kReduceBlock = 1 << 14;  // elements per partial sum of a reduction

// body(begin, end) over [0, n), on the stream's pool when it has one.
template <class F>
void parallel(const Stream& st, int64_t n, F&& body, int64_t grain = kGrain) {
  if (!st.pool || n <= grain)
    body(int64_t(0), n);
  else
    st.pool->parallel_for(0, n, body, grain);
}

// Sums of f(i) over fixed blocks of [0, n), each block summed in double, then the blocks in order.
// F returns a pair (value, weight) so the masked losses get their count from the same pass.
struct Partial {
  double value = 0, weight = 0;
};
template <class F>
Partial deterministic_sum(const Stream& st, int64_t n, F&& block_sum) {
  const int64_t blocks = (n + kReduceBlock - 1) / kReduceBlock;
  std::vector<Partial> partial(size_t(std::max<int64_t>(blocks, 1)));
  parallel(
      st, blocks,
      [&](int64_t b0, int64_t b1) {
        for (int64_t blk = b0; blk < b1; ++blk)
          partial[size_t(blk)] = block_sum(blk * kReduceBlock, std::min(n, (blk + 1) * kReduceBlock));
      },
      1);
  Partial total;
  for (int64_t blk = 0; blk < blocks; ++blk) {
    total.value += partial[size_t(blk)].value;
    total.weight += partial[size_t(blk)].weight;
  }
  return total;
}

void fill(const Stream& st, float* y, float v, int64_t n) {
  parallel(st, n, [&](int64_t b, int64_t e) { std::fill(y + b, y + e, v); });
}
void copy(const Stream& st, float* y, const float* x, int64_t n) {
  parallel(st, n, [&](int64_t b, int64_t e) { std::memcpy(y + b, x + b, size_t(e - b) * sizeof(float)); });
}
void add(const Stream& st, float* y, const float* a, const float* c, int64_t n) {
  parallel(st, n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = a[i] + c[i];
  });
}
void scale(const Stream& st, float* y, const float* x, float alpha, int64_t n) {
  parallel(st, n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = alpha * x[i];
  });
}
void axpy(const Stream& st, float* y, const float* x, float alpha, int64_t n) {
  parallel(st, n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] += alpha * x[i];
  });
}
void sum(const Stream& st, float* out, const float* x, int64_t n) {
  const Partial p = deterministic_sum(st, n, [&](int64_t b, int64_t e) {
    double s = 0;
    for (int64_t i = b; i < e; ++i) s += double(x[i]);
    return Partial{s, 0};
  });
  out[0] = float(p.value);
}
void broadcast_scalar(const Stream& st, float* y, const float* s, float alpha, int64_t n) {
  const float v = alpha * s[0];
  fill(st, y, v, n);
}
void relu_forward(const Stream& st, float* y, const float* x, int64_t n) {
  parallel(st, n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = pointwise::relu(x[i]);
  });
}
void relu_backward(const Stream& st, float* dx, const float* dy, const float* x, int64_t n) {
  parallel(st, n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dx[i] = pointwise::relu_backward(dy[i], x[i]);
  });
}
void tanh_forward(const Stream& st, float* y, const float* x, int64_t n) {
  parallel(st, n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) y[i] = std::tanh(x[i]);
  });
}
void tanh_backward(const Stream& st, float* dx, const float* dy, const float* y, int64_t n) {
  parallel(st, n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dx[i] = pointwise::tanh_backward(dy[i], y[i]);
  });
}

// Planes (image, channel) are the unit of work for the per-channel entries.
void bias_add(const Stream& st, float* y, const float* bias, int n, int c, int64_t hw) {
  parallel(
      st, int64_t(n) * c,
      [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) cpu::epilogue_row(y + p * hw, hw, bias[p % c], false);
      },
      std::max<int64_t>(1, kGrain / std::max<int64_t>(hw, 1)));
}

// The fused bias + ReLU pair (engine/backend.h), with the bits of bias_add then relu_forward, and of
// relu_backward then bias_backward: the same float add and select per element (cpu::epilogue_row, which
// the convolutions also apply as they store their outputs), and one gradient loop (bias_grad, below) for
// both backward entries, in the same vectors of 4 floats.
using cpu::epilogue_detail::Float4;
using cpu::epilogue_detail::keep_positive;
using cpu::epilogue_detail::load4;
using cpu::epilogue_detail::store4;

void bias_relu_forward(const Stream& st, float* y, const float* bias, int n, int c, int64_t hw) {
  parallel(
      st, int64_t(n) * c,
      [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) cpu::epilogue_row(y + p * hw, hw, bias ? bias[p % c] : 0.0f, true);
      },
      std::max<int64_t>(1, kGrain / std::max<int64_t>(hw, 1)));
}

// The bias gradient, summed per channel over images and pixels, one channel per task (deterministic for any
// split): pixel i of each image row goes into partial i % 4 (one chain of dependent double adds was
// latency-bound, 4 cycles an element), and the row adds (p0 + p1) + (p2 + p3). Relu: of dz = dy * (y > 0),
// which is also stored (bias_relu_backward); otherwise of dy itself (bias_backward).
template <bool Relu>
void bias_grad(const Stream& st, float* dz, float* dbias, const float* dy, const float* y, int n, int c,
               int64_t hw) {
  parallel(
      st, c,
      [&](int64_t c0, int64_t c1) {
        for (int64_t ch = c0; ch < c1; ++ch) {
          double s = 0;
          for (int b = 0; b < n; ++b) {
            const int64_t at = (int64_t(b) * c + ch) * hw;
            const float* g = dy + at;
            double part[4] = {0, 0, 0, 0};
            int64_t i = 0;
            for (; i + 4 <= hw; i += 4) {
              Float4 dv = load4(g + i);
              if constexpr (Relu) {
                dv = keep_positive(dv, load4(y + at + i));
                store4(dz + at + i, dv);
              }
              for (int q = 0; q < 4; ++q) part[q] += double(dv[q]);
            }
            for (; i < hw; ++i) {
              float dv = g[i];
              if constexpr (Relu) dz[at + i] = dv = pointwise::relu_backward(dv, y[at + i]);
              part[i % 4] += double(dv);
            }
            s += (part[0] + part[1]) + (part[2] + part[3]);
          }
          if (dbias) dbias[ch] = float(s);
        }
      },
      1);
}

void bias_backward(const Stream& st, float* dbias, const float* dy, int n, int c, int64_t hw) {
  bias_grad<false>(st, nullptr, dbias, dy, nullptr, n, c, hw);
}
void bias_relu_backward(const Stream& st, float* dz, float* dbias, const float* dy, const float* y, int n, int c,
                        int64_t hw) {
  bias_grad<true>(st, dz, dbias, dy, y, n, c, hw);
}

void concat_channels(const Stream& st, float* y, const float* a, const float* b, int n, int ca, int cb,
                     int64_t hw) {
  const int64_t sa = int64_t(ca) * hw, sb = int64_t(cb) * hw;
  parallel(
      st, n,
      [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          std::memcpy(y + i * (sa + sb), a + i * sa, size_t(sa) * sizeof(float));
          std::memcpy(y + i * (sa + sb) + sa, b + i * sb, size_t(sb) * sizeof(float));
        }
      },
      1);
}
void split_channels(const Stream& st, float* da, float* db, const float* dy, int n, int ca, int cb,
                    int64_t hw) {
  const int64_t sa = int64_t(ca) * hw, sb = int64_t(cb) * hw;
  parallel(
      st, n,
      [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          if (da) std::memcpy(da + i * sa, dy + i * (sa + sb), size_t(sa) * sizeof(float));
          if (db) std::memcpy(db + i * sb, dy + i * (sa + sb) + sa, size_t(sb) * sizeof(float));
        }
      },
      1);
}

// ---- losses: masked means, as in the contract ----

template <class F>
void loss_forward(const Stream& st, float* out, const float* pred, const float* target, const float* mask,
                  int n, int c, int64_t hw, F f) {
  const int64_t total = int64_t(n) * c * hw;
  const Partial p = deterministic_sum(st, total, [&](int64_t b, int64_t e) {
    Partial part;
    for (int64_t k = b; k < e; ++k) {
      const double m = mask ? double(mask[(k / (int64_t(c) * hw)) * hw + k % hw]) : 1.0;
      part.value += m * f(double(pred[k]) - double(target[k]));
      part.weight += m;
    }
    return part;
  });
  out[0] = float(p.weight > 0 ? p.value / p.weight : 0.0);
  out[1] = float(p.weight);
}

template <class DF>
void loss_backward(const Stream& st, float* dpred, const float* grad_loss, const float* loss_out2,
                   const float* pred, const float* target, const float* mask, int n, int c, int64_t hw, DF df) {
  const float count = loss_out2[1];
  const float g = count > 0.0f ? grad_loss[0] / count : 0.0f;
  parallel(st, int64_t(n) * c * hw, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      const float m = mask ? mask[(k / (int64_t(c) * hw)) * hw + k % hw] : 1.0f;
      dpred[k] = g * m * df(pred[k] - target[k]);
    }
  });
}

// ---- classification over ab bins ----
// A pixel's classes are hw floats apart, so a loop over one pixel's classes touches a new cache line per
// class. These kernels take a chunk of adjacent pixels at a time and loop over the classes outside, the
// pixels inside: every pass reads contiguous memory and vectorises.

constexpr int kPixelChunk = 64;

// f(b, i0, len) over the pixels [p0, p1) of the flattened (n, hw), in chunks that stay inside one image.
template <class F>
void for_pixel_chunks(int64_t p0, int64_t p1, int64_t hw, F&& f) {
  for (int64_t p = p0; p < p1;) {
    const int64_t b = p / hw, i = p % hw;
    const int len = int(std::min<int64_t>({kPixelChunk, p1 - p, hw - i}));
    f(b, i, len);
    p += len;
  }
}

// Per pixel of a chunk: the largest logit and sum_k exp(z_k - max).
struct ChunkSoftmax {
  float zmax[kPixelChunk], sum_exp[kPixelChunk];
  void compute(const float* z, int k, int64_t hw, int len, float temperature = 1.0f) {
    for (int j = 0; j < len; ++j) zmax[j] = z[j];
    for (int c = 1; c < k; ++c)
      for (int j = 0; j < len; ++j) zmax[j] = std::max(zmax[j], z[int64_t(c) * hw + j]);
    const float inv_t = 1.0f / temperature;
    for (int j = 0; j < len; ++j) sum_exp[j] = 0.0f;
    for (int c = 0; c < k; ++c)
      for (int j = 0; j < len; ++j) sum_exp[j] += std::exp((z[int64_t(c) * hw + j] - zmax[j]) * inv_t);
  }
};

void softmax_ce_forward(const Stream& st, float* out, const float* logits, const float* target,
                        const float* weight, const float* mask, int n, int k, int64_t hw) {
  const Partial p = deterministic_sum(st, int64_t(n) * hw, [&](int64_t p0, int64_t p1) {
    Partial part;
    for_pixel_chunks(p0, p1, hw, [&](int64_t b, int64_t i0, int len) {
      const float* z = logits + b * k * hw + i0;
      const float* t = target + b * k * hw + i0;
      ChunkSoftmax sm;
      sm.compute(z, k, hw, len);
      // ce = -sum_k t_k (z_k - max - log sum_exp) = T log(sum_exp) - sum_k t_k (z_k - max)
      float t_sum[kPixelChunk] = {}, tz[kPixelChunk] = {};
      for (int c = 0; c < k; ++c)
        for (int j = 0; j < len; ++j) {
          const float tv = t[int64_t(c) * hw + j];
          t_sum[j] += tv;
          tz[j] += tv * (z[int64_t(c) * hw + j] - sm.zmax[j]);
        }
      for (int j = 0; j < len; ++j) {
        const int64_t px = b * hw + i0 + j;
        const double m = mask ? double(mask[px]) : 1.0;
        const double w = weight ? double(weight[px]) : 1.0;
        part.value += m * w * (double(t_sum[j]) * std::log(double(sm.sum_exp[j])) - double(tz[j]));
        part.weight += m;
      }
    });
    return part;
  });
  out[0] = float(p.weight > 0 ? p.value / p.weight : 0.0);
  out[1] = float(p.weight);
}

void softmax_ce_backward(const Stream& st, float* dlogits, const float* grad_loss, const float* loss_out2,
                         const float* logits, const float* target, const float* weight, const float* mask,
                         int n, int k, int64_t hw) {
  const float count = loss_out2[1];
  const float g = count > 0.0f ? grad_loss[0] / count : 0.0f;
  parallel(
      st, int64_t(n) * hw,
      [&](int64_t p0, int64_t p1) {
        for_pixel_chunks(p0, p1, hw, [&](int64_t b, int64_t i0, int len) {
          const int64_t base = b * k * hw + i0;
          const float* z = logits + base;
          const float* t = target + base;
          ChunkSoftmax sm;
          sm.compute(z, k, hw, len);
          float t_sum[kPixelChunk] = {}, scale[kPixelChunk], inv_sum[kPixelChunk];
          for (int c = 0; c < k; ++c)
            for (int j = 0; j < len; ++j) t_sum[j] += t[int64_t(c) * hw + j];
          for (int j = 0; j < len; ++j) {
            const int64_t px = b * hw + i0 + j;
            scale[j] = g * (mask ? mask[px] : 1.0f) * (weight ? weight[px] : 1.0f);
            inv_sum[j] = 1.0f / sm.sum_exp[j];
          }
          for (int c = 0; c < k; ++c)
            for (int j = 0; j < len; ++j) {
              const int64_t idx = int64_t(c) * hw + j;
              const float prob = std::exp(z[idx] - sm.zmax[j]) * inv_sum[j];
              dlogits[base + idx] = scale[j] * (t_sum[j] * prob - t[idx]);
            }
        });
      },
      kGrain / 64);
}

void annealed_mean_decode(const Stream& st, float* ab, const float* logits, const float* centres,
                          float temperature, int n, int k, int64_t hw) {
  parallel(
      st, int64_t(n) * hw,
      [&](int64_t p0, int64_t p1) {
        for_pixel_chunks(p0, p1, hw, [&](int64_t b, int64_t i0, int len) {
          const float* z = logits + b * k * hw + i0;
          float* out_a = ab + b * 2 * hw + i0;
          float* out_b = out_a + hw;
          if (temperature <= 0.0f) {
            int best[kPixelChunk] = {};
            for (int c = 1; c < k; ++c)
              for (int j = 0; j < len; ++j)
                if (z[int64_t(c) * hw + j] > z[int64_t(best[j]) * hw + j]) best[j] = c;
            for (int j = 0; j < len; ++j) {
              out_a[j] = centres[2 * best[j]];
              out_b[j] = centres[2 * best[j] + 1];
            }
            return;
          }
          ChunkSoftmax sm;
          sm.compute(z, k, hw, len, temperature);
          const float inv_t = 1.0f / temperature;
          float sa[kPixelChunk] = {}, sb[kPixelChunk] = {};
          for (int c = 0; c < k; ++c)
            for (int j = 0; j < len; ++j) {
              const float q = std::exp((z[int64_t(c) * hw + j] - sm.zmax[j]) * inv_t);
              sa[j] += q * centres[2 * c];
              sb[j] += q * centres[2 * c + 1];
            }
          for (int j = 0; j < len; ++j) {
            out_a[j] = sa[j] / sm.sum_exp[j];
            out_b[j] = sb[j] / sm.sum_exp[j];
          }
        });
      },
      kGrain / 64);
}

#if defined(__x86_64__)
// pointwise::adam_update eight parameters at a time. The kernels build at -O2, where GCC vectorises only
// loops it needs no scalar remainder for, so the plain loop ran scalar: 111 ms of a 128x128 step against
// PyTorch's fused Adam's 34 ms (benchmarks/results/2026-11-30-cpu-check). The operations are the scalar
// formula's, in its order, each correctly rounded (no FMA: "avx" only), so the bits are the same as
// cpu-ref's (tests/test_cpu_kernels.cpp checks it).
__attribute__((target("avx"))) void adam_avx(float* __restrict p, const float* __restrict g, float* __restrict m,
                                             float* __restrict v, int64_t n, const pointwise::AdamConstants<float>& c) {
  const __m256 beta1 = _mm256_set1_ps(c.beta1), beta2 = _mm256_set1_ps(c.beta2);
  const __m256 one_minus_beta1 = _mm256_set1_ps(1.0f - c.beta1), one_minus_beta2 = _mm256_set1_ps(1.0f - c.beta2);
  const __m256 lr = _mm256_set1_ps(c.lr), eps = _mm256_set1_ps(c.eps), wd = _mm256_set1_ps(c.weight_decay);
  const __m256 bias1 = _mm256_set1_ps(c.bias1), bias2 = _mm256_set1_ps(c.bias2);
  const __m256 shrink = _mm256_set1_ps(1.0f - c.lr * c.weight_decay);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 pi = _mm256_loadu_ps(p + i), gi = _mm256_loadu_ps(g + i);
    if (c.decoupled)
      pi = _mm256_mul_ps(pi, shrink);
    else
      gi = _mm256_add_ps(gi, _mm256_mul_ps(wd, pi));
    const __m256 mi = _mm256_add_ps(_mm256_mul_ps(beta1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(one_minus_beta1, gi));
    const __m256 vi = _mm256_add_ps(_mm256_mul_ps(beta2, _mm256_loadu_ps(v + i)),
                                    _mm256_mul_ps(_mm256_mul_ps(one_minus_beta2, gi), gi));
    const __m256 step = _mm256_div_ps(_mm256_mul_ps(lr, _mm256_div_ps(mi, bias1)),
                                      _mm256_add_ps(_mm256_sqrt_ps(_mm256_div_ps(vi, bias2)), eps));
    _mm256_storeu_ps(p + i, _mm256_sub_ps(pi, step));
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
  }
  for (; i < n; ++i) pointwise::adam_update(p[i], g[i], m[i], v[i], c);
}
#endif

void adam_step(const Stream& st, float* param, const float* grad, float* m, float* v, int64_t n,
               const AdamHyper& h) {
  const pointwise::AdamConstants<float> c = pointwise::adam_constants<float>(h);
#if defined(__x86_64__)
  if (cpu::best_isa() != cpu::Isa::generic) {
    parallel(st, n, [&](int64_t b, int64_t e) { adam_avx(param + b, grad + b, m + b, v + b, e - b, c); });
    return;
  }
#endif
  parallel(st, n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) pointwise::adam_update(param[i], grad[i], m[i], v[i], c);
  });
}

Backend make_cpu_backend() {
  Backend b{};
  b.name = "cpu";
  b.alloc = cpu::host_alloc;
  b.free = cpu::host_free;
  b.copy_from_host = cpu::host_copy_from_host;
  b.copy_to_host = cpu::host_copy_to_host;
  b.synchronize = cpu::host_synchronize;
  b.fill = fill;
  b.copy = copy;
  b.add = add;
  b.scale = scale;
  b.axpy = axpy;
  b.sum = sum;
  b.broadcast_scalar = broadcast_scalar;
  b.relu_forward = relu_forward;
  b.relu_backward = relu_backward;
  b.tanh_forward = tanh_forward;
  b.tanh_backward = tanh_backward;
  b.bias_add = bias_add;
  b.bias_backward = bias_backward;
  b.bias_relu_forward = bias_relu_forward;
  b.bias_relu_backward = bias_relu_backward;
  b.concat_channels = concat_channels;
  b.split_channels = split_channels;
  b.conv2d_forward = [](const Stream& st, float* y, const float* x, const float* w, const Conv2dShape& s) {
    cpu::conv_run(cpu::ConvProduct::forward, st.pool, y, x, w, s);
  };
  b.conv2d_backward_data = [](const Stream& st, float* dx, const float* dy, const float* w,
                              const Conv2dShape& s) {
    cpu::conv_run(cpu::ConvProduct::backward_data, st.pool, dx, dy, w, s);
  };
  b.conv2d_backward_weight = [](const Stream& st, float* dw, const float* x, const float* dy,
                                const Conv2dShape& s) {
    cpu::conv_run(cpu::ConvProduct::backward_weight, st.pool, dw, x, dy, s);
  };
  b.conv2d_workspace_bytes = [](const Conv2dShape&) -> size_t { return 0; };  // thread-local scratch
  b.conv2d_forward_epilogue = [](const Stream& st, float* y, const float* x, const float* w, const float* bias,
                                 bool relu, const Conv2dShape& s) {
    return cpu::conv_run_epilogue(cpu::ConvProduct::forward, st.pool, y, x, w, s, {bias, relu});
  };
  b.conv2d_backward_data_epilogue = [](const Stream& st, float* dx, const float* dy, const float* w,
                                       const float* bias, bool relu, const Conv2dShape& s) {
    return cpu::conv_run_epilogue(cpu::ConvProduct::backward_data, st.pool, dx, dy, w, s, {bias, relu});
  };
  b.l1_loss_forward = [](const Stream& st, float* out, const float* p, const float* t, const float* m, int n,
                         int c, int64_t hw) {
    loss_forward(st, out, p, t, m, n, c, hw, [](double d) { return std::fabs(d); });
  };
  b.l1_loss_backward = [](const Stream& st, float* dp, const float* g, const float* lo, const float* p,
                          const float* t, const float* m, int n, int c, int64_t hw) {
    loss_backward(st, dp, g, lo, p, t, m, n, c, hw, [](float d) { return pointwise::l1_grad(d); });
  };
  b.mse_loss_forward = [](const Stream& st, float* out, const float* p, const float* t, const float* m, int n,
                          int c, int64_t hw) {
    loss_forward(st, out, p, t, m, n, c, hw, [](double d) { return d * d; });
  };
  b.mse_loss_backward = [](const Stream& st, float* dp, const float* g, const float* lo, const float* p,
                           const float* t, const float* m, int n, int c, int64_t hw) {
    loss_backward(st, dp, g, lo, p, t, m, n, c, hw, [](float d) { return pointwise::mse_grad(d); });
  };
  b.softmax_ce_forward = softmax_ce_forward;
  b.softmax_ce_backward = softmax_ce_backward;
  b.annealed_mean_decode = annealed_mean_decode;
  b.adam_step = adam_step;
  return b;
}

}  // namespace

const Backend& cpu_backend() {
  static const Backend table = make_cpu_backend();
  return table;
}

// A build without nvcc has no native CUDA backend; kernels/cuda/backend.cu defines these otherwise.
#ifndef TINT_HAVE_CUDA
const Backend* cuda_backend() { return nullptr; }
bool cuda_device_available() { return false; }
#endif

}  // namespace tint
