// Adam and AdamW over a module's flat parameter buffer: one kernel launch updates every weight.
#pragma once

#include "engine/nn.h"

namespace tint::optim {

class Adam {
 public:
  // hyper.step is the count of steps taken so far (0 for a new optimiser); each step() increments it.
  // hyper.decoupled selects AdamW.
  Adam(nn::FlatParameters& params, AdamHyper hyper);
  void step();
  void zero_grad() { params_.zero_grad(); }

  AdamHyper hyper;
  Tensor m, v;  // first and second moments, laid out like params.params
  nn::FlatParameters& flat() { return params_; }

 private:
  nn::FlatParameters& params_;
};

}  // namespace tint::optim
