#pragma once
// Keras-style training output: "Epoch 3/50", then a progress bar (verbose 1) or one line
// per epoch (verbose 2) with the loss and val_loss.
#include <chrono>
#include <cstddef>
#include <iosfwd>
#include <optional>

namespace recur::detail {

class Progress {
public:
    Progress(std::ostream& os, int verbose, std::size_t epochs, std::size_t steps);
    void begin_epoch(std::size_t epoch);
    void step_done(std::size_t step, float mean_loss);  // step counts from 1
    void end_epoch(float loss, std::optional<float> val_loss);

private:
    using Clock = std::chrono::steady_clock;
    void draw_bar(std::size_t step, float mean_loss, bool final_line);
    std::ostream& os_;
    int verbose_;
    std::size_t epochs_, steps_;
    bool dynamic_;  // a terminal: redraw the bar in place
    Clock::time_point epoch_start_, last_draw_;
};

}  // namespace recur::detail
