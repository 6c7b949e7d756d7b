// Reduction variants of the CUDA backends (sum, the masked L1/L2 loss forwards, bias_backward), for tests and
// benchmarks, chosen by name like the conv variants (kernels/cuda/conv2d.h); the selection is process-wide.
//
//   "block"  one block does the whole reduction (one block per channel for bias_backward): a fixed strided
//            share per thread, then a fixed tree. The default: simple, and the loss reads little.
//   "tree"   two passes: a grid whose size depends on the shape alone writes one partial per block into
//            Stream::workspace, then one block (per channel) adds the partials in a fixed tree. Deterministic
//            like "block" (no atomics, the same bits for every launch of a shape), but the first pass fills
//            the device. It needs kReductionWorkspaceBytes of workspace (engine/backend.h); with less it
//            falls back to "block".
#pragma once

#include <string>
#include <vector>

namespace tint {

namespace cuda_emu {
const std::vector<std::string>& reduce_variants();  // in the order above
std::string reduce_variant();                       // the selected one
void set_reduce_variant(const std::string& name);   // throws tint::Error naming the valid variants
inline constexpr const char* reduce_default_variant = "block";
}  // namespace cuda_emu

namespace cuda {  // defined only when built with nvcc (TINT_HAVE_CUDA)
const std::vector<std::string>& reduce_variants();
std::string reduce_variant();
void set_reduce_variant(const std::string& name);
inline constexpr const char* reduce_default_variant = "block";
}  // namespace cuda

}  // namespace tint
