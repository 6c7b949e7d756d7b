#include "kernels/cpu/conv_algos.h"

#include <atomic>
#include <fmt/format.h>

#include "engine/error.h"
#include "kernels/cpu/conv_fast.h"
#include "kernels/cpu/conv_winograd.h"

namespace tint::cpu {

namespace {

void gemm_forward(ThreadPool* pool, float* y, const float* x, const float* w, const Conv2dShape& s, Isa isa) {
  conv2d_forward_fast(pool, y, x, w, s, isa);
}
void gemm_backward_data(ThreadPool* pool, float* dx, const float* dy, const float* w, const Conv2dShape& s,
                        Isa isa) {
  conv2d_backward_data_fast(pool, dx, dy, w, s, isa);
}
void gemm_backward_weight(ThreadPool* pool, float* dw, const float* x, const float* dy, const Conv2dShape& s,
                          Isa isa) {
  conv2d_backward_weight_fast(pool, dw, x, dy, s, isa);
}

bool winograd_takes_product(const Conv2dShape& s, ConvProduct) { return winograd_takes(s); }
template <int M>
void winograd_forward(ThreadPool* pool, float* y, const float* x, const float* w, const Conv2dShape& s, Isa isa) {
  conv2d_forward_winograd(M, pool, y, x, w, s, isa);
}
template <int M>
void winograd_backward_data(ThreadPool* pool, float* dx, const float* dy, const float* w, const Conv2dShape& s,
                            Isa isa) {
  conv2d_backward_data_winograd(M, pool, dx, dy, w, s, isa);
}
template <int M>
void winograd_backward_weight(ThreadPool* pool, float* dw, const float* x, const float* dy, const Conv2dShape& s,
                              Isa isa) {
  conv2d_backward_weight_winograd(M, pool, dw, x, dy, s, isa);
}
constexpr ConvFn winograd4_forward = winograd_forward<4>, winograd2_forward = winograd_forward<2>;
constexpr ConvFn winograd4_backward_data = winograd_backward_data<4>, winograd2_backward_data = winograd_backward_data<2>;
constexpr ConvFn winograd4_backward_weight = winograd_backward_weight<4>,
                 winograd2_backward_weight = winograd_backward_weight<2>;

std::vector<ConvAlgo> make_algos() {
  std::vector<ConvAlgo> v;
  v.push_back({"gemm", "packed GEMM with im2col in the packing, col2im scatter-add for backward-data", nullptr,
               gemm_forward, gemm_backward_data, gemm_backward_weight});
  // New algorithms are appended here, each in a file of its own.
  // Tolerances: the measured worst case on the U-Net's shapes with a margin (conv_winograd.h).
  v.push_back({"winograd4", "Winograd F(4x4,3x3): 36 GEMMs per tile block, 3x3 stride-1 only", winograd_takes_product,
               winograd4_forward, winograd4_backward_data, winograd4_backward_weight, 2e-4});
  v.push_back({"winograd2", "Winograd F(2x2,3x3): 16 GEMMs per tile block, 3x3 stride-1 only", winograd_takes_product,
               winograd2_forward, winograd2_backward_data, winograd2_backward_weight, 3e-5});
  return v;
}

// -1: "auto"; otherwise an index into conv_algos().
std::atomic<int> g_selected{-1};

ConvFn fn_of(const ConvAlgo& a, ConvProduct p) {
  switch (p) {
    case ConvProduct::forward: return a.forward;
    case ConvProduct::backward_data: return a.backward_data;
    case ConvProduct::backward_weight: return a.backward_weight;
  }
  return nullptr;
}

// The "auto" rule: which algorithm is fastest for this product and shape. Only "gemm" exists so far.
const ConvAlgo& pick_auto(const Conv2dShape& s, ConvProduct p) {
  (void)s, (void)p;
  return conv_algos().front();
}

}  // namespace

const char* product_name(ConvProduct p) {
  switch (p) {
    case ConvProduct::forward: return "forward";
    case ConvProduct::backward_data: return "backward-data";
    case ConvProduct::backward_weight: return "backward-weight";
  }
  return "?";
}

const std::vector<ConvAlgo>& conv_algos() {
  static const std::vector<ConvAlgo> algos = make_algos();
  return algos;
}

const ConvAlgo* find_conv_algo(const std::string& name) {
  for (const ConvAlgo& a : conv_algos())
    if (name == a.name) return &a;
  return nullptr;
}

std::vector<std::string> conv_variants() {
  std::vector<std::string> v = {"auto"};
  for (const ConvAlgo& a : conv_algos()) v.push_back(a.name);
  return v;
}

std::string conv_variant() {
  const int i = g_selected.load();
  return i < 0 ? "auto" : conv_algos()[size_t(i)].name;
}

void set_conv_variant(const std::string& name) {
  if (name == "auto") return g_selected.store(-1);
  const std::vector<ConvAlgo>& algos = conv_algos();
  for (size_t i = 0; i < algos.size(); ++i)
    if (name == algos[i].name) return g_selected.store(int(i));
  std::string valid;
  for (const std::string& v : conv_variants()) valid += (valid.empty() ? "" : ", ") + v;
  throw Error(fmt::format("unknown cpu conv variant '{}' (valid: {})", name, valid));
}

bool algo_takes(const ConvAlgo& algo, const Conv2dShape& s, ConvProduct p) {
  return fn_of(algo, p) != nullptr && (algo.takes == nullptr || algo.takes(s, p));
}

const ConvAlgo& algo_for(const Conv2dShape& s, ConvProduct p) {
  const int i = g_selected.load();
  if (i < 0) return pick_auto(s, p);
  const ConvAlgo& chosen = conv_algos()[size_t(i)];
  return algo_takes(chosen, s, p) ? chosen : conv_algos().front();
}

void conv_run_with(const ConvAlgo& algo, ConvProduct p, ThreadPool* pool, float* out, const float* a,
                   const float* b, const Conv2dShape& s, Isa isa) {
  const ConvAlgo& use = algo_takes(algo, s, p) ? algo : conv_algos().front();
  fn_of(use, p)(pool, out, a, b, s, isa);
}

void conv_run(ConvProduct p, ThreadPool* pool, float* out, const float* a, const float* b, const Conv2dShape& s,
              Isa isa) {
  fn_of(algo_for(s, p), p)(pool, out, a, b, s, isa);
}

}  // namespace tint::cpu
