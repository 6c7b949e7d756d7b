// Shape helpers of the kernel contract (engine/backend.h). The contract is the engine's; these are built
// into tint_contract, the small library every kernel library links, so a kernel library still builds and
// tests without the rest of the engine.
#include "engine/backend.h"
#include "engine/error.h"

namespace tint {

std::string Conv2dShape::str() const {
  return fmt::format("n{} c{}x{}x{} -> c{}x{}x{} k{}x{} s{}x{} p{}x{}", n, c_in, h_in, w_in, c_out, h_out, w_out,
                     kh, kw, stride_h, stride_w, pad_h, pad_w);
}

namespace {
void check_positive(const Conv2dShape& s, const char* what) {
  TINT_CHECK(s.n > 0 && s.c_in > 0 && s.h_in > 0 && s.w_in > 0 && s.c_out > 0 && s.kh > 0 && s.kw > 0 &&
                 s.stride_h > 0 && s.stride_w > 0 && s.pad_h >= 0 && s.pad_w >= 0,
             "{}: invalid shape {}", what, s.str());
  TINT_CHECK(s.h_out > 0 && s.w_out > 0, "{}: shape {} gives an empty output", what, s.str());
}
}  // namespace

Conv2dShape make_conv2d(int n, int c_in, int h_in, int w_in, int c_out, int kh, int kw, int stride_h,
                        int stride_w, int pad_h, int pad_w) {
  Conv2dShape s;
  s.n = n, s.c_in = c_in, s.h_in = h_in, s.w_in = w_in, s.c_out = c_out, s.kh = kh, s.kw = kw;
  s.stride_h = stride_h, s.stride_w = stride_w, s.pad_h = pad_h, s.pad_w = pad_w;
  s.h_out = stride_h > 0 && h_in + 2 * pad_h >= kh ? (h_in + 2 * pad_h - kh) / stride_h + 1 : 0;
  s.w_out = stride_w > 0 && w_in + 2 * pad_w >= kw ? (w_in + 2 * pad_w - kw) / stride_w + 1 : 0;
  check_positive(s, "conv2d");
  return s;
}

Conv2dShape make_conv_transpose2d(int n, int cin_t, int h, int w, int cout_t, int kh, int kw, int stride_h,
                                  int stride_w, int pad_h, int pad_w, int out_pad_h, int out_pad_w) {
  TINT_CHECK(out_pad_h >= 0 && out_pad_w >= 0 && (out_pad_h < stride_h) && (out_pad_w < stride_w),
             "conv_transpose2d: output_padding {}x{} must be smaller than the stride {}x{}", out_pad_h,
             out_pad_w, stride_h, stride_w);
  Conv2dShape s;
  s.n = n, s.c_in = cout_t, s.c_out = cin_t, s.kh = kh, s.kw = kw;
  s.stride_h = stride_h, s.stride_w = stride_w, s.pad_h = pad_h, s.pad_w = pad_w;
  s.h_in = (h - 1) * stride_h - 2 * pad_h + kh + out_pad_h;
  s.w_in = (w - 1) * stride_w - 2 * pad_w + kw + out_pad_w;
  s.h_out = h, s.w_out = w;
  check_positive(s, "conv_transpose2d");
  // The convolution of that input must land exactly on h x w, or the two are not each other's transpose.
  TINT_CHECK((s.h_in + 2 * pad_h - kh) / stride_h + 1 == h && (s.w_in + 2 * pad_w - kw) / stride_w + 1 == w,
             "conv_transpose2d: inconsistent shape {}", s.str());
  return s;
}

}  // namespace tint
