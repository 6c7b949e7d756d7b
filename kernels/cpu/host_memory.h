// Host memory for the two CPU backends: 64-byte aligned (one cache line, one AVX-512 vector), copies as
// memcpy, nothing to synchronise (every CPU kernel has finished when it returns).
#pragma once

#include <cstddef>

#include "engine/backend.h"

namespace tint::cpu {

void* host_alloc(size_t bytes);  // throws tint::Error naming the size
void host_free(void* p);
void host_copy_from_host(const Stream&, void* dst, const void* host_src, size_t bytes);
void host_copy_to_host(const Stream&, void* host_dst, const void* src, size_t bytes);
void host_synchronize(const Stream&);

}  // namespace tint::cpu
