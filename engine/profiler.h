// The profiler: where a step's time goes, op by op and layer by layer.
//
// While a Session is open on a device, that device's runtime dispatches through a wrapping Backend table
// whose entries time each call and then call the real kernel; closing the session puts the real table back.
// With no session the table is the real one and every hook below is one test of a global flag, so the
// profiler costs nothing measurable when off (tint bench measures it: see README, "Profiling a step").
//
// Names: modules push their dotted path ("down.2.conv1") with a Scope while they run; an autograd node
// keeps the layer it was created under, and its backward runs under "<layer> bwd". The U-Net's own
// element-wise ops run under their block ("down.2" relu, "up.1" concat).
//
// Times: on `cuda`, CUDA events recorded on the stream around each call and resolved at the end of each step
// (no synchronisation per op); on the CPU backends, a steady clock around each call (their kernels return
// when done); on `cuda-emu` the same host clock, marked emulated: those are the emulator's times, not a
// GPU's. On `cuda`, every op and every scope is also an NVTX range, so Nsight shows tint's names.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/device.h"

namespace tint::profiler {

namespace detail {
extern bool g_active;  // a Session is open (read by every hook; written only when a session opens/closes)
void push_scope(const std::string* name);
void pop_scope();
double phase_begin(const char* name);
void phase_end(const char* name, double start_us);
}  // namespace detail

#ifdef TINT_NO_PROFILER
// Built with -DTINT_PROFILER=OFF, to measure what the hooks cost when off: none of them does anything.
inline constexpr bool active() {
  return false;
}
#else
inline bool active() {
  return detail::g_active;
}
#endif

// Ops called inside are attributed to `name` (which must outlive the scope: a module's path, a literal held
// in a std::string). Nested scopes: the innermost names the op.
class Scope {
 public:
  explicit Scope(const std::string& name) : pushed_(active()) {
    if (pushed_) detail::push_scope(&name);
  }
  ~Scope() {
    if (pushed_) detail::pop_scope();
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  bool pushed_;
};

// The innermost scope's name on this thread ("-" outside any named scope).
std::string current_layer();

// The backward of a node created under `layer`: its ops are named "<layer> bwd".
class BackwardScope {
 public:
  explicit BackwardScope(const std::string& layer);
  ~BackwardScope();
  BackwardScope(const BackwardScope&) = delete;
  BackwardScope& operator=(const BackwardScope&) = delete;

 private:
  std::string name_;
  bool pushed_ = false;
};

// A phase of the step on the host lane of the trace: "data wait", "upload", "forward", "backward",
// "optimiser". `name` must be a string literal (kept by pointer).
class Phase {
 public:
  explicit Phase(const char* name) : name_(name), start_(active() ? detail::phase_begin(name) : -1) {}
  ~Phase() {
    if (start_ >= 0) detail::phase_end(name_, start_);
  }
  Phase(const Phase&) = delete;
  Phase& operator=(const Phase&) = delete;

 private:
  const char* name_;
  double start_;
};

// One line of the table: an op (contract entry) under one layer, over every profiled step.
struct OpRow {
  std::string op;     // "conv2d_forward"
  std::string layer;  // "down.2.conv1", "down.2.conv1 bwd"; "-" outside any scope
  int64_t calls = 0;
  double total_ms = 0;
  double median_ms = 0;  // of one call
  double flops = 0;      // summed over the calls (engine/op_cost.h)
  double bytes = 0;
  double share = 0;  // of the summed step time
  double gflops() const { return total_ms > 0 ? flops / (total_ms * 1e6) : 0; }
  double gbytes() const { return total_ms > 0 ? bytes / (total_ms * 1e6) : 0; }
};

struct SessionOptions {
  // Steps kept (later steps run unprofiled and are not timed per op), so a long `tint train --profile`
  // does not grow without bound.
  int max_steps = 200;
};

// One profile of one device. Only one session may be open at a time (the wrapping table is process-wide,
// like the runtime it wraps). Calls outside step_begin/step_end (validation, setup) are kept in the trace but
// left out of the table.
class Session {
 public:
  explicit Session(Device device, SessionOptions options = {});
  ~Session();  // restores the device's real table
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Bracket one step: the unit of "share of the step". step_end resolves the step's CUDA events (one wait).
  void step_begin();
  void step_end();

  Device device() const;
  bool emulated() const;  // cuda-emu: times are the emulator's
  int steps() const;      // completed profiled steps
  std::vector<double> step_ms() const;
  std::vector<OpRow> rows() const;  // sorted by total time, longest first
  // The table, like tinygrad's DEBUG=2: a header, then one line per op and layer (at most max_rows; 0: all).
  std::string table(size_t max_rows = 0) const;
  // Chrome/Perfetto trace (chrome://tracing, ui.perfetto.dev): a host lane (steps and their phases) and a
  // stream lane (each op a slice named after its layer). Throws naming the file on a write error.
  void write_trace(const std::string& path) const;

  struct State;

 private:
  std::unique_ptr<State> state_;
};

}  // namespace tint::profiler
