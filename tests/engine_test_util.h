// Shared helpers of the engine tests: the devices to run on, and a finite-difference gradient check that
// goes through the whole engine (ops, autograd, kernels of the device).
#pragma once

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "engine/ops.h"

namespace tint::testing {

// Host-side devices every engine test runs on; real CUDA is covered by the gpu_* tests.
inline std::vector<Device> engine_test_devices() {
  return {Device::cpu(), Device::cpu_ref(), Device::cuda_emu()};
}

inline double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, double(std::fabs(x)));
  return m;
}

// Relative error max|a-b| / max(max|b|, floor).
inline double rel_error(const std::vector<float>& a, const std::vector<float>& b, double floor = 1e-6) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    REQUIRE(std::isfinite(a[i]));
    m = std::max(m, std::fabs(double(a[i]) - double(b[i])));
  }
  return m / std::max(max_abs(b), floor);
}

// Checks d loss / d input for every input of `f` by central differences in float (step h) against
// autograd. Float differences are coarse, so this checks the wiring (which gradient goes where, roles of
// transposed products, accumulation); the exact math is checked in double at the kernel level
// (tests/test_cpu_*). Every element of every input is perturbed, so keep shapes small.
inline void check_gradients(const std::string& what, std::vector<Tensor> inputs,
                            const std::function<Tensor(const std::vector<Tensor>&)>& loss_fn, double tol = 2e-2,
                            float h = 1e-2f) {
  for (auto& t : inputs) {
    t.set_requires_grad(true);
    t.set_grad(Tensor());  // a fresh gradient: earlier checks on the same tensor must not add to it
  }
  Tensor loss = loss_fn(inputs);
  loss.backward();
  for (size_t k = 0; k < inputs.size(); ++k) {
    INFO(what << ": input " << k << " " << shape_str(inputs[k].shape()) << " on " << inputs[k].device().str());
    REQUIRE(inputs[k].grad().defined());
    std::vector<float> analytic = inputs[k].grad().to_vector();
    std::vector<float> values = inputs[k].to_vector();
    std::vector<float> numeric(values.size());
    NoGradGuard no_grad;
    for (size_t i = 0; i < values.size(); ++i) {
      auto eval = [&](float v) {
        std::vector<float> changed = values;
        changed[i] = v;
        inputs[k].copy_(Tensor::from_vector(changed, inputs[k].shape()));
        return double(loss_fn(inputs).item());
      };
      numeric[i] = float((eval(values[i] + h) - eval(values[i] - h)) / (2.0 * h));
    }
    inputs[k].copy_(Tensor::from_vector(values, inputs[k].shape()));
    CHECK(rel_error(analytic, numeric, 1e-3) < tol);
  }
}

}  // namespace tint::testing
