#include "kernels/emu/emu_fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <new>

#if defined(TINT_EMU_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#include "engine/error.h"

#if !(defined(TINT_EMU_UCONTEXT) && TINT_EMU_UCONTEXT)
// tint_emu_switch(void** save_sp, void* load_sp): push the callee-saved registers and the x87/SSE control
// words on the current stack, store the stack pointer in *save_sp, load load_sp and pop the same things from
// there. A fiber that has never run has a frame prepared by Fiber::reset whose return address is
// tint_emu_fiber_start, which calls r13(r12) on the fresh stack.
asm(R"(
  .text
  .globl tint_emu_switch
  .type tint_emu_switch,@function
  .p2align 4
tint_emu_switch:
  .cfi_startproc
  endbr64
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $16, %rsp
  stmxcsr 8(%rsp)
  fnstcw (%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  fldcw (%rsp)
  ldmxcsr 8(%rsp)
  addq $16, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .cfi_endproc
  .size tint_emu_switch,.-tint_emu_switch

  .globl tint_emu_fiber_start
  .type tint_emu_fiber_start,@function
  .p2align 4
tint_emu_fiber_start:
  .cfi_startproc
  .cfi_undefined rip
  endbr64
  movq %r12, %rdi
  callq *%r13
  ud2
  .cfi_endproc
  .size tint_emu_fiber_start,.-tint_emu_fiber_start
)");
extern "C" void tint_emu_switch(void** save_sp, void* load_sp);
extern "C" void tint_emu_fiber_start();
#endif

namespace tint::emu::detail {

namespace {
size_t page_size() {
  static const size_t size = size_t(sysconf(_SC_PAGESIZE));
  return size;
}

#if defined(TINT_EMU_UCONTEXT) && TINT_EMU_UCONTEXT
// makecontext passes ints; a pointer travels as two halves.
void ucontext_entry(unsigned entry_lo, unsigned entry_hi, unsigned arg_lo, unsigned arg_hi) {
  auto entry = reinterpret_cast<void (*)(void*)>((uintptr_t(entry_hi) << 32) | entry_lo);
  auto arg = reinterpret_cast<void*>((uintptr_t(arg_hi) << 32) | arg_lo);
  entry(arg);
}
#endif
}  // namespace

Fiber::Fiber(size_t stack_bytes, void (*entry)(void*), void* arg) : entry_(entry), arg_(arg) {
  const size_t page = page_size();
  const size_t stack = (stack_bytes + page - 1) / page * page;
  mapping_bytes_ = stack + page;
  // Untouched pages cost nothing, so a generous stack only costs address space.
  mapping_ = mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  TINT_CHECK(mapping_ != MAP_FAILED, "cuda-emu: cannot map a fiber stack of {} bytes", mapping_bytes_);
  // A guard page below the stack turns an overflow into a fault instead of silent corruption.
  TINT_CHECK(mprotect(mapping_, page, PROT_NONE) == 0, "cuda-emu: cannot protect a fiber's guard page");
  context_.stack_bottom = static_cast<char*>(mapping_) + page;
  context_.stack_size = stack;
  reset();
}

Fiber::~Fiber() {
  munmap(mapping_, mapping_bytes_);
}

void Fiber::reset() {
#if defined(TINT_EMU_ASAN)
  // An abandoned run leaves its frames' redzones poisoned in the shadow memory; a new run must not trip them.
  __asan_unpoison_memory_region(context_.stack_bottom, context_.stack_size);
#endif
  context_.asan_fake_stack = nullptr;
#if defined(TINT_EMU_UCONTEXT) && TINT_EMU_UCONTEXT
  TINT_CHECK(getcontext(&context_.uc) == 0, "cuda-emu: getcontext failed");
  context_.uc.uc_stack.ss_sp = const_cast<void*>(context_.stack_bottom);
  context_.uc.uc_stack.ss_size = context_.stack_size;
  context_.uc.uc_link = nullptr;
  const auto e = reinterpret_cast<uintptr_t>(entry_);
  const auto a = reinterpret_cast<uintptr_t>(arg_);
  makecontext(&context_.uc, reinterpret_cast<void (*)()>(&ucontext_entry), 4, unsigned(e), unsigned(e >> 32),
              unsigned(a), unsigned(a >> 32));
#else
  const uintptr_t top =
      (reinterpret_cast<uintptr_t>(context_.stack_bottom) + context_.stack_size) & ~uintptr_t(15);
  // The frame tint_emu_switch pops: [0] x87 control word, [1] MXCSR, [2..7] r15 r14 r13 r12 rbx rbp,
  // [8] return address. After the `ret` the stack pointer is top - 16, 16-byte aligned as `call` wants.
  auto* frame = reinterpret_cast<uint64_t*>(top - 88);
  uint16_t x87_control = 0;
  uint32_t mxcsr = 0;
  asm volatile("fnstcw %0" : "=m"(x87_control));
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  frame[0] = x87_control;
  frame[1] = mxcsr;
  frame[2] = frame[3] = 0;
  frame[4] = reinterpret_cast<uint64_t>(entry_);  // r13
  frame[5] = reinterpret_cast<uint64_t>(arg_);    // r12
  frame[6] = frame[7] = 0;
  frame[8] = reinterpret_cast<uint64_t>(&tint_emu_fiber_start);
  frame[9] = frame[10] = 0;
  context_.sp = frame;
#endif
}

void switch_context(Context& from, Context& to) {
#if defined(TINT_EMU_ASAN)
  __sanitizer_start_switch_fiber(&from.asan_fake_stack, to.stack_bottom, to.stack_size);
#endif
#if defined(TINT_EMU_UCONTEXT) && TINT_EMU_UCONTEXT
  swapcontext(&from.uc, &to.uc);
#else
  tint_emu_switch(&from.sp, to.sp);
#endif
#if defined(TINT_EMU_ASAN)
  __sanitizer_finish_switch_fiber(from.asan_fake_stack, nullptr, nullptr);
#endif
}

void fiber_started(Context& from) {
#if defined(TINT_EMU_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, &from.stack_bottom, &from.stack_size);
#else
  (void)from;
#endif
}

}  // namespace tint::emu::detail
