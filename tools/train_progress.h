// What `tint train` shows while it runs. On a terminal: one progress bar per epoch, redrawn in place,
//   epoch 3/10 [#########               ] 120/404 loss 0.01230 5.1 img/s ETA 1m20s
// and left on screen when the epoch ends. Elsewhere (a pipe, a log file): a plain line every N steps.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace tint::cli {

// "1m20s", "2h03m", "45s"; "?" before anything was measured.
std::string format_duration(double seconds);

// The bar's text for `done` of `total` images; `epochs` 0 leaves out the "/N".
std::string progress_line(int64_t epoch, int64_t epochs, int64_t done, int64_t total, double loss,
                          double images_per_second, int width = 30);

class Progress {
 public:
  Progress(bool terminal, int log_every, int64_t epochs)
      : terminal_(terminal), log_every_(log_every), epochs_(epochs) {}
  bool terminal() const { return terminal_; }
  // After each step: `images` trained in this epoch so far out of `epoch_images`, the step's loss.
  void step(int64_t step, int64_t epoch, int64_t images, int64_t epoch_images, double running_loss,
            bool last_in_epoch, double images_per_second);
  // Ends the bar's line before anything else is printed.
  void finish_line();

 private:
  bool terminal_;
  int log_every_;
  int64_t epochs_;
  bool open_line_ = false;
};

}  // namespace tint::cli
