#include "tools/figures.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "data/grid.h"
#include "engine/error.h"

namespace tint::figures {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

struct Box {
  double x, y, w, h;
};

// 1, 2 or 5 times a power of ten, close to `rough`.
double nice_step(double rough) {
  const double p = std::pow(10.0, std::floor(std::log10(rough)));
  const double m = rough / p;
  return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

// Tick labels with as many decimals as the step needs, so 0.1 + 0.2 prints as 0.3.
std::string tick_label(double v, double step) {
  if (std::abs(v) < step * 1e-9) v = 0;
  if (std::abs(v) >= 1e6 || (v != 0 && std::abs(v) < 1e-4)) return fmt::format("{:g}", v);
  const int decimals = std::max(0, int(std::ceil(-std::log10(step) - 1e-9)));
  return fmt::format("{:.{}f}", v, decimals);
}

struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  std::vector<double> ticks;
  std::vector<std::string> labels;
  double step = 1;  // linear axes: distance between ticks

  double unit(double v) const {  // 0 at lo, 1 at hi
    if (log) return (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo));
    return (v - lo) / (hi - lo);
  }
};

Axis linear_axis(double lo, double hi, bool fixed) {
  Axis a;
  if (!(lo < hi)) {  // one value, or none
    const double c = std::isfinite(lo) ? lo : 0;
    const double half = c == 0 ? 1 : std::abs(c) * 0.1;
    lo = c - half, hi = c + half;
  }
  a.step = nice_step((hi - lo) / 5);
  if (!fixed) {
    lo = std::floor(lo / a.step + 1e-9) * a.step;
    hi = std::ceil(hi / a.step - 1e-9) * a.step;
  }
  a.lo = lo, a.hi = hi;
  // Ticks by index, not by repeated addition: a step below the values' resolution must not loop forever.
  const double first = std::ceil(lo / a.step - 1e-9) * a.step;
  for (int i = 0; i < 64; ++i) {
    const double t = first + i * a.step;
    if (!(t <= hi + a.step * 1e-9)) break;
    a.ticks.push_back(t);
    a.labels.push_back(tick_label(t, a.step));
  }
  return a;
}

Axis log_axis(double lo, double hi, bool fixed) {
  Axis a;
  a.log = true;
  if (!(lo > 0 && lo < hi)) {
    lo = lo > 0 ? lo / 10 : 0.1;
    hi = std::max(hi, lo * 100);
  }
  if (!fixed) {
    lo = std::pow(10.0, std::floor(std::log10(lo) + 1e-9));
    hi = std::pow(10.0, std::ceil(std::log10(hi) - 1e-9));
  }
  a.lo = lo, a.hi = hi;
  const int d0 = int(std::floor(std::log10(lo) + 1e-9)), d1 = int(std::ceil(std::log10(hi) - 1e-9));
  // Few decades: 1, 2, 5 in each, so the axis is readable; many: decades only.
  const std::vector<double> mantissas = d1 - d0 <= 2 ? std::vector<double>{1, 2, 5} : std::vector<double>{1};
  for (int d = d0; d <= d1; ++d) {
    for (double m : mantissas) {
      const double t = m * std::pow(10.0, d);
      if (t < lo * (1 - 1e-9) || t > hi * (1 + 1e-9)) continue;
      a.ticks.push_back(t);
      a.labels.push_back(fmt::format("{:g}", t));
    }
  }
  return a;
}

struct Panel {
  Box box;  // the plot area
  std::string title, x_label, y_label;
  const std::vector<Series>* series;
  Axis x, y;
};

void draw_text(std::string& svg, double x, double y, const std::string& text, const char* anchor, int size,
               const std::string& extra = "") {
  svg += fmt::format("<text x=\"{:.2f}\" y=\"{:.2f}\" text-anchor=\"{}\" font-size=\"{}\"{}>{}</text>\n", x,
                     y, anchor, size, extra, escape(text));
}

void draw_panel(std::string& svg, const Panel& p, int clip_id) {
  const Box& b = p.box;
  auto px = [&](double v) { return b.x + p.x.unit(v) * b.w; };
  auto py = [&](double v) { return b.y + b.h - p.y.unit(v) * b.h; };
  svg += fmt::format(
      "<clipPath id=\"clip{}\"><rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\"/>"
      "</clipPath>\n",
      clip_id, b.x, b.y, b.w, b.h);
  // Grid lines and ticks.
  svg += "<g class=\"grid\" stroke=\"#e6e6e6\" stroke-width=\"1\">\n";
  for (double t : p.x.ticks)
    svg += fmt::format("<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{0:.2f}\" y2=\"{2:.2f}\"/>\n", px(t), b.y,
                       b.y + b.h);
  for (double t : p.y.ticks)
    svg += fmt::format("<line x1=\"{1:.2f}\" y1=\"{0:.2f}\" x2=\"{2:.2f}\" y2=\"{0:.2f}\"/>\n", py(t), b.x,
                       b.x + b.w);
  svg += "</g>\n<g class=\"ticks\" stroke=\"#333\" stroke-width=\"1\">\n";
  for (double t : p.x.ticks)
    svg += fmt::format("<line x1=\"{0:.2f}\" y1=\"{1:.2f}\" x2=\"{0:.2f}\" y2=\"{2:.2f}\"/>\n", px(t),
                       b.y + b.h, b.y + b.h + 5);
  for (double t : p.y.ticks)
    svg += fmt::format("<line x1=\"{1:.2f}\" y1=\"{0:.2f}\" x2=\"{2:.2f}\" y2=\"{0:.2f}\"/>\n", py(t),
                       b.x - 5, b.x);
  svg += "</g>\n<g class=\"tick-labels\" fill=\"#333\">\n";
  for (size_t i = 0; i < p.x.ticks.size(); ++i)
    draw_text(svg, px(p.x.ticks[i]), b.y + b.h + 19, p.x.labels[i], "middle", 12);
  for (size_t i = 0; i < p.y.ticks.size(); ++i)
    draw_text(svg, b.x - 8, py(p.y.ticks[i]) + 4, p.y.labels[i], "end", 12);
  svg += "</g>\n";
  // Labels and title.
  draw_text(svg, b.x + b.w / 2, b.y + b.h + 40, p.x_label, "middle", 13);
  const double ly = b.y + b.h / 2, lx = b.x - 58;
  draw_text(svg, lx, ly, p.y_label, "middle", 13,
            fmt::format(" transform=\"rotate(-90 {:.2f} {:.2f})\"", lx, ly));
  draw_text(svg, b.x + b.w / 2, b.y - 10, p.title, "middle", 15, " font-weight=\"bold\"");

  // The data, one polyline per unbroken stretch, clipped to the plot area.
  svg += fmt::format(
      "<g class=\"data\" clip-path=\"url(#clip{})\" fill=\"none\" stroke-width=\"1.6\" "
      "stroke-linejoin=\"round\">\n",
      clip_id);
  for (const Series& s : *p.series) {
    TINT_CHECK(s.xs.size() == s.ys.size(), "figure '{}': series '{}' has {} x values but {} y values",
               p.title, s.name, s.xs.size(), s.ys.size());
    std::string points;
    auto flush = [&] {
      if (points.empty()) return;
      svg +=
          fmt::format("<polyline class=\"series\" data-name=\"{}\" stroke=\"{}\"{} points=\"{}\"/>\n",
                      escape(s.name), escape(s.colour), s.dashed ? " stroke-dasharray=\"6 4\"" : "", points);
      points.clear();
    };
    for (size_t i = 0; i < s.xs.size(); ++i) {
      const double x = s.xs[i], y = s.ys[i];
      if (!std::isfinite(x) || !std::isfinite(y) || (p.y.log && y <= 0)) {
        flush();
        continue;
      }
      // Far outside values are pinned a little beyond the frame, so the clip hides them and no renderer sees
      // coordinates in the billions.
      const double X = std::clamp(px(x), b.x - b.w, b.x + 2 * b.w),
                   Y = std::clamp(py(y), b.y - b.h, b.y + 2 * b.h);
      points += fmt::format("{}{:.2f},{:.2f}", points.empty() ? "" : " ", X, Y);
    }
    flush();
  }
  svg += "</g>\n";
  svg += fmt::format(
      "<rect class=\"plot-area\" x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" "
      "fill=\"none\" stroke=\"#333\" stroke-width=\"1\"/>\n",
      b.x, b.y, b.w, b.h);
}

// The legend: a white box in the plot area's top-right corner, one short line and name per series.
void draw_legend(std::string& svg, const Box& b,
                 const std::vector<std::pair<std::string, std::pair<std::string, bool>>>& entries) {
  if (entries.empty()) return;
  size_t longest = 0;
  for (auto& e : entries) longest = std::max(longest, e.first.size());
  const double w = 38 + 6.6 * double(longest), h = 8 + 17.0 * double(entries.size());
  const double x = b.x + b.w - w - 8, y = b.y + 8;
  svg += "<g class=\"legend\">\n";
  svg += fmt::format(
      "<rect x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" fill=\"white\" "
      "fill-opacity=\"0.9\" stroke=\"#bbb\"/>\n",
      x, y, w, h);
  for (size_t i = 0; i < entries.size(); ++i) {
    const double ey = y + 13 + 17.0 * double(i);
    svg += fmt::format(
        "<line x1=\"{:.2f}\" y1=\"{:.2f}\" x2=\"{:.2f}\" y2=\"{:.2f}\" stroke=\"{}\" "
        "stroke-width=\"2\"{}/>\n",
        x + 6, ey - 4, x + 28, ey - 4, escape(entries[i].second.first),
        entries[i].second.second ? " stroke-dasharray=\"6 4\"" : "");
    draw_text(svg, x + 33, ey, entries[i].first, "start", 12);
  }
  svg += "</g>\n";
}

std::string svg_open(double width, double height) {
  return fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      width, height);
}

// The range of the finite values of the series (positive ones on a log axis); `only_solid` skips dashed ones.
void data_range(const std::vector<Series>& series, bool x, bool log, bool only_solid, double& lo,
                double& hi) {
  lo = kInf, hi = -kInf;
  for (const Series& s : series) {
    if (only_solid && s.dashed) continue;
    for (size_t i = 0; i < s.xs.size() && i < s.ys.size(); ++i) {
      const double xv = s.xs[i], yv = s.ys[i];
      if (!std::isfinite(xv) || !std::isfinite(yv) || (log && yv <= 0)) continue;
      const double v = x ? xv : yv;
      lo = std::min(lo, v), hi = std::max(hi, v);
    }
  }
}

}  // namespace

std::string line_plot_svg(const LinePlot& plot) {
  const double width = 760, height = 460;
  Panel p;
  p.box = {84, 40, width - 84 - 24, height - 40 - 62};
  p.title = plot.title, p.x_label = plot.x_label, p.y_label = plot.y_label;
  p.series = &plot.series;
  double lo, hi;
  if (plot.x_lo < plot.x_hi) {
    p.x = linear_axis(plot.x_lo, plot.x_hi, true);
  } else {
    data_range(plot.series, true, plot.log_y, false, lo, hi);
    p.x = linear_axis(lo, hi, false);
  }
  if (plot.y_lo < plot.y_hi) {
    p.y = plot.log_y ? log_axis(plot.y_lo, plot.y_hi, true) : linear_axis(plot.y_lo, plot.y_hi, true);
  } else {
    data_range(plot.series, false, plot.log_y, false, lo, hi);
    p.y = plot.log_y ? log_axis(lo, hi, false) : linear_axis(lo, hi, false);
  }
  std::string svg = svg_open(width, height);
  draw_panel(svg, p, 0);
  std::vector<std::pair<std::string, std::pair<std::string, bool>>> legend;
  for (const Series& s : plot.series) legend.push_back({s.name, {s.colour, s.dashed}});
  draw_legend(svg, p.box, legend);
  svg += "</svg>\n";
  return svg;
}

void write_svg(const std::string& path, const std::string& svg) {
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  TINT_CHECK(f.good(), "cannot write the figure '{}'", path);
  f << svg;
  f.close();
  TINT_CHECK(f.good(), "writing the figure '{}' failed (disk full?)", path);
}

void write_line_plot_svg(const std::string& path, const std::string& title, const std::string& x_label,
                         const std::string& y_label, const std::vector<Series>& series, bool log_y) {
  LinePlot plot;
  plot.title = title, plot.x_label = x_label, plot.y_label = y_label;
  plot.series = series;
  plot.log_y = log_y;
  write_svg(path, line_plot_svg(plot));
}

std::string ab_histogram_svg(const std::string& title, const std::vector<HistogramSeries>& series) {
  const double width = 1100, height = 470, top = 70, panel_w = 440;
  // Series per panel, x = each bin's value.
  std::vector<Series> per_panel[2];
  for (const HistogramSeries& h : series) {
    for (int c = 0; c < 2; ++c) {
      Series s{h.name, c == 0 ? h.colour_a : h.colour_b, {}, {}, h.dashed};
      const auto& values = c == 0 ? h.a : h.b;
      for (int k = 0; k < 256; ++k) {
        s.xs.push_back(k - 128);
        s.ys.push_back(values[size_t(k)]);
      }
      per_panel[c].push_back(std::move(s));
    }
  }
  double lo, hi = 0;
  for (int c = 0; c < 2; ++c) {
    double l, h;
    data_range(per_panel[c], false, false, true, l, h);
    if (std::isfinite(h)) hi = std::max(hi, h);
  }
  if (!(hi > 0)) hi = 1;
  lo = 0;
  std::string svg = svg_open(width, height);
  draw_text(svg, width / 2, 28, title, "middle", 17, " font-weight=\"bold\"");
  const char* names[2] = {"a", "b"};
  for (int c = 0; c < 2; ++c) {
    Panel p;
    p.box = {90 + c * (panel_w + 110), top, panel_w, height - top - 62};
    p.title = fmt::format("{} channel", names[c]);
    p.x_label = fmt::format("{} (Lab units, bins of width 1)", names[c]);
    p.y_label = "fraction of pixels";
    p.series = &per_panel[c];
    p.x = linear_axis(-128, 127, true);
    // Both panels on one y scale, so their heights compare.
    p.y = linear_axis(lo, hi * 1.05, false);
    draw_panel(svg, p, c);
    std::vector<std::pair<std::string, std::pair<std::string, bool>>> legend;
    for (const Series& s : per_panel[c]) legend.push_back({s.name, {s.colour, s.dashed}});
    draw_legend(svg, p.box, legend);
  }
  svg += "</svg>\n";
  return svg;
}

void write_image_grid(const std::string& path, const std::vector<std::vector<Image>>& rows, int cell_height) {
  save_image(compose_grid(rows, cell_height), path);
}

}  // namespace tint::figures
