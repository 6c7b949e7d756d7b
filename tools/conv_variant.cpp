#include <fmt/format.h>

#include "engine/error.h"
#include "engine/op_registry.h"
#include "kernels/cpu/conv_algos.h"
#include "kernels/cuda/conv2d.h"
#include "kernels/cuda/reduce.h"
#include "tools/commands.h"

namespace tint::cli {

void select_conv_variant(Device device, const std::string& flag, const std::string& name) {
  if (device.kind == DeviceKind::CudaEmu) return cuda_emu::set_conv_variant(name);
#ifdef TINT_HAVE_CUDA
  if (device.kind == DeviceKind::Cuda) return cuda::set_conv_variant(name);
#endif
  if (device.kind == DeviceKind::Cpu) return cpu::set_conv_variant(name);
  throw Error(fmt::format("{} {}: the {} backend has one conv kernel; variants exist on cpu, cuda and cuda-emu",
                          flag, name, device.str()));
}

std::string selected_conv_variant(Device device) {
  if (device.kind == DeviceKind::CudaEmu) return cuda_emu::conv_variant();
#ifdef TINT_HAVE_CUDA
  if (device.kind == DeviceKind::Cuda) return cuda::conv_variant();
#endif
  if (device.kind == DeviceKind::Cpu) return cpu::conv_variant();
  return "";
}

void select_precision(Device device, const std::string& precision, const std::string& conv_variant) {
  const bool tf32_variant = is_tf32_variant(conv_variant);
  if (precision.empty()) return;  // not given: whatever --conv-variant (or the default) says
  if (precision == "fp32") {
    TINT_CHECK(conv_variant.empty() || !tf32_variant,
               "--precision fp32 with --conv-variant {}: that variant multiplies in TF32", conv_variant);
    return;
  }
  TINT_CHECK(precision == "tf32", "--precision {}: expected fp32 or tf32", precision);
  TINT_CHECK(device.kind == DeviceKind::Cuda || device.kind == DeviceKind::CudaEmu,
             "--precision tf32: TF32 is a tensor-core format of the cuda and cuda-emu backends, not of {}",
             device.str());
  // winograd2-tf32: the TF32 variant as accurate as TF32 itself (winograd4-tf32's transforms amplify the
  // rounding 8-20x: kernels/cuda/conv2d.h)
  if (conv_variant.empty()) return select_conv_variant(device, "--precision tf32", "winograd2-tf32");
  TINT_CHECK(tf32_variant, "--precision tf32 with --conv-variant {}: choose a -tf32 variant", conv_variant);
}

void select_reduce_variant(Device device, const std::string& flag, const std::string& name) {
  if (device.kind == DeviceKind::CudaEmu) return cuda_emu::set_reduce_variant(name);
#ifdef TINT_HAVE_CUDA
  if (device.kind == DeviceKind::Cuda) return cuda::set_reduce_variant(name);
#endif
  throw Error(fmt::format("{} {}: the {} backend has one reduction kernel; variants exist on cuda and cuda-emu",
                          flag, name, device.str()));
}

}  // namespace tint::cli
