// The op registry: every entry of the kernel contract (engine/backend.h) described ONCE, in the manner of
// ggml's test-backend-ops: its name, its shape syntax, the tensors it reads and writes for a shape, how to
// make seeded random inputs, the launches of its forward and backward on any Backend/Stream, what each
// launch costs (engine/op_cost.h), how close each backend must come to cpu-ref, whether it must give the
// same bits on every run, and the small shapes it is tested on. The U-Net's layer shapes are added from
// models/ (models/unet_cases.h), which knows the architecture; the engine does not.
//
// Everything that runs ops by name drives from here: the all-backends test matrix (tests/test_cuda_matrix.h
// and the fast-CPU tests), the kernel benchmarks and `tint op`. Adding an op or a shape is one edit in
// op_registry.cpp.
//
// Tensors of a case are addressed by position: the op's inputs, then its outputs, then its gradients (the
// outputs of its backward), in the order of OpDef::inputs/outputs/grads. The upstream gradient of a
// backward (`dy`, `dloss`) is one of the inputs, so a case is fully reproducible from its inputs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/op_cost.h"

namespace tint {

using OpDims = std::vector<int64_t>;  // a case's shape: integers whose meaning is the op's (OpDef::syntax)

// How a tensor's random values are made.
enum class Init {
  uniform,  // U(lo, hi)
  kinks,    // U(lo, hi) with every third element an exact +0 or -0 (relu's kink)
  mask,     // 0/1, about a quarter zeros (a pixel mask)
  zeros,    // all 0 (an all-padding mask: the losses' count-0 case)
  ties,     // U(lo, hi), then every third element copied from input `tie_to` (L1's kink at pred == target)
};

struct TensorSpec {
  std::string name;
  int64_t size = 0;            // elements
  std::vector<int64_t> shape;  // for .npy files and messages; empty: 1-D of `size`
  Init init = Init::uniform;
  float lo = -1, hi = 1;
  int tie_to = -1;           // Init::ties: the input whose elements are copied
  int inplace_of = -1;       // outputs: starts as a copy of this input (bias_add's y, Adam's p/m/v)
  double terms = 1;          // outputs: float terms summed into one element; sets the tolerance
  bool per_element = false;  // outputs: compare each element against its own magnitude (scalars of
                             // different scales in one buffer, such as the losses' value and count)
};

// One kernel launch of an op: its name in tables ("fwd", "bwd-data", ...), whether it belongs to the
// backward, its cost, and the call. `t` holds the case's tensors by position (inputs, outputs, grads).
struct OpLaunch {
  const char* name;
  bool backward;
  OpCost (*cost)(const OpDims&);
  void (*run)(const Backend&, const Stream&, float* const* t, const OpDims&);
};

struct OpDef {
  const char* name;                      // "conv2d"
  const char* syntax;                    // "N,C,H,W,COUT,K,S,P" (what --shape takes)
  const char* about;                     // one line: what it computes, which contract entries it runs
  bool bit_exact;                        // must give the same bits on every run (reductions, split-K)
  OpDims (*parse)(const OpDims& given);  // validates and completes a user's shape; throws naming the op
  std::string (*describe)(const OpDims&);
  std::vector<TensorSpec> (*inputs)(const OpDims&);
  std::vector<TensorSpec> (*outputs)(const OpDims&);
  std::vector<TensorSpec> (*grads)(const OpDims&);  // empty: no backward (fills, Adam)
  std::vector<OpLaunch> launches;
  std::vector<OpDims> small;  // the small odd shapes of the test matrix
  // Scratch the launches need on `b` (Stream::workspace); nullptr: none.
  size_t (*workspace)(const Backend& b, const OpDims&) = nullptr;
  bool has_backward() const;
  OpCost cost(bool backward, const OpDims& dims) const;  // summed over the forward's (or backward's) launches
};

// Where a case runs: `small` shapes run everywhere (the emulator included); `unet` cases are the real
// layers, for the benchmarks and the GPU test (too slow to emulate).
enum CaseTag : unsigned { kSmallCase = 1, kUNetCase = 2 };

struct OpCase {
  const OpDef* op;
  OpDims dims;
  std::string label;  // "down.1.conv1" for a U-Net layer; empty for a small shape
  unsigned tags = kSmallCase;
  std::string str() const;  // "conv2d n2 c3x9x7 -> ..." plus the label
};

// The convolution of a conv2d or conv_transpose2d case (for a transposed one, its role-swapped conv2d:
// see make_conv_transpose2d); throws for any other op.
Conv2dShape conv_shape_of(const OpCase& c, bool* transposed = nullptr);

const std::vector<OpDef>& op_registry();
const OpDef& find_op(const std::string& name);  // throws naming the valid ops
std::vector<OpCase> small_op_cases();           // every op at every small shape

// Parses "2,3,9,7" into integers; throws naming `what` on anything else.
OpDims parse_dims(const std::string& text, const std::string& what);

// Seeded random inputs for a case (the same for every backend and run).
std::vector<std::vector<float>> make_op_inputs(const OpDef& op, const OpDims& dims, uint32_t seed);

// Tolerance of an output against cpu-ref on `backend`, as max|got - ref| / max|ref| (see compare_outputs):
// 0 on cpu-ref itself; else max(1e-5, 1e-6 * sqrt(terms)). Why: each element-wise output is one to three
// float roundings (1e-5 leaves room for fmaf against a*b+c and tanhf against std::tanh); a float sum of K
// terms in another order than the reference's differs by about sqrt(K) * 6e-8 of the output's scale, and
// the bound is 15x that, still far below what a missed tap or a wrong index gives (>= 1/K, >= 1e-3 here).
double op_tolerance(const TensorSpec& output, const std::string& backend);
// The same for `op` run under the CUDA conv variant `conv_variant` ("" where there is none): the TF32 ones
// (names ending in "-tf32", kernels/cuda/conv2d.h) round both operands of a convolution's products to 11
// significant bits, and get 2^-9 (winograd2-tf32) or 2^-5 (winograd4-tf32, whose transforms amplify the
// rounding); op_registry.cpp says how the bounds were set. Any other op or variant: the bound above.
double op_tolerance(const OpDef& op, const TensorSpec& output, const std::string& backend,
                    const std::string& conv_variant);
bool is_tf32_variant(const std::string& conv_variant);

struct Comparison {
  double max_abs = 0;  // max |got - ref|
  double error = 0;  // max |got - ref| / max |ref| (or per element, TensorSpec::per_element); inf: not finite
  int64_t worst = -1;  // index of the element with the largest |got - ref| (or the first non-finite one)
};
Comparison compare_outputs(const std::vector<float>& got, const std::vector<float>& ref, bool per_element);

// One case's device tensors on one backend. reset() uploads the inputs, poisons the outputs and gradients
// with NaN (an element a kernel fails to write shows up in the comparison) and initialises in-place
// outputs from their inputs; forward() and backward() launch (asynchronously: download() synchronises).
class OpRun {
 public:
  OpRun(const Backend& backend, const OpDef& op, OpDims dims, std::vector<std::vector<float>> inputs,
        Stream stream = {}, bool with_workspace = true);
  ~OpRun();
  OpRun(const OpRun&) = delete;
  OpRun& operator=(const OpRun&) = delete;

  void reset();
  void forward();
  void backward();
  void launch(size_t index);  // one of op.launches
  void synchronize();
  // Host copies: position i of inputs, then outputs, then grads (as `tensor_specs`).
  std::vector<float> download(size_t tensor);
  std::vector<TensorSpec> tensor_specs() const;
  size_t input_count() const { return inputs_.size(); }
  size_t output_count() const;
  const Stream& stream() const { return stream_; }

 private:
  const Backend& b_;
  const OpDef& op_;
  OpDims dims_;
  std::vector<std::vector<float>> inputs_;
  std::vector<TensorSpec> specs_;
  std::vector<float*> tensors_;
  void* workspace_ = nullptr;
  Stream stream_;
};

// Forward then backward (when the op has one) from reset; the host copies of every output and gradient.
std::vector<std::vector<float>> run_op_case(const Backend& backend, const OpDef& op, const OpDims& dims,
                                            const std::vector<std::vector<float>>& inputs, Stream stream = {},
                                            bool with_workspace = true);

}  // namespace tint
