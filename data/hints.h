// Colour hints (user-guided colorization, Zhang, Zhu et al. 2017, "Real-Time User-Guided Image Colorization
// with Learned Deep Priors"): the network's input becomes L plus a hint map, the ab of the hinted pixels
// (scaled like the targets, /110) and a mask channel, 1 where a hint is given and 0 elsewhere.
//
// Training simulates a user: each image gets a geometric number of points (p = 1/8: 8 on average), none at
// all in kNoHintFraction of the images so the model also colorizes on its own. Each point is a square patch
// of side 1..9 (uniform) placed uniformly over the real (unpadded) pixels, given the mean true ab of the
// patch's real pixels. Every draw comes from a generator seeded by (seed, epoch, sample), so a resumed run,
// and any worker count, sees the same hints.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tint::hints {

constexpr double kNoHintFraction = 0.125;
constexpr double kGeometricP = 0.125;
constexpr int kMaxPoints = 200;  // the geometric draw is capped (P(more) = 0.875^200, ~3e-12)
constexpr int kMaxPatch = 9;

// One S x S image's hint planes, from its scaled ab (2, S*S: a then b) and mask (S*S; 1 on real pixels):
// hint (3, S*S) = a, b, mask of the hints. `points` < 0: the training draw (none in kNoHintFraction, else
// geometric); >= 0: exactly that many points (eval's sweep). Deterministic in (seed, epoch, sample).
void simulate(uint64_t seed, int64_t epoch, int64_t sample, const float* ab, const float* mask, int size,
              int points, float* hint);

// A hint a person gives: the ab (Lab units) over a disc of `radius` pixels around (x, y), in the original
// image's pixels.
struct Point {
  double x = 0, y = 0, radius = 0;
  double a = 0, b = 0;
};

// Reads hints from a file: a JSON list of points
//   [{"x": 120, "y": 40, "radius": 6, "colour": "#d03020"}, {"x": 10, "y": 5, "lab": [50, 20, -30]}, ...]
// ("color" is accepted for "colour"; radius defaults to 3), or a PNG where every pixel that is not fully
// transparent is a hint of its colour (strokes on a transparent canvas; it must be the photo's size, checked
// by the caller). Throws naming the file and what is wrong.
struct HintFile {
  std::vector<Point> points;   // JSON
  int width = 0, height = 0;   // PNG: its size, and the hints per pixel
  std::vector<float> a, b;     // PNG: Lab a, b per pixel
  std::vector<uint8_t> given;  // PNG: 1 where a hint is given
};
HintFile read_hint_file(const std::string& path);

// Renders hints given on the original (width x height) image onto the network's S x S canvas, where the image
// occupies the top-left real_width x real_height (pad placement): hint (3, S*S) as in `simulate`.
void render(const HintFile& file, int width, int height, int size, int real_width, int real_height,
            float* hint);

}  // namespace tint::hints
