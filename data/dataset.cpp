#include "data/dataset.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "data/image.h"
#include "engine/error.h"

namespace tint {

namespace fs = std::filesystem;

std::vector<std::string> scan_images(const std::string& root) {
  std::error_code ec;
  const fs::file_status status = fs::status(root, ec);
  TINT_CHECK(!ec && fs::exists(status), "data set {}: no such file or folder", root);
  std::vector<std::string> paths;
  if (fs::is_regular_file(status)) {
    if (has_image_extension(root)) return {root};
    std::ifstream list(root);
    TINT_CHECK(list, "data set {}: cannot read the list file", root);
    const fs::path base = fs::path(root).parent_path();
    std::string line;
    while (std::getline(list, line)) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      const fs::path p(line);
      paths.push_back(p.is_absolute() ? line : (base / p).string());
    }
    // A list keeps its own order: whoever wrote it chose it.
    return paths;
  }
  TINT_CHECK(fs::is_directory(status), "data set {}: neither a folder nor a list file", root);
  fs::recursive_directory_iterator it(root, fs::directory_options::follow_directory_symlink, ec), end;
  TINT_CHECK(!ec, "data set {}: cannot read the folder: {}", root, ec.message());
  for (; it != end; it.increment(ec)) {
    TINT_CHECK(!ec, "data set {}: error while scanning: {}", root, ec.message());
    const std::string name = it->path().filename().string();
    if (!name.empty() && name[0] == '.') {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec) && has_image_extension(name)) paths.push_back(it->path().string());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

}  // namespace tint
