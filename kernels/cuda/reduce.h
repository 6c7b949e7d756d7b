// Reduction variants of the CUDA backends (sum, the masked L1/L2 loss forwards, bias_backward), for tests and
// benchmarks, chosen by name like the conv variants (kernels/cuda/conv2d.h); the selection is process-wide.
//
//   "block"  one block does the whole reduction (one block per channel for bias_backward): a fixed strided
//            share per thread, then a fixed tree. Simple, and slow: one SM (sum 3.2 ms, the loss forwards
//            1.0 ms, bias_backward 0.22 ms on an H200 at batch 8; benchmarks/results/2026-11-30-h200-winograd).
//   "tree"   two passes: a grid whose size depends on the shape alone writes one partial per block into
//            Stream::workspace, then one block (per channel) adds the partials in a fixed tree. Deterministic
//            like "block" (no atomics, the same bits for every launch of a shape), but the first pass fills
//            the device. The default since that measurement: 0.056, 0.031 and 0.049 ms there (18-57x). It needs kReductionWorkspaceBytes of workspace (engine/backend.h); with less it
//            falls back to "block".
//   "tree4"  "tree" with four independent loads in flight per thread (four accumulators, added in order) and
//            4x the elements per block, for memory-level parallelism and fewer block trees: "tree" reached
//            64% (sum) and 74% (bias_backward) of the copy bandwidth. Deterministic in the same way, with
//            bits of its own. Not yet measured on a GPU (benchmarks/gpu/check.sh times every variant).
#pragma once

#include <string>
#include <vector>

namespace tint {

namespace cuda_emu {
const std::vector<std::string>& reduce_variants();  // in the order above
std::string reduce_variant();                       // the selected one
void set_reduce_variant(const std::string& name);   // throws tint::Error naming the valid variants
inline constexpr const char* reduce_default_variant = "tree";
}  // namespace cuda_emu

namespace cuda {  // defined only when built with nvcc (TINT_HAVE_CUDA)
const std::vector<std::string>& reduce_variants();
std::string reduce_variant();
void set_reduce_variant(const std::string& name);
inline constexpr const char* reduce_default_variant = "tree";
}  // namespace cuda

}  // namespace tint
