// libtint_comm_nccl.so: DeviceComm over NCCL for the `cuda` backend, one GPU per rank. MPI (the HostComm it
// is given) hands NCCL's unique id from rank 0 to the others. NCCL sums in its own order (ring or tree,
// chosen by NCCL), so unlike the MPI path the result is not the rank-ordered sum; see the README.
#include <nccl.h>

#include "engine/comm.h"
#include "engine/error.h"

namespace tint {

namespace {

void check_nccl(ncclResult_t r, const char* call) {
  if (r != ncclSuccess) throw Error(fmt::format("{} failed: {}", call, ncclGetErrorString(r)));
}

class NcclComm : public DeviceComm {
 public:
  explicit NcclComm(HostComm& host) {
    ncclUniqueId id = {};
    if (host.rank() == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    host.broadcast(&id, sizeof id, 0, "NCCL's unique id", 600);
    check_nccl(ncclCommInitRank(&comm_, host.world(), id, host.rank()), "ncclCommInitRank");
  }
  ~NcclComm() override {
    if (comm_) ncclCommDestroy(comm_);
  }
  void enqueue_sum(float* device_data, int64_t n, void* stream) override {
    check_nccl(ncclAllReduce(device_data, device_data, size_t(n), ncclFloat, ncclSum, comm_,
                             static_cast<cudaStream_t>(stream)),
               "ncclAllReduce");
  }
  void enqueue_broadcast(float* device_data, int64_t n, int root, void* stream) override {
    check_nccl(ncclBroadcast(device_data, device_data, size_t(n), ncclFloat, root, comm_,
                             static_cast<cudaStream_t>(stream)),
               "ncclBroadcast");
  }
  std::string async_error() override {
    ncclResult_t r = ncclSuccess;
    if (comm_ && ncclCommGetAsyncError(comm_, &r) == ncclSuccess && r != ncclSuccess && r != ncclInProgress)
      return ncclGetErrorString(r);
    return "";
  }
  void abort_comm() override {
    if (comm_) ncclCommAbort(comm_);
    comm_ = nullptr;
  }

 private:
  ncclComm_t comm_ = nullptr;
};

}  // namespace

}  // namespace tint

extern "C" tint::DeviceComm* tint_create_device_comm(tint::HostComm* host, std::string* error) {
  try {
    return new tint::NcclComm(*host);
  } catch (const std::exception& e) {
    *error = e.what();
    return nullptr;
  }
}
