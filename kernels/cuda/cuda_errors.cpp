// raise_error of the native `cuda` backend, compiled by the host compiler (where fmt and engine/error.h
// work) into tint_cuda; the emulated backend defines its own in backend.cu.
#include <string>

#include "engine/error.h"

namespace tint {
namespace cuda {

[[noreturn]] void raise_error(const std::string& message) { throw Error(message); }

}  // namespace cuda
}  // namespace tint
