#include "data/dataset.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <utility>

#include "data/image.h"
#include "engine/error.h"

namespace tint {

namespace fs = std::filesystem;

namespace {

using FolderId = std::pair<dev_t, ino_t>;

struct Scanner {
  std::set<FolderId> entered;
  std::vector<std::string> paths;
  ScanReport* report = nullptr;

  void skip(const fs::path& p, std::string why) {
    if (report) report->not_followed.push_back({p.string(), std::move(why)});
  }

  // Depth-first by hand rather than recursive_directory_iterator: the (device, inode) of every folder is
  // remembered, so no link can lead into a folder twice, whatever the shape of the links.
  void scan(const fs::path& folder, const struct stat& st, const std::string& root) {
    if (!entered.insert({st.st_dev, st.st_ino}).second) {
      skip(folder, "links to a folder already scanned");
      return;
    }
    std::error_code ec;
    fs::directory_iterator it(folder, ec), end;
    TINT_CHECK(!ec, "data set {}: cannot read the folder {}: {}", root, folder.string(), ec.message());
    std::vector<fs::path> children;
    for (; it != end; it.increment(ec)) {
      TINT_CHECK(!ec, "data set {}: error while scanning {}: {}", root, folder.string(), ec.message());
      children.push_back(it->path());
    }
    // Sorted, so that which of two links to one folder is followed does not depend on readdir's order.
    std::sort(children.begin(), children.end());
    for (const fs::path& child : children) {
      const std::string name = child.filename().string();
      if (name.empty() || name[0] == '.') continue;
      struct stat target {};
      if (::stat(child.c_str(), &target) == 0 && S_ISDIR(target.st_mode)) {
        scan(child, target, root);
        continue;
      }
      // Regular files, and everything else that is named like an image (dangling links, FIFOs, sockets,
      // devices): reading those fails with the reason, where bad files are counted.
      if (has_image_extension(name)) paths.push_back(child.string());
    }
  }
};

// A list file is read only if it is a regular file: opening a FIFO for reading would wait for a writer.
std::vector<std::string> read_list(const std::string& root) {
  std::vector<std::string> paths;
  std::ifstream list(root);
  TINT_CHECK(list, "data set {}: cannot read the list file", root);
  const fs::path base = fs::path(root).parent_path();
  std::string line;
  while (std::getline(list, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const fs::path p(line);
    paths.push_back(p.is_absolute() ? line : (base / p).string());
  }
  // A list keeps its own order: whoever wrote it chose it. Its entries are checked when they are read.
  return paths;
}

}  // namespace

std::vector<std::string> scan_images(const std::string& root, ScanReport* report) {
  struct stat st {};
  TINT_CHECK(::stat(root.c_str(), &st) == 0, "data set {}: no such file or folder", root);
  if (S_ISREG(st.st_mode))
    return has_image_extension(root) ? std::vector<std::string>{root} : read_list(root);
  TINT_CHECK(S_ISDIR(st.st_mode), "data set {}: neither a folder nor a list file (a FIFO, socket or device?)",
             root);
  Scanner scanner;
  scanner.report = report;
  scanner.scan(fs::path(root), st, root);
  std::sort(scanner.paths.begin(), scanner.paths.end());
  return std::move(scanner.paths);
}

}  // namespace tint
