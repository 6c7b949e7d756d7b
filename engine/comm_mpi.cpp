// libtint_comm_mpi.so: HostComm over MPI, loaded by engine/comm.cpp for distributed runs.
//
// The sum is a reduce-scatter then an all-gather, both direct (every rank talks to every other): rank r owns
// chunk r of the buffer, receives that chunk from every rank, adds them in rank order and sends the result to
// all. Each rank moves 2 (N-1)/N of the buffer, as a ring all-reduce does; the rank order makes the bits the
// same on every rank and independent of message timing, which MPI_Allreduce does not promise.
//
// Waits poll non-blocking requests against a deadline, so a rank that died or hangs is named (the sender of
// the message that did not come) instead of blocking the job forever. Polling yields the core while data
// moves and sleeps once nothing has moved for a while: with ranks oversubscribed on few cores (CI), a
// spinning waiter would take the core from the rank it waits for.
#include <mpi.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "engine/comm.h"
#include "engine/error.h"

namespace tint {

namespace {

using Clock = std::chrono::steady_clock;

enum Tag : int { kSumScatter = 101, kSumGather, kBroadcast, kBarrierArrive, kBarrierRelease };

void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  MPI_Error_string(code, text, &len);
  throw Error(fmt::format("{} failed: {}", call, text));
}

template <typename T>
MPI_Datatype mpi_type();
template <>
MPI_Datatype mpi_type<float>() {
  return MPI_FLOAT;
}
template <>
MPI_Datatype mpi_type<double>() {
  return MPI_DOUBLE;
}

// Outstanding requests and whom each one waits on.
struct Pending {
  std::vector<MPI_Request> requests;
  std::vector<int> peers;
  std::vector<bool> receives;

  void recv(void* buf, int64_t count, MPI_Datatype type, int from, int tag) {
    TINT_CHECK(count <= INT32_MAX, "MPI: a message of {} elements is over MPI's int count", count);
    requests.emplace_back();
    check_mpi(MPI_Irecv(buf, int(count), type, from, tag, MPI_COMM_WORLD, &requests.back()), "MPI_Irecv");
    peers.push_back(from), receives.push_back(true);
  }
  void send(const void* buf, int64_t count, MPI_Datatype type, int to, int tag) {
    TINT_CHECK(count <= INT32_MAX, "MPI: a message of {} elements is over MPI's int count", count);
    requests.emplace_back();
    check_mpi(MPI_Isend(buf, int(count), type, to, tag, MPI_COMM_WORLD, &requests.back()), "MPI_Isend");
    peers.push_back(to), receives.push_back(false);
  }

  void wait(int self, const std::string& what, double timeout_s) {
    const auto start = Clock::now();
    const auto deadline = start + std::chrono::duration<double>(timeout_s);
    auto last_progress = start;
    std::vector<int> done(requests.size());
    int remaining = int(requests.size());
    while (remaining > 0) {
      int count = 0;
      check_mpi(MPI_Testsome(int(requests.size()), requests.data(), &count, done.data(), MPI_STATUSES_IGNORE),
                "MPI_Testsome");
      if (count == MPI_UNDEFINED) break;
      remaining -= count;
      const auto now = Clock::now();
      if (count > 0) last_progress = now;
      if (remaining == 0) break;
      if (now > deadline) throw timeout(self, what, timeout_s);
      if (now - last_progress < std::chrono::milliseconds(2))
        sched_yield();
      else
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    requests.clear(), peers.clear(), receives.clear();
  }

  Error timeout(int self, const std::string& what, double timeout_s) const {
    // A receive that never completed names its sender for certain; a send only says the peer never took it.
    std::vector<int> silent, deaf;
    for (size_t i = 0; i < requests.size(); ++i) {
      if (requests[i] == MPI_REQUEST_NULL) continue;
      auto& list = receives[i] ? silent : deaf;
      if (std::find(list.begin(), list.end(), peers[i]) == list.end()) list.push_back(peers[i]);
    }
    const std::vector<int>& culprits = silent.empty() ? deaf : silent;
    std::string names;
    for (int r : culprits) names += fmt::format("{}{}", names.empty() ? "" : ", ", r);
    return Error(fmt::format(
        "rank {}: rank{} {} did not take part in {} within {} s (--comm-timeout): it died or hangs; ending "
        "the job",
        self, culprits.size() == 1 ? "" : "s", names, what, timeout_s));
  }
};

class MpiComm : public HostComm {
 public:
  MpiComm() {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) check_mpi(MPI_Init(nullptr, nullptr), "MPI_Init");
    // Errors come back as codes (and become tint::Error) instead of MPI's default abort without a word.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &world_);
    check_mpi(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local_),
              "MPI_Comm_split_type");
    MPI_Comm_rank(local_, &local_rank_);
    MPI_Comm_size(local_, &local_world_);
  }
  ~MpiComm() override {
    MPI_Comm_free(&local_);
    MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int world() const override { return world_; }
  int local_rank() const override { return local_rank_; }
  int local_world() const override { return local_world_; }

  void sum_floats(float* data, int64_t n, const std::string& what, double timeout_s) override {
    sum(data, n, what, timeout_s);
  }
  void sum_doubles(double* data, int64_t n, const std::string& what, double timeout_s) override {
    sum(data, n, what, timeout_s);
  }

  void broadcast(void* data, int64_t bytes, int root, const std::string& what, double timeout_s) override {
    Pending p;
    if (rank_ == root) {
      for (int q = 0; q < world_; ++q)
        if (q != root) p.send(data, bytes, MPI_BYTE, q, kBroadcast);
    } else {
      p.recv(data, bytes, MPI_BYTE, root, kBroadcast);
    }
    p.wait(rank_, what, timeout_s);
  }

  void barrier(const std::string& what, double timeout_s) override {
    // Everyone reports to rank 0, which knows who is missing; the others wait a little longer than it does,
    // so that the message naming the culprit comes from rank 0.
    char token = 0;
    Pending p;
    if (rank_ == 0) {
      std::vector<char> tokens(static_cast<size_t>(world_));
      for (int q = 1; q < world_; ++q) p.recv(&tokens[q], 1, MPI_CHAR, q, kBarrierArrive);
      p.wait(rank_, what, timeout_s);
      for (int q = 1; q < world_; ++q) p.send(&token, 1, MPI_CHAR, q, kBarrierRelease);
      p.wait(rank_, what, timeout_s);
    } else {
      p.send(&token, 1, MPI_CHAR, 0, kBarrierArrive);
      p.recv(&token, 1, MPI_CHAR, 0, kBarrierRelease);
      p.wait(rank_, what, timeout_s + 2);
    }
  }

  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
  }

 private:
  template <typename T>
  void sum(T* data, int64_t n, const std::string& what, double timeout_s) {
    if (world_ == 1 || n == 0) return;
    auto begin = [&](int r) { return n * r / world_; };
    const int64_t mine = begin(rank_), len = begin(rank_ + 1) - mine;
    scratch_.resize(size_t(len * (world_ - 1)) * sizeof(T));
    T* parts = reinterpret_cast<T*>(scratch_.data());
    auto part = [&](int q) { return q == rank_ ? data + mine : parts + len * (q < rank_ ? q : q - 1); };
    const MPI_Datatype type = mpi_type<T>();
    Pending p;
    for (int q = 0; q < world_; ++q) {
      if (q == rank_) continue;
      p.recv(part(q), len, type, q, kSumScatter);
      p.send(data + begin(q), begin(q + 1) - begin(q), type, q, kSumScatter);
    }
    p.wait(rank_, what, timeout_s);
    // Rank order, one rounding per addition: the same sequence of float additions as one process adding
    // its micro-batches' gradients one after another.
    std::vector<const T*> order(static_cast<size_t>(world_));
    for (int q = 0; q < world_; ++q) order[q] = part(q);
    T* out = data + mine;
    for (int64_t i = 0; i < len; ++i) {
      T acc = order[0][i];
      for (int q = 1; q < world_; ++q) acc += order[q][i];
      out[i] = acc;
    }
    for (int q = 0; q < world_; ++q) {
      if (q == rank_) continue;
      p.send(data + mine, len, type, q, kSumGather);
      p.recv(data + begin(q), begin(q + 1) - begin(q), type, q, kSumGather);
    }
    p.wait(rank_, what, timeout_s);
  }

  int rank_ = 0, world_ = 1, local_rank_ = 0, local_world_ = 1;
  MPI_Comm local_ = MPI_COMM_NULL;
  std::vector<char> scratch_;
};

}  // namespace

}  // namespace tint

extern "C" tint::HostComm* tint_create_host_comm(std::string* error) {
  try {
    return new tint::MpiComm();
  } catch (const std::exception& e) {
    *error = e.what();
    return nullptr;
  }
}
