// Finding the images of a data set: a folder tree scanned recursively (ImageNet's train/<class>/*.JPEG and
// flat val/ layouts alike), a single image, or a list file (one path per line, relative to the list's folder
// unless absolute; blank lines and lines starting with '#' ignored). The order is sorted by path bytes, so
// it is the same on every machine. Hidden files and folders (names starting with '.') are left out.
//
// Symbolic links are followed, but each real folder (device and inode) is entered once: a link back up the
// tree (`x -> .`) or a second link to a folder already scanned is not followed, and is listed in the report.
// Entries with an image extension that are not regular files (FIFOs, sockets, devices, dangling links) stay
// in the list: reading one is refused at once, without blocking, as an unreadable file with the reason, so
// the loader and `tint data stats` count and report them like any other bad file.
#pragma once

#include <string>
#include <vector>

namespace tint {

struct ScanReport {
  struct Skipped {
    std::string path;
    std::string reason;
  };
  std::vector<Skipped> not_followed;  // folder links not entered, with why
};

std::vector<std::string> scan_images(const std::string& root, ScanReport* report = nullptr);

}  // namespace tint
