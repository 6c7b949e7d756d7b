// Finding the images of a data set: a folder tree scanned recursively (ImageNet's train/<class>/*.JPEG and
// flat val/ layouts alike), a single image, or a list file (one path per line, relative to the list's folder
// unless absolute; blank lines and lines starting with '#' ignored). The order is sorted by path bytes, so
// it is the same on every machine. Hidden files and folders (names starting with '.') are left out.
#pragma once

#include <string>
#include <vector>

namespace tint {

std::vector<std::string> scan_images(const std::string& root);

}  // namespace tint
