// The profiler (engine/profiler.h): a profile of a small U-Net training step names every op of every layer,
// forward and backward, with the FLOPs of its shape; its op times add up to the measured step on the CPU;
// the trace is written; closing the session gives the device its own kernels back.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "engine/optim.h"
#include "engine/profiler.h"
#include "engine_test_util.h"
#include "models/unet.h"

using namespace tint;

namespace {

using Key = std::pair<std::string, std::string>;  // op, layer

// One training step of a U-Net as the commands run it: loss under "loss", Adam under "adam".
struct SmallStep {
  Rng rng{7};
  models::UNet unet;
  nn::FlatParameters flat;
  optim::Adam adam;
  Tensor L, ab, mask;
  SmallStep(Device d, int batch, int size, int width, int levels)
      : unet({width, levels}, rng), flat(nn::flatten_parameters(unet, d)), adam(flat, AdamHyper{.step = 0}) {
    L = Tensor::uniform({batch, 1, size, size}, -1, 1, rng, d);
    ab = Tensor::uniform({batch, 2, size, size}, -1, 1, rng, d);
    mask = Tensor::full({batch, 1, size, size}, 1.0f, d);
  }
  void run() {
    static const std::string kLoss = "loss", kAdam = "adam";
    Tensor loss;
    {
      Tensor pred = unet(L);
      profiler::Scope scope(kLoss);
      loss = ops::mse_loss(pred, ab, mask);
    }
    loss.backward();
    profiler::Scope scope(kAdam);
    adam.step();
    adam.zero_grad();
    runtime(L.device()).synchronize();
  }
};

// Every contract call of one step of a U-Net with levels = 1, written out from the architecture in
// models/unet.h (not from a profile): conv layers add their bias, and all but the head a ReLU, fused with the
// bias into one call each way (bias_relu_forward, bias_relu_backward); the transposed conv's forward is the
// backward-data product and its input gradient the forward product; the first conv's input needs no
// gradient; each parameter's gradient is written straight into the flat buffer by its conv's backward (the
// previous step's zero_grad left them pending zero), so there is no axpy and zero_grad fills nothing. With
// one image the skip concat copies nothing either way (models::UNet::set_skips_in_place). With `epilogue`
// (conv2d_forward_epilogue) the convolutions' forwards add the bias and apply the ReLU as they store, so
// those calls are gone. `upconv_epilogue`: the up conv's too (conv2d_backward_data_epilogue): on cuda-emu,
// not on the cpu backend, whose backward-data runs through gemm's col2im at this size, which declines it.
std::map<Key, int64_t> expected_calls_levels1(int batch, bool epilogue, bool upconv_epilogue) {
  std::map<Key, int64_t> e;
  const std::vector<std::string> convs = {"down.0.conv1", "down.0.conv2", "down.1.conv1",
                                          "down.1.conv2", "up.0.conv",    "head"};
  for (const std::string& c : convs) {
    const bool relu = c != "head";
    e[{"conv2d_forward", c}] = 1;
    if (!epilogue) e[{relu ? "bias_relu_forward" : "bias_add", c}] = 1;
    if (c != "down.0.conv1") e[{"conv2d_backward_data", c + " bwd"}] = 1;
    e[{"conv2d_backward_weight", c + " bwd"}] = 1;
    e[{relu ? "bias_relu_backward" : "bias_backward", c + " bwd"}] = 1;
  }
  e[{"conv2d_backward_data", "up.0.upconv"}] = 1;
  if (!upconv_epilogue) e[{"bias_relu_forward", "up.0.upconv"}] = 1;
  e[{"conv2d_forward", "up.0.upconv bwd"}] = 1;
  e[{"conv2d_backward_weight", "up.0.upconv bwd"}] = 1;
  e[{"bias_relu_backward", "up.0.upconv bwd"}] = 1;
  if (batch > 1) {
    e[{"concat_channels", "up.0"}] = 1;
    e[{"split_channels", "up.0 bwd"}] = 1;
  }
  // down.0's output feeds down.1.conv1 and the skip concat: its two gradients are added when the second
  // one arrives, in down.1.conv1's backward (the concat's backward runs first, being nearer the loss).
  e[{"add", "down.1.conv1 bwd"}] = 1;
  e[{"tanh_forward", "head"}] = 1;
  e[{"tanh_backward", "head bwd"}] = 1;
  e[{"mse_loss_forward", "loss"}] = 1;
  e[{"mse_loss_backward", "loss bwd"}] = 1;
  e[{"fill", "-"}] = 1;  // the loss's own gradient, 1, made by backward()
  e[{"adam_step", "adam"}] = 1;
  return e;
}

}  // namespace

TEST_CASE("profiler: a training step names every op of every layer, forward and backward", "[profiler]") {
  for (auto [d, batch] : {std::pair{Device::cpu(), 2}, {Device::cuda_emu(), 2}, {Device::cpu(), 1}}) {
    INFO(d.str() << ", batch " << batch);
    const int size = 8, width = 4;
    SmallStep step(d, batch, size, width, 1);
    step.run();  // warm: workspaces and cached blocks exist before the profile
    profiler::Session session(d);
    const int steps = 2;
    for (int i = 0; i < steps; ++i) {
      session.step_begin();
      step.run();
      session.step_end();
    }
    REQUIRE(session.steps() == steps);
    std::map<Key, int64_t> got;
    std::map<Key, profiler::OpRow> by_key;
    for (const profiler::OpRow& r : session.rows()) {
      got[{r.op, r.layer}] = r.calls / steps;
      by_key[{r.op, r.layer}] = r;
      CHECK(r.calls % steps == 0);
    }
    CHECK(got == expected_calls_levels1(batch, d.kind != DeviceKind::CpuRef, d.kind == DeviceKind::CudaEmu));

    // FLOPs by hand: down.0.conv1 is 1 -> 4 channels, 3x3, on 8x8: 2 * (batch*4*8*8) * (1*3*3) a call.
    const profiler::OpRow& stem = by_key[{"conv2d_forward", "down.0.conv1"}];
    CHECK(stem.flops == 2.0 * steps * (batch * 4 * 8 * 8) * 9);
    // down.1.conv1: 4 -> 8, 4x4 stride 2, 8x8 -> 4x4: weight gradient reads x (2*4*8*8) and dy (2*8*4*4)
    // and writes dw (8*4*4*4), float32.
    const profiler::OpRow& dw = by_key[{"conv2d_backward_weight", "down.1.conv1 bwd"}];
    CHECK(dw.flops == 2.0 * steps * (batch * 8 * 4 * 4) * (4 * 4 * 4));
    CHECK(dw.bytes == 4.0 * steps * (batch * 4 * 8 * 8 + batch * 8 * 4 * 4 + 8 * 4 * 4 * 4));
    for (auto& [key, r] : by_key) {
      CHECK(r.median_ms >= 0);
      CHECK(r.total_ms >= r.median_ms);
    }
    CHECK(session.emulated() == (d.kind == DeviceKind::CudaEmu));
    CHECK((session.table().find("EMULATED") != std::string::npos) == session.emulated());
  }
}

TEST_CASE("profiler: the op times add up to the measured step within 10 percent on cpu", "[profiler]") {
  const Device d = Device::cpu();
  // Big enough that the kernels, not the engine's bookkeeping, are the step (as in any real run).
  SmallStep step(d, 4, 64, 16, 2);
  step.run();
  profiler::Session session(d);
  double measured_ms = 0;
  const int steps = 3;
  for (int i = 0; i < steps; ++i) {
    session.step_begin();
    const auto t0 = std::chrono::steady_clock::now();
    step.run();
    measured_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    session.step_end();
  }
  double op_ms = 0, share = 0;
  for (const profiler::OpRow& r : session.rows()) op_ms += r.total_ms, share += r.share;
  INFO("ops " << op_ms << " ms of a measured " << measured_ms << " ms over " << steps << " steps");
  CHECK(op_ms <= measured_ms);
  CHECK(op_ms >= 0.9 * measured_ms);
  double session_ms = 0;
  for (double m : session.step_ms()) session_ms += m;
  CHECK(session_ms >= measured_ms);
  CHECK(share == Approx(op_ms / session_ms).epsilon(1e-9));
}

TEST_CASE("profiler: closing the session restores the device's own kernels, and nothing is named when off",
          "[profiler]") {
  for (Device d : {Device::cpu(), Device::cuda_emu()}) {
    DeviceRuntime& rt = runtime(d);
    {
      profiler::Session session(d);
      CHECK(profiler::active());
      CHECK(rt.backend.conv2d_forward != d.backend().conv2d_forward);
      CHECK_THROWS_WITH(profiler::Session(d), Catch::Contains("already"));
    }
    CHECK_FALSE(profiler::active());
    CHECK(rt.backend.conv2d_forward == d.backend().conv2d_forward);
    CHECK(rt.backend.adam_step == d.backend().adam_step);
    SmallStep step(d, 1, 8, 2, 1);
    Tensor pred = step.unet(step.L);
    CHECK(pred.grad_fn()->layer.empty());  // no scope is captured without a session
  }
}

TEST_CASE("profiler: the trace has a host lane with the phases and a stream lane with named ops",
          "[profiler]") {
  const Device d = Device::cpu();
  SmallStep step(d, 1, 8, 2, 1);
  const std::string path =
      (std::filesystem::temp_directory_path() / ("tint_profiler_" + std::to_string(::getpid()) + ".json"))
          .string();
  {
    profiler::Session session(d);
    session.step_begin();
    {
      profiler::Phase phase("forward");
      step.run();
    }
    session.step_end();
    session.write_trace(path);
    CHECK_THROWS_WITH(session.write_trace("/nonexistent-dir/x.json"),
                      Catch::Contains("/nonexistent-dir/x.json"));
  }
  std::ifstream f(path);
  std::stringstream text;
  text << f.rdbuf();
  const std::string trace = text.str();
  std::filesystem::remove(path);
  CHECK(trace.find("\"traceEvents\"") != std::string::npos);
  CHECK(trace.find("\"args\": {\"name\": \"host\"}") != std::string::npos);
  CHECK(trace.find("\"args\": {\"name\": \"cpu stream\"}") != std::string::npos);
  CHECK(trace.find("\"name\": \"forward\", \"cat\": \"phase\", \"ph\": \"X\", \"pid\": 1, \"tid\": 1") !=
        std::string::npos);
  CHECK(trace.find("\"name\": \"down.1.conv1 bwd conv2d_backward_weight\"") != std::string::npos);
  CHECK(trace.find("\"name\": \"step 0\"") != std::string::npos);
}
