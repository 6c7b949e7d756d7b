// `tint eval`: one or several trained U-Nets on a folder of photos, scored by the colour metrics of
// data/metrics.h beside two baselines on the same pixels, written as a Markdown report, a JSON file, the a/b
// histogram figure(s) and a grid of examples. One pass over the data serves every model and baseline.
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>

#include "data/ab_bins.h"
#include "data/colour.h"
#include "data/dataset.h"
#include "data/grid.h"
#include "data/hints.h"
#include "data/loader.h"
#include "data/metrics.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "models/model_file.h"
#include "tools/args.h"
#include "tools/commands.h"
#include "tools/figures.h"

namespace tint::cli {

namespace {

namespace fs = std::filesystem;

const char* kHelp = R"(usage: tint eval --model RUN|FILE --data DIR [options]
       tint eval --compare RUN RUN... --data DIR [options]

Scores trained colorizers on a folder of photos against two baselines on the same pixels, and writes a
Markdown report, a JSON file, the a/b histogram figure and a grid of examples.

Every photo is resized (longest side) to --size and padded, as in training, with no flip and in file order;
the metrics count its real pixels only. Grey photos have no colour to score: they are skipped and counted.
Metrics (exact definitions in README.md, "Evaluate"): histogram intersection of a and of b, AuC of the
per-pixel ab error over thresholds 0..150 and its class-rebalanced form, PSNR on 8-bit sRGB, colourfulness.
Baselines: grey (a = b = 0) and the training set's mean ab.

options:
  --model RUN|FILE    a run folder (its model.safetensors) or a model file
  --compare RUN...    several models on the same data, one table (with or instead of --model)
  --data DIR          the photos, scanned recursively (a folder, an image or a list file)
  --size N            image side (default: the model's training size from its metadata, else 256)
  --train-mean A,B    the training set's mean a and b in Lab units, for the mean baseline
                      (default: the model file's metadata 'mean_ab'; without either the baseline is left out)
  --out DIR           where to write (default: RUN/eval-<data folder>, for --compare eval-compare-<data folder>)
  --json FILE         the JSON file (default: OUT/eval.json)
  --examples N        photos in the example grid (default 8; 0: none)
  --device NAME       cpu (default), cpu-ref, cuda-emu, cuda
  --batch N           images per forward pass (default 8)
  --temperature T     a classification model's annealed-mean decode temperature, 0..10 (default 0.38;
                      0 is the mode); regression models ignore it
  --all-decodes       for each classification model, also score the mode and the plain mean (T = 1)
  --hints N,N,...     for each model trained with --hints: PSNR against the number of simulated hints per
                      photo (each a 1..9 px patch given its mean true ab, the same points for every model),
                      as a table in the report, "hints" in the JSON and hints-psnr.svg. Without this flag,
                      and in the main table, such models get no hints. Zhang et al. 2017 use
                      0,1,2,5,10,20,50,100
  --workers N         decoding threads (default: one per core)

files written: report.md, eval.json, histograms.svg (one histograms-<model>.svg per model with --compare),
examples.png (rows of grey input | prediction(s) | truth).
)";

// One row of models in the table. A classification model scored under several decodes is several rows that
// share one network (`source`: the index of the row that runs it), so each batch goes through it once.
struct Model {
  std::string label, given;
  models::ModelInfo info;
  std::shared_ptr<models::UNet> unet;
  size_t source = 0;
  Tensor centres;         // the bins' scaled centres (classification only)
  float temperature = 0;  // the decode's (classification only; <= 0 the mode)
  ColourMetrics metrics;
  std::string histogram_file;
};

// What the report and the JSON say about one row of the table.
struct Row {
  std::string name, kind;
  ColourScores scores;
};

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  TINT_CHECK(f.good(), "cannot write '{}'", path);
  f << text;
  f.close();
  TINT_CHECK(f.good(), "writing '{}' failed (disk full?)", path);
}

// "a,b" in Lab units. `what` names the flag or file for the error.
std::pair<double, double> parse_mean_ab(const std::string& text, const std::string& what) {
  const size_t comma = text.find(',');
  auto number = [&](const std::string& s) {
    try {
      size_t used = 0;
      const double v = std::stod(s, &used);
      if (used == s.size() && std::isfinite(v) && v >= -128 && v <= 128) return v;
    } catch (...) {
    }
    throw Error(fmt::format("{} expects 'A,B': two numbers in -128..128 (Lab units), got '{}'", what, text));
  };
  TINT_CHECK(comma != std::string::npos, "{} expects 'A,B': two numbers in -128..128 (Lab units), got '{}'",
             what, text);
  return {number(text.substr(0, comma)), number(text.substr(comma + 1))};
}

std::string folder_name(const std::string& path) {
  fs::path p = fs::path(path).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  std::string name = fs::is_directory(p) ? p.filename().string() : p.stem().string();
  if (name.empty() || name == "." || name == "..")
    name = fs::absolute(p).lexically_normal().filename().string();
  return name.empty() ? std::string("data") : name;
}

// A run folder's name, or a model file's stem (its folder's name for a run's model.safetensors).
std::string model_label(const std::string& given, const std::string& file) {
  fs::path p = fs::path(file).lexically_normal();
  if (fs::is_directory(given) || p.filename() == "model.safetensors")
    return folder_name(p.parent_path().string());
  return p.stem().string();
}

std::string safe_file_part(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return out.empty() ? std::string("model") : out;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", int(c));
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// JSON has no infinity: an infinite PSNR is the string "inf" (documented in the README).
std::string json_number(double v) {
  if (std::isinf(v)) return v > 0 ? "\"inf\"" : "\"-inf\"";
  if (std::isnan(v)) return "null";
  return fmt::format("{}", v);
}

// The report's precision for each column; the JSON keeps full precision.
std::string fixed(double v, int decimals) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:.{}f}", v, decimals);
}

std::string model_line(const Model& m) {
  const auto& i = m.info;
  const std::string head =
      i.classification
          ? fmt::format("classification head over {} ab bins (weighted cross-entropy), decoded by {}",
                        i.config.bins,
                        m.temperature <= 0 ? std::string("the mode")
                                           : fmt::format("the annealed mean at T = {:g}", m.temperature))
          : fmt::format("{} loss", i.loss.empty() ? "unknown" : i.loss);
  return fmt::format("`{}` ({}): U-Net width {}, {} levels, trained at {}, {}, {} steps", m.label, i.path,
                     i.config.width, i.config.levels,
                     i.image_size ? std::to_string(i.image_size) : "an unknown size", head, i.step);
}

}  // namespace

int run_eval(int argc, char** argv) {
  Args args(argc, argv,
            Options{{"all-decodes"},
                    {"model", "compare", "data", "size", "train-mean", "out", "json", "examples", "device",
                     "batch", "workers", "temperature", "hints"},
                    1000,
                    ""});
  if (args.help()) {
    std::fputs(kHelp, stdout);
    return 0;
  }

  // The models: --model, then --compare's value and the words after it.
  std::vector<std::string> given;
  if (args.has("model")) given.push_back(args.get("model", ""));
  if (args.has("compare")) {
    given.push_back(args.get("compare", ""));
    for (const std::string& p : args.positional()) given.push_back(p);
  } else {
    TINT_CHECK(args.positional().empty(), "unexpected argument '{}' (several models go after --compare)",
               args.positional().front());
  }
  TINT_CHECK(!given.empty(), "no model given: use --model RUN|FILE or --compare RUN RUN... (see --help)");
  TINT_CHECK(args.has("data"), "no --data DIR given: the photos to evaluate on");
  const std::string data_dir = args.get("data", "");

  const Device device = Device::parse(args.get("device", "cpu"));
  TINT_CHECK(device.available(), "--device '{}' is not available in this build or on this machine",
             device.str());
  const int batch_size = args.get_int("batch", 8, 1, 1024);
  const int workers = args.get_int("workers", 0, 0, 256);
  const int examples = args.get_int("examples", 8, 0, 256);
  const float temperature = float(args.get_double("temperature", cic::kDefaultTemperature, 0, 10));

  std::vector<Model> models;
  for (size_t k = 0; k < given.size(); ++k) {
    Model m;
    m.given = given[k];
    m.unet = models::load_unet(given[k], device, &m.info);
    m.label = model_label(given[k], m.info.path);
    for (const Model& other : models)  // two runs of the same name (runs/a/x and runs/b/x) need telling apart
      if (other.label == m.label) m.label += fmt::format("-{}", k + 1);
    m.source = models.size();
    if (m.info.classification) {
      const auto& bins = m.info.classification->bins;
      m.centres = Tensor::from_vector(bins.scaled_centres(), {bins.size(), 2}, device);
      m.temperature = temperature;
      models.push_back(m);
      if (args.has("all-decodes"))
        for (float t : {0.0f, 1.0f}) {
          Model v = m;
          v.temperature = t;
          v.label = m.label + (t <= 0 ? " (mode)" : " (mean, T 1)");
          models.push_back(std::move(v));
        }
    } else {
      models.push_back(std::move(m));
    }
  }
  const int fallback_size = models[0].info.image_size > 0 ? models[0].info.image_size : 256;
  const int size = args.get_int("size", fallback_size, 8, 4096);
  for (const Model& m : models)
    TINT_CHECK(size % (1 << m.info.config.levels) == 0,
               "--size {} must be divisible by 2^levels = {} of '{}'", size, 1 << m.info.config.levels,
               m.info.path);

  // The hint sweep: counts, and for every row of a hints model one metrics accumulator per count.
  std::vector<int> hint_counts;
  if (args.has("hints")) {
    const std::string list = args.get("hints", "");
    size_t pos = 0;
    while (pos <= list.size()) {
      size_t comma = list.find(',', pos);
      if (comma == std::string::npos) comma = list.size();
      const std::string item = list.substr(pos, comma - pos);
      int v = -1;
      auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
      TINT_CHECK(ec == std::errc() && end == item.data() + item.size() && v >= 0 && v <= 1000,
                 "--hints expects counts 0..1000 separated by commas (e.g. 0,1,2,5,10,20,50,100), got '{}'",
                 list);
      hint_counts.push_back(v);
      pos = comma + 1;
    }
    bool any = false;
    for (const Model& m : models) any |= m.info.config.in_channels == 4;
    TINT_CHECK(any, "--hints: none of the models was trained with hints (tint train --hints)");
  }
  std::vector<std::vector<ColourMetrics>> sweep(models.size());
  for (size_t k = 0; k < models.size(); ++k)
    if (models[k].info.config.in_channels == 4) sweep[k].resize(hint_counts.size());

  std::optional<std::pair<double, double>> mean_ab;
  std::string mean_source;
  if (args.has("train-mean")) {
    mean_ab = parse_mean_ab(args.get("train-mean", ""), "--train-mean");
    mean_source = "--train-mean";
  } else {
    for (const Model& m : models) {
      auto it = m.info.metadata.find("mean_ab");
      if (it == m.info.metadata.end()) continue;
      mean_ab = parse_mean_ab(it->second, fmt::format("'{}': metadata 'mean_ab'", m.info.path));
      mean_source = fmt::format("the metadata 'mean_ab' of {}", m.info.path);
      break;
    }
  }

  const std::string data_name = folder_name(data_dir);
  std::string out = args.get("out", "");
  if (out.empty()) {
    if (given.size() > 1) {
      out = "eval-compare-" + data_name;
    } else if (fs::is_directory(given[0])) {
      out = (fs::path(given[0]) / ("eval-" + data_name)).string();
    } else {
      const fs::path file(models[0].info.path);
      const fs::path base =
          file.filename() == "model.safetensors" ? file.parent_path() : file.parent_path() / file.stem();
      out = (base / ("eval-" + data_name)).string();
    }
  }
  const std::string json_path = args.get("json", (fs::path(out) / "eval.json").string());
  std::error_code ec;
  fs::create_directories(out, ec);
  TINT_CHECK(!ec && fs::is_directory(out), "cannot create the output folder '{}': {}", out, ec.message());

  const std::vector<std::string> files = scan_images(data_dir);
  TINT_CHECK(!files.empty(), "no images found under '{}'", data_dir);

  fmt::print("tint eval: {} model{} on {} files in {} at {}x{} (pad, real pixels only), on {}\n",
             models.size(), models.size() > 1 ? "s" : "", files.size(), data_dir, size, size, device.str());
  for (const Model& m : models) fmt::print("  {}\n", model_line(m));
  std::fflush(stdout);

  LoaderOptions lo;
  lo.image_size = size;
  lo.batch_size = batch_size;
  lo.workers = workers;
  lo.shuffle = false;
  lo.flip = false;
  lo.fit = FitMode::pad;
  lo.epochs = 1;
  lo.cache_bytes = 0;  // one pass: nothing to reuse
  const Backend& backend = device.backend();
  if (backend.alloc_pinned) lo.allocator = HostAllocator{backend.alloc_pinned, backend.free_pinned};

  ColourMetrics grey_metrics, mean_metrics;
  int64_t grey_skipped = 0, seen = 0;
  std::vector<std::vector<Image>> example_rows;
  const auto start = std::chrono::steady_clock::now();
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  double last_progress = 0;

  Loader loader(files, lo);
  NoGradGuard no_grad;
  const int64_t hw = int64_t(size) * size;
  std::vector<float> zeros(size_t(2 * hw), 0.f), mean_plane;
  if (mean_ab) {
    mean_plane.assign(size_t(2 * hw), float(mean_ab->first / 110.0));
    std::fill(mean_plane.begin() + hw, mean_plane.end(), float(mean_ab->second / 110.0));
  }
  while (auto batch = loader.next()) {
    const int n = batch->size;
    std::vector<std::vector<float>> predictions;
    Tensor L =
        Tensor::from_vector(std::vector<float>(batch->L, batch->L + n * hw), {n, 1, size, size}, device);
    // L with `points` simulated hints per photo (none: the automatic mode), for the models trained with
    // hints. The points depend on the photo's index only, so every model and count sees the same draws.
    auto with_hints = [&](int points) {
      std::vector<float> x(size_t(n * 4 * hw));
      for (int i = 0; i < n; ++i) {
        std::copy(batch->L + i * hw, batch->L + (i + 1) * hw, x.begin() + std::ptrdiff_t(i * 4 * hw));
        hints::simulate(0, 0, seen + i, batch->ab + 2 * i * hw, batch->mask + i * hw, size, points,
                        x.data() + i * 4 * hw + hw);
      }
      return Tensor::from_vector(x, {n, 4, size, size}, device);
    };
    Tensor L_no_hints;
    Tensor out;  // the network's output of the current source row: ab, or a classification model's logits
    for (size_t k = 0; k < models.size(); ++k) {
      Model& m = models[k];
      auto decode = [&](const Tensor& o) {
        return (m.info.classification ? ops::annealed_mean_decode(o, m.centres, m.temperature) : o)
            .to_vector();
      };
      if (m.source == k) {
        if (m.info.config.in_channels == 4 && !L_no_hints.defined()) L_no_hints = with_hints(0);
        out = (*m.unet)(m.info.config.in_channels == 4 ? L_no_hints : L);
      }
      predictions.push_back(decode(out));
      for (size_t c = 0; c < sweep[k].size(); ++c) {
        const std::vector<float> ab = decode((*m.unet)(with_hints(hint_counts[c])));
        for (int i = 0; i < n; ++i)
          if (!batch->grey[size_t(i)])
            sweep[k][c].add_image(batch->L + i * hw, ab.data() + 2 * i * hw, batch->ab + 2 * i * hw,
                                  batch->mask + i * hw, hw);
      }
    }
    for (int i = 0; i < n; ++i) {
      ++seen;
      if (batch->grey[size_t(i)]) {
        ++grey_skipped;
        continue;
      }
      const float* L = batch->L + i * hw;
      const float* truth = batch->ab + 2 * i * hw;
      const float* mask = batch->mask + i * hw;
      for (size_t k = 0; k < models.size(); ++k)
        models[k].metrics.add_image(L, predictions[k].data() + 2 * i * hw, truth, mask, hw);
      grey_metrics.add_image(L, zeros.data(), truth, mask, hw);
      if (mean_ab) mean_metrics.add_image(L, mean_plane.data(), truth, mask, hw);
      if (int(example_rows.size()) < examples) {
        std::vector<Image> row{padded_sample_to_image(L, zeros.data(), zeros.data() + hw, mask, size)};
        for (auto& p : predictions) {
          const float* ab = p.data() + 2 * i * hw;
          row.push_back(padded_sample_to_image(L, ab, ab + hw, mask, size));
        }
        row.push_back(padded_sample_to_image(L, truth, truth + hw, mask, size));
        example_rows.push_back(std::move(row));
      }
    }
    if (seconds() - last_progress >= 10) {
      last_progress = seconds();
      fmt::print("eval: {}/{} files, {:.1f} img/s\n", seen, files.size(),
                 double(seen) / std::max(seconds(), 1e-9));
      std::fflush(stdout);
    }
  }
  const LoaderStats stats = loader.stats();
  const int64_t scored = grey_metrics.scores().images;
  TINT_CHECK(scored > 0, "no colour photo to score in '{}' ({} grey skipped, {} unreadable)", data_dir,
             grey_skipped, stats.bad_files);
  fmt::print("eval: {} images scored, {} grey skipped, {} unreadable, in {:.1f} s\n", scored, grey_skipped,
             stats.bad_files, seconds());

  // The table: models, then baselines.
  std::vector<Row> rows;
  for (const Model& m : models) rows.push_back({m.label, "model", m.metrics.scores()});
  rows.push_back({"grey (a = b = 0)", "baseline", grey_metrics.scores()});
  if (mean_ab)
    rows.push_back({fmt::format("train mean ab ({:.2f}, {:.2f})", mean_ab->first, mean_ab->second),
                    "baseline", mean_metrics.scores()});
  const ColourScores truth_scores = grey_metrics.scores();
  const AbHistogram& truth_hist = grey_metrics.truth_histogram();

  // Figures.
  std::vector<std::string> figure_files;
  for (Model& m : models) {
    m.histogram_file =
        models.size() == 1 ? "histograms.svg" : "histograms-" + safe_file_part(m.label) + ".svg";
    std::vector<figures::HistogramSeries> series;
    auto add = [&](const std::string& name, const char* ca, const char* cb, const AbHistogram& h,
                   bool dashed) {
      figures::HistogramSeries s{name, ca, cb, h.normalised_a(), h.normalised_b(), dashed};
      series.push_back(std::move(s));
    };
    add("truth", "black", "black", truth_hist, false);
    add("prediction", "#2ca02c", "#1f77b4", m.metrics.predicted_histogram(), false);
    add("grey baseline", "#999999", "#999999", grey_metrics.predicted_histogram(), true);
    if (mean_ab) add("train mean baseline", "#ff7f0e", "#ff7f0e", mean_metrics.predicted_histogram(), true);
    const AbIntersection hi = m.metrics.scores().hi;
    figures::write_svg((fs::path(out) / m.histogram_file).string(),
                       figures::ab_histogram_svg(fmt::format("{} on {}: HI a {:.3f}, b {:.3f} ({} images)",
                                                             m.label, data_name, hi.a, hi.b, scored),
                                                 series));
    figure_files.push_back(m.histogram_file);
  }
  // PSNR against the number of hints.
  std::string hints_md;
  std::string hints_json = "null";
  if (!hint_counts.empty()) {
    std::vector<figures::Series> series;
    const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"};
    hints_md = "\n## PSNR against the number of hints\n\n";
    hints_md +=
        "Simulated hints as in training (each a square patch of side 1..9 px placed uniformly on the real "
        "pixels, given the patch's mean true ab), the same points for every model; PSNR (dB) as in the "
        "table above.\n\n| model |";
    for (int c : hint_counts) hints_md += fmt::format(" {} |", c);
    hints_md += "\n| --- |";
    for (size_t c = 0; c < hint_counts.size(); ++c) hints_md += " ---: |";
    hints_md += "\n";
    hints_json = "[";
    for (size_t k = 0; k < models.size(); ++k) {
      if (sweep[k].empty()) continue;
      figures::Series s{models[k].label, colours[series.size() % 6], {}, {}, false};
      hints_md += "| " + models[k].label + " |";
      std::string values;
      for (size_t c = 0; c < hint_counts.size(); ++c) {
        const double psnr = sweep[k][c].scores().psnr;
        s.xs.push_back(hint_counts[c]);
        s.ys.push_back(psnr);
        hints_md += " " + fixed(psnr, 2) + " |";
        values += (c ? ", " : "") + json_number(psnr);
      }
      hints_md += "\n";
      std::string counts;
      for (size_t c = 0; c < hint_counts.size(); ++c)
        counts += (c ? ", " : "") + std::to_string(hint_counts[c]);
      hints_json += fmt::format("{}{{\"name\": {}, \"points\": [{}], \"psnr_db\": [{}]}}",
                                series.empty() ? "" : ", ", json_string(models[k].label), counts, values);
      series.push_back(std::move(s));
    }
    hints_json += "]";
    figures::write_line_plot_svg((fs::path(out) / "hints-psnr.svg").string(),
                                 fmt::format("PSNR against the number of simulated hints ({})", data_name),
                                 "hints per photo", "PSNR (dB)", series);
    hints_md += "\n![PSNR against hints](hints-psnr.svg)\n";
    fmt::print("{}", hints_md);
  }

  const bool have_examples = !example_rows.empty();
  if (have_examples)
    figures::write_image_grid((fs::path(out) / "examples.png").string(), example_rows, std::min(size, 256));

  // The JSON.
  std::string json = "{\n";
  json += fmt::format(
      "  \"data\": {},\n  \"size\": {},\n  \"fit\": \"pad\",\n  \"masked\": true,\n  \"device\": {},\n",
      json_string(data_dir), size, json_string(device.str()));
  json += fmt::format("  \"files\": {},\n  \"images\": {},\n  \"grey_skipped\": {},\n  \"unreadable\": {},\n",
                      files.size(), scored, grey_skipped, stats.bad_files);
  json += fmt::format("  \"pixels\": {},\n  \"auc_thresholds\": [0, {}],\n  \"rebalance_bin\": {},\n",
                      truth_scores.pixels, AbErrorCdf::kMaxThreshold, AbErrorCdf::kGrid);
  json += "  \"models\": [\n";
  for (size_t k = 0; k < models.size(); ++k) {
    const auto& i = models[k].info;
    json += fmt::format(
        "    {{\"name\": {}, \"path\": {}, \"width\": {}, \"levels\": {}, \"image_size\": {}, "
        "\"loss\": {}, \"head\": {}, \"temperature\": {}, \"step\": {}}}{}\n",
        json_string(models[k].label), json_string(i.path), i.config.width, i.config.levels, i.image_size,
        json_string(i.loss), json_string(i.classification ? "classification" : "regression"),
        i.classification ? json_number(models[k].temperature) : std::string("null"), i.step,
        k + 1 < models.size() ? "," : "");
  }
  json += "  ],\n";
  json +=
      fmt::format("  \"train_mean_ab\": {},\n",
                  mean_ab ? fmt::format("[{}, {}]", mean_ab->first, mean_ab->second) : std::string("null"));
  json += "  \"rows\": [\n";
  for (size_t r = 0; r < rows.size(); ++r) {
    const ColourScores& s = rows[r].scores;
    json += fmt::format(
        "    {{\"name\": {}, \"kind\": {}, \"hi_a\": {}, \"hi_b\": {}, \"hi_mean\": {}, \"auc\": {}, "
        "\"auc_rebalanced\": {}, \"psnr_db\": {}, \"psnr_finite_db\": {}, \"psnr_infinite_images\": {}, "
        "\"colourfulness\": {}}}{}\n",
        json_string(rows[r].name), json_string(rows[r].kind), json_number(s.hi.a), json_number(s.hi.b),
        json_number(s.hi.mean()), json_number(s.auc), json_number(s.auc_rebalanced), json_number(s.psnr),
        json_number(s.psnr_finite), s.psnr_infinite, json_number(s.colourfulness),
        r + 1 < rows.size() ? "," : "");
  }
  json += "  ],\n";
  json += fmt::format("  \"truth_colourfulness\": {},\n", json_number(truth_scores.colourfulness_truth));
  json += fmt::format("  \"hints\": {},\n", hints_json);
  json += "  \"figures\": [";
  for (size_t k = 0; k < figure_files.size(); ++k) json += (k ? ", " : "") + json_string(figure_files[k]);
  json += fmt::format("],\n  \"examples\": {}\n}}\n", have_examples ? json_string("examples.png") : "null");
  write_text(json_path, json);

  // The report.
  std::string md =
      fmt::format("# tint eval: {} on `{}`\n\n",
                  models.size() == 1 ? "`" + models[0].label + "`" : "models compared", data_dir);
  md += "## Protocol\n\n";
  md += fmt::format(
      "- Data: `{}`, {} files: **{} images scored**, {} grey photos skipped (no colour to score), "
      "{} unreadable files skipped.\n",
      data_dir, files.size(), scored, grey_skipped, stats.bad_files);
  md += fmt::format(
      "- Each photo's longest side resized to {} (antialiased) and padded to {}x{} (fit pad), as in "
      "training; no flip, file order. Every metric counts the real pixels only ({} in all); the padding "
      "is masked out.\n",
      size, size, size, truth_scores.pixels);
  for (const Model& m : models) md += fmt::format("- Model {}.\n", model_line(m));
  md += fmt::format("- Device `{}`, batches of {}, float32.\n", device.str(), batch_size);
  md += "- Baselines on the same pixels: grey (a = b = 0 everywhere)";
  if (mean_ab)
    md += fmt::format(", and the training set's mean ab (a = {:.2f}, b = {:.2f}) everywhere, from {}.\n",
                      mean_ab->first, mean_ab->second, mean_source);
  else
    md +=
        ". The training set's mean-ab baseline is left out: no --train-mean was given and the model file has "
        "no "
        "'mean_ab' metadata.\n";
  md += "\n## Metrics\n\n";
  md += "| model | HI a | HI b | HI mean | AuC | AuC rebalanced | PSNR (dB) | colourfulness |\n";
  md += "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (const Row& r : rows) {
    const ColourScores& s = r.scores;
    md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} |\n", r.name, fixed(s.hi.a, 4),
                      fixed(s.hi.b, 4), fixed(s.hi.mean(), 4), fixed(s.auc, 4), fixed(s.auc_rebalanced, 4),
                      fixed(s.psnr, 2), fixed(s.colourfulness, 2));
  }
  md += fmt::format("| truth | | | | | | | {} |\n\n", fixed(truth_scores.colourfulness_truth, 2));
  md +=
      "- **HI a, HI b**: histogram intersection of the predicted and true a (and b) values, pooled over the "
      "real "
      "pixels of the whole set; bins of width 1 centred on the whole numbers -128..127 (v falls in bin "
      "floor(v + 0.5)), each histogram normalised to sum 1, HI = sum of min. 1 is a perfect match.\n";
  md +=
      "- **AuC**: the per-pixel error is the Euclidean distance between predicted and true (a, b) in Lab "
      "units; "
      "for t = 0, 1, ..., 150 take the fraction of pixels with error <= t; AuC is the mean of the 151 "
      "fractions "
      "(Zhang et al. 2016). 1 is exact.\n";
  md +=
      "- **AuC rebalanced**: the same with each pixel weighted by 1 / the frequency of its true (a, b) bin "
      "in this "
      "set (10 x 10 Lab-unit bins centred on multiples of 10), weights normalised: rare colours count as "
      "much "
      "as common ones.\n";
  md +=
      "- **PSNR**: per image, L + predicted ab and L + true ab converted to 8-bit sRGB, MSE over the three "
      "channels of the real pixels, 10 log10(255^2 / MSE); the mean over images in dB (inf when an image is "
      "reproduced exactly).\n";
  md +=
      "- **Colourfulness** (Hasler and Suesstrunk 2003) of the 8-bit sRGB predictions, mean over images: "
      "sqrt(sd_rg^2 + sd_yb^2) + 0.3 sqrt(mean_rg^2 + mean_yb^2) with rg = R - G, yb = (R + G)/2 - B. The "
      "truth row gives the photos' own.\n";
  md += hints_md;
  md += "\n## Plots\n\n";
  for (const Model& m : models)
    md += fmt::format(
        "![a and b histograms of {}]({})\n\n`{}`: the a and b histograms of {} (truth black, "
        "prediction a green and b blue, baselines dashed; the baselines are single spikes).\n\n",
        m.label, m.histogram_file, m.histogram_file, m.label);
  if (have_examples) {
    std::string columns = "grey input";
    for (const Model& m : models) columns += " | " + m.label;
    md += fmt::format(
        "![examples](examples.png)\n\n`examples.png`: the first {} scored photos, one per row: {} | "
        "truth.\n",
        example_rows.size(), columns);
  }
  const std::string report = (fs::path(out) / "report.md").string();
  write_text(report, md);

  fmt::print("\n| model | HI a | HI b | AuC | AuC rebal. | PSNR dB | colourfulness |\n");
  for (const Row& r : rows)
    fmt::print("| {} | {:.4f} | {:.4f} | {:.4f} | {:.4f} | {} | {:.2f} |\n", r.name, r.scores.hi.a,
               r.scores.hi.b, r.scores.auc, r.scores.auc_rebalanced, fixed(r.scores.psnr, 2),
               r.scores.colourfulness);
  fmt::print("| truth | | | | | | {:.2f} |\n\n", truth_scores.colourfulness_truth);
  fmt::print("wrote {} (report), {}, {} in {}\n", report, json_path,
             have_examples ? "histograms and examples.png" : "histograms", out);
  return 0;
}

}  // namespace tint::cli
