// `tint op`, the op lab: one op of the registry (engine/op_registry.h), forward and backward, on one backend
// and one shape; checked against cpu-ref, timed, or written out as .npy for numpy. Everything it knows of
// an op (its tensors, launches, costs, tolerances) comes from the registry, so it can run any op the tests
// and benchmarks run, and nothing else.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/error.h"
#include "engine/io.h"
#include "engine/op_registry.h"
#include "engine/tensor.h"
#include "kernels/cpu/conv_algos.h"
#include "kernels/cuda/conv2d.h"
#include "kernels/cuda/reduce.h"
#include "tools/args.h"
#include "tools/commands.h"

namespace tint::cli {

namespace {

const char* kHelp = R"(usage: tint op NAME --shape DIMS [options]
       tint op --list

Runs one op of the registry forward and backward on one backend, with seeded random inputs (or yours).

  --shape DIMS      the op's shape, integers separated by commas (tint op --list gives each op's syntax),
                    e.g. conv2d --shape 2,3,9,7,4,3,1,1 (N,C,H,W,COUT,K,S,P)
  --device D        cpu, cpu-ref, cuda-emu or cuda (default cpu)
  --variant NAME    the conv kernel variant on cpu, cuda and cuda-emu (tint op --list names them)
  --reduce-variant V  the reduction kernels of sum, the loss forwards and bias_add's backward on cuda and
                    cuda-emu: block, tree (default) or tree4
  --check           compare every output and gradient with cpu-ref: max abs and relative error, the worst
                    element; exit 1 when one is over the registry's tolerance
  --time            median time of each launch after warm-up, GFLOP/s and GB/s (counts: engine/op_cost.h)
  --repeats N       timed runs per launch for --time (default 20)
  --dump DIR        write inputs, outputs and gradients as DIR/<name>.npy (float32)
  --inputs DIR      read the inputs from DIR/<name>.npy instead (names as --dump writes them)
  --seed N          seed of the random inputs (default 1)
  --list            the ops, their shape syntax, their tensors and the conv variants
)";

// Appends `item` to a separated list. (Not `(t.empty() ? "" : sep) + item`: GCC 12 at -O3 warns falsely
// about that pattern, -Wrestrict, which -Werror turns into an error.)
void append(std::string& list, const char* sep, const std::string& item) {
  if (!list.empty()) list += sep;
  list += item;
}

Device parse_device(const std::string& name) {
  const Device d = Device::parse(name);
  TINT_CHECK(d.available(), "--device {}: not available here{}", name,
             d.kind == DeviceKind::Cuda ? (cuda_backend() ? " (no CUDA GPU)" : " (built without nvcc)") : "");
  return d;
}


std::string shape_text(const TensorSpec& s) {
  if (s.shape.empty()) return fmt::format("({})", s.size);
  std::string t;
  for (int64_t v : s.shape) append(t, ",", std::to_string(v));
  return "(" + t + ")";
}

// The multi-index of a flat element, for telling a student which element went wrong.
std::string element_text(const TensorSpec& s, int64_t flat) {
  if (flat < 0) return "-";
  if (s.shape.size() <= 1) return fmt::format("[{}]", flat);
  std::vector<int64_t> idx(s.shape.size());
  for (size_t k = s.shape.size(); k-- > 0;) idx[k] = flat % s.shape[k], flat /= s.shape[k];
  std::string t;
  for (int64_t v : idx) append(t, ",", std::to_string(v));
  return "[" + t + "]";
}

void list_ops() {
  fmt::print("ops (tint op NAME --shape DIMS):\n");
  for (const OpDef& op : op_registry()) {
    fmt::print("  {:<17} --shape {}\n", op.name, op.syntax);
    fmt::print("  {:<17} {}\n", "", op.about);
    const OpDims example = op.small.back();
    std::string tensors;
    const auto add = [&](const char* kind, const std::vector<TensorSpec>& specs) {
      if (specs.empty()) return;
      append(tensors, "; ", std::string(kind) + ":");
      for (const TensorSpec& s : specs) tensors += " " + s.name;
    };
    add("in", op.inputs(example)), add("out", op.outputs(example)), add("grad", op.grads(example));
    fmt::print("  {:<17} {}{}\n", "", tensors, op.bit_exact ? "; bit-exact" : "");
  }
  std::string variants;
  for (const std::string& v : cuda_emu::conv_variants()) append(variants, ", ", v);
  fmt::print("\nconv variants (--variant, cuda and cuda-emu): {} (default {})\n", variants,
             cuda_emu::conv_default_variant);
  std::string cpu_variants;
  for (const std::string& v : cpu::conv_variants()) append(cpu_variants, ", ", v);
  fmt::print("conv variants (--variant, cpu): {} (default {})\n", cpu_variants, cpu::conv_default_variant);
  std::string reduce_variants;
  for (const std::string& v : cuda_emu::reduce_variants()) append(reduce_variants, ", ", v);
  fmt::print("reduce variants (--reduce-variant, cuda and cuda-emu): {} (default {})\n", reduce_variants,
             cuda_emu::reduce_default_variant);
  for (const cpu::ConvAlgo& a : cpu::conv_algos()) fmt::print("  {:<17} {}\n", a.name, a.about);
  fmt::print("devices (--device): cpu, cpu-ref, cuda-emu, cuda (tint devices: which are available)\n");
}

std::vector<std::vector<float>> read_inputs(const std::string& dir, const std::vector<TensorSpec>& specs,
                                            const std::string& what) {
  std::vector<std::vector<float>> in;
  for (const TensorSpec& s : specs) {
    const std::string path = (std::filesystem::path(dir) / (s.name + ".npy")).string();
    TINT_CHECK(std::filesystem::exists(path), "--inputs: {} not found ({} needs input '{}' {})", path, what,
               s.name, shape_text(s));
    const Tensor t = io::load_npy(path);
    std::vector<int64_t> want = s.shape.empty() ? std::vector<int64_t>{s.size} : s.shape;
    std::vector<int64_t> got(t.shape().begin(), t.shape().end());
    std::string got_text;
    for (int64_t v : got) append(got_text, ",", std::to_string(v));
    TINT_CHECK(got == want, "--inputs: {} has shape ({}), but {} needs input '{}' of shape {}", path,
               got_text, what, s.name, shape_text(s));
    in.push_back(t.to_vector());
  }
  return in;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int run_op(int argc, char** argv) {
  Args args(argc, argv,
            Options{{"list", "check", "time"},
                    {"shape", "device", "variant", "reduce-variant", "dump", "inputs", "seed", "repeats"},
                    1,
                    ""});
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (args.has("list")) {
    list_ops();
    return 0;
  }
  TINT_CHECK(args.positional().size() == 1, "an op name is needed (tint op --list names them; see --help)");
  const OpDef& op = find_op(args.positional()[0]);
  TINT_CHECK(args.has("shape"), "--shape is needed: {} takes --shape {}", op.name, op.syntax);
  OpDims dims;
  try {
    dims = op.parse(parse_dims(args.get("shape", ""), "--shape"));
  } catch (const Error& e) {
    throw Error(fmt::format("--shape {}: {} (syntax: {})", args.get("shape", ""), e.what(), op.syntax));
  }
  const Device device = parse_device(args.get("device", "cpu"));
  if (args.has("variant")) select_conv_variant(device, "--variant", args.get("variant", ""));
  if (args.has("reduce-variant"))
    select_reduce_variant(device, "--reduce-variant", args.get("reduce-variant", ""));
  const int seed = args.get_int("seed", 1, 0, 1 << 30);
  const int repeats = args.get_int("repeats", 20, 1, 100000);
  const std::string what = fmt::format("{} --shape {}", op.name, args.get("shape", ""));

  std::vector<TensorSpec> in_specs = op.inputs(dims), out_specs = op.outputs(dims);
  const std::vector<TensorSpec> grad_specs = op.grads(dims);
  out_specs.insert(out_specs.end(), grad_specs.begin(), grad_specs.end());
  const std::vector<std::vector<float>> inputs = args.has("inputs")
                                                     ? read_inputs(args.get("inputs", ""), in_specs, what)
                                                     : make_op_inputs(op, dims, uint32_t(seed));

  DeviceRuntime& rt = runtime(device);
  std::string variant;
  if (device.kind == DeviceKind::CudaEmu)
    variant = fmt::format(", conv variant {}, reduce variant {}", cuda_emu::conv_variant(),
                          cuda_emu::reduce_variant());
  if (device.kind == DeviceKind::Cpu) variant = fmt::format(", conv variant {}", cpu::conv_variant());
#ifdef TINT_HAVE_CUDA
  if (device.kind == DeviceKind::Cuda)
    variant =
        fmt::format(", conv variant {}, reduce variant {}", cuda::conv_variant(), cuda::reduce_variant());
#endif
  fmt::print("{} {} on {}{}{}\n", op.name, op.describe(dims), device.str(), variant,
             args.has("inputs") ? fmt::format(", inputs from {}", args.get("inputs", ""))
                                : fmt::format(", seed {}", seed));

  OpRun run(rt.backend, op, dims, inputs, rt.stream);
  run.reset();
  run.forward();
  run.backward();
  std::vector<std::vector<float>> outs;
  for (size_t i = 0; i < out_specs.size(); ++i) outs.push_back(run.download(in_specs.size() + i));

  fmt::print("{:<8} {:<18} {:>12} {:>12}\n", "tensor", "shape", "min", "max");
  for (size_t i = 0; i < in_specs.size() + out_specs.size(); ++i) {
    const bool is_in = i < in_specs.size();
    const TensorSpec& s = is_in ? in_specs[i] : out_specs[i - in_specs.size()];
    const std::vector<float>& v = is_in ? inputs[i] : outs[i - in_specs.size()];
    const auto [lo, hi] = v.empty() ? std::pair<float, float>{0, 0}
                                    : std::pair<float, float>{*std::min_element(v.begin(), v.end()),
                                                              *std::max_element(v.begin(), v.end())};
    fmt::print("{:<8} {:<18} {:>12.5g} {:>12.5g}{}\n", s.name, shape_text(s), lo, hi,
               is_in ? "  (input)" : "");
  }

  if (args.has("dump")) {
    const std::string dir = args.get("dump", "");
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    TINT_CHECK(!ec, "--dump {}: cannot create the folder: {}", dir, ec.message());
    for (size_t i = 0; i < in_specs.size() + out_specs.size(); ++i) {
      const bool is_in = i < in_specs.size();
      const TensorSpec& s = is_in ? in_specs[i] : out_specs[i - in_specs.size()];
      const std::vector<float>& v = is_in ? inputs[i] : outs[i - in_specs.size()];
      const std::vector<int64_t> shape = s.shape.empty() ? std::vector<int64_t>{s.size} : s.shape;
      io::save_npy((std::filesystem::path(dir) / (s.name + ".npy")).string(),
                   Tensor::from_vector(v, Shape(shape.begin(), shape.end())));
    }
    fmt::print("wrote {} .npy files to {}\n", in_specs.size() + out_specs.size(), dir);
  }

  bool failed = false;
  if (args.has("check")) {
    const std::vector<std::vector<float>> ref = run_op_case(cpu_reference_backend(), op, dims, inputs);
    fmt::print("\ncheck against cpu-ref:\n{:<8} {:>12} {:>12} {:>12}  {:<6} {}\n", "tensor", "max abs err",
               "rel err", "tolerance", "", "worst element");
    for (size_t i = 0; i < out_specs.size(); ++i) {
      const Comparison c = compare_outputs(outs[i], ref[i], out_specs[i].per_element);
      const double tol = op_tolerance(op, out_specs[i], device.str(), selected_conv_variant(device));
      const bool ok = c.error <= tol;
      failed |= !ok;
      fmt::print("{:<8} {:>12.3g} {:>12.3g} {:>12.3g}  {:<6} {}", out_specs[i].name, c.max_abs, c.error, tol,
                 ok ? "ok" : "FAIL", element_text(out_specs[i], c.worst));
      if (c.worst >= 0)
        fmt::print(" (got {:.9g}, cpu-ref {:.9g})", outs[i][size_t(c.worst)], ref[i][size_t(c.worst)]);
      fmt::print("\n");
    }
  }

  if (args.has("time")) {
    fmt::print("\ntiming: median of {} runs after 2 warm-up runs, each launch synchronised\n", repeats);
    fmt::print("{:<11} {:>11} {:>10} {:>10} {:>10} {:>10}\n", "launch", "ms", "MFLOP", "MB", "GFLOP/s",
               "GB/s");
    for (size_t k = 0; k < op.launches.size(); ++k) {
      std::vector<double> t;
      for (int r = 0; r < repeats + 2; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        run.launch(k);
        run.synchronize();
        if (r >= 2) t.push_back(seconds_since(t0));
      }
      std::sort(t.begin(), t.end());
      const double s = t[t.size() / 2];
      const OpCost c = op.launches[k].cost(dims);
      fmt::print("{:<11} {:>11.4f} {:>10.3f} {:>10.3f} {:>10.2f} {:>10.2f}\n", op.launches[k].name, s * 1e3,
                 c.flops * 1e-6, c.bytes * 1e-6, c.flops / s * 1e-9, c.bytes / s * 1e-9);
    }
    if (device.kind == DeviceKind::CudaEmu)
      fmt::print("(cuda-emu: emulated on the CPU, not a GPU's speed)\n");
  }
  if (failed) {
    std::fprintf(stderr, "tint op: error: %s on %s differs from cpu-ref beyond the registry's tolerance\n",
                 what.c_str(), device.str().c_str());
    return 1;
  }
  return 0;
}

}  // namespace tint::cli
