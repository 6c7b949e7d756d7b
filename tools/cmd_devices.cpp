// `tint devices`: which backends of the kernel contract this build and machine can run.
#include <cstdio>

#include "engine/device.h"
#include "tools/args.h"
#include "tools/commands.h"

namespace tint::cli {

int run_devices(int argc, char** argv) {
  Args args(argc, argv, Options{});
  if (args.help()) {
    std::puts("usage: tint devices\n\nLists the backends: cpu (fast kernels), cpu-ref (the reference loops),\n"
              "cuda-emu (the CUDA kernels run on the CPU through the emulator), cuda (a real GPU).");
    return 0;
  }
  for (Device d : {Device::cpu(), Device::cpu_ref(), Device::cuda_emu(), Device::cuda()}) {
    const char* why = d.available() ? "available"
                      : cuda_backend() == nullptr ? "not built (no nvcc at build time)"
                                                  : "no CUDA GPU on this machine";
    fmt::print("{:<9} {}\n", d.str(), why);
  }
  return 0;
}

}  // namespace tint::cli
