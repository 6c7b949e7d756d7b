#include "engine/profiler.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <unordered_map>

#include "engine/error.h"
#include "engine/op_cost.h"

#ifdef TINT_HAVE_CUDA
#include "kernels/cuda/profile_cuda.h"
#endif

namespace tint::profiler {

namespace detail {
bool g_active = false;
}

namespace {

thread_local std::vector<const std::string*> t_scopes;

struct Record {
  const char* op = nullptr;
  int layer = 0;           // index into State::layers
  int step = -1;           // -1: outside a step
  double t0 = 0, t1 = 0;   // microseconds since the session opened
  int ev0 = -1, ev1 = -1;  // CUDA events (cuda only), resolved into t0/t1 at the step's end
  OpCost cost;
};

struct PhaseRecord {
  const char* name;
  int step;
  double t0, t1;
};

}  // namespace

struct Session::State {
  Device device;
  SessionOptions options;
  Backend real;  // the device's own table, called by the wrappers
  bool cuda = false;
  bool emulated = false;
  void* stream = nullptr;
  std::chrono::steady_clock::time_point origin = std::chrono::steady_clock::now();

  mutable std::mutex mutex;
  std::vector<Record> records;
  std::vector<PhaseRecord> phases;
  std::vector<std::string> layers;
  std::unordered_map<std::string, int> layer_index;
  std::vector<std::pair<double, double>> steps;  // host start, end (us)
  int current_step = -1;
  size_t unresolved = 0;  // first record whose events are not yet read

  // cuda: a pool of events reused every step, and the base event that maps event times onto the host clock.
  std::vector<void*> events;
  size_t next_event = 0;
  void* base_event = nullptr;
  double base_us = 0;

  double now_us() const {
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - origin).count();
  }
  int layer_id(const std::string& name) {
    auto it = layer_index.find(name);
    if (it != layer_index.end()) return it->second;
    layers.push_back(name);
    layer_index.emplace(name, int(layers.size()) - 1);
    return int(layers.size()) - 1;
  }
  bool recording() const { return current_step < options.max_steps; }
  int take_event();
  void resolve();
};

namespace {

Session::State* g_state = nullptr;

}  // namespace

#ifdef TINT_HAVE_CUDA
int Session::State::take_event() {
  if (next_event == events.size()) events.push_back(cuda::profile::event_create());
  return int(next_event++);
}

void Session::State::resolve() {
  // Host-timed devices (cpu, cpu-ref, cuda-emu) have their times already: every record is resolved.
  if (!cuda || unresolved == records.size()) {
    unresolved = records.size();
    return;
  }
  cuda::profile::event_synchronize(events[size_t(records.back().ev1)]);
  for (size_t i = unresolved; i < records.size(); ++i) {
    Record& r = records[i];
    r.t0 = base_us + 1e3 * double(cuda::profile::event_elapsed_ms(base_event, events[size_t(r.ev0)]));
    r.t1 = base_us + 1e3 * double(cuda::profile::event_elapsed_ms(base_event, events[size_t(r.ev1)]));
  }
  unresolved = records.size();
  next_event = 0;  // every event in the pool is read: reuse them
}
#else
int Session::State::take_event() {
  return -1;
}
void Session::State::resolve() {
  unresolved = records.size();
}
#endif

namespace {

// Times one contract call: begun in the constructor, ended in the destructor, around the real call.
class Call {
 public:
  Call(const char* op, OpCost cost) {
    State& s = *g_state;
    std::lock_guard<std::mutex> lock(s.mutex);
    if (!s.recording()) return;
    const std::string layer = current_layer();
    Record r;
    r.op = op;
    r.layer = s.layer_id(layer);
    r.step = s.current_step;
    r.cost = cost;
#ifdef TINT_HAVE_CUDA
    if (s.cuda) {
      cuda::profile::range_push(op);
      r.ev0 = s.take_event();
      r.ev1 = s.take_event();
      cuda::profile::event_record(s.events[size_t(r.ev0)], s.stream);
    }
#endif
    index_ = int64_t(s.records.size());
    s.records.push_back(r);
    s.records.back().t0 = s.now_us();  // last: the bookkeeping above is not the kernel's time
  }
  ~Call() {
    if (index_ < 0) return;
    State& s = *g_state;
    const double t1 = s.now_us();
    std::lock_guard<std::mutex> lock(s.mutex);
    Record& r = s.records[size_t(index_)];
    r.t1 = t1;
#ifdef TINT_HAVE_CUDA
    if (s.cuda) {
      cuda::profile::event_record(s.events[size_t(r.ev1)], s.stream);
      cuda::profile::range_pop();
    }
#endif
  }
  Call(const Call&) = delete;
  Call& operator=(const Call&) = delete;

 private:
  using State = Session::State;
  int64_t index_ = -1;
};

const Backend& real() {
  return g_state->real;
}

// The wrapping table: each entry prices the call (engine/op_cost.h), times it and forwards it.
void w_copy_from_host(const Stream& s, void* dst, const void* src, size_t bytes) {
  Call c("copy_from_host", transfer_cost(bytes));
  real().copy_from_host(s, dst, src, bytes);
}
void w_copy_to_host(const Stream& s, void* dst, const void* src, size_t bytes) {
  Call c("copy_to_host", transfer_cost(bytes));
  real().copy_to_host(s, dst, src, bytes);
}
void w_fill(const Stream& s, float* y, float value, int64_t n) {
  Call c("fill", fill_cost(n));
  real().fill(s, y, value, n);
}
void w_copy(const Stream& s, float* y, const float* x, int64_t n) {
  Call c("copy", copy_cost(n));
  real().copy(s, y, x, n);
}
void w_add(const Stream& s, float* y, const float* a, const float* b, int64_t n) {
  Call c("add", add_cost(n));
  real().add(s, y, a, b, n);
}
void w_scale(const Stream& s, float* y, const float* x, float alpha, int64_t n) {
  Call c("scale", scale_cost(n));
  real().scale(s, y, x, alpha, n);
}
void w_axpy(const Stream& s, float* y, const float* x, float alpha, int64_t n) {
  Call c("axpy", axpy_cost(n));
  real().axpy(s, y, x, alpha, n);
}
void w_sum(const Stream& s, float* out, const float* x, int64_t n) {
  Call c("sum", sum_cost(n));
  real().sum(s, out, x, n);
}
void w_broadcast_scalar(const Stream& s, float* y, const float* x, float alpha, int64_t n) {
  Call c("broadcast_scalar", broadcast_scalar_cost(n));
  real().broadcast_scalar(s, y, x, alpha, n);
}
void w_relu_forward(const Stream& s, float* y, const float* x, int64_t n) {
  Call c("relu_forward", relu_forward_cost(n));
  real().relu_forward(s, y, x, n);
}
void w_relu_backward(const Stream& s, float* dx, const float* dy, const float* x, int64_t n) {
  Call c("relu_backward", relu_backward_cost(n));
  real().relu_backward(s, dx, dy, x, n);
}
void w_tanh_forward(const Stream& s, float* y, const float* x, int64_t n) {
  Call c("tanh_forward", tanh_forward_cost(n));
  real().tanh_forward(s, y, x, n);
}
void w_tanh_backward(const Stream& s, float* dx, const float* dy, const float* y, int64_t n) {
  Call c("tanh_backward", tanh_backward_cost(n));
  real().tanh_backward(s, dx, dy, y, n);
}
void w_bias_add(const Stream& s, float* y, const float* bias, int n, int ch, int64_t hw) {
  Call c("bias_add", bias_add_cost(n, ch, hw));
  real().bias_add(s, y, bias, n, ch, hw);
}
void w_bias_backward(const Stream& s, float* dbias, const float* dy, int n, int ch, int64_t hw) {
  Call c("bias_backward", bias_backward_cost(n, ch, hw));
  real().bias_backward(s, dbias, dy, n, ch, hw);
}
void w_bias_relu_forward(const Stream& s, float* y, const float* bias, int n, int ch, int64_t hw) {
  Call c("bias_relu_forward", bias_relu_forward_cost(n, ch, hw, bias != nullptr));
  real().bias_relu_forward(s, y, bias, n, ch, hw);
}
void w_bias_relu_backward(const Stream& s, float* dz, float* dbias, const float* dy, const float* y, int n, int ch,
                          int64_t hw) {
  Call c("bias_relu_backward", bias_relu_backward_cost(n, ch, hw, dbias != nullptr));
  real().bias_relu_backward(s, dz, dbias, dy, y, n, ch, hw);
}
void w_concat_channels(const Stream& s, float* y, const float* a, const float* b, int n, int ca, int cb,
                       int64_t hw) {
  Call c("concat_channels", concat_cost(n, ca, cb, hw));
  real().concat_channels(s, y, a, b, n, ca, cb, hw);
}
void w_split_channels(const Stream& s, float* da, float* db, const float* dy, int n, int ca, int cb,
                      int64_t hw) {
  Call c("split_channels", concat_cost(n, ca, cb, hw));
  real().split_channels(s, da, db, dy, n, ca, cb, hw);
}
void w_conv2d_forward(const Stream& s, float* y, const float* x, const float* w, const Conv2dShape& sh) {
  Call c("conv2d_forward", conv2d_cost(sh, ConvProduct::forward));
  real().conv2d_forward(s, y, x, w, sh);
}
void w_conv2d_backward_data(const Stream& s, float* dx, const float* dy, const float* w,
                            const Conv2dShape& sh) {
  Call c("conv2d_backward_data", conv2d_cost(sh, ConvProduct::backward_data));
  real().conv2d_backward_data(s, dx, dy, w, sh);
}
// The fused epilogue is timed as the product it extends (the profile's conv rows stay comparable); where the
// algorithm declines it, the engine's own bias_relu_forward call shows up as usual.
bool w_conv2d_forward_epilogue(const Stream& s, float* y, const float* x, const float* w, const float* bias,
                               bool relu, const Conv2dShape& sh) {
  Call c("conv2d_forward", conv2d_cost(sh, ConvProduct::forward));
  return real().conv2d_forward_epilogue(s, y, x, w, bias, relu, sh);
}
bool w_conv2d_backward_data_epilogue(const Stream& s, float* dx, const float* dy, const float* w, const float* bias,
                                     bool relu, const Conv2dShape& sh) {
  Call c("conv2d_backward_data", conv2d_cost(sh, ConvProduct::backward_data));
  return real().conv2d_backward_data_epilogue(s, dx, dy, w, bias, relu, sh);
}
void w_conv2d_backward_weight(const Stream& s, float* dw, const float* x, const float* dy,
                              const Conv2dShape& sh) {
  Call c("conv2d_backward_weight", conv2d_cost(sh, ConvProduct::backward_weight));
  real().conv2d_backward_weight(s, dw, x, dy, sh);
}
void w_l1_loss_forward(const Stream& s, float* out, const float* p, const float* t, const float* m, int n,
                       int ch, int64_t hw) {
  Call c("l1_loss_forward", loss_forward_cost(n, ch, hw, m != nullptr));
  real().l1_loss_forward(s, out, p, t, m, n, ch, hw);
}
void w_l1_loss_backward(const Stream& s, float* dp, const float* g, const float* l2, const float* p,
                        const float* t, const float* m, int n, int ch, int64_t hw) {
  Call c("l1_loss_backward", loss_backward_cost(n, ch, hw, m != nullptr));
  real().l1_loss_backward(s, dp, g, l2, p, t, m, n, ch, hw);
}
void w_mse_loss_forward(const Stream& s, float* out, const float* p, const float* t, const float* m, int n,
                        int ch, int64_t hw) {
  Call c("mse_loss_forward", loss_forward_cost(n, ch, hw, m != nullptr));
  real().mse_loss_forward(s, out, p, t, m, n, ch, hw);
}
void w_mse_loss_backward(const Stream& s, float* dp, const float* g, const float* l2, const float* p,
                         const float* t, const float* m, int n, int ch, int64_t hw) {
  Call c("mse_loss_backward", loss_backward_cost(n, ch, hw, m != nullptr));
  real().mse_loss_backward(s, dp, g, l2, p, t, m, n, ch, hw);
}
void w_adam_step(const Stream& s, float* p, const float* g, float* m, float* v, int64_t n,
                 const AdamHyper& h) {
  Call c("adam_step", adam_cost(n));
  real().adam_step(s, p, g, m, v, n, h);
}

// Memory, streams and synchronisation pass through untimed: they are not kernels.
Backend wrapping_table(const Backend& b) {
  Backend w = b;
  w.copy_from_host = w_copy_from_host;
  w.copy_to_host = w_copy_to_host;
  w.fill = w_fill;
  w.copy = w_copy;
  w.add = w_add;
  w.scale = w_scale;
  w.axpy = w_axpy;
  w.sum = w_sum;
  w.broadcast_scalar = w_broadcast_scalar;
  w.relu_forward = w_relu_forward;
  w.relu_backward = w_relu_backward;
  w.tanh_forward = w_tanh_forward;
  w.tanh_backward = w_tanh_backward;
  w.bias_add = w_bias_add;
  w.bias_backward = w_bias_backward;
  w.bias_relu_forward = w_bias_relu_forward;
  w.bias_relu_backward = w_bias_relu_backward;
  w.concat_channels = w_concat_channels;
  w.split_channels = w_split_channels;
  w.conv2d_forward = w_conv2d_forward;
  w.conv2d_backward_data = w_conv2d_backward_data;
  w.conv2d_backward_weight = w_conv2d_backward_weight;
  if (b.conv2d_forward_epilogue) w.conv2d_forward_epilogue = w_conv2d_forward_epilogue;
  if (b.conv2d_backward_data_epilogue) w.conv2d_backward_data_epilogue = w_conv2d_backward_data_epilogue;
  w.l1_loss_forward = w_l1_loss_forward;
  w.l1_loss_backward = w_l1_loss_backward;
  w.mse_loss_forward = w_mse_loss_forward;
  w.mse_loss_backward = w_mse_loss_backward;
  w.adam_step = w_adam_step;
  return w;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) {
      out += fmt::format("\\u{:04x}", int(ch));
      continue;
    }
    out += ch;
  }
  return out;
}

}  // namespace

// ---- scopes and phases --------------------------------------------------------------------------------

namespace detail {

void push_scope(const std::string* name) {
  t_scopes.push_back(name);
#ifdef TINT_HAVE_CUDA
  if (g_state && g_state->cuda) cuda::profile::range_push(name->c_str());
#endif
}

void pop_scope() {
  if (!t_scopes.empty()) t_scopes.pop_back();
#ifdef TINT_HAVE_CUDA
  if (g_state && g_state->cuda) cuda::profile::range_pop();
#endif
}

double phase_begin(const char* name) {
#ifdef TINT_HAVE_CUDA
  if (g_state->cuda) cuda::profile::range_push(name);
#endif
  return g_state->now_us();
}

void phase_end(const char* name, double start_us) {
  if (!g_state) return;  // the session closed inside the phase
#ifdef TINT_HAVE_CUDA
  if (g_state->cuda) cuda::profile::range_pop();
#endif
  const double t1 = g_state->now_us();
  std::lock_guard<std::mutex> lock(g_state->mutex);
  if (g_state->recording()) g_state->phases.push_back({name, g_state->current_step, start_us, t1});
}

}  // namespace detail

// "-" outside any scope, and inside the root module's (whose path is empty).
std::string current_layer() {
  return t_scopes.empty() || t_scopes.back()->empty() ? std::string("-") : *t_scopes.back();
}

BackwardScope::BackwardScope(const std::string& layer) {
  if (!active()) return;
  name_ = (layer.empty() ? std::string("-") : layer) + " bwd";  // empty: made before the session opened
  detail::push_scope(&name_);
  pushed_ = true;
}

BackwardScope::~BackwardScope() {
  if (pushed_) detail::pop_scope();
}

// ---- Session ------------------------------------------------------------------------------------------

Session::Session(Device device, SessionOptions options) : state_(std::make_unique<State>()) {
#ifdef TINT_NO_PROFILER
  throw Error("--profile: this build has no profiler (configured with -DTINT_PROFILER=OFF)");
#endif
  TINT_CHECK(!g_state, "profiler: a profile is already being recorded (one at a time)");
  TINT_CHECK(options.max_steps >= 1, "profiler: max_steps must be at least 1");
  State& s = *state_;
  s.device = device;
  s.options = options;
  DeviceRuntime& rt = runtime(device);
  s.real = rt.backend;
  s.cuda = device.kind == DeviceKind::Cuda;
  s.emulated = device.kind == DeviceKind::CudaEmu;
  s.stream = rt.stream.handle;
#ifdef TINT_HAVE_CUDA
  if (s.cuda) {
    rt.synchronize();
    s.base_event = cuda::profile::event_create();
    cuda::profile::event_record(s.base_event, s.stream);
    cuda::profile::event_synchronize(s.base_event);
    s.base_us = s.now_us();
  }
#endif
  g_state = &s;
  rt.backend = wrapping_table(s.real);
  detail::g_active = true;
}

Session::~Session() {
  State& s = *state_;
  detail::g_active = false;
  DeviceRuntime& rt = runtime(s.device);
  rt.backend = s.real;
  try {
    rt.synchronize();
    s.resolve();
  } catch (const Error&) {
    // A destructor must not throw; the run's own error (if any) is the one worth reporting.
  }
  g_state = nullptr;
#ifdef TINT_HAVE_CUDA
  try {
    for (void* e : s.events) cuda::profile::event_destroy(e);
    if (s.base_event) cuda::profile::event_destroy(s.base_event);
  } catch (const Error&) {
  }
#endif
}

void Session::step_begin() {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  s.current_step = int(s.steps.size());
  if (s.recording()) s.steps.push_back({s.now_us(), -1});
}

void Session::step_end() {
  State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.current_step < 0) return;
  if (s.recording()) {
    s.resolve();
    s.steps.back().second = s.now_us();
  }
  s.current_step = s.recording() ? -1 : s.current_step;
}

Device Session::device() const {
  return state_->device;
}
bool Session::emulated() const {
  return state_->emulated;
}

int Session::steps() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  int n = 0;
  for (auto& [t0, t1] : state_->steps) n += t1 >= 0;
  return n;
}

std::vector<double> Session::step_ms() const {
  std::lock_guard<std::mutex> lock(state_->mutex);
  std::vector<double> out;
  for (auto& [t0, t1] : state_->steps)
    if (t1 >= 0) out.push_back((t1 - t0) / 1e3);
  return out;
}

std::vector<OpRow> Session::rows() const {
  const State& s = *state_;
  std::lock_guard<std::mutex> lock(s.mutex);
  double step_total = 0;
  for (auto& [t0, t1] : s.steps)
    if (t1 >= 0) step_total += (t1 - t0) / 1e3;
  std::map<std::pair<std::string, int>, std::vector<const Record*>> groups;
  for (size_t i = 0; i < s.unresolved && i < s.records.size(); ++i) {
    const Record& r = s.records[i];
    if (r.step < 0 || r.step >= int(s.steps.size()) || s.steps[size_t(r.step)].second < 0) continue;
    groups[{r.op, r.layer}].push_back(&r);
  }
  std::vector<OpRow> rows;
  for (auto& [key, recs] : groups) {
    OpRow row;
    row.op = key.first;
    row.layer = s.layers[size_t(key.second)];
    std::vector<double> ms;
    for (const Record* r : recs) {
      ms.push_back((r->t1 - r->t0) / 1e3);
      row.flops += r->cost.flops;
      row.bytes += r->cost.bytes;
    }
    row.calls = int64_t(recs.size());
    for (double m : ms) row.total_ms += m;
    row.median_ms = median(ms);
    row.share = step_total > 0 ? row.total_ms / step_total : 0;
    rows.push_back(row);
  }
  std::sort(rows.begin(), rows.end(), [](const OpRow& a, const OpRow& b) { return a.total_ms > b.total_ms; });
  return rows;
}

std::string Session::table(size_t max_rows) const {
  const std::vector<OpRow> rows = this->rows();
  const std::vector<double> steps = step_ms();
  const int n = std::max<int>(int(steps.size()), 1);
  double step_total = 0, op_total = 0;
  for (double m : steps) step_total += m;
  for (const OpRow& r : rows) op_total += r.total_ms;
  std::string out = fmt::format(
      "profile: {} step{} on {}{}, {:.3f} ms per step (median), ops {:.1f}% of the step time\n", steps.size(),
      steps.size() == 1 ? "" : "s", state_->device.str(),
      emulated() ? " (EMULATED: the CUDA kernels run on the CPU; these are not a GPU's times)" : "",
      median(steps), step_total > 0 ? 100.0 * op_total / step_total : 0.0);
  out += fmt::format("{:>9} {:>6} {:>6} {:>10} {:>9} {:>8}  {:<22} {}\n", "ms/step", "share", "calls",
                     "median us", "GFLOP/s", "GB/s", "op", "layer");
  size_t shown = 0;
  for (const OpRow& r : rows) {
    if (max_rows && shown == max_rows) {
      out += fmt::format("  ... {} more rows (the trace has them all)\n", rows.size() - shown);
      break;
    }
    out += fmt::format("{:>9.3f} {:>5.1f}% {:>6} {:>10.1f} {:>9.1f} {:>8.2f}  {:<22} {}\n", r.total_ms / n,
                       100 * r.share, r.calls / n, 1e3 * r.median_ms, r.gflops(), r.gbytes(), r.op, r.layer);
    ++shown;
  }
  return out;
}

void Session::write_trace(const std::string& path) const {
  const State& s = *state_;
  std::string stream_lane = s.cuda       ? "cuda stream"
                            : s.emulated ? "cuda-emu stream (emulated)"
                                         : s.device.str() + " stream";
  std::string out = "{\"displayTimeUnit\": \"ms\", \"otherData\": {\"device\": \"" + s.device.str() +
                    "\", \"emulated\": \"" + (s.emulated ? "yes" : "no") + "\"},\n\"traceEvents\": [\n";
  out += "{\"name\": \"process_name\", \"ph\": \"M\", \"pid\": 1, \"args\": {\"name\": \"tint\"}},\n";
  out +=
      "{\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": 1, \"tid\": 1, \"args\": {\"name\": \"host\"}},\n";
  out += fmt::format(
      "{{\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": 1, \"tid\": 2, \"args\": {{\"name\": \"{}\"}}}}",
      json_escape(stream_lane));
  std::lock_guard<std::mutex> lock(s.mutex);
  state_->resolve();  // calls after the last step (a final validation) are in the trace too
  for (size_t i = 0; i < s.steps.size(); ++i) {
    auto [t0, t1] = s.steps[i];
    if (t1 < 0) continue;
    out += fmt::format(
        ",\n{{\"name\": \"step {}\", \"cat\": \"step\", \"ph\": \"X\", \"pid\": 1, \"tid\": 1, "
        "\"ts\": {:.3f}, \"dur\": {:.3f}}}",
        i, t0, t1 - t0);
  }
  for (const PhaseRecord& p : s.phases)
    out += fmt::format(
        ",\n{{\"name\": \"{}\", \"cat\": \"phase\", \"ph\": \"X\", \"pid\": 1, \"tid\": 1, "
        "\"ts\": {:.3f}, \"dur\": {:.3f}}}",
        json_escape(p.name), p.t0, p.t1 - p.t0);
  for (size_t i = 0; i < s.unresolved && i < s.records.size(); ++i) {
    const Record& r = s.records[i];
    out += fmt::format(
        ",\n{{\"name\": \"{} {}\", \"cat\": \"op\", \"ph\": \"X\", \"pid\": 1, \"tid\": 2, "
        "\"ts\": {:.3f}, \"dur\": {:.3f}, \"args\": {{\"op\": \"{}\", \"layer\": \"{}\", "
        "\"step\": {}, \"flops\": {:.0f}, \"bytes\": {:.0f}}}}}",
        json_escape(s.layers[size_t(r.layer)]), r.op, r.t0, r.t1 - r.t0, r.op,
        json_escape(s.layers[size_t(r.layer)]), r.step, r.cost.flops, r.cost.bytes);
  }
  out += "\n]}\n";
  std::ofstream f(path, std::ios::trunc);
  TINT_CHECK(f.good(), "--profile '{}': cannot write this file", path);
  f << out;
  f.close();
  TINT_CHECK(f.good(), "--profile '{}': error writing the trace (disk full?)", path);
}

}  // namespace tint::profiler
