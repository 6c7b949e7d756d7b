// Communication between the processes of a data-parallel run: rank, world size, local rank, the sum of a
// buffer over every rank, broadcast, barrier.
//
// Three implementations behind one class:
//   single  world 1, no MPI: every collective is the identity (tint without mpirun).
//   mpi     the CPU backends and cuda-emu. The sum is tint's own, over MPI point-to-point messages: rank r
//           receives chunk r of every rank's buffer, adds the contributions in rank order 0, 1, ..., N-1 and
//           sends the sum back to everyone. MPI_Allreduce would be shorter, but it does not promise an order,
//           and the rank order is what makes N ranks give the same bits as one process (see tools/train).
//           Device buffers are staged through host memory (on these backends a memcpy).
//   nccl    `cuda`: ncclAllReduce on the device's stream (NCCL's order, not the rank order); MPI hands out
//           NCCL's unique id and carries the small host reductions.
//
// MPI and NCCL live in plugins (libtint_comm_mpi.so, libtint_comm_nccl.so, built beside the tint binary when
// CMake finds them) loaded only when a distributed run asks for them: the tint binary itself needs neither
// library, so it runs where they are not installed (the GPU machine), and a build without them says so.
//
// Every wait has a deadline: a rank that died or hangs turns into an Error naming that rank (when the
// message that did not arrive says who it was from), never a job that waits forever.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace tint {

// What a plugin implements, on host memory. Not for direct use: see Comm.
class HostComm {
 public:
  virtual ~HostComm() = default;
  virtual int rank() const = 0;
  virtual int world() const = 0;
  virtual int local_rank() const = 0;  // among the ranks on this machine
  virtual int local_world() const = 0;
  // In place, every rank ends with the same bits: the contributions are added in rank order. `what` names
  // the collective in a timeout's message ("the gradients of step 12").
  virtual void sum_floats(float* data, int64_t n, const std::string& what, double timeout_s) = 0;
  virtual void sum_doubles(double* data, int64_t n, const std::string& what, double timeout_s) = 0;
  virtual void broadcast(void* data, int64_t bytes, int root, const std::string& what, double timeout_s) = 0;
  virtual void barrier(const std::string& what, double timeout_s) = 0;
  // Ends every rank of the job (MPI_Abort); for a failure on one rank that the others cannot see.
  [[noreturn]] virtual void abort(int code) = 0;
};

// NCCL on top of a HostComm (plugin libtint_comm_nccl.so). Enqueues only; the caller polls the stream.
class DeviceComm {
 public:
  virtual ~DeviceComm() = default;
  virtual void enqueue_sum(float* device_data, int64_t n, void* cuda_stream) = 0;
  virtual void enqueue_broadcast(float* device_data, int64_t n, int root, void* cuda_stream) = 0;
  // An asynchronous NCCL error ("" when none).
  virtual std::string async_error() = 0;
  virtual void abort_comm() = 0;  // ncclCommAbort: frees a communicator whose collective will not finish
};

class Comm {
 public:
  // World 1, no MPI.
  static std::unique_ptr<Comm> single();
  // MPI (NCCL for `cuda` tensors). Loads the plugins; throws an Error naming what is missing. Call it before
  // the first use of a `cuda` device: with several ranks on one machine it picks this rank's GPU.
  static std::unique_ptr<Comm> distributed(DeviceKind device, double timeout_s);

  ~Comm();
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

  int rank() const { return rank_; }
  int world() const { return world_; }
  int local_rank() const { return local_rank_; }
  const std::string& kind() const { return kind_; }  // "single", "mpi" or "nccl"
  double timeout_s() const { return timeout_s_; }

  // The element-wise sum over ranks, in place, on the tensor's device (float32, contiguous).
  void all_reduce_sum(Tensor& t, const std::string& what);
  void all_reduce_sum(std::vector<double>& values, const std::string& what);  // host values
  void broadcast(Tensor& t, int root, const std::string& what);
  void barrier(const std::string& what);
  // Ends the whole job (every rank) with `code`; on a single process, exits.
  [[noreturn]] void abort(int code);

 private:
  Comm() = default;
  int rank_ = 0, world_ = 1, local_rank_ = 0;
  std::string kind_ = "single";
  double timeout_s_ = 0;
  void* mpi_plugin_ = nullptr;  // dlopen handles
  void* nccl_plugin_ = nullptr;
  std::unique_ptr<HostComm> host_;
  std::unique_ptr<DeviceComm> device_;
  std::vector<float> staging_;  // device -> host -> device for the MPI path
};

// The world size mpirun (or another MPI launcher) announces in the environment; 0 when not launched so.
int launcher_world_size();

}  // namespace tint

// The plugins' entry points (extern "C", looked up with dlsym). `error` receives a message on failure.
extern "C" {
using TintCreateHostComm = tint::HostComm* (*)(std::string* error);
using TintCreateDeviceComm = tint::DeviceComm* (*)(tint::HostComm* host, std::string* error);
}
