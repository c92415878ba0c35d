#pragma once
// Metrics compiled into a model: summed row by row over an epoch, reported as means.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <recur/losses.hpp>

namespace recur::detail {

// Whether a metric of this name (as compile takes it) is better higher (accuracy) or lower
// (errors); nullopt for a name recur does not know.
std::optional<bool> metric_improves_upward(std::string_view name);

class Metric {
public:
    // "accuracy" resolves as Keras resolves it from the loss: sparse categorical accuracy for
    // sparse labels, binary accuracy (threshold 0.5) for binary crossentropy or one output per
    // row, categorical accuracy otherwise.
    // "mae" is the mean absolute error.
    Metric(std::string_view name, const Loss& loss, std::size_t output_features);

    const std::string& name() const { return name_; }
    // The sum over `rows` output rows of the per-row metric.
    double sum(const float* y_pred, const float* y_true, std::size_t rows, std::size_t features) const;

private:
    enum class Kind { sparse_accuracy, binary_accuracy, categorical_accuracy, mae };
    std::string name_;
    Kind kind_;
};

}  // namespace recur::detail
