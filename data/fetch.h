// `tint data fetch`: the real photo sets of DATA.md, taken from Debian packages with `apt-get download` and
// `dpkg-deb -x` (nothing is installed), copied into DIR/train/<package>/... and DIR/val/scratch/<category>/,
// with DIR/MANIFEST.sha256 (sha256sum -c format) and DIR/SOURCES.tsv (file, package, version, path inside the
// package, licence). Duplicate photos (same bytes) are kept once. The .deb files and their extracted trees
// stay in a cache, so a second fetch is quick; a complete DIR is left alone unless forced.
#pragma once

#include <functional>
#include <string>

namespace tint {

struct FetchOptions {
  std::string dir;
  std::string cache_dir;  // empty: $XDG_CACHE_HOME/tint/debs or ~/.cache/tint/debs
  bool force = false;     // copy again even when DIR's manifest is complete
  std::function<void(const std::string&)> log;  // progress lines; default: stderr
};

struct FetchReport {
  bool already_present = false;
  int train = 0, val = 0;  // files written
  int duplicates = 0;      // files left out because their bytes were already taken
  int64_t bytes = 0;
  std::string cache_dir;
};

// Throws tint::Error with what to do when apt-get or dpkg-deb is missing or fails.
FetchReport fetch_photo_sets(const FetchOptions& options);

std::string default_fetch_cache_dir();

}  // namespace tint
