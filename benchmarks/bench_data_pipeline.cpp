// Data pipeline throughput: images/s of the threaded loader against worker count (1, 2, all cores), split into
// read+decode, resize, colour (pad/crop, flip, Lab) and batching, as the median of repeats; and the same work in
// PIL + numpy (benchmarks/peers/data_pipeline_pil.py) in the same run, reported as a ratio.
//
// The cache is off: every epoch decodes every file, which is what a large data set costs. Stage times are
// thread-seconds per image (summed over workers), so with W workers they add up to about W / (images/s).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "data/dataset.h"
#include "data/loader.h"

namespace fs = std::filesystem;

namespace {

const char* kHelp =
    "usage: bench_data_pipeline [--dir DIR] [--size S] [--batch N] [--workers 1,2,4] [--repeats R]\n"
    "                           [--limit N] [--python PATH | --no-peer] [--json FILE]\n"
    "\n"
    "Images/s of tint's data loader against worker count, split into decode / resize / colour / batching,\n"
    "the median of R repeats over the whole set (one epoch, no cache), and the same pipeline in PIL + numpy.\n"
    "  --dir DIR      images to read (default: data/samples of the source tree; for real numbers use the\n"
    "                 fetched training set, e.g. `tint data fetch /tmp/tintdata` then --dir /tmp/tintdata/train)\n"
    "  --size S       output side (default 256)       --batch N    batch size (default 16)\n"
    "  --workers L    comma-separated worker counts (default 1,2,<cores>)\n"
    "  --repeats R    repeats per point (default 3)   --limit N    use the first N files only\n"
    "  --python PATH  interpreter for the peer (default /usr/bin/python3); --no-peer skips it\n"
    "  --json FILE    also write the results as JSON\n";

struct Point {
  int workers = 0;
  double images_per_s = 0;
  double decode_ms = 0, resize_ms = 0, colour_ms = 0, batching_ms = 0;
  int64_t images = 0;
  double peer_images_per_s = 0;  // 0: no peer result
  double peer_decode_ms = 0, peer_resize_ms = 0, peer_colour_ms = 0, peer_batching_ms = 0;
};

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

Point measure(const std::vector<std::string>& paths, int size, int batch, int workers, int repeats) {
  std::vector<Point> runs;
  for (int r = 0; r < repeats; ++r) {
    tint::LoaderOptions opt;
    opt.image_size = size;
    opt.batch_size = batch;
    opt.workers = workers;
    opt.seed = uint64_t(r);
    opt.cache_bytes = 0;
    opt.epochs = 1;
    opt.warn = [](const std::string&) {};
    const auto t0 = std::chrono::steady_clock::now();
    tint::Loader loader(paths, opt);
    int64_t images = 0;
    while (auto b = loader.next()) images += b->size;
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const tint::LoaderStats s = loader.stats();
    Point p;
    p.workers = workers;
    p.images = images;
    p.images_per_s = double(images) / wall;
    const double per = 1000.0 / double(std::max<int64_t>(images, 1));
    p.decode_ms = s.read_decode_s * per;
    p.resize_ms = s.resize_s * per;
    p.colour_ms = s.colour_s * per;
    p.batching_ms = s.batching_s * per;
    runs.push_back(p);
  }
  std::sort(runs.begin(), runs.end(), [](const Point& a, const Point& b) { return a.images_per_s < b.images_per_s; });
  return runs[runs.size() / 2];
}

// Runs the PIL peer once for every worker count; fills peer_* of the matching points.
void run_peer(const std::string& python, const std::string& dir, int size, int batch, int repeats, int limit,
              std::vector<Point>& points, std::string& note) {
  const fs::path script = fs::path(__FILE__).parent_path() / "peers" / "data_pipeline_pil.py";
  if (!fs::exists(python)) {
    note = "peer skipped: " + python + " not found";
    return;
  }
  std::string workers;
  for (const auto& p : points) {
    if (!workers.empty()) workers += ',';
    workers += std::to_string(p.workers);
  }
  const std::string command = "'" + python + "' '" + script.string() + "' --dir '" + dir + "' --size " + std::to_string(size) +
                              " --batch " + std::to_string(batch) + " --workers " + workers + " --repeats " +
                              std::to_string(repeats) + (limit ? std::string(" --limit ").append(std::to_string(limit)) : std::string()) + " 2>&1";
  FILE* f = ::popen(command.c_str(), "r");
  if (!f) {
    note = "peer skipped: cannot run " + python;
    return;
  }
  char line[1024];
  std::string all;
  while (std::fgets(line, sizeof line, f)) {
    all += line;
    int w = 0;
    double ips = 0, d = 0, r = 0, c = 0, b = 0;
    if (std::sscanf(line, "workers=%d images_per_s=%lf decode_ms=%lf resize_ms=%lf colour_ms=%lf batching_ms=%lf", &w, &ips,
                    &d, &r, &c, &b) == 6)
      for (auto& p : points)
        if (p.workers == w) {
          p.peer_images_per_s = ips;
          p.peer_decode_ms = d;
          p.peer_resize_ms = r;
          p.peer_colour_ms = c;
          p.peer_batching_ms = b;
        }
  }
  const int status = ::pclose(f);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
    note = "peer skipped: PIL or numpy missing for " + python;
  else if (status != 0)
    note = "peer failed: " + all.substr(0, 300);
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = (fs::path(__FILE__).parent_path().parent_path() / "data" / "samples").string();
  std::string json, python = "/usr/bin/python3";
  int size = 256, batch = 16, repeats = 3, limit = 0;
  bool peer = true;
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<int> worker_counts = {1, 2, cores};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "bench_data_pipeline: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    } else if (a == "--dir") {
      dir = value();
    } else if (a == "--size") {
      size = std::atoi(value().c_str());
    } else if (a == "--batch") {
      batch = std::atoi(value().c_str());
    } else if (a == "--repeats") {
      repeats = std::max(1, std::atoi(value().c_str()));
    } else if (a == "--limit") {
      limit = std::atoi(value().c_str());
    } else if (a == "--json") {
      json = value();
    } else if (a == "--python") {
      python = value();
    } else if (a == "--no-peer") {
      peer = false;
    } else if (a == "--workers") {
      worker_counts.clear();
      std::stringstream ss(value());
      for (std::string w; std::getline(ss, w, ',');) worker_counts.push_back(std::max(1, std::atoi(w.c_str())));
    } else {
      std::fprintf(stderr, "bench_data_pipeline: unknown option %s\n\n%s", a.c_str(), kHelp);
      return 2;
    }
  }
  std::sort(worker_counts.begin(), worker_counts.end());
  worker_counts.erase(std::unique(worker_counts.begin(), worker_counts.end()), worker_counts.end());
  try {
    std::vector<std::string> paths = tint::scan_images(dir);
    if (limit > 0 && int(paths.size()) > limit) paths.resize(size_t(limit));
    std::printf("data pipeline: %zu files under %s, S=%d, batch %d, median of %d; JPEG via %s; %s, %d hardware threads\n",
                paths.size(), dir.c_str(), size, batch, repeats, tint::jpeg_decoder_name(), cpu_model().c_str(), cores);
    std::vector<Point> points;
    for (int w : worker_counts) points.push_back(measure(paths, size, batch, w, repeats));
    std::string note;
    if (peer) run_peer(python, dir, size, batch, repeats, limit, points, note);
    std::printf("\n%-8s %10s %10s | %9s %9s %9s %9s | %10s %7s\n", "workers", "images/s", "per worker", "decode", "resize",
                "colour", "batching", "PIL img/s", "ratio");
    std::printf("%-8s %10s %10s | %9s %9s %9s %9s | %10s %7s\n", "", "", "", "ms/img", "ms/img", "ms/img", "ms/img", "", "");
    for (const auto& p : points) {
      std::printf("%-8d %10.1f %10.1f | %9.2f %9.2f %9.2f %9.3f | ", p.workers, p.images_per_s, p.images_per_s / p.workers,
                  p.decode_ms, p.resize_ms, p.colour_ms, p.batching_ms);
      if (p.peer_images_per_s > 0)
        std::printf("%10.1f %6.2fx\n", p.peer_images_per_s, p.images_per_s / p.peer_images_per_s);
      else
        std::printf("%10s %7s\n", "-", "-");
    }
    for (const auto& p : points)
      if (p.peer_images_per_s > 0)
        std::printf("PIL stages at %d worker%s: decode %.2f, resize %.2f, colour %.2f, batching %.3f ms/img\n", p.workers,
                    p.workers == 1 ? "" : "s", p.peer_decode_ms, p.peer_resize_ms, p.peer_colour_ms, p.peer_batching_ms);
    if (!note.empty()) std::printf("%s\n", note.c_str());
    if (!json.empty()) {
      std::ofstream out(json);
      out << "{\n  \"benchmark\": \"data_pipeline\",\n  \"dir\": \"" << dir << "\",\n  \"files\": " << paths.size()
          << ",\n  \"size\": " << size << ",\n  \"batch\": " << batch << ",\n  \"repeats\": " << repeats << ",\n  \"cpu\": \""
          << cpu_model() << "\",\n  \"jpeg_decoder\": \"" << tint::jpeg_decoder_name() << "\",\n  \"hardware_threads\": " << cores << ",\n  \"peer_note\": \"" << note << "\",\n  \"points\": [\n";
      for (size_t i = 0; i < points.size(); ++i) {
        const auto& p = points[i];
        out << "    {\"workers\": " << p.workers << ", \"images_per_s\": " << p.images_per_s << ", \"decode_ms\": " << p.decode_ms
            << ", \"resize_ms\": " << p.resize_ms << ", \"colour_ms\": " << p.colour_ms << ", \"batching_ms\": " << p.batching_ms
            << ", \"pil_images_per_s\": " << p.peer_images_per_s << ", \"ratio_to_pil\": "
            << (p.peer_images_per_s > 0 ? p.images_per_s / p.peer_images_per_s : 0.0) << "}" << (i + 1 < points.size() ? "," : "") << "\n";
      }
      out << "  ]\n}\n";
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_data_pipeline: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
