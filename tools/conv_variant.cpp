#include <fmt/format.h>

#include "engine/error.h"
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

void select_reduce_variant(Device device, const std::string& flag, const std::string& name) {
  if (device.kind == DeviceKind::CudaEmu) return cuda_emu::set_reduce_variant(name);
#ifdef TINT_HAVE_CUDA
  if (device.kind == DeviceKind::Cuda) return cuda::set_reduce_variant(name);
#endif
  throw Error(fmt::format("{} {}: the {} backend has one reduction kernel; variants exist on cuda and cuda-emu",
                          flag, name, device.str()));
}

}  // namespace tint::cli
