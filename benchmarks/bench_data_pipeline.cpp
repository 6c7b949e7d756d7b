// Data pipeline throughput: images/s of the threaded loader against worker count (1, 2, all cores), split into
// read+decode, resize, colour (pad/crop, flip, Lab) and batching; the same work in PIL + numpy
// (benchmarks/peers/data_pipeline_pil.py, run by the interpreter given as --peer) in the same run; and the
// second epoch of a loader whose memory cache holds the first epoch's decoded, resized photos.
//
// The machine is shared and its load changes by the minute, so the two sides are interleaved: each repeat runs
// tint, then the peer, at every worker count (ABAB...), and each side's figure is the median over repeats.
// The load average is printed before and after. Stage times are thread-seconds per image (summed over
// workers), so with W workers they add up to about W / (images/s).
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

#include <sys/wait.h>

#include "data/dataset.h"
#include "data/loader.h"
#include "tools/args.h"

namespace fs = std::filesystem;

namespace {

const char* kHelp =
    "usage: bench_data_pipeline [--dir DIR] [--size S] [--batch N] [--workers 1,2,4] [--repeats R]\n"
    "                           [--limit N] [--peer PYTHON] [--json FILE]\n"
    "\n"
    "Images/s of tint's data loader against worker count, split into decode / resize / colour / batching,\n"
    "the median of R repeats over the whole set (one epoch, no cache), interleaved with the same pipeline in\n"
    "PIL + numpy; and a second epoch served from the loader's memory cache.\n"
    "  --dir DIR      images to read (default: data/samples of the source tree; for real numbers use the\n"
    "                 fetched training set, e.g. `tint data fetch /tmp/tintdata` then --dir /tmp/tintdata/train)\n"
    "  --size S       output side, 8..8192 (default 256)      --batch N    batch size, 1..4096 (default 16)\n"
    "  --workers L    comma-separated worker counts, each 1..64 (default 1,2,<cores>)\n"
    "  --repeats R    repeats per point, 1..100 (default 3)   --limit N    use the first N files only\n"
    "  --peer PYTHON  interpreter with PIL and numpy for the peer (e.g. a virtual environment's python);\n"
    "                 without it, or without PIL or numpy there, the peer is skipped and the table says so\n"
    "  --json FILE    also write the results as JSON\n";

struct Point {
  int workers = 0;
  double images_per_s = 0;
  double decode_ms = 0, resize_ms = 0, colour_ms = 0, batching_ms = 0;
  int64_t images = 0;
  double cached_images_per_s = 0;  // the second epoch, served from the memory cache
  double peer_images_per_s = 0;    // 0: no peer result
  double peer_decode_ms = 0, peer_resize_ms = 0, peer_colour_ms = 0, peer_batching_ms = 0;
};

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a.empty() ? "unknown" : a + " " + b + " " + c;
}

tint::LoaderOptions options(int size, int batch, int workers, uint64_t seed) {
  tint::LoaderOptions opt;
  opt.image_size = size;
  opt.batch_size = batch;
  opt.workers = workers;
  opt.seed = seed;
  opt.warn = [](const std::string&) {};
  return opt;
}

// One epoch without the cache: what every epoch of a data set too large for memory costs.
Point measure(const std::vector<std::string>& paths, int size, int batch, int workers, uint64_t seed) {
  tint::LoaderOptions opt = options(size, batch, workers, seed);
  opt.cache_bytes = 0;
  opt.epochs = 1;
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
  return p;
}

// Two epochs with the default cache; images/s of the second, timed from the first epoch's last batch.
double measure_cached_epoch(const std::vector<std::string>& paths, int size, int batch, int workers, uint64_t seed) {
  tint::LoaderOptions opt = options(size, batch, workers, seed);
  opt.epochs = 2;
  tint::Loader loader(paths, opt);
  std::chrono::steady_clock::time_point t0;
  int64_t images = 0;
  while (auto b = loader.next()) {
    if (b->epoch == 1) images += b->size;
    if (b->epoch == 0 && b->last_in_epoch) t0 = std::chrono::steady_clock::now();
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return double(images) / wall;
}

// One run of the peer at one worker count (seed: which repeat). Returns false, with `note` saying why,
// when the peer cannot run; `skip` is then set when a later call would fail the same way.
bool run_peer(const std::string& python, const std::string& dir, int size, int batch, int limit, int workers, int seed,
              Point& point, std::string& note, bool& skip) {
  const fs::path script = fs::path(TINT_SOURCE_DIR) / "benchmarks" / "peers" / "data_pipeline_pil.py";
  std::string command = "'" + python + "' '" + script.string() + "' --dir '" + dir + "' --size " + std::to_string(size);
  command += " --batch " + std::to_string(batch) + " --workers " + std::to_string(workers) + " --repeats 1 --seed " +
             std::to_string(seed);
  if (limit) command += " --limit " + std::to_string(limit);
  command += " 2>&1";
  FILE* f = ::popen(command.c_str(), "r");
  if (!f) {
    note = "peer skipped: cannot run " + python;
    skip = true;
    return false;
  }
  char line[1024];
  std::string all;
  bool found = false;
  while (std::fgets(line, sizeof line, f)) {
    all += line;
    int w = 0;
    double ips = 0, d = 0, r = 0, c = 0, b = 0;
    if (std::sscanf(line, "workers=%d images_per_s=%lf decode_ms=%lf resize_ms=%lf colour_ms=%lf batching_ms=%lf", &w, &ips,
                    &d, &r, &c, &b) == 6 &&
        w == workers) {
      point.peer_images_per_s = ips;
      point.peer_decode_ms = d;
      point.peer_resize_ms = r;
      point.peer_colour_ms = c;
      point.peer_batching_ms = b;
      found = true;
    }
  }
  const int status = ::pclose(f);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
    note = "peer skipped: " + python + " lacks PIL or numpy";
    skip = true;
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
    note = "peer skipped: " + python + " cannot be run";
    skip = true;
  } else if (status != 0 || !found) {
    note = "peer failed: " + all.substr(0, 300);
    skip = true;
  }
  return found && !skip;
}

template <typename T, typename Get>
double median_of(std::vector<T>& runs, Get get) {
  std::vector<double> v;
  for (const auto& r : runs) v.push_back(get(r));
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const tint::cli::Args args(
        argc, argv,
        tint::cli::Options{{}, {"dir", "size", "batch", "workers", "repeats", "limit", "peer", "json"}, 0, "bench_data_pipeline"});
    if (args.help()) {
      std::fputs(kHelp, stdout);
      return 0;
    }
    const std::string dir = args.get("dir", std::string(TINT_SOURCE_DIR) + "/data/samples");
    const std::string json = args.get("json", ""), python = args.get("peer", "");
    const int size = args.get_int("size", 256, 8, 8192), batch = args.get_int("batch", 16, 1, 4096);
    const int repeats = args.get_int("repeats", 3, 1, 100), limit = args.get_int("limit", 0, 0, 1 << 30);
    const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
    std::vector<int> worker_counts = {1, 2, cores};
    if (args.has("workers")) {
      worker_counts.clear();
      std::stringstream ss(args.get("workers", ""));
      for (std::string w; std::getline(ss, w, ',');) {
        char* end = nullptr;
        const long v = std::strtol(w.c_str(), &end, 10);
        if (w.empty() || *end || v < 1 || v > 64)
          throw tint::Error("--workers: '" + w + "' is not a worker count in 1..64 (give a list such as 1,2,4)");
        worker_counts.push_back(int(v));
      }
    }
    std::sort(worker_counts.begin(), worker_counts.end());
    worker_counts.erase(std::unique(worker_counts.begin(), worker_counts.end()), worker_counts.end());

    std::vector<std::string> paths = tint::scan_images(dir);
    if (limit > 0 && int(paths.size()) > limit) paths.resize(size_t(limit));
    const std::string load_before = load_average();
    std::printf("data pipeline: %zu files under %s, S=%d, batch %d, median of %d interleaved repeats; JPEG via %s; %s, %d hardware threads\n",
                paths.size(), dir.c_str(), size, batch, repeats, tint::jpeg_decoder_name(), cpu_model().c_str(), cores);
    std::printf("load average before: %s\n", load_before.c_str());
    std::fflush(stdout);

    std::string note = python.empty() ? "peer skipped: no --peer PYTHON given" : "";
    bool peer_off = python.empty();
    std::map<int, std::vector<Point>> runs, peer_runs;
    std::map<int, std::vector<double>> cached;
    for (int r = 0; r < repeats; ++r)
      for (int w : worker_counts) {
        runs[w].push_back(measure(paths, size, batch, w, uint64_t(r)));
        cached[w].push_back(measure_cached_epoch(paths, size, batch, w, uint64_t(r)));
        Point peer;
        if (!peer_off && run_peer(python, dir, size, batch, limit, w, r, peer, note, peer_off)) peer_runs[w].push_back(peer);
      }
    const std::string load_after = load_average();

    std::vector<Point> points;
    for (int w : worker_counts) {
      Point p;
      p.workers = w;
      auto& t = runs[w];
      p.images = t.front().images;
      p.images_per_s = median_of(t, [](const Point& x) { return x.images_per_s; });
      p.decode_ms = median_of(t, [](const Point& x) { return x.decode_ms; });
      p.resize_ms = median_of(t, [](const Point& x) { return x.resize_ms; });
      p.colour_ms = median_of(t, [](const Point& x) { return x.colour_ms; });
      p.batching_ms = median_of(t, [](const Point& x) { return x.batching_ms; });
      p.cached_images_per_s = median_of(cached[w], [](double x) { return x; });
      auto& q = peer_runs[w];
      if (!q.empty() && int(q.size()) == repeats) {
        p.peer_images_per_s = median_of(q, [](const Point& x) { return x.peer_images_per_s; });
        p.peer_decode_ms = median_of(q, [](const Point& x) { return x.peer_decode_ms; });
        p.peer_resize_ms = median_of(q, [](const Point& x) { return x.peer_resize_ms; });
        p.peer_colour_ms = median_of(q, [](const Point& x) { return x.peer_colour_ms; });
        p.peer_batching_ms = median_of(q, [](const Point& x) { return x.peer_batching_ms; });
      }
      points.push_back(p);
    }

    std::printf("\n%-8s %10s %10s | %9s %9s %9s %9s | %10s %10s %7s | %10s\n", "workers", "images/s", "per worker", "decode",
                "resize", "colour", "batching", "PIL img/s", "per worker", "ratio", "cached ep.");
    std::printf("%-8s %10s %10s | %9s %9s %9s %9s | %10s %10s %7s | %10s\n", "", "", "", "ms/img", "ms/img", "ms/img", "ms/img",
                "", "", "", "images/s");
    for (const auto& p : points) {
      std::printf("%-8d %10.1f %10.1f | %9.2f %9.2f %9.2f %9.3f | ", p.workers, p.images_per_s, p.images_per_s / p.workers,
                  p.decode_ms, p.resize_ms, p.colour_ms, p.batching_ms);
      if (p.peer_images_per_s > 0)
        std::printf("%10.1f %10.1f %6.2fx | ", p.peer_images_per_s, p.peer_images_per_s / p.workers,
                    p.images_per_s / p.peer_images_per_s);
      else
        std::printf("%10s %10s %7s | ", "-", "-", "-");
      std::printf("%10.1f\n", p.cached_images_per_s);
    }
    for (const auto& p : points)
      if (p.peer_images_per_s > 0)
        std::printf("PIL stages at %d worker%s: decode %.2f, resize %.2f, colour %.2f, batching %.3f ms/img\n", p.workers,
                    p.workers == 1 ? "" : "s", p.peer_decode_ms, p.peer_resize_ms, p.peer_colour_ms, p.peer_batching_ms);
    if (!note.empty()) std::printf("%s\n", note.c_str());
    std::printf("load average after: %s\n", load_after.c_str());
    if (!json.empty()) {
      std::ofstream out(json);
      out << "{\n  \"benchmark\": \"data_pipeline\",\n  \"dir\": \"" << dir << "\",\n  \"files\": " << paths.size()
          << ",\n  \"size\": " << size << ",\n  \"batch\": " << batch << ",\n  \"repeats\": " << repeats << ",\n  \"cpu\": \""
          << cpu_model() << "\",\n  \"jpeg_decoder\": \"" << tint::jpeg_decoder_name() << "\",\n  \"hardware_threads\": " << cores
          << ",\n  \"load_before\": \"" << load_before << "\",\n  \"load_after\": \"" << load_after << "\",\n  \"peer\": \""
          << python << "\",\n  \"peer_note\": \"" << note << "\",\n  \"points\": [\n";
      for (size_t i = 0; i < points.size(); ++i) {
        const auto& p = points[i];
        out << "    {\"workers\": " << p.workers << ", \"images_per_s\": " << p.images_per_s << ", \"decode_ms\": " << p.decode_ms
            << ", \"resize_ms\": " << p.resize_ms << ", \"colour_ms\": " << p.colour_ms << ", \"batching_ms\": " << p.batching_ms
            << ", \"cached_epoch_images_per_s\": " << p.cached_images_per_s << ", \"pil_images_per_s\": " << p.peer_images_per_s
            << ", \"ratio_to_pil\": " << (p.peer_images_per_s > 0 ? p.images_per_s / p.peer_images_per_s : 0.0) << "}"
            << (i + 1 < points.size() ? "," : "") << "\n";
      }
      out << "  ]\n}\n";
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_data_pipeline: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
