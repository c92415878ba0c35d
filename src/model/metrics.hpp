#pragma once
// Metrics compiled into a model: summed row by row over an epoch, reported as means.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include <recur/losses.hpp>
#include <recur/metrics.hpp>

namespace recur::detail {

// Whether a metric logged under this name is better higher (accuracies) or lower (errors);
// nullopt for a name no metric of recur's has.
std::optional<bool> metric_improves_upward(std::string_view name);

// Model files: a metric as its name, or {"name", "k" or "threshold"} when those differ from
// the name's own; read back strictly.
nlohmann::json metric_config(const Metric& metric);
Metric metric_from_config(const nlohmann::json& config);

class CompiledMetric {
public:
    // The metric against the model's loss and output width ("accuracy" resolves here).
    CompiledMetric(const Metric& metric, const Loss& loss, std::size_t output_features);

    const std::string& name() const { return name_; }
    // The sum over `rows` output rows of the per-row metric.
    double sum(const float* y_pred, const float* y_true, std::size_t rows, std::size_t features) const;
    // The reported value from the sum over `rows` rows.
    float result(double sum, std::size_t rows) const;

private:
    enum class Kind { sparse_accuracy, binary_accuracy, categorical_accuracy, top_k, sparse_top_k, mae, mse, rmse };
    std::string name_;
    Kind kind_;
    std::size_t k_;
    float threshold_;
};

}  // namespace recur::detail
