// One exception type for every error a user can cause or meet: bad shapes, bad files, bad flags, device
// failures. The message names the culprit (the file, the shape, the flag). tools/ catches it once.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace tint {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace tint

// TINT_CHECK(cond, "fmt string {}", args...): throw tint::Error with the formatted message when !cond.
#define TINT_CHECK(cond, ...)                                    \
  do {                                                           \
    if (!(cond)) throw ::tint::Error(::fmt::format(__VA_ARGS__)); \
  } while (0)
