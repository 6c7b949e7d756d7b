// A fiber: a stack and a saved context, switched to and from explicitly. On x86-64 the switch is a dozen
// instructions (callee-saved registers, the FP control words, the stack pointer); elsewhere, or with
// -DTINT_EMU_UCONTEXT=1, it is ucontext's swapcontext, which also saves the signal mask with a system call
// and is an order of magnitude slower. Under AddressSanitizer every switch is announced with
// __sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber so that ASan knows which stack is live.
#pragma once

#include <cstddef>

#if !defined(TINT_EMU_UCONTEXT) && !defined(__x86_64__)
#define TINT_EMU_UCONTEXT 1
#endif
#if defined(TINT_EMU_UCONTEXT) && TINT_EMU_UCONTEXT
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define TINT_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TINT_EMU_ASAN 1
#endif
#endif

namespace tint::emu::detail {

struct Context {
#if defined(TINT_EMU_UCONTEXT) && TINT_EMU_UCONTEXT
  ucontext_t uc;
#else
  void* sp = nullptr;
#endif
  // ASan's fake stack of the code that switched away from this context (detect_stack_use_after_return).
  void* asan_fake_stack = nullptr;
  // The stack this context runs on, for ASan (the host thread's own stack is learnt on the first switch).
  const void* stack_bottom = nullptr;
  size_t stack_size = 0;
};

class Fiber {
 public:
  // `entry(arg)` runs on the fiber's own stack the first time it is switched to; it must never return.
  Fiber(size_t stack_bytes, void (*entry)(void*), void* arg);
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // Start over at entry(arg): whatever the fiber was in the middle of is abandoned (no destructors run).
  void reset();
  Context& context() { return context_; }

 private:
  void* mapping_ = nullptr;  // guard page + stack
  size_t mapping_bytes_ = 0;
  void (*entry_)(void*);
  void* arg_;
  Context context_;
};

// Saves the running code into `from` and continues `to`. Returns when something switches back to `from`.
void switch_context(Context& from, Context& to);

// To be called first thing on a fiber's first run: completes ASan's view of the switch and records the
// stack of the code that switched to us into `from` (the host thread's stack).
void fiber_started(Context& from);

}  // namespace tint::emu::detail
