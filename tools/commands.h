// The subcommands of `tint`, each in its own tools/cmd_*.cpp. argv[0] is the subcommand's name.
#pragma once

#include <string>

#include "engine/device.h"

namespace tint::cli {
int run_bench(int argc, char** argv);
int run_colorize(int argc, char** argv);
int run_demo(int argc, char** argv);
int run_export(int argc, char** argv);
int run_devices(int argc, char** argv);
int run_eval(int argc, char** argv);
int run_op(int argc, char** argv);
int run_train(int argc, char** argv);

// Selects the CUDA convolution variant by name on cuda or cuda-emu (`flag` names the option in errors);
// any other device has one conv kernel, and asking for a variant there is an error.
void select_conv_variant(Device device, const std::string& flag, const std::string& name);
// The conv variant selected on cpu, cuda or cuda-emu; "" on cpu-ref (one conv kernel).
std::string selected_conv_variant(Device device);
// --precision (empty when not given): fp32 or tf32, which on cuda and cuda-emu selects winograd2-tf32 unless
// --conv-variant (given as `conv_variant`, empty when absent) already names a -tf32 variant; the
// combinations that contradict each other, and tf32 on the CPU backends, are errors.
void select_precision(Device device, const std::string& precision, const std::string& conv_variant);
// The same for the CUDA reductions (sum, the loss forwards, bias_backward: kernels/cuda/reduce.h).
void select_reduce_variant(Device device, const std::string& flag, const std::string& name);
}  // namespace tint::cli
