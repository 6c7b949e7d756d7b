// Convolution variants of the CUDA backends, for tests and benchmarks. The engine never calls these: it
// gets the selected one (by default winograd4, which runs igemm2 on the shapes it does not take) through the
// Backend table.
//
//   0 "naive"          one thread per output element, a plain loop over the reduction (teaching, and a
//                      second check of the tuned kernels on a real GPU)
//   1 "igemm"          implicit GEMM: shared-memory tiles, register blocking, a deterministic split-K
//                      through Stream::workspace when the output alone gives too few blocks
//   2 "igemm-nosplit"  the same kernel, never split: shows what split-K buys on small layers
//   3 "igemm2"         the same GEMM mapping with 16-deep slices and division-free gather indices (each
//                      thread walks a run of consecutive k with a mixed-radix counter); backward-weight
//                      takes large tiles and splits K wider (conv2d.cu says why). Measured on an H200
//                      (benchmarks/results/2026-11-26-h200-igemm2): faster than igemm on every U-Net layer
//                      and product but the 1x1 head's backward-data (tiny). What winograd4 runs on every
//                      shape but 3x3 stride 1.
//   4 "igemm3"         igemm's 64x64 tile fed by a three-stage cp.async pipeline (asynchronous copies into
//                      shared memory, zero-filled at the padding) with the gather offsets split into a
//                      per-thread column part and a per-slice k part decoded once per block; split-K as
//                      igemm. Measured on an H200 (benchmarks/results/2026-11-30-h200-winograd): slower than
//                      igemm2 on every product (0.19-0.60x cuDNN in the sums against 0.57-1.20x): kept as the
//                      reference cp.async implementation, not tuned further.
//   5 "igemm2w"        igemm2 whose backward-data first re-lays the weights per phase (wt[phase][k][c], one
//                      small launch) so that the A loaders of neighbouring channels read neighbouring floats;
//                      w itself puts them kh*kw floats apart, and the 4x4 stride-2 layers' backward-data, all
//                      igemm2, measured 0.72-0.77x cuDNN at batch 8. Forward and backward-weight as igemm2.
//                      Not yet run on a GPU.
//   6 "winograd4"      3x3 stride-1 layers as Winograd F(4x4,3x3): weight and input transforms, 36 GEMMs in
//                      one batched launch, output transform, through Stream::workspace
//                      (kernels/cuda/conv_winograd.h); other shapes, or too little workspace, run igemm2.
//                      The default since benchmarks/results/2026-11-30-h200-winograd: the fastest variant
//                      in every product's sum over the U-Net at batch 1 and 8, 1.03-1.76x cuDNN's.
//   7 "winograd2"      the same with F(2x2,3x3): 16 GEMMs, as exact as the direct product
//   8 "winograd4-tf32" winograd4 with its batched GEMM on the tensor cores in TF32 (nvcuda::wmma 16x16x8,
//                      operands rounded to 10 mantissa bits, fp32 accumulation); other shapes run igemm2 in
//                      fp32. Not bit-comparable with the fp32 variants: tests hold it to op_tolerance's TF32
//                      bounds (engine/op_registry.cpp).
//   9 "winograd2-tf32" the same for winograd2, as accurate as PyTorch's TF32 (its transforms do not amplify
//                      the rounding: about 2^-11 of the output's scale against winograd4-tf32's 20x that);
//                      what `tint train --precision tf32` selects
//  10 "winograd4-tf32x3" winograd4's GEMM on the tensor cores at fp32's accuracy: each operand split into two
//                      TF32 parts and three products summed (conv_winograd.cu); held to the fp32 tolerance
//
// Variants are chosen by NAME (tests, benchmarks and `tint op --variant`); the selection is process-wide
// (set it back to the default afterwards). An unknown name is an error that lists the valid ones.
// set_conv_tile forces the per-thread register block of the tuned variants (8x8, 4x8 or 4x4; 0x0 gives the
// choice back to the planner), so that tests reach every tile on shapes small enough to emulate.
#pragma once

#include <string>
#include <vector>

namespace tint {

namespace cuda_emu {
const std::vector<std::string>& conv_variants();  // in the order above
std::string conv_variant();                       // the selected one
void set_conv_variant(const std::string& name);   // throws tint::Error naming the valid variants
void set_conv_tile(int tm, int tn);               // throws tint::Error for any other pair
inline constexpr const char* conv_default_variant = "winograd4";
}  // namespace cuda_emu

namespace cuda {  // defined only when built with nvcc (TINT_HAVE_CUDA)
const std::vector<std::string>& conv_variants();
std::string conv_variant();
void set_conv_variant(const std::string& name);
void set_conv_tile(int tm, int tn);
inline constexpr const char* conv_default_variant = "winograd4";
}  // namespace cuda

}  // namespace tint
