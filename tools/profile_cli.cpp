#include "tools/profile_cli.h"

#include <cstdio>
#include <fstream>

#include "engine/error.h"

namespace tint::cli {

void check_profile_path(const std::string& path) {
  TINT_CHECK(!path.empty(), "--profile needs a file name (FILE.json)");
  std::ofstream probe(path, std::ios::app);
  TINT_CHECK(probe.good(), "--profile '{}': cannot write this file", path);
}

void finish_profile(const profiler::Session& session, const std::string& path, size_t max_rows) {
  fmt::print("{}", session.table(max_rows));
  session.write_trace(path);
  fmt::print("profile trace: {} (open in ui.perfetto.dev or chrome://tracing)\n", path);
  std::fflush(stdout);
}

}  // namespace tint::cli
