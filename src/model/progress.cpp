#include "model/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>

namespace recur::detail {

namespace {

// Keras prints metric values with 4 decimals, switching to exponent form when tiny.
std::string metric(float value) {
    char buf[32];
    std::snprintf(buf, sizeof buf, value != 0.0f && std::abs(value) < 1e-3f ? "%.4e" : "%.4f", value);
    return buf;
}

// "3ms", "120us", "2s"
std::string duration(double seconds) {
    char buf[32];
    if (seconds >= 1.0) std::snprintf(buf, sizeof buf, "%.0fs", seconds);
    else if (seconds >= 1e-3) std::snprintf(buf, sizeof buf, "%.0fms", seconds * 1e3);
    else std::snprintf(buf, sizeof buf, "%.0fus", seconds * 1e6);
    return buf;
}

}  // namespace

Progress::Progress(std::ostream& os, int verbose, std::size_t epochs, std::size_t steps)
    : os_(os), verbose_(verbose), epochs_(epochs), steps_(steps),
      dynamic_(&os == &std::cout && isatty(STDOUT_FILENO)) {}

void Progress::begin_epoch(std::size_t epoch) {
    if (verbose_ > 0) os_ << "Epoch " << epoch << '/' << epochs_ << '\n' << std::flush;
    epoch_start_ = last_draw_ = Clock::now();
}

void Progress::step_done(std::size_t step, float mean_loss) {
    if (verbose_ != 1 || !dynamic_ || step == steps_) return;
    const auto now = Clock::now();
    if (now - last_draw_ < std::chrono::milliseconds(50)) return;
    last_draw_ = now;
    draw_bar(step, mean_loss, false);
}

void Progress::draw_bar(std::size_t step, float mean_loss, bool final_line) {
    const std::string count = std::to_string(steps_);
    std::string line = std::string(count.size() - std::to_string(step).size(), ' ') + std::to_string(step) + '/' + count;
    constexpr std::size_t width = 30;
    const std::size_t filled = width * step / steps_;
    std::string bar(width, '.');
    for (std::size_t i = 0; i < filled; ++i) bar[i] = '=';
    if (filled < width && filled > 0) bar[filled - 1] = '>';
    if (filled < width && filled == 0) bar[0] = '>';
    line += " [" + bar + "]";
    const double elapsed = std::chrono::duration<double>(Clock::now() - epoch_start_).count();
    if (final_line) {
        line += " - " + std::to_string(static_cast<long>(elapsed)) + "s " + duration(elapsed / steps_) + "/step";
    } else {
        line += " - ETA: " + std::to_string(static_cast<long>(elapsed / step * (steps_ - step))) + "s";
        line += " - loss: " + metric(mean_loss);
    }
    if (dynamic_) os_ << '\r';
    os_ << line << std::flush;
}

void Progress::end_epoch(float loss, std::optional<float> val_loss) {
    if (verbose_ == 0) return;
    const double elapsed = std::chrono::duration<double>(Clock::now() - epoch_start_).count();
    std::string metrics = " - loss: " + metric(loss);
    if (val_loss) metrics += " - val_loss: " + metric(*val_loss);
    if (verbose_ == 1) {
        draw_bar(steps_, loss, true);
        os_ << metrics << (dynamic_ ? "\x1b[K" : "") << '\n' << std::flush;
    } else {
        os_ << steps_ << '/' << steps_ << " - " << static_cast<long>(elapsed) << 's' << metrics << " - "
            << duration(elapsed) << "/epoch - " << duration(elapsed / steps_) << "/step\n"
            << std::flush;
    }
}

}  // namespace recur::detail
