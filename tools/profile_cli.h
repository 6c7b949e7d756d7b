// `--profile FILE.json` for train, colorize and bench: checked before the work starts, reported after it.
#pragma once

#include <string>

#include "engine/profiler.h"

namespace tint::cli {

// An error naming --profile unless `path` can be written (checked before any work, so a typo costs nothing).
void check_profile_path(const std::string& path);

// Prints the session's table (at most `max_rows` lines) and writes its trace to `path`.
void finish_profile(const profiler::Session& session, const std::string& path, size_t max_rows = 40);

}  // namespace tint::cli
