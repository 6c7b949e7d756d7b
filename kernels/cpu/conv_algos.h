// The `cpu` backend's convolution algorithms, by name, and the dispatch the backend calls.
//
// Every algorithm computes the same three products as conv_fast.h (forward, backward-data, backward-
// weight), for the shapes it takes; "gemm" (conv_fast.cpp) takes every shape and is the fallback for a
// product or shape an algorithm leaves out. The selection is process-wide:
//
//   "auto"   (the default) per shape and product, the algorithm measured fastest for it: see pick_auto in
//            conv_algos.cpp for the rule and the measurement behind it
//   NAME     that algorithm wherever it takes the shape, "gemm" elsewhere
//
// Algorithms are kept side by side after one wins (llm.c style), so that a benchmark can show what each
// buys and a test runs all of them against cpu-ref.
#pragma once

#include <string>
#include <vector>

#include "engine/backend.h"
#include "kernels/cpu/conv_epilogue.h"
#include "kernels/cpu/gemm_micro.h"

namespace tint {
class ThreadPool;
}

namespace tint::cpu {

enum class ConvProduct { forward, backward_data, backward_weight };
const char* product_name(ConvProduct p);

// One product: out = f(a, b). forward: (y; x, w), backward-data: (dx; dy, w), backward-weight: (dw; x, dy).
using ConvFn = void (*)(ThreadPool* pool, float* out, const float* a, const float* b, const Conv2dShape& s,
                        Isa isa);
// The same with the bias and ReLU applied as the output is stored (conv_epilogue.h): forward, and
// backward-data (a transposed convolution's forward).
using ConvEpilogueFn = void (*)(ThreadPool* pool, float* out, const float* a, const float* b, const Conv2dShape& s,
                                Isa isa, const ConvEpilogue& ep);

struct ConvAlgo {
  const char* name;
  const char* about;                                 // one line for --list and the benchmarks
  bool (*takes)(const Conv2dShape& s, ConvProduct p);  // nullptr: every shape and product it has a function for
  ConvFn forward = nullptr, backward_data = nullptr, backward_weight = nullptr;  // nullptr: not provided
  // The bound the tests hold it to: max |out - cpu-ref| / max |cpu-ref| on random inputs in [-1, 1]. A
  // transform-based algorithm states its own, measured against a double reference (and says where).
  double tolerance = 2e-5;
  // The products that apply an epilogue as they store (nullptr: conv_run_epilogue leaves it to the caller).
  ConvEpilogueFn forward_epilogue = nullptr, backward_data_epilogue = nullptr;
};

const std::vector<ConvAlgo>& conv_algos();  // "gemm" first
const ConvAlgo* find_conv_algo(const std::string& name);  // nullptr when unknown

// The names --variant accepts: "auto" then every algorithm.
std::vector<std::string> conv_variants();
std::string conv_variant();                      // the selected one
void set_conv_variant(const std::string& name);  // throws tint::Error naming the valid ones
inline constexpr const char* conv_default_variant = "auto";

// Whether `algo` takes this product of shape s (it provides the function and its `takes` agrees).
bool algo_takes(const ConvAlgo& algo, const Conv2dShape& s, ConvProduct p);
// The algorithm the selection runs for this product and shape (never nullptr).
const ConvAlgo& algo_for(const Conv2dShape& s, ConvProduct p);

// Run one product through the selection, or through a named algorithm (tests and benchmarks; falls back to
// "gemm" where `algo` does not take the shape).
void conv_run(ConvProduct p, ThreadPool* pool, float* out, const float* a, const float* b, const Conv2dShape& s,
              Isa isa = best_isa());
void conv_run_with(const ConvAlgo& algo, ConvProduct p, ThreadPool* pool, float* out, const float* a,
                   const float* b, const Conv2dShape& s, Isa isa = best_isa());
// Forward or backward-data through the selection (or `algo`, when given), with the epilogue applied as the
// output is stored where that algorithm can. Returns whether it did; if not, the output is the plain
// product and the caller applies the bias and ReLU (the backend, with its bias_relu_forward).
bool conv_run_epilogue(ConvProduct p, ThreadPool* pool, float* out, const float* a, const float* b,
                       const Conv2dShape& s, const ConvEpilogue& ep, Isa isa = best_isa(),
                       const ConvAlgo* algo = nullptr);

}  // namespace tint::cpu
