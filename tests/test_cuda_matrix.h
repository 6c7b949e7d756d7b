// The all-backends matrix: every case of the op registry (engine/op_registry.h) run on a target backend
// (cpu, cuda-emu, or cuda on a real GPU) and on the CPU reference (cpu-ref) with the same seeded inputs,
// outputs and gradients poisoned with NaN before the launches, each compared by max|a - b| / max|ref|
// against the registry's tolerance for that backend; ops the registry marks bit-exact run twice and must
// give the same bits. Conv cases run under every conv variant of a CUDA target.
// Shared by tests/test_cuda_backends.cpp (cuda-emu), tests/test_cpu_kernels.cpp (cpu) and
// tests/gpu_cuda_backends.cpp (cuda). The registry says why each tolerance is what it is.
#pragma once

#include <catch2/catch.hpp>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "engine/backend.h"
#include "engine/op_registry.h"
#include "kernels/cuda/conv2d.h"

namespace tint::cuda_matrix {

// A backend under test and, for the CUDA backends, its conv-variant switch (by name).
struct Target {
  explicit Target(const Backend* b) : backend(b) {}
  const Backend* backend;
  const std::vector<std::string>& (*variants)() = nullptr;  // nullptr: the backend has one conv kernel
  void (*set_variant)(const std::string&) = nullptr;
  std::string (*variant)() = nullptr;  // the selected one
  const char* default_variant = nullptr;
  void (*set_tile)(int, int) = nullptr;  // forces the tuned variants' register block (kernels/cuda/conv2d.h)
  Stream stream;                         // the CPU backends take their thread pool here
};

inline bool is_conv(const OpDef& op) {
  return std::string(op.name) == "conv2d" || std::string(op.name) == "conv_transpose2d";
}

// The case's outputs on cpu-ref (computed once per case and reused across variants).
inline std::vector<std::vector<float>> reference_outputs(const OpCase& c,
                                                         const std::vector<std::vector<float>>& in) {
  return run_op_case(cpu_reference_backend(), *c.op, c.dims, in);
}

// One case on the target against precomputed reference outputs.
inline void check_against(const Target& t, const OpCase& c, const std::vector<std::vector<float>>& in,
                          const std::vector<std::vector<float>>& ref, bool with_workspace = true,
                          bool check_bits = true) {
  const std::vector<std::vector<float>> got =
      run_op_case(*t.backend, *c.op, c.dims, in, t.stream, with_workspace);
  std::vector<TensorSpec> outs = c.op->outputs(c.dims);
  const std::vector<TensorSpec> grads = c.op->grads(c.dims);
  outs.insert(outs.end(), grads.begin(), grads.end());
  REQUIRE(got.size() == outs.size());
  for (size_t i = 0; i < outs.size(); ++i) {
    const Comparison cmp = compare_outputs(got[i], ref[i], outs[i].per_element);
    const double tol = op_tolerance(*c.op, outs[i], t.backend->name, t.variant ? t.variant() : "");
    INFO(t.backend->name << " " << c.str() << (with_workspace ? "" : " (no workspace)") << ": "
                         << outs[i].name << " error " << cmp.error << " (tolerance " << tol
                         << "), worst element " << cmp.worst);
    CHECK(cmp.error <= tol);
  }
  if (check_bits && c.op->bit_exact) {
    const std::vector<std::vector<float>> again =
        run_op_case(*t.backend, *c.op, c.dims, in, t.stream, with_workspace);
    for (size_t i = 0; i < outs.size(); ++i) {
      INFO(t.backend->name << " " << c.str() << ": " << outs[i].name << " differs between two runs");
      REQUIRE(again[i].size() == got[i].size());
      CHECK(std::memcmp(again[i].data(), got[i].data(), got[i].size() * sizeof(float)) == 0);
    }
  }
}

// Every case on the target. Conv cases run under every variant when `all_variants` (bits checked under the
// default one), and once without a workspace (split-K must then fall back to one split and stay right).
inline void check_cases(const Target& t, const std::vector<OpCase>& cases, bool all_variants) {
  for (const OpCase& c : cases) {
    const std::vector<std::vector<float>> in = make_op_inputs(*c.op, c.dims, 1);
    const std::vector<std::vector<float>> ref = reference_outputs(c, in);
    if (!is_conv(*c.op) || !t.variants) {
      check_against(t, c, in, ref);
      continue;
    }
    for (const std::string& v : t.variants()) {
      const bool is_default = v == t.default_variant;
      if (!all_variants && !is_default) continue;
      t.set_variant(v);
      INFO("conv variant " << v);
      check_against(t, c, in, ref, true, is_default);
      if (is_default) check_against(t, c, in, ref, false, false);
    }
    t.set_variant(t.default_variant);
  }
}

// The cases of one op.
inline std::vector<OpCase> cases_of(const std::vector<OpCase>& all, const std::string& name) {
  std::vector<OpCase> out;
  for (const OpCase& c : all)
    if (name == c.op->name) out.push_back(c);
  return out;
}

// One launch of a conv case (the others of these shapes are slow to emulate), against cpu-ref.
inline void check_one_launch(const Target& t, const OpCase& c, size_t launch) {
  const std::vector<std::vector<float>> in = make_op_inputs(*c.op, c.dims, 1);
  std::vector<std::vector<float>> results[2];
  const Backend* backends[2] = {&cpu_reference_backend(), t.backend};
  for (int k = 0; k < 2; ++k) {
    OpRun run(*backends[k], *c.op, c.dims, in, k == 0 ? Stream{} : t.stream);
    run.reset();
    run.launch(launch);
    for (size_t i = run.input_count(); i < run.input_count() + run.output_count(); ++i)
      results[k].push_back(run.download(i));
  }
  std::vector<TensorSpec> outs = c.op->outputs(c.dims);
  const std::vector<TensorSpec> grads = c.op->grads(c.dims);
  outs.insert(outs.end(), grads.begin(), grads.end());
  for (size_t i = 0; i < outs.size(); ++i) {
    // Outputs the launch does not write stay NaN on both sides and compare as equal.
    const Comparison cmp = compare_outputs(results[1][i], results[0][i], false);
    INFO(t.backend->name << " " << c.str() << " launch " << c.op->launches[launch].name << ": "
                         << outs[i].name << " error " << cmp.error);
    CHECK(cmp.error <= op_tolerance(*c.op, outs[i], t.backend->name, t.variant ? t.variant() : ""));
  }
}

// The 128x128 and 64x128 tiles (M >= 96 or 64, and enough tiles), in the one product of each shape that
// takes it, cheap there because K is 1 (the other products of these shapes are slow to emulate).
inline void check_conv_wide(const Target& t) {
  t.set_variant(t.default_variant);
  const OpDef& conv = find_op("conv2d");
  check_one_launch(t, {&conv, {1, 1, 130, 130, 128, 1, 1, 1, 1, 0, 0}, "", kSmallCase},
                   0);  // forward, 128x128
  check_one_launch(t, {&conv, {1, 128, 130, 130, 1, 1, 1, 1, 1, 0, 0}, "", kSmallCase}, 1);  // backward-data
  check_one_launch(t, {&conv, {1, 1, 130, 130, 64, 1, 1, 1, 1, 0, 0}, "", kSmallCase}, 0);  // forward, 64x128
}

// The newest tuned variant (igemm2) with its large register blocks forced onto the registry's small conv
// shapes and two more: the 128x128 and 64x128 tiles over K ranges of many slices, split-K, image boundaries
// inside a slice, the float4 and scalar loader paths, stride 2 and the transposed (phased) backward-data.
inline void check_conv_forced_tiles(const Target& t) {
  if (!t.set_tile) return;
  std::vector<OpCase> cases;
  for (const OpCase& c : small_op_cases())
    if (is_conv(*c.op)) cases.push_back(c);
  const OpDef& conv = find_op("conv2d");
  cases.push_back(
      {&conv, {2, 5, 13, 11, 7, 3, 3, 1, 1, 1, 1}, "", kSmallCase});  // K of backward-weight = 286: odd runs
  cases.push_back(
      {&conv, {3, 4, 6, 6, 5, 3, 3, 1, 1, 1, 1}, "", kSmallCase});  // hw = 36: float4 dy runs across images
  const int tiles[][2] = {{8, 8}, {4, 8}};
  t.set_variant("igemm2");  // igemm runs these tiles in check_conv_wide (and on the GPU, at scale)
  for (const auto& tile : tiles) {
    t.set_tile(tile[0], tile[1]);
    INFO("conv variant igemm2 tile " << tile[0] << "x" << tile[1]);
    for (const OpCase& c : cases) {
      const auto in = make_op_inputs(*c.op, c.dims, 1);
      check_against(t, c, in, reference_outputs(c, in), true, false);
    }
  }
  t.set_tile(0, 0);
  t.set_variant(t.default_variant);
}

// Corners of the contract that a registry case does not reach: an unaligned pointer (the vector paths
// need 16 bytes) and split_channels with only one of its outputs wanted.
inline void check_contract_corners(const Target& t) {
  const Backend& b = *t.backend;
  const Backend& r = cpu_reference_backend();
  const int64_t n = 37;
  const std::vector<std::vector<float>> in = make_op_inputs(find_op("add"), {n + 1}, 5);
  const auto misaligned_add = [&](const Backend& be, const Stream& st) {
    float* x = static_cast<float*>(be.alloc((n + 1) * sizeof(float)));
    float* y = static_cast<float*>(be.alloc((n + 1) * sizeof(float)));
    be.copy_from_host(st, x, in[0].data(), (n + 1) * sizeof(float));
    const std::vector<float> nan(n + 1, std::numeric_limits<float>::quiet_NaN());
    be.copy_from_host(st, y, nan.data(), (n + 1) * sizeof(float));
    be.add(st, y + 1, x + 1, x, n);
    std::vector<float> out(n);
    be.copy_to_host(st, out.data(), y + 1, n * sizeof(float));
    be.synchronize(st);
    be.free(x), be.free(y);
    return out;
  };
  const Comparison add = compare_outputs(misaligned_add(b, t.stream), misaligned_add(r, Stream{}), false);
  INFO(b.name << " add on misaligned pointers: error " << add.error);
  CHECK(add.error <= 1e-5);

  const int nn = 2, ca = 3, cb = 4;
  const int64_t hw = 7, total = int64_t(nn) * (ca + cb) * hw, nb = int64_t(nn) * cb * hw;
  const std::vector<float> dy = make_op_inputs(find_op("copy"), {total}, 6)[0];
  const auto only_db = [&](const Backend& be, const Stream& st) {
    float* d = static_cast<float*>(be.alloc(total * sizeof(float)));
    float* db = static_cast<float*>(be.alloc(nb * sizeof(float)));
    be.copy_from_host(st, d, dy.data(), total * sizeof(float));
    const std::vector<float> nan(nb, std::numeric_limits<float>::quiet_NaN());
    be.copy_from_host(st, db, nan.data(), nb * sizeof(float));
    be.split_channels(st, nullptr, db, d, nn, ca, cb, hw);
    std::vector<float> out(nb);
    be.copy_to_host(st, out.data(), db, nb * sizeof(float));
    be.synchronize(st);
    be.free(d), be.free(db);
    return out;
  };
  const Comparison split = compare_outputs(only_db(b, t.stream), only_db(r, Stream{}), false);
  INFO(b.name << " split_channels with da = nullptr: error " << split.error);
  CHECK(split.error <= 1e-5);
}

}  // namespace tint::cuda_matrix
