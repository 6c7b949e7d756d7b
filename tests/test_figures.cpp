// tools/figures: the SVGs are well-formed, carry every series, and put a hand-picked value where the axis
// says it belongs; the example grid round-trips through a PNG file.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "data/grid.h"
#include "data/image.h"
#include "tools/figures.h"

namespace {

using tint::figures::Series;

// A small XML checker: every element closed in order, one root <svg>, attributes quoted, no stray '<' or '&'.
bool well_formed(const std::string& xml, std::string& why) {
  std::vector<std::string> open;
  size_t i = 0;
  bool root_seen = false;
  while ((i = xml.find_first_of("<&", i)) != std::string::npos) {
    if (xml[i] == '&') {
      const size_t semi = xml.find(';', i);
      const std::string entity = xml.substr(i, semi == std::string::npos ? 0 : semi - i + 1);
      if (entity != "&amp;" && entity != "&lt;" && entity != "&gt;" && entity != "&quot;") {
        why = "bad entity at " + std::to_string(i);
        return false;
      }
      ++i;
      continue;
    }
    const size_t end = xml.find('>', i);
    if (end == std::string::npos) {
      why = "unterminated tag";
      return false;
    }
    std::string tag = xml.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.empty()) {
      why = "empty tag";
      return false;
    }
    if (tag[0] == '?') continue;  // the XML declaration
    if (tag.find('<') != std::string::npos) {
      why = "'<' inside a tag: " + tag;
      return false;
    }
    if (std::count(tag.begin(), tag.end(), '"') % 2) {
      why = "unbalanced quotes in " + tag;
      return false;
    }
    if (tag[0] == '/') {
      const std::string name = tag.substr(1);
      if (open.empty() || open.back() != name) {
        why = "</" + name + "> closes " + (open.empty() ? std::string("nothing") : "<" + open.back() + ">");
        return false;
      }
      open.pop_back();
      continue;
    }
    const std::string name = tag.substr(0, tag.find_first_of(" \n/"));
    if (open.empty()) {
      if (root_seen || name != "svg") {
        why = "second root or root is not svg: " + name;
        return false;
      }
      root_seen = true;
    }
    if (tag.back() != '/') open.push_back(name);
  }
  if (!open.empty()) {
    why = "<" + open.back() + "> never closed";
    return false;
  }
  return root_seen;
}

struct Rect {
  double x, y, w, h;
};

// The value of attribute `name` in one tag ("" when absent). Parsed by hand: GCC 12 warns falsely inside
// std::regex under the sanitizer build's -O1 -Werror.
std::string attribute(const std::string& tag, const std::string& name) {
  const std::string key = " " + name + "=\"";
  const size_t at = tag.find(key);
  if (at == std::string::npos) return "";
  const size_t begin = at + key.size();
  return tag.substr(begin, tag.find('"', begin) - begin);
}

// Every tag that starts with `start`, up to its '>'.
std::vector<std::string> tags(const std::string& svg, const std::string& start) {
  std::vector<std::string> out;
  for (size_t i = svg.find(start); i != std::string::npos; i = svg.find(start, i + 1))
    out.push_back(svg.substr(i, svg.find('>', i) - i));
  return out;
}

std::vector<Rect> plot_areas(const std::string& svg) {
  std::vector<Rect> out;
  for (const std::string& t : tags(svg, "<rect class=\"plot-area\""))
    out.push_back({std::stod(attribute(t, "x")), std::stod(attribute(t, "y")),
                   std::stod(attribute(t, "width")), std::stod(attribute(t, "height"))});
  return out;
}

// Every polyline of the series called `name`, as lists of (x, y) pixel coordinates.
std::vector<std::vector<std::pair<double, double>>> polylines(const std::string& svg,
                                                              const std::string& name) {
  std::vector<std::vector<std::pair<double, double>>> out;
  for (const std::string& t : tags(svg, "<polyline class=\"series\"")) {
    if (attribute(t, "data-name") != name) continue;
    std::vector<std::pair<double, double>> pts;
    std::string points = attribute(t, "points");
    std::replace(points.begin(), points.end(), ',', ' ');
    std::istringstream in(points);
    double x, y;
    while (in >> x >> y) pts.push_back({x, y});
    out.push_back(pts);
  }
  return out;
}

}  // namespace

TEST_CASE("figures: a line plot is well-formed and maps a hand-picked point onto its axes") {
  tint::figures::LinePlot plot;
  plot.title = "loss";
  plot.x_label = "step";
  plot.y_label = "masked L2";
  plot.x_lo = 0, plot.x_hi = 10, plot.y_lo = 0, plot.y_hi = 100;
  plot.series = {Series{"train", "#1f77b4", {0, 5, 10}, {0, 25, 100}},
                 Series{"validation", "#ff7f0e", {2, 8}, {60, 40}, true}};
  const std::string svg = tint::figures::line_plot_svg(plot);
  std::string why;
  const bool ok = well_formed(svg, why);
  INFO(why);
  REQUIRE(ok);
  const auto areas = plot_areas(svg);
  REQUIRE(areas.size() == 1);
  const Rect r = areas[0];
  const auto train = polylines(svg, "train");
  REQUIRE(train.size() == 1);
  REQUIRE(train[0].size() == 3);
  // (5, 25): half way along x, a quarter of the way up from the bottom.
  CHECK(train[0][1].first == Approx(r.x + 0.5 * r.w).margin(0.006));
  CHECK(train[0][1].second == Approx(r.y + r.h - 0.25 * r.h).margin(0.006));
  CHECK(train[0][0].second == Approx(r.y + r.h).margin(0.006));  // y = 0 at the bottom
  CHECK(train[0][2].first == Approx(r.x + r.w).margin(0.006));   // x = 10 at the right edge
  const auto val = polylines(svg, "validation");
  REQUIRE(val.size() == 1);
  CHECK(val[0][0].first == Approx(r.x + 0.2 * r.w).margin(0.006));
  CHECK(val[0][0].second == Approx(r.y + r.h - 0.6 * r.h).margin(0.006));
  // The dashed series is dashed, both are in the legend, and the labels are there.
  CHECK(svg.find("data-name=\"validation\" stroke=\"#ff7f0e\" stroke-dasharray") != std::string::npos);
  CHECK(svg.find(">train</text>") != std::string::npos);
  CHECK(svg.find(">validation</text>") != std::string::npos);
  CHECK(svg.find(">step</text>") != std::string::npos);
  CHECK(svg.find(">masked L2</text>") != std::string::npos);
  CHECK(svg.find(">loss</text>") != std::string::npos);
}

TEST_CASE("figures: a log axis maps decades evenly") {
  tint::figures::LinePlot plot;
  plot.log_y = true;
  plot.x_lo = 0, plot.x_hi = 4, plot.y_lo = 0.01, plot.y_hi = 1;
  plot.series = {Series{"loss", "black", {0, 1, 2, 3}, {1, 0.1, 0.0, 0.01}}};  // 0 cannot be drawn: a break
  const std::string svg = tint::figures::line_plot_svg(plot);
  std::string why;
  REQUIRE(well_formed(svg, why));
  const Rect r = plot_areas(svg).at(0);
  const auto lines = polylines(svg, "loss");
  REQUIRE(lines.size() == 2);
  CHECK(lines[0][1].second == Approx(r.y + 0.5 * r.h).margin(0.006));  // 0.1 is half way between 0.01 and 1
  CHECK(lines[1][0].second == Approx(r.y + r.h).margin(0.006));        // 0.01 at the bottom
  CHECK(lines[1][0].first == Approx(r.x + 0.75 * r.w).margin(0.006));
}

TEST_CASE("figures: ranges from the data widen to round ticks, breaks at missing values") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  tint::figures::LinePlot plot;
  plot.series = {Series{"train", "black", {0, 100, 200, 300}, {0.93, 0.41, nan, 0.22}}};
  const std::string svg = tint::figures::line_plot_svg(plot);
  std::string why;
  REQUIRE(well_formed(svg, why));
  CHECK(polylines(svg, "train").size() == 2);
  // x: 0..300 in steps of 50; y: 0.2..1.0 in steps of 0.1 (0.93 rounds up to 1.0, 0.22 down to 0.2).
  CHECK(svg.find(">300</text>") != std::string::npos);
  CHECK(svg.find(">0.2</text>") != std::string::npos);
  CHECK(svg.find(">1.0</text>") != std::string::npos);
  const Rect r = plot_areas(svg).at(0);
  const auto pts = polylines(svg, "train")[0];
  CHECK(pts[0].second == Approx(r.y + r.h - (0.93 - 0.2) / 0.8 * r.h).margin(0.006));
}

TEST_CASE("figures: degenerate ranges still give a plot") {
  std::string why;
  for (const Series& s :
       {Series{"one point", "black", {3}, {0.5}}, Series{"flat", "black", {0, 1}, {2, 2}},
        Series{"empty", "black", {}, {}}, Series{"below resolution", "black", {0, 1}, {1e17, 1e17 + 16}}}) {
    tint::figures::LinePlot plot;
    plot.series = {s};
    const std::string svg = tint::figures::line_plot_svg(plot);
    CHECK(well_formed(svg, why));
    CHECK(svg.find("nan") == std::string::npos);
  }
}

TEST_CASE("figures: names are escaped, mismatched series are an error") {
  tint::figures::LinePlot plot;
  plot.title = "a < b & \"c\"";
  plot.series = {Series{"x<y", "red", {0, 1}, {0, 1}}};
  const std::string svg = tint::figures::line_plot_svg(plot);
  std::string why;
  CHECK(well_formed(svg, why));
  CHECK(svg.find("a &lt; b &amp; &quot;c&quot;") != std::string::npos);
  CHECK(svg.find("data-name=\"x&lt;y\"") != std::string::npos);
  plot.series[0].ys.pop_back();
  CHECK_THROWS_WITH(tint::figures::line_plot_svg(plot),
                    Catch::Contains("'x<y'") && Catch::Contains("2 x values"));
}

TEST_CASE("figures: the a/b histogram figure has two panels, every series, x from -128 to 127") {
  tint::figures::HistogramSeries truth{"truth", "black", "black", {}, {}, false};
  tint::figures::HistogramSeries pred{"prediction", "green", "blue", {}, {}, false};
  tint::figures::HistogramSeries grey{"grey baseline", "#999", "#999", {}, {}, true};
  // The solid series peak at 0.5, under the dashed spike at 1: only they may set the y range.
  truth.a[128] = 0.5, truth.a[138] = 0.5;  // a = 0 and a = 10
  truth.b[100] = 0.5, truth.b[101] = 0.5;  // b = -28 and -27
  pred.a[128] = 0.5, pred.a[0] = 0.5;
  pred.b[128] = 0.5, pred.b[129] = 0.5;
  grey.a[128] = 1.0, grey.b[128] = 1.0;
  const std::string svg = tint::figures::ab_histogram_svg("HI a 0.5", {truth, pred, grey});
  std::string why;
  const bool ok = well_formed(svg, why);
  INFO(why);
  REQUIRE(ok);
  const auto areas = plot_areas(svg);
  REQUIRE(areas.size() == 2);
  for (const char* name : {"truth", "prediction", "grey baseline"}) CHECK(polylines(svg, name).size() == 2);
  CHECK(svg.find("stroke=\"green\"") != std::string::npos);
  CHECK(svg.find("stroke=\"blue\"") != std::string::npos);
  const Rect a = areas[0];
  const auto truth_a = polylines(svg, "truth")[0];
  REQUIRE(truth_a.size() == 256);
  CHECK(truth_a.front().first == Approx(a.x).margin(0.006));                   // bin -128 at the left edge
  CHECK(truth_a.back().first == Approx(a.x + a.w).margin(0.006));              // bin 127 at the right edge
  CHECK(truth_a[138].first == Approx(a.x + 138.0 / 255 * a.w).margin(0.006));  // a = 10
  CHECK(truth_a[0].second == Approx(a.y + a.h).margin(0.006));                 // 0 at the bottom
  // The peak of 0.5 fills most of the height: the dashed spike at 1 did not set the scale.
  const double peak = (a.y + a.h - truth_a[138].second) / a.h;
  CHECK(peak > 0.7);
  CHECK(peak <= 1.0);
  // Panel b: the truth's b = -28 in the second panel.
  const Rect b = areas[1];
  const auto truth_b = polylines(svg, "truth")[1];
  CHECK(truth_b[100].first == Approx(b.x + 100.0 / 255 * b.w).margin(0.006));
  CHECK(truth_b[100].second == Approx(truth_a[138].second).margin(0.006));  // same scale in both panels
}

TEST_CASE("figures: the example grid is written as a PNG of the composed cells") {
  auto solid = [](int w, int h, uint8_t r, uint8_t g, uint8_t b) {
    tint::Image img;
    img.width = w, img.height = h;
    for (int i = 0; i < w * h; ++i) img.rgb.insert(img.rgb.end(), {r, g, b});
    return img;
  };
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("tint_figures_" + std::to_string(getpid()))).string();
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/grid.png";
  tint::figures::write_image_grid(
      path, {{solid(4, 3, 255, 0, 0), solid(4, 3, 0, 0, 255)}, {solid(4, 3, 0, 255, 0)}});
  const tint::Image back = tint::load_image(path);
  CHECK(back.width == 4 + 4 + 4);   // two cells and the gap of 4
  CHECK(back.height == 3 + 4 + 3);  // two rows and the gap
  auto px = [&](int x, int y, int c) { return int(back.rgb[size_t((y * back.width + x) * 3 + c)]); };
  CHECK((px(0, 0, 0) == 255 && px(0, 0, 1) == 0 && px(0, 0, 2) == 0));
  CHECK((px(8, 2, 0) == 0 && px(8, 2, 2) == 255));    // the blue cell, after the gap
  CHECK((px(5, 1, 0) == 255 && px(5, 1, 1) == 255));  // the gap is white
  CHECK((px(1, 8, 1) == 255 && px(1, 8, 0) == 0));    // the green cell of the second row
  // An unwritable path is an error naming it.
  std::ofstream(dir + "/file") << "x";
  CHECK_THROWS_WITH(tint::figures::write_svg(dir + "/file/x.svg", "<svg/>"),
                    Catch::Contains(dir + "/file/x.svg"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("a padded sample becomes the picture of its real pixels only", "[figures][grid]") {
  // A 4 x 4 sample whose photo is 3 wide and 2 high at the top-left; the padding holds NaN, which would
  // show if it were read. Real pixels: white (L 100) with no colour, and one sRGB red (L 53.24, a 80.09,
  // b 67.20, DESIGN.md's reference values).
  const int s = 4;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> L(s * s, nan), a(s * s, nan), b(s * s, nan), mask(s * s, 0.f);
  for (int y = 0; y < 2; ++y)
    for (int x = 0; x < 3; ++x) {
      const int i = y * s + x;
      mask[i] = 1.f, L[i] = 1.f, a[i] = 0.f, b[i] = 0.f;
    }
  L[s + 2] = 53.24f / 50 - 1, a[s + 2] = 80.09f / 110, b[s + 2] = 67.20f / 110;
  tint::Image img = tint::padded_sample_to_image(L.data(), a.data(), b.data(), mask.data(), s);
  REQUIRE(img.width == 3);
  REQUIRE(img.height == 2);
  auto px = [&](int x, int y, int c) { return int(img.rgb[size_t((y * img.width + x) * 3 + c)]); };
  for (int c = 0; c < 3; ++c) CHECK(px(0, 0, c) == 255);
  CHECK(px(2, 1, 0) >= 254);
  CHECK(px(2, 1, 1) <= 1);
  CHECK(px(2, 1, 2) <= 1);
  // Without a and b the same sample is grey: the red pixel keeps its lightness and loses its colour.
  tint::Image grey = tint::padded_sample_to_image(L.data(), nullptr, nullptr, mask.data(), s);
  REQUIRE(grey.width == 3);
  const uint8_t* g = &grey.rgb[size_t((1 * 3 + 2) * 3)];
  CHECK((g[0] == g[1] && g[1] == g[2]));
  CHECK(std::abs(int(g[0]) - 127) <= 2);  // L 53.24 is sRGB grey 127
}
