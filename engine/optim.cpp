#include "engine/optim.h"

#include "engine/error.h"

namespace tint::optim {

Adam::Adam(nn::FlatParameters& params, AdamHyper h) : hyper(h), params_(params) {
  TINT_CHECK(params.params.defined(), "Adam: the module's parameters were not flattened");
  TINT_CHECK(h.lr > 0 && h.beta1 >= 0 && h.beta1 < 1 && h.beta2 >= 0 && h.beta2 < 1 && h.eps > 0 &&
                 h.weight_decay >= 0,
             "Adam: invalid hyper-parameters lr={} betas=({}, {}) eps={} weight_decay={}", h.lr, h.beta1, h.beta2,
             h.eps, h.weight_decay);
  m = Tensor::zeros(params.params.shape(), params.params.device());
  v = Tensor::zeros(params.params.shape(), params.params.device());
}

void Adam::step() {
  params_.finish_grads();
  auto& rt = runtime(params_.params.device());
  rt.backend.adam_step(rt.stream, params_.params.data(), params_.grads.data(), m.data(), v.data(),
                       params_.params.numel(), hyper);  // hyper.step: the steps taken before this one
  ++hyper.step;
}

}  // namespace tint::optim
