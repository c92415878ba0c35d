#pragma once
// Keras-style training output: "Epoch 3/50", then a progress bar (verbose 1) or one line
// per epoch (verbose 2) with the loss, the metrics and their validation values.
#include <chrono>
#include <cstddef>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace recur::detail {

class Progress {
public:
    // names: "loss" and the metrics, in the order their values will come.
    Progress(std::ostream& os, int verbose, std::size_t epochs, std::size_t steps, std::vector<std::string> names);
    void begin_epoch(std::size_t epoch);
    // The running means after `step` (counting from 1) batches.
    void step_done(std::size_t step, std::span<const float> running);
    // The epoch's means, the validation ones (empty without validation data) and the learning
    // rate when it is to be shown.
    void end_epoch(std::span<const float> train, std::span<const float> validation,
                   std::optional<float> learning_rate = std::nullopt);

private:
    using Clock = std::chrono::steady_clock;
    std::string values(std::span<const float> train, std::span<const float> validation,
                       std::optional<float> learning_rate = std::nullopt) const;
    std::string bar(std::size_t step) const;
    std::ostream& os_;
    int verbose_;
    std::size_t epochs_, steps_;
    std::vector<std::string> names_;
    bool dynamic_;  // a terminal: redraw the bar in place
    Clock::time_point epoch_start_, last_draw_;
};

}  // namespace recur::detail
