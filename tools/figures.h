// Figures written by tint itself, with no plotting library and no Python: SVG line plots (training's loss
// curves, the evaluation's a/b histograms) and PNG grids of example photos.
//
// The SVGs are plain SVG 1.1 that browsers, GitHub's Markdown view and rsvg-convert show alike: a white
// background, a framed plot area (<rect class="plot-area">), ticks and labels on both axes, a legend, and one
// <polyline class="series"> per unbroken stretch of a series (data-name says which). Values map linearly
// (or by log10) from the axis range onto the plot area, y growing upwards.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "data/image.h"

namespace tint::figures {

struct Series {
  std::string name;    // shown in the legend
  std::string colour;  // any SVG colour: "black", "#1f77b4"
  std::vector<double> xs,
      ys;  // the same length; a non-finite point (or y <= 0 on a log axis) breaks the line
  bool dashed = false;
};

// One plot with everything it can be told. Where lo == hi an axis range comes from the data, widened to the
// nearest round ticks (decades on a log axis).
struct LinePlot {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  bool log_y = false;
  double x_lo = 0, x_hi = 0;
  double y_lo = 0, y_hi = 0;
};

std::string line_plot_svg(const LinePlot& plot);
void write_svg(const std::string& path, const std::string& svg);  // throws naming the path

// The common case in one call, for loss curves: for example series "train" and "validation", loss against
// step, log_y when the loss spans decades.
void write_line_plot_svg(const std::string& path, const std::string& title, const std::string& x_label,
                         const std::string& y_label, const std::vector<Series>& series, bool log_y = false);

// The seed's histogram figure: two panels, a and b, bins -128..127 in Lab units on x and the fraction of
// pixels on y. The y range fits the series that are not dashed; dashed ones (the baselines, whose histograms
// are single spikes) are drawn over it and clipped at the top.
struct HistogramSeries {
  std::string name;
  std::string colour_a, colour_b;    // truth: black in both; a prediction: green in a, blue in b
  std::array<double, 256> a{}, b{};  // bin k holds the value k - 128, normalised to sum 1
  bool dashed = false;
};
std::string ab_histogram_svg(const std::string& title, const std::vector<HistogramSeries>& series);

// A PNG (or JPEG, by extension) of example rows such as grey | prediction | truth, through compose_grid.
void write_image_grid(const std::string& path, const std::vector<std::vector<Image>>& rows,
                      int cell_height = 0);

}  // namespace tint::figures
