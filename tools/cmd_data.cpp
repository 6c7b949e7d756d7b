// `tint data fetch DIR` and `tint data stats DIR`. Thin: the work lives in data/.
#include "tools/cmd_data.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "data/dataset.h"
#include "data/fetch.h"
#include "data/image.h"
#include "engine/error.h"
#include "tools/args.h"

namespace {

namespace fs = std::filesystem;

// Decoding threads beyond this buy nothing and only risk the system's thread limits.
constexpr unsigned kMaxThreads = 256;

const char* const kDataHelp =
    "usage: tint data <command> [options]\n"
    "\n"
    "commands:\n"
    "  fetch DIR   download the real photo sets (Debian packages) into DIR/train and DIR/val\n"
    "  stats DIR   count a data set's images: sizes, formats, grey images, files that would be skipped\n"
    "\n"
    "`tint data <command> --help` describes each.\n";

const char* const kFetchHelp =
    "usage: tint data fetch DIR [--cache DIR] [--force]\n"
    "\n"
    "Fetches about 450 training photos and 53 validation photos from Debian packages (apt-get download and\n"
    "dpkg-deb -x; nothing is installed) into DIR/train/<package>/ and DIR/val/scratch/<category>/, with\n"
    "DIR/MANIFEST.sha256 (check with `cd DIR && sha256sum -c MANIFEST.sha256`) and DIR/SOURCES.tsv naming the\n"
    "package, path and licence of every file. About 230 MB of packages are downloaded once into the cache;\n"
    "later fetches reuse them, and a complete DIR is left as it is.\n"
    "\n"
    "options:\n"
    "  --cache DIR  where the .deb files and their extracted trees are kept\n"
    "               (default $XDG_CACHE_HOME/tint/debs, else ~/.cache/tint/debs)\n"
    "  --force      copy the photos again even if DIR is complete\n"
    "\n"
    "Needs apt-get and dpkg-deb (Debian, Ubuntu) and a reachable package mirror.\n";

const char* const kStatsHelp =
    "usage: tint data stats DIR [--max-megapixels N] [--threads N]\n"
    "\n"
    "Decodes every image under DIR (a folder, scanned recursively, or a list file) as training would and reports\n"
    "counts, formats, sizes, grey images, and every file that would be skipped, with the reason.\n"
    "\n"
    "options:\n"
    "  --max-megapixels N  refuse larger images before decoding (default 64)\n"
    "  --threads N         decoding threads, 1..256 (default: all cores)\n"
    "\n"
    "Folder links are followed once per real folder (loops are reported, not followed). Files named like images\n"
    "that are not regular files (FIFOs, sockets, devices, dangling links) are skipped as unreadable.\n";

bool is_help(const char* a) { return !std::strcmp(a, "--help") || !std::strcmp(a, "-h") || !std::strcmp(a, "help"); }

std::string human_bytes(double b) {
  if (b >= 1e9) return fmt::format("{:.2f} GB", b / 1e9);
  if (b >= 1e6) return fmt::format("{:.1f} MB", b / 1e6);
  if (b >= 1e3) return fmt::format("{:.1f} kB", b / 1e3);
  return fmt::format("{} B", int64_t(b));
}

// The sub-subcommand's options, parsed by the shared parser with "data <sub>" as its name; returns DIR.
std::string folder_argument(const tint::cli::Args& args, const char* command) {
  TINT_CHECK(args.positional().size() == 1, "data {}: which folder? (see 'tint data {} --help')", command, command);
  return args.positional()[0];
}

// Starts `count` threads running `work`; if the system refuses one, the started ones are joined and the
// refusal becomes an error naming the setting (an unjoined std::thread would end the process).
void run_threads(int count, const std::function<void()>& work, const char* setting) {
  std::vector<std::thread> pool;
  std::string refused;
  for (int t = 0; t < count; ++t) {
    try {
      pool.emplace_back(work);
    } catch (const std::system_error& e) {
      refused = e.what();
      break;
    }
  }
  if (!refused.empty()) {
    // The started threads must finish what they took before the error leaves: they share the caller's state.
    for (auto& t : pool) t.join();
    throw tint::Error(fmt::format("{}: cannot start {} threads, the system allowed {} ({}); ask for fewer", setting, count,
                                  pool.size(), refused));
  }
  for (auto& t : pool) t.join();
}

int fetch_command(int argc, char** argv) {
  const tint::cli::Args args(argc - 1, argv + 1, tint::cli::Options{{"force"}, {"cache"}, 1, "data fetch"});
  if (args.help()) return std::fputs(kFetchHelp, stdout), 0;
  const std::string dir = folder_argument(args, "fetch");
  tint::FetchOptions o;
  o.dir = dir;
  o.cache_dir = args.get("cache", "");
  o.force = args.has("force");
  o.log = [](const std::string& line) { std::fprintf(stderr, "tint data fetch: %s\n", line.c_str()); };
  const tint::FetchReport r = tint::fetch_photo_sets(o);
  if (r.already_present)
    std::printf("already present: %d training and %d validation photos in %s (use --force to copy again)\n", r.train,
                r.val, dir.c_str());
  else
    std::printf("fetched %d training and %d validation photos (%s) into %s; %d duplicate%s left out; packages cached in %s\n",
                r.train, r.val, human_bytes(double(r.bytes)).c_str(), dir.c_str(), r.duplicates,
                r.duplicates == 1 ? "" : "s", r.cache_dir.c_str());
  return 0;
}

struct FileStat {
  bool ok = false;
  int width = 0, height = 0;
  bool grey = false;
  tint::ImageFormat format = tint::ImageFormat::unknown;
  int64_t bytes = 0;
  std::string error;
  tint::BadImageReason reason{};
};

int stats_command(int argc, char** argv) {
  const tint::cli::Args args(argc - 1, argv + 1, tint::cli::Options{{}, {"max-megapixels", "threads"}, 1, "data stats"});
  if (args.help()) return std::fputs(kStatsHelp, stdout), 0;
  const std::string dir = folder_argument(args, "stats");
  const int64_t max_pixels = int64_t(args.get_int("max-megapixels", 64, 1, 100000)) * 1'000'000;
  const int threads = args.get_int("threads", int(std::min(kMaxThreads, std::max(1u, std::thread::hardware_concurrency()))), 1,
                                   int(kMaxThreads));
  tint::ScanReport scan;
  const std::vector<std::string> paths = tint::scan_images(dir, &scan);
  TINT_CHECK(!paths.empty(), "tint data stats: no image files under {} (looked for .jpg .jpeg .png .bmp .tga .gif .webp)", dir);
  std::vector<FileStat> stats(paths.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next++) < paths.size();) {
      FileStat& s = stats[i];
      try {
        const auto bytes = tint::read_image_file(paths[i], max_pixels);
        s.bytes = int64_t(bytes.size());
        if (!bytes.empty()) s.format = tint::sniff_format(bytes.data(), bytes.size(), paths[i]);
        const tint::Image img = tint::decode_image(bytes, paths[i], max_pixels);
        s.ok = true;
        s.width = img.width;
        s.height = img.height;
        s.grey = img.grey;
      } catch (const tint::BadImage& e) {
        s.error = e.detail;
        s.reason = e.reason;

      } catch (const std::exception& e) {
        s.error = e.what();
        s.reason = tint::BadImageReason::corrupt;
      }
    }
  };
  run_threads(std::min<int>(threads, int(paths.size())), work, "data stats --threads");

  int64_t total_bytes = 0, usable = 0, grey = 0;
  std::map<std::string, int> formats, folders, reasons;
  std::vector<double> megapixels;
  std::vector<std::pair<int64_t, std::string>> dims;
  const fs::path root = fs::is_directory(dir) ? fs::path(dir) : fs::path(dir).parent_path();
  for (size_t i = 0; i < paths.size(); ++i) {
    const FileStat& s = stats[i];
    total_bytes += s.bytes;
    const fs::path rel = fs::path(paths[i]).lexically_relative(root);
    std::string folder;
    int depth = 0;
    for (auto it = rel.begin(); it != rel.end() && depth < 2; ++it, ++depth) {
      if (std::next(it) == rel.end()) break;  // the file name itself
      folder += (folder.empty() ? "" : "/") + it->string();
    }
    folders[folder.empty() ? "." : folder]++;
    if (!s.ok) {
      reasons[std::string(tint::reason_name(s.reason))]++;
      continue;
    }
    usable++;
    grey += s.grey;
    formats[std::string(tint::format_name(s.format))]++;
    megapixels.push_back(double(s.width) * s.height / 1e6);
    dims.push_back({int64_t(s.width) * s.height, fmt::format("{}x{}", s.width, s.height)});
  }
  std::printf("data set %s: %zu files, %s\n", dir.c_str(), paths.size(), human_bytes(double(total_bytes)).c_str());
  std::printf("  usable   %lld (%lld grey)\n", (long long)usable, (long long)grey);
  std::string skipped;
  for (const auto& [r, n] : reasons) skipped += fmt::format("{}{} {}", skipped.empty() ? "" : ", ", n, r);
  std::printf("  skipped  %lld%s\n", (long long)(int64_t(paths.size()) - usable), skipped.empty() ? "" : (" (" + skipped + ")").c_str());
  if (usable) {
    std::string f;
    for (const auto& [name, n] : formats) f += fmt::format("{}{} {}", f.empty() ? "" : ", ", name, n);
    std::printf("  formats  %s\n", f.c_str());
    std::sort(dims.begin(), dims.end());
    std::sort(megapixels.begin(), megapixels.end());
    std::printf("  sizes    smallest %s, median %s, largest %s (%.2f / %.2f / %.2f megapixels)\n", dims.front().second.c_str(),
                dims[dims.size() / 2].second.c_str(), dims.back().second.c_str(), megapixels.front(),
                megapixels[megapixels.size() / 2], megapixels.back());
  }
  std::printf("  folders\n");
  for (const auto& [name, n] : folders) std::printf("    %-48s %d\n", name.c_str(), n);
  if (usable < int64_t(paths.size())) {
    std::printf("  skipped files\n");
    for (size_t i = 0; i < paths.size(); ++i)
      if (!stats[i].ok)
        std::printf("    %s: %s (%s)\n", paths[i].c_str(), std::string(tint::reason_name(stats[i].reason)).c_str(), stats[i].error.c_str());
  }
  if (!scan.not_followed.empty()) {
    std::printf("  links not followed %zu\n", scan.not_followed.size());
    for (const auto& s : scan.not_followed) std::printf("    %s: %s\n", s.path.c_str(), s.reason.c_str());
  }
  TINT_CHECK(usable > 0, "tint data stats: no usable image among the {} files under {}", paths.size(), dir);
  return 0;
}

}  // namespace

int run_data_command(int argc, char** argv) {
  if (argc < 2 || is_help(argv[1])) {
    std::fputs(kDataHelp, argc < 2 ? stderr : stdout);
    return argc < 2 ? 1 : 0;
  }
  const std::string sub = argv[1];
  if (sub == "fetch") return fetch_command(argc, argv);
  if (sub == "stats") return stats_command(argc, argv);
  TINT_CHECK(false, "unknown command 'data {}' (see 'tint data --help')", sub);
  return 1;
}
