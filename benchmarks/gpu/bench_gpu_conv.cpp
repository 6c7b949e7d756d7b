// bench_gpu_conv: tint's CUDA conv kernels (every variant, every product) against cuDNN on the U-Net's
// layers, and the memory-bound ops in GB/s (the reductions under every reduce variant): all of them the op
// registry's U-Net cases (models/unet_cases.h), run through the registry's launches, with FLOPs and bytes
// from engine/op_cost.h. Built only with nvcc; run by benchmarks/gpu/check.sh on a lent GPU.
//
// Fairness: fp32 everywhere, TF32 off on both sides (cuDNN's math type CUDNN_FMA_MATH: FMA kernels only),
// except tint's -tf32 variants, which are held to "cudnn-tf32": cuDNN under CUDNN_DEFAULT_MATH, which allows
// TF32 tensor cores on Hopper. cuDNN's algorithm chosen by its own
// cudnnFind* (it times every algorithm and we take the fastest that succeeded), with the workspace it asks
// for. Each timing: warm-up launches, then for every repeat the L2 is flushed (a memset larger than L2,
// outside the timed span) and one launch is timed with CUDA events; the median is reported. tint's outputs
// are compared with cuDNN's in the same run (relative error max|a-b| / max|cudnn|).
//
// cuDNN is loaded with dlopen, so this binary runs (tint's kernels alone) where cuDNN is missing.
//
// Usage: bench_gpu_conv [--json FILE] [--batches 1,8] [--repeats N] [--layers SUBSTR] [--variants A,B] [--quick]
// (--variants: only these conv variants; every one by default)
#include <cuda_runtime.h>
#include <cudnn.h>
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/op_registry.h"
#include "kernels/cuda/conv2d.h"
#include "kernels/cuda/reduce.h"
#include "models/unet_cases.h"

using namespace tint;

namespace {

#define CK(call)                                                                                         \
  do {                                                                                                   \
    const cudaError_t e_ = (call);                                                                       \
    if (e_ != cudaSuccess) {                                                                             \
      std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      std::exit(1);                                                                                      \
    }                                                                                                    \
  } while (0)

// ---- cuDNN through dlopen -------------------------------------------------------------------------------

struct Cudnn {
  bool ok = false;
  std::string why;
  cudnnHandle_t handle = nullptr;
#define TINT_CUDNN_FN(name) decltype(&::name) name = nullptr;
  TINT_CUDNN_FN(cudnnCreate)
  TINT_CUDNN_FN(cudnnGetErrorString)
  TINT_CUDNN_FN(cudnnGetVersion)
  TINT_CUDNN_FN(cudnnCreateTensorDescriptor)
  TINT_CUDNN_FN(cudnnSetTensor4dDescriptor)
  TINT_CUDNN_FN(cudnnCreateFilterDescriptor)
  TINT_CUDNN_FN(cudnnSetFilter4dDescriptor)
  TINT_CUDNN_FN(cudnnCreateConvolutionDescriptor)
  TINT_CUDNN_FN(cudnnSetConvolution2dDescriptor)
  TINT_CUDNN_FN(cudnnSetConvolutionMathType)
  TINT_CUDNN_FN(cudnnDestroyTensorDescriptor)
  TINT_CUDNN_FN(cudnnDestroyFilterDescriptor)
  TINT_CUDNN_FN(cudnnDestroyConvolutionDescriptor)
  TINT_CUDNN_FN(cudnnFindConvolutionForwardAlgorithm)
  TINT_CUDNN_FN(cudnnFindConvolutionBackwardDataAlgorithm)
  TINT_CUDNN_FN(cudnnFindConvolutionBackwardFilterAlgorithm)
  TINT_CUDNN_FN(cudnnGetConvolutionForwardWorkspaceSize)
  TINT_CUDNN_FN(cudnnGetConvolutionBackwardDataWorkspaceSize)
  TINT_CUDNN_FN(cudnnGetConvolutionBackwardFilterWorkspaceSize)
  TINT_CUDNN_FN(cudnnConvolutionForward)
  TINT_CUDNN_FN(cudnnConvolutionBackwardData)
  TINT_CUDNN_FN(cudnnConvolutionBackwardFilter)
#undef TINT_CUDNN_FN

  void load() {
    // cuDNN 9 is a front library plus sub-libraries; look each symbol up in all of them.
    std::vector<void*> libs;
    for (const char* name : {"libcudnn.so.9", "libcudnn_graph.so.9", "libcudnn_ops.so.9", "libcudnn_cnn.so.9"})
      if (void* h = dlopen(name, RTLD_NOW | RTLD_GLOBAL)) libs.push_back(h);
    if (libs.empty()) {
      why = std::string("dlopen libcudnn.so.9 failed: ") + dlerror();
      return;
    }
    bool all = true;
    auto find = [&](auto& fn, const char* name) {
      for (void* h : libs)
        if (void* p = dlsym(h, name)) {
          fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(p);
          return;
        }
      why += std::string(" missing ") + name;
      all = false;
    };
#define TINT_CUDNN_FIND(name) find(name, #name);
    TINT_CUDNN_FIND(cudnnCreate)
    TINT_CUDNN_FIND(cudnnGetErrorString)
    TINT_CUDNN_FIND(cudnnGetVersion)
    TINT_CUDNN_FIND(cudnnCreateTensorDescriptor)
    TINT_CUDNN_FIND(cudnnSetTensor4dDescriptor)
    TINT_CUDNN_FIND(cudnnCreateFilterDescriptor)
    TINT_CUDNN_FIND(cudnnSetFilter4dDescriptor)
    TINT_CUDNN_FIND(cudnnCreateConvolutionDescriptor)
    TINT_CUDNN_FIND(cudnnSetConvolution2dDescriptor)
    TINT_CUDNN_FIND(cudnnSetConvolutionMathType)
    TINT_CUDNN_FIND(cudnnDestroyTensorDescriptor)
    TINT_CUDNN_FIND(cudnnDestroyFilterDescriptor)
    TINT_CUDNN_FIND(cudnnDestroyConvolutionDescriptor)
    TINT_CUDNN_FIND(cudnnFindConvolutionForwardAlgorithm)
    TINT_CUDNN_FIND(cudnnFindConvolutionBackwardDataAlgorithm)
    TINT_CUDNN_FIND(cudnnFindConvolutionBackwardFilterAlgorithm)
    TINT_CUDNN_FIND(cudnnGetConvolutionForwardWorkspaceSize)
    TINT_CUDNN_FIND(cudnnGetConvolutionBackwardDataWorkspaceSize)
    TINT_CUDNN_FIND(cudnnGetConvolutionBackwardFilterWorkspaceSize)
    TINT_CUDNN_FIND(cudnnConvolutionForward)
    TINT_CUDNN_FIND(cudnnConvolutionBackwardData)
    TINT_CUDNN_FIND(cudnnConvolutionBackwardFilter)
#undef TINT_CUDNN_FIND
    if (!all) return;
    const cudnnStatus_t st = cudnnCreate(&handle);
    if (st != CUDNN_STATUS_SUCCESS) {
      why = std::string("cudnnCreate: ") + cudnnGetErrorString(st);
      return;
    }
    ok = true;
  }
};

bool cudnn_ok(const Cudnn& c, cudnnStatus_t st, const char* what) {
  if (st == CUDNN_STATUS_SUCCESS) return true;
  std::fprintf(stderr, "cuDNN %s: %s\n", what, c.cudnnGetErrorString(st));
  return false;
}

// ---- timing ---------------------------------------------------------------------------------------------

struct Timer {
  cudaEvent_t start{}, stop{};
  void* flush = nullptr;
  size_t flush_bytes = 0;
  Timer() {
    CK(cudaEventCreate(&start));
    CK(cudaEventCreate(&stop));
    cudaDeviceProp prop{};
    CK(cudaGetDeviceProperties(&prop, 0));
    flush_bytes = std::max<size_t>(size_t(prop.l2CacheSize) * 4, size_t(256) << 20);
    CK(cudaMalloc(&flush, flush_bytes));
  }
  // Median of `repeats` timed runs (ms) after `warmup` untimed ones, L2 flushed before each timed run.
  template <class F>
  double median_ms(F&& f, int warmup, int repeats) {
    for (int i = 0; i < warmup; ++i) f();
    CK(cudaDeviceSynchronize());
    std::vector<double> t;
    for (int i = 0; i < repeats; ++i) {
      CK(cudaMemsetAsync(flush, i & 0xFF, flush_bytes, nullptr));
      CK(cudaEventRecord(start, nullptr));
      f();
      CK(cudaEventRecord(stop, nullptr));
      CK(cudaEventSynchronize(stop));
      float ms = 0;
      CK(cudaEventElapsedTime(&ms, start, stop));
      t.push_back(ms);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  }
};

struct DevBuf {
  float* p = nullptr;
  size_t n = 0;
  explicit DevBuf(const std::vector<float>& h) : n(h.size()) {
    CK(cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(float)));
    CK(cudaMemcpy(p, h.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  }
  explicit DevBuf(size_t count) : n(count) { CK(cudaMalloc(&p, std::max<size_t>(n, 1) * sizeof(float))); }
  ~DevBuf() { cudaFree(p); }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  std::vector<float> host() const {
    std::vector<float> h(n);
    CK(cudaMemcpy(h.data(), p, n * sizeof(float), cudaMemcpyDeviceToHost));
    return h;
  }
};

double rel_err(const std::vector<float>& a, const std::vector<float>& ref) {
  double md = 0, mr = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    md = std::max(md, std::fabs(double(a[i]) - ref[i]));
    mr = std::max(mr, std::fabs(double(ref[i])));
  }
  return mr > 0 ? md / mr : md;
}

const char* kProducts[3] = {"fwd", "bwd_data", "bwd_weight"};

struct Row {
  std::string layer, shape, product, impl;
  int batch;
  double ms, gflops, ratio_to_cudnn, rel_err_vs_cudnn;
  std::string note;
};

struct Options {
  std::string json = "bench_gpu_conv.json";
  std::vector<int> batches = {1, 8};
  int repeats = 25;
  std::string layers;
  std::vector<std::string> variants;  // empty: every conv variant
  bool quick = false;
};

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  for (size_t p = 0; p < s.size();) {
    const size_t c = s.find(',', p);
    out.push_back(s.substr(p, c == std::string::npos ? std::string::npos : c - p));
    p = c == std::string::npos ? s.size() : c + 1;
  }
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--json") o.json = next();
    else if (a == "--repeats") o.repeats = std::max(1, std::atoi(next().c_str()));
    else if (a == "--layers") o.layers = next();
    else if (a == "--quick") o.quick = true;
    else if (a == "--variants") {
      o.variants = split_commas(next());
      for (const std::string& v : o.variants)
        if (std::find(cuda::conv_variants().begin(), cuda::conv_variants().end(), v) == cuda::conv_variants().end()) {
          std::fprintf(stderr, "--variants: unknown conv variant '%s'\n", v.c_str());
          std::exit(2);
        }
    }
    else if (a == "--batches") {
      o.batches.clear();
      for (const std::string& b : split_commas(next())) o.batches.push_back(std::atoi(b.c_str()));
    } else {
      std::fprintf(stderr, "unknown argument %s\nusage: bench_gpu_conv [--json FILE] [--batches 1,8] "
                   "[--repeats N] [--layers SUBSTR] [--variants A,B] [--quick]\n", a.c_str());
      std::exit(2);
    }
  }
  if (o.quick) o.repeats = std::min(o.repeats, 5);
  return o;
}

// One layer, one product of its convolution (for a transposed layer, of the role-swapped conv2d): cuDNN first
// (its output is the reference), then every tint variant through the registry's launch of that product.
// Both read the registry's inputs for the case.
void bench_product(const Options& opt, Cudnn& dnn, Timer& timer, const OpCase& layer, int product,
                   std::vector<Row>& rows) {
  const Backend& be = *cuda_backend();
  bool transposed = false;
  const Conv2dShape s = conv_shape_of(layer, &transposed);
  const std::vector<std::vector<float>> inputs = make_op_inputs(*layer.op, layer.dims, 1);
  // conv2d's inputs are x, w, dy; a transposed conv's input is its conv's dy, its output gradient the conv's x.
  DevBuf x(inputs[transposed ? 2 : 0]), w(inputs[1]), dy(inputs[transposed ? 0 : 2]);
  const size_t out_n = product == 0 ? s.y_size() : product == 1 ? s.x_size() : s.w_size();
  DevBuf out(out_n);
  // The registry launch that runs this product, and the case tensor it writes (inputs 0-2, then y, dx, dw).
  const int launch = transposed && product < 2 ? 1 - product : product;
  const size_t written = 3 + size_t(launch);
  const double gflop = layer.op->launches[size_t(launch)].cost(layer.dims).flops * 1e-9;
  std::vector<float> ref;
  double cudnn_ms = NAN, cudnn_tf32_ms = NAN;

  // cuDNN twice: FMA math (fp32, its output the reference for every error below), then default math, which
  // lets it pick TF32 tensor-core kernels: the baseline of tint's -tf32 variants.
  for (const bool tf32 : {false, true}) {
    if (!dnn.ok) break;
    std::string cudnn_note;
    cudnnTensorDescriptor_t xd, yd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    dnn.cudnnCreateTensorDescriptor(&xd);
    dnn.cudnnCreateTensorDescriptor(&yd);
    dnn.cudnnCreateFilterDescriptor(&wd);
    dnn.cudnnCreateConvolutionDescriptor(&cd);
    bool ok = cudnn_ok(dnn, dnn.cudnnSetTensor4dDescriptor(xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s.n, s.c_in, s.h_in, s.w_in), "x desc") &&
              cudnn_ok(dnn, dnn.cudnnSetTensor4dDescriptor(yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s.n, s.c_out, s.h_out, s.w_out), "y desc") &&
              cudnn_ok(dnn, dnn.cudnnSetFilter4dDescriptor(wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, s.c_out, s.c_in, s.kh, s.kw), "w desc") &&
              cudnn_ok(dnn, dnn.cudnnSetConvolution2dDescriptor(cd, s.pad_h, s.pad_w, s.stride_h, s.stride_w, 1, 1, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT), "conv desc") &&
              cudnn_ok(dnn, dnn.cudnnSetConvolutionMathType(cd, tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH), "math type");
    const float one = 1.0f, zero = 0.0f;
    int found = 0;
    size_t ws_bytes = 0;
    void* ws = nullptr;
    std::function<cudnnStatus_t()> run;
    if (ok && product == 0) {
      cudnnConvolutionFwdAlgoPerf_t perf[16];
      ok = cudnn_ok(dnn, dnn.cudnnFindConvolutionForwardAlgorithm(dnn.handle, xd, wd, cd, yd, 16, &found, perf), "find fwd");
      int best = -1;
      for (int i = 0; ok && i < found && best < 0; ++i) if (perf[i].status == CUDNN_STATUS_SUCCESS) best = i;
      if (best < 0) ok = false;
      if (ok) {
        const auto algo = perf[best].algo;
        cudnn_note = "algo " + std::to_string(int(algo));
        dnn.cudnnGetConvolutionForwardWorkspaceSize(dnn.handle, xd, wd, cd, yd, algo, &ws_bytes);
        if (ws_bytes) CK(cudaMalloc(&ws, ws_bytes));
        run = [&, algo] { return dnn.cudnnConvolutionForward(dnn.handle, &one, xd, x.p, wd, w.p, cd, algo, ws, ws_bytes, &zero, yd, out.p); };
      }
    } else if (ok && product == 1) {
      cudnnConvolutionBwdDataAlgoPerf_t perf[16];
      ok = cudnn_ok(dnn, dnn.cudnnFindConvolutionBackwardDataAlgorithm(dnn.handle, wd, yd, cd, xd, 16, &found, perf), "find bwd data");
      int best = -1;
      for (int i = 0; ok && i < found && best < 0; ++i) if (perf[i].status == CUDNN_STATUS_SUCCESS) best = i;
      if (best < 0) ok = false;
      if (ok) {
        const auto algo = perf[best].algo;
        cudnn_note = "algo " + std::to_string(int(algo));
        dnn.cudnnGetConvolutionBackwardDataWorkspaceSize(dnn.handle, wd, yd, cd, xd, algo, &ws_bytes);
        if (ws_bytes) CK(cudaMalloc(&ws, ws_bytes));
        run = [&, algo] { return dnn.cudnnConvolutionBackwardData(dnn.handle, &one, wd, w.p, yd, dy.p, cd, algo, ws, ws_bytes, &zero, xd, out.p); };
      }
    } else if (ok) {
      cudnnConvolutionBwdFilterAlgoPerf_t perf[16];
      ok = cudnn_ok(dnn, dnn.cudnnFindConvolutionBackwardFilterAlgorithm(dnn.handle, xd, yd, cd, wd, 16, &found, perf), "find bwd filter");
      int best = -1;
      for (int i = 0; ok && i < found && best < 0; ++i) if (perf[i].status == CUDNN_STATUS_SUCCESS) best = i;
      if (best < 0) ok = false;
      if (ok) {
        const auto algo = perf[best].algo;
        cudnn_note = "algo " + std::to_string(int(algo));
        dnn.cudnnGetConvolutionBackwardFilterWorkspaceSize(dnn.handle, xd, yd, cd, wd, algo, &ws_bytes);
        if (ws_bytes) CK(cudaMalloc(&ws, ws_bytes));
        run = [&, algo] { return dnn.cudnnConvolutionBackwardFilter(dnn.handle, &one, xd, x.p, yd, dy.p, cd, algo, ws, ws_bytes, &zero, wd, out.p); };
      }
    }
    if (ok && cudnn_ok(dnn, run(), "run")) {
      CK(cudaDeviceSynchronize());
      if (!tf32) ref = out.host();
      const double err = !tf32 ? 0.0 : ref.empty() ? NAN : rel_err(out.host(), ref);
      const double ms = timer.median_ms([&] { run(); }, 3, opt.repeats);
      (tf32 ? cudnn_tf32_ms : cudnn_ms) = ms;
      rows.push_back({layer.label, s.str(), kProducts[product], tf32 ? "cudnn-tf32" : "cudnn", s.n, ms,
                      gflop / (ms * 1e-3), 1.0, err, cudnn_note});
    }
    if (ws) CK(cudaFree(ws));
    dnn.cudnnDestroyTensorDescriptor(xd);
    dnn.cudnnDestroyTensorDescriptor(yd);
    dnn.cudnnDestroyFilterDescriptor(wd);
    dnn.cudnnDestroyConvolutionDescriptor(cd);
  }

  for (const std::string& v : cuda::conv_variants()) {
    if (!opt.variants.empty() && std::find(opt.variants.begin(), opt.variants.end(), v) == opt.variants.end())
      continue;
    cuda::set_conv_variant(v);
    // A fresh run per variant: its workspace is sized for the variant selected (the Winograd ones need
    // their transformed operands there, and fall back to igemm2 without them).
    OpRun run(be, *layer.op, layer.dims, inputs);
    run.reset();
    auto launch_once = [&] { run.launch(size_t(launch)); };
    // The naive variant can take seconds on the large layers: time one launch first, and repeat it only if
    // it is quick.
    const auto t0 = std::chrono::steady_clock::now();
    launch_once();
    CK(cudaDeviceSynchronize());
    const double first_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const double err = ref.empty() ? NAN : rel_err(run.download(written), ref);
    const int repeats = first_ms > 200 ? 1 : first_ms > 20 ? 3 : opt.repeats;
    const double ms = timer.median_ms(launch_once, first_ms > 20 ? 0 : 2, repeats);
    // A -tf32 variant is held to cuDNN with TF32 allowed; its error is still against fp32 cuDNN.
    const double base = is_tf32_variant(v) ? cudnn_tf32_ms : cudnn_ms;
    rows.push_back({layer.label, s.str(), kProducts[product], "tint:" + v, s.n, ms,
                    gflop / (ms * 1e-3), std::isnan(base) ? NAN : base / ms, err,
                    repeats < opt.repeats ? "few repeats (slow)" : ""});
  }
  cuda::set_conv_variant(cuda::conv_default_variant);
}

struct BwRow {
  std::string kernel;
  int64_t n;
  double ms, gbps;
};

// The registry's U-Net cases that are not convolutions (the largest activation, the widest concat, the head
// output, all parameters) at batch 8: each launch timed, GB/s from the registry's byte counts.
void bench_memory_kernels(const Options& opt, Timer& timer, std::vector<BwRow>& out) {
  const Backend& be = *cuda_backend();
  for (const OpCase& c : models::unet_op_cases(models::UNetConfig{}, 256, 8)) {
    const std::string name = c.op->name;
    if (name == "conv2d" || name == "conv_transpose2d") continue;
    OpRun run(be, *c.op, c.dims, make_op_inputs(*c.op, c.dims, 1));
    run.reset();
    for (size_t k = 0; k < c.op->launches.size(); ++k) {
      const std::string launch = c.op->launches[k].name;
      // The reductions (kernels/cuda/reduce.h) run under every reduce variant, the rest once.
      const bool reduction = (name == "sum" || name == "l1_loss" || name == "mse_loss") ? launch == "fwd"
                             : name == "bias_add"                                       ? launch == "bwd"
                                                                                        : false;
      const std::vector<std::string> variants =
          reduction ? cuda::reduce_variants() : std::vector<std::string>{cuda::reduce_default_variant};
      for (const std::string& v : variants) {
        cuda::set_reduce_variant(v);
        const OpCost cost = c.op->launches[k].cost(c.dims);
        const double ms = timer.median_ms([&] { run.launch(k); }, 2, opt.repeats);
        out.push_back({name + " " + launch + (reduction ? " [" + v + "]" : ""),
                       int64_t(c.op->inputs(c.dims).empty() ? c.dims[0] : c.op->inputs(c.dims)[0].size), ms,
                       cost.bytes / (ms * 1e-3) * 1e-9});
      }
      cuda::set_reduce_variant(cuda::reduce_default_variant);
    }
  }
}

std::string json_num(double v) {
  if (!std::isfinite(v)) return "null";
  char b[64];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  if (!cuda_device_available()) {
    std::printf("SKIP: no CUDA device\n");
    return 77;
  }
  cudaDeviceProp prop{};
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s, %d SMs, L2 %d MB; fp32 (no TF32), L2 flushed, median of %d repeats\n", prop.name,
              prop.multiProcessorCount, prop.l2CacheSize >> 20, opt.repeats);
  Cudnn dnn;
  dnn.load();
  if (dnn.ok)
    std::printf("cuDNN %zu loaded (math type CUDNN_FMA_MATH; cudnn-tf32: CUDNN_DEFAULT_MATH)\n",
                dnn.cudnnGetVersion());
  else std::printf("cuDNN not available (%s): tint's kernels only\n", dnn.why.c_str());
  Timer timer;

  std::vector<Row> rows;
  for (int batch : opt.batches)
    for (const OpCase& layer : models::unet_conv_cases(models::UNetConfig{}, 256, batch)) {
      if (!opt.layers.empty() && layer.label.find(opt.layers) == std::string::npos) continue;
      for (int p = 0; p < 3; ++p) {
        bench_product(opt, dnn, timer, layer, p, rows);
        const Row& last = rows.back();
        std::fprintf(stderr, "  %-14s b%d %-10s done (%s %.3f ms)\n", layer.label.c_str(), batch, kProducts[p],
                     last.impl.c_str(), last.ms);
      }
    }
  std::vector<BwRow> bw;
  bench_memory_kernels(opt, timer, bw);

  // JSON: everything.
  if (FILE* f = std::fopen(opt.json.c_str(), "w")) {
    std::fprintf(f, "{\n  \"device\": \"%s\",\n  \"precision\": \"fp32, TF32 off (cuDNN CUDNN_FMA_MATH), but the -tf32 variants and cudnn-tf32 (CUDNN_DEFAULT_MATH)\",\n", prop.name);
    std::fprintf(f, "  \"repeats\": %d,\n  \"cudnn\": %s,\n  \"conv\": [\n", opt.repeats, dnn.ok ? "true" : "false");
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      std::fprintf(f,
                   "    {\"layer\": \"%s\", \"batch\": %d, \"shape\": \"%s\", \"product\": \"%s\", \"impl\": \"%s\", "
                   "\"ms\": %s, \"gflops\": %s, \"ratio_to_cudnn\": %s, \"rel_err_vs_cudnn\": %s, \"note\": \"%s\"}%s\n",
                   r.layer.c_str(), r.batch, r.shape.c_str(), r.product.c_str(), r.impl.c_str(), json_num(r.ms).c_str(),
                   json_num(r.gflops).c_str(), json_num(r.ratio_to_cudnn).c_str(), json_num(r.rel_err_vs_cudnn).c_str(),
                   r.note.c_str(), i + 1 < rows.size() ? "," : "");
    }
    std::fprintf(f, "  ],\n  \"memory_kernels\": [\n");
    for (size_t i = 0; i < bw.size(); ++i)
      std::fprintf(f, "    {\"kernel\": \"%s\", \"n\": %lld, \"ms\": %s, \"gbps\": %s}%s\n", bw[i].kernel.c_str(),
                   (long long)bw[i].n, json_num(bw[i].ms).c_str(), json_num(bw[i].gbps).c_str(),
                   i + 1 < bw.size() ? "," : "");
    std::fprintf(f, "  ]\n}\n");
    std::fclose(f);
  }

  // Table: every row, then a summary per product and implementation (total time over the layers).
  std::printf("\n%-14s %2s %-10s %-20s %9s %9s %7s %9s\n", "layer", "b", "product", "impl", "ms", "GFLOP/s", "x cudnn",
              "rel err");
  for (const Row& r : rows)
    std::printf("%-14s %2d %-10s %-20s %9.3f %9.0f %7.2f %9.1e %s\n", r.layer.c_str(), r.batch, r.product.c_str(),
                r.impl.c_str(), r.ms, r.gflops, r.ratio_to_cudnn, r.rel_err_vs_cudnn, r.note.c_str());
  std::printf("\n%-34s %10s %8s\n", "memory-bound kernel", "ms", "GB/s");
  for (const BwRow& r : bw) std::printf("%-34s %10.4f %8.0f\n", r.kernel.c_str(), r.ms, r.gbps);
  std::printf("\nsum over the U-Net layers (ms; ratio = cudnn time / tint time, higher is better for tint; the -tf32\n"
              "variants against cudnn-tf32, cuDNN with TF32 allowed; rel err always against fp32 cuDNN):\n");
  std::printf("%2s %-10s %-20s %10s %8s %10s\n", "b", "product", "impl", "total ms", "ratio", "max relerr");
  for (int batch : opt.batches)
    for (int p = 0; p < 3; ++p) {
      std::vector<std::string> impls = {"cudnn", "cudnn-tf32"};
      for (const std::string& v : cuda::conv_variants()) impls.push_back("tint:" + v);
      double cudnn_total = 0, cudnn_tf32_total = 0;
      for (const Row& r : rows)
        if (r.batch == batch && r.product == kProducts[p]) {
          if (r.impl == "cudnn") cudnn_total += r.ms;
          if (r.impl == "cudnn-tf32") cudnn_tf32_total += r.ms;
        }
      for (const std::string& impl : impls) {
        double total = 0, max_err = 0;
        int count = 0;
        for (const Row& r : rows)
          if (r.batch == batch && r.product == kProducts[p] && r.impl == impl) {
            total += r.ms, ++count;
            if (std::isfinite(r.rel_err_vs_cudnn)) max_err = std::max(max_err, r.rel_err_vs_cudnn);
          }
        if (count == 0) continue;
        const double base = impl == "cudnn-tf32" || is_tf32_variant(impl) ? cudnn_tf32_total : cudnn_total;
        std::printf("%2d %-10s %-20s %10.3f %8.2f %10.1e\n", batch, kProducts[p], impl.c_str(), total,
                    base > 0 ? base / total : NAN, max_err);
      }
    }
  std::printf("json: %s\n", opt.json.c_str());
  return 0;
}
