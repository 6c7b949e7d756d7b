// Convolution variants of the CUDA backends, for tests and benchmarks. The engine never calls these: it
// gets the default (igemm2) through the Backend table.
//
//   0 "naive"          one thread per output element, a plain loop over the reduction (teaching, and a
//                      second check of the tuned kernels on a real GPU)
//   1 "igemm"          implicit GEMM: shared-memory tiles, register blocking, a deterministic split-K
//                      through Stream::workspace when the output alone gives too few blocks
//   2 "igemm-nosplit"  the same kernel, never split: shows what split-K buys on small layers
//   3 "igemm2"         the same GEMM mapping with 16-deep slices and division-free gather indices (each
//                      thread walks a run of consecutive k with a mixed-radix counter); backward-weight
//                      takes large tiles and splits K wider (conv2d.cu says why). The default since it
//                      was measured on an H200 (benchmarks/results/2026-11-26-h200-igemm2): faster than
//                      igemm on every U-Net layer and product but the 1x1 head's backward-data (tiny).
//
// The variant is process-wide (tests and benchmarks switch it; set it back to the default afterwards).
// set_conv_tile forces the per-thread register block of the tuned variants (8x8, 4x8 or 4x4; 0x0 gives the
// choice back to the planner), so that tests reach every tile on shapes small enough to emulate.
#pragma once

namespace tint {

namespace cuda_emu {
int conv_variant_count();
const char* conv_variant_name(int variant);
int conv_variant();
void set_conv_variant(int variant);  // throws tint::Error when out of range
void set_conv_tile(int tm, int tn);  // throws tint::Error for any other pair
constexpr int conv_default_variant = 3;
}  // namespace cuda_emu

namespace cuda {  // defined only when built with nvcc (TINT_HAVE_CUDA)
int conv_variant_count();
const char* conv_variant_name(int variant);
int conv_variant();
void set_conv_variant(int variant);
void set_conv_tile(int tm, int tn);  // throws tint::Error for any other pair
constexpr int conv_default_variant = 3;
}  // namespace cuda

}  // namespace tint
