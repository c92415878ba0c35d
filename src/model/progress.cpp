#include "model/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>

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

Progress::Progress(std::ostream& os, int verbose, std::size_t epochs, std::size_t steps, std::vector<std::string> names)
    : os_(os), verbose_(verbose), epochs_(epochs), steps_(steps), names_(std::move(names)),
      dynamic_(&os == &std::cout && isatty(STDOUT_FILENO)) {}

void Progress::begin_epoch(std::size_t epoch) {
    if (verbose_ > 0) os_ << "Epoch " << epoch << '/' << epochs_ << '\n' << std::flush;
    epoch_start_ = last_draw_ = Clock::now();
}

// " - loss: 0.1234 - accuracy: 0.9000 - val_loss: ... - learning_rate: 1.0000e-04"
std::string Progress::values(std::span<const float> train, std::span<const float> validation,
                             std::optional<float> learning_rate) const {
    std::string out;
    for (std::size_t i = 0; i < train.size(); ++i) out += " - " + names_[i] + ": " + metric(train[i]);
    for (std::size_t i = 0; i < validation.size(); ++i) out += " - val_" + names_[i] + ": " + metric(validation[i]);
    if (learning_rate) out += " - learning_rate: " + metric(*learning_rate);
    return out;
}

// " 3/10 [========>.....................]"
std::string Progress::bar(std::size_t step) const {
    const std::string count = std::to_string(steps_), done = std::to_string(step);
    constexpr std::size_t width = 30;
    const std::size_t filled = width * step / steps_;
    std::string bar(width, '.');
    for (std::size_t i = 0; i < filled; ++i) bar[i] = '=';
    if (filled < width) bar[filled] = '>';
    return std::string(count.size() - done.size(), ' ') + done + '/' + count + " [" + bar + "]";
}

void Progress::step_done(std::size_t step, std::span<const float> running) {
    if (verbose_ != 1 || !dynamic_ || step == steps_) return;
    const auto now = Clock::now();
    if (now - last_draw_ < std::chrono::milliseconds(50)) return;
    last_draw_ = now;
    const double elapsed = std::chrono::duration<double>(now - epoch_start_).count();
    const long eta = static_cast<long>(elapsed / step * (steps_ - step));
    os_ << '\r' << bar(step) << " - ETA: " << eta << 's' << values(running, {}) << "\x1b[K" << std::flush;
}

void Progress::end_epoch(std::span<const float> train, std::span<const float> validation,
                         std::optional<float> learning_rate) {
    if (verbose_ == 0) return;
    const double elapsed = std::chrono::duration<double>(Clock::now() - epoch_start_).count();
    const long whole_seconds = static_cast<long>(elapsed);
    if (verbose_ == 1) {
        os_ << (dynamic_ ? "\r" : "") << bar(steps_) << " - " << whole_seconds << "s " << duration(elapsed / steps_)
            << "/step" << values(train, validation, learning_rate) << (dynamic_ ? "\x1b[K" : "") << '\n';
    } else {
        os_ << steps_ << '/' << steps_ << " - " << whole_seconds << 's' << values(train, validation, learning_rate) << " - "
            << duration(elapsed) << "/epoch - " << duration(elapsed / steps_) << "/step\n";
    }
    os_ << std::flush;
}

}  // namespace recur::detail
