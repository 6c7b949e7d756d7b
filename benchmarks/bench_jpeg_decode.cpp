// libjpeg-turbo's speed settings, measured on a set of JPEGs: the fast integer IDCT (JDCT_IFAST) and plain
// chroma upsampling (do_fancy_upsampling = FALSE) against libjpeg's defaults, for time and for what they do
// to the photos' colour: the a/b histogram intersection (data/metrics.h) between each setting's decodes and
// the default's, pooled over the set, and the mean and largest per-pixel |delta a|, |delta b| in Lab units.
//
// Timing is interleaved on a loaded machine: every file is decoded by every setting back to back, in an order
// that rotates from file to file and repeat to repeat, so that a burst of load falls on all settings alike;
// each setting's time per image is the median over repeats of its sum over the set.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "data/colour.h"
#include "data/dataset.h"
#include "data/image.h"
#include "data/metrics.h"
#include "tools/args.h"

namespace {

const char* kHelp =
    "usage: bench_jpeg_decode [--dir DIR] [--reduce-to S] [--repeats R] [--limit N] [--json FILE]\n"
    "\n"
    "Times libjpeg-turbo's fast IDCT and plain upsampling against its defaults on the JPEGs under DIR\n"
    "(interleaved, median of R repeats) and measures their effect on the a/b histograms of the decodes.\n"
    "  --dir DIR       photos (default: data/samples of the source tree; other formats are left out)\n"
    "  --reduce-to S   decode as training does for side S (DCT-domain reduction); 0: full size (default)\n"
    "  --repeats R     1..100, default 5          --limit N   the first N JPEGs only (0: all)\n"
    "  --json FILE     also write the results as JSON\n";

struct Setting {
  const char* name;
  tint::JpegOptions options;
};
const Setting kSettings[] = {
    {"default (islow, fancy)", {false, true}},
    {"fast idct", {true, true}},
    {"plain upsampling", {false, false}},
    {"fast idct + plain", {true, false}},
};
constexpr int kCount = int(sizeof(kSettings) / sizeof(kSettings[0]));

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a.empty() ? "unknown" : a + " " + b + " " + c;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const tint::cli::Args args(argc, argv, tint::cli::Options{{}, {"dir", "reduce-to", "repeats", "limit", "json"}, 0, "bench_jpeg_decode"});
    if (args.help()) {
      std::fputs(kHelp, stdout);
      return 0;
    }
    const std::string dir = args.get("dir", std::string(TINT_SOURCE_DIR) + "/data/samples");
    const int reduce_to = args.get_int("reduce-to", 0, 0, 8192);
    const int repeats = args.get_int("repeats", 5, 1, 100);
    const int limit = args.get_int("limit", 0, 0, 1 << 30);
    const std::string json = args.get("json", "");

    std::vector<std::string> paths;
    std::vector<std::vector<uint8_t>> files;
    for (const auto& p : tint::scan_images(dir)) {
      std::vector<uint8_t> bytes = tint::read_file_bytes(p);
      if (tint::sniff_format(bytes.data(), bytes.size(), p) != tint::ImageFormat::jpeg) continue;
      paths.push_back(p);
      files.push_back(std::move(bytes));
      if (limit > 0 && int(files.size()) == limit) break;
    }
    if (files.empty()) throw tint::Error(fmt::format("bench_jpeg_decode: no JPEG under {}", dir));
    if (std::string(tint::jpeg_decoder_name()) != "libjpeg-turbo")
      throw tint::Error("bench_jpeg_decode: this build decodes JPEG with stb_image (no static libjpeg found)");
    fmt::print("jpeg decode: {} JPEGs under {}, {}, median of {} interleaved repeats; load average {}\n", files.size(),
               dir, reduce_to ? fmt::format("reduced for side {}", reduce_to) : std::string("full size"), repeats,
               load_average());

    // Colour first (one decode per setting and file), which also warms the caches for the timing.
    tint::AbHistogram hist[kCount];
    double sum_da[kCount] = {}, sum_db[kCount] = {}, max_d[kCount] = {};
    int64_t pixels = 0, megapixels_decoded = 0;
    for (size_t f = 0; f < files.size(); ++f) {
      std::vector<float> lab[kCount];
      int64_t n = 0;
      for (int s = 0; s < kCount; ++s) {
        const tint::Image img = tint::decode_image(files[f], paths[f], tint::kDefaultMaxPixels, reduce_to, kSettings[s].options);
        n = img.pixels();
        lab[s].resize(size_t(n) * 3);
        tint::rgb8_to_lab_scaled(img.rgb.data(), n, lab[s].data(), lab[s].data() + n, lab[s].data() + 2 * n);
        hist[s].add_scaled(lab[s].data() + n, lab[s].data() + 2 * n, nullptr, n);
      }
      for (int s = 1; s < kCount; ++s)
        for (int64_t i = 0; i < n; ++i) {
          const double da = 110.0 * std::abs(lab[s][size_t(n + i)] - lab[0][size_t(n + i)]);
          const double db = 110.0 * std::abs(lab[s][size_t(2 * n + i)] - lab[0][size_t(2 * n + i)]);
          sum_da[s] += da;
          sum_db[s] += db;
          max_d[s] = std::max({max_d[s], da, db});
        }
      pixels += n;
      megapixels_decoded += n;
    }

    std::vector<double> totals[kCount];
    for (int r = 0; r < repeats; ++r) {
      double total[kCount] = {};
      for (size_t f = 0; f < files.size(); ++f)
        for (int k = 0; k < kCount; ++k) {
          const int s = int((f + size_t(r) + size_t(k)) % kCount);
          const auto t0 = std::chrono::steady_clock::now();
          const tint::Image img = tint::decode_image(files[f], paths[f], tint::kDefaultMaxPixels, reduce_to, kSettings[s].options);
          total[s] += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          if (img.rgb.empty()) throw tint::Error("bench_jpeg_decode: empty decode of " + paths[f]);
        }
      for (int s = 0; s < kCount; ++s) totals[s].push_back(total[s]);
    }
    double median[kCount];
    for (int s = 0; s < kCount; ++s) {
      std::sort(totals[s].begin(), totals[s].end());
      median[s] = totals[s][totals[s].size() / 2];
    }

    fmt::print("{:<24} {:>9} {:>8} | {:>8} {:>8} | {:>10} {:>10} {:>8}\n", "setting", "ms/img", "speed", "HI a", "HI b",
               "mean |da|", "mean |db|", "max");
    std::ofstream out;
    if (!json.empty()) {
      out.open(json);
      out << "{\n  \"benchmark\": \"jpeg_decode\",\n  \"dir\": \"" << dir << "\",\n  \"files\": " << files.size()
          << ",\n  \"reduce_to\": " << reduce_to << ",\n  \"repeats\": " << repeats << ",\n  \"load_average\": \""
          << load_average() << "\",\n  \"settings\": [\n";
    }
    for (int s = 0; s < kCount; ++s) {
      const tint::AbIntersection hi = tint::histogram_intersection(hist[s], hist[0]);
      const double ms = 1000.0 * median[s] / double(files.size());
      const double mean_da = sum_da[s] / double(pixels), mean_db = sum_db[s] / double(pixels);
      fmt::print("{:<24} {:>9.3f} {:>7.2f}x | {:>8.5f} {:>8.5f} | {:>10.4f} {:>10.4f} {:>8.2f}\n", kSettings[s].name, ms,
                 median[0] / median[s], hi.a, hi.b, mean_da, mean_db, max_d[s]);
      if (out)
        out << "    {\"setting\": \"" << kSettings[s].name << "\", \"ms_per_image\": " << ms << ", \"speed\": "
            << median[0] / median[s] << ", \"hi_a\": " << hi.a << ", \"hi_b\": " << hi.b << ", \"mean_abs_da\": " << mean_da
            << ", \"mean_abs_db\": " << mean_db << ", \"max_abs_dab\": " << max_d[s] << "}" << (s + 1 < kCount ? "," : "")
            << "\n";
    }
    if (out) out << "  ]\n}\n";
    fmt::print("{:.1f} megapixels per setting; speed = default time / setting time; HI against the default decode\n",
               double(megapixels_decoded) * 1e-6);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_jpeg_decode: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
