#include "model/metrics.hpp"

#include <algorithm>
#include <cmath>

namespace recur::detail {

std::optional<bool> metric_improves_upward(std::string_view name) {
    if (name == "accuracy" || name == "acc") return true;
    if (name == "mae" || name == "mean_absolute_error") return false;
    return std::nullopt;
}

Metric::Metric(std::string_view name, const Loss& loss, std::size_t output_features) : name_(name) {
    if (name == "accuracy" || name == "acc") {
        name_ = "accuracy";
        const std::string_view loss_name = loss.name();
        kind_ = loss_name == "sparse_categorical_crossentropy"                       ? Kind::sparse_accuracy
                : loss_name == "binary_crossentropy" || output_features == 1         ? Kind::binary_accuracy
                                                                                     : Kind::categorical_accuracy;
    } else if (name == "mae" || name == "mean_absolute_error") {
        name_ = "mae";
        kind_ = Kind::mae;
    } else {
        throw Error("compile: expected metric \"accuracy\" or \"mae\", got \"" + std::string(name) + "\"");
    }
}

double Metric::sum(const float* y_pred, const float* y_true, std::size_t rows, std::size_t n) const {
    double total = 0.0;
    for (std::size_t r = 0; r < rows; ++r) {
        const float* p = y_pred + r * n;
        switch (kind_) {
            case Kind::sparse_accuracy:
                total += static_cast<float>(std::max_element(p, p + n) - p) == y_true[r];
                break;
            case Kind::categorical_accuracy: {
                const float* t = y_true + r * n;
                total += std::max_element(p, p + n) - p == std::max_element(t, t + n) - t;
                break;
            }
            case Kind::binary_accuracy: {
                std::size_t hits = 0;
                for (std::size_t j = 0; j < n; ++j) hits += (p[j] > 0.5f) == (y_true[r * n + j] > 0.5f);
                total += double(hits) / n;
                break;
            }
            case Kind::mae: {
                double row = 0.0;
                for (std::size_t j = 0; j < n; ++j) row += std::abs(p[j] - y_true[r * n + j]);
                total += row / n;
                break;
            }
        }
    }
    return total;
}

}  // namespace recur::detail
