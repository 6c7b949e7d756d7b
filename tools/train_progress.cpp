#include "tools/train_progress.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace tint::cli {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const int64_t s = int64_t(std::llround(seconds));
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
}

std::string progress_line(int64_t epoch, int64_t epochs, int64_t done, int64_t total, double loss,
                          double images_per_second, int width) {
  total = std::max<int64_t>(total, 1);
  done = std::clamp<int64_t>(done, 0, total);
  const int filled = int(done * width / total);
  const double eta = images_per_second > 0 ? double(total - done) / images_per_second : -1;
  return fmt::format("epoch {}{} [{}{}] {}/{} loss {:.5f} {:.1f} img/s ETA {}", epoch + 1,
                     epochs > 0 ? fmt::format("/{}", epochs) : std::string(),
                     std::string(size_t(filled), '#'), std::string(size_t(width - filled), ' '), done, total,
                     loss, images_per_second, format_duration(eta));
}

void Progress::step(int64_t step, int64_t epoch, int64_t images, int64_t epoch_images, double running_loss,
                    bool last_in_epoch, double images_per_second) {
  if (terminal_) {
    // \r and erase-to-end redraw the same line; the epoch's last redraw stays.
    std::fputs(("\r\x1b[K" + progress_line(epoch, epochs_, last_in_epoch ? epoch_images : images,
                                           epoch_images, running_loss, images_per_second))
                   .c_str(),
               stdout);
    open_line_ = true;
    if (last_in_epoch) finish_line();
  } else if (step % log_every_ == 0 || last_in_epoch) {
    std::fputs(fmt::format("epoch {:3d} step {:6d}  loss {:.5f}  {:.1f} img/s\n", epoch + 1, step,
                           running_loss, images_per_second)
                   .c_str(),
               stdout);
  }
  std::fflush(stdout);
}

void Progress::finish_line() {
  if (open_line_) std::fputs("\n", stdout);
  open_line_ = false;
  std::fflush(stdout);
}

}  // namespace tint::cli
