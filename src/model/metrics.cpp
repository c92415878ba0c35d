#include "model/metrics.hpp"

#include <algorithm>
#include <cmath>

#include <recur/error.hpp>

#include "config.hpp"
#include "text.hpp"

namespace recur {

namespace {
// Keras's long names and recur's older aliases, as the function they compute.
std::string function_of(const std::string& name) {
    if (name == "acc") return "accuracy";
    if (name == "mean_absolute_error") return "mae";
    if (name == "mean_squared_error") return "mse";
    if (name == "root_mean_squared_error") return "rmse";
    return name;
}
// The name the logs use: the one given, as Keras's ("acc" as recur has always logged it).
std::string log_name(const std::string& name) { return name == "acc" ? function_of(name) : name; }
}  // namespace

Metric::Metric(std::string name) : Metric(log_name(name), function_of(name)) {}

Metric::Metric(std::string name, std::string function, std::size_t k, float threshold)
    : name_(std::move(name)), function_(std::move(function)), k_(k), threshold_(threshold) {
    static const char* const known[] = {"accuracy",
                                        "mae",
                                        "mse",
                                        "rmse",
                                        "binary_accuracy",
                                        "categorical_accuracy",
                                        "sparse_categorical_accuracy",
                                        "top_k_categorical_accuracy",
                                        "sparse_top_k_categorical_accuracy"};
    if (std::find(std::begin(known), std::end(known), function_) == std::end(known)) {
        std::string list;
        for (const char* option : known) list += (list.empty() ? "\"" : ", \"") + std::string(option) + "\"";
        throw Error("Metric: expected " + list + " (or Keras's long names), got \"" +
                    detail::printable(name_).substr(0, 60) + "\"");
    }
    if (k_ == 0) throw Error(name_ + ": expected k >= 1, got 0");
    if (!(threshold_ >= 0.0f && threshold_ <= 1.0f))
        throw Error(name_ + ": expected a threshold in [0, 1], got " + detail::as_text(threshold_));
}

BinaryAccuracy::BinaryAccuracy(float threshold) : Metric("binary_accuracy", "binary_accuracy", 5, threshold) {}
TopKCategoricalAccuracy::TopKCategoricalAccuracy(std::size_t k)
    : Metric("top_k_categorical_accuracy", "top_k_categorical_accuracy", k) {}
SparseTopKCategoricalAccuracy::SparseTopKCategoricalAccuracy(std::size_t k)
    : Metric("sparse_top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", k) {}

namespace detail {

std::optional<bool> metric_improves_upward(std::string_view name) {
    try {
        return Metric(name).function().find("accuracy") != std::string::npos;
    } catch (const Error&) {
        return std::nullopt;
    }
}

nlohmann::json metric_config(const Metric& metric) {
    const Metric plain(metric.name());
    if (plain.function() == metric.function() && plain.k() == metric.k() && plain.threshold() == metric.threshold())
        return metric.name();
    return {{"name", metric.name()}, {"k", metric.k()}, {"threshold", metric.threshold()}};
}

Metric metric_from_config(const nlohmann::json& config) {
    if (config.is_string()) return Metric(config.get<std::string>());
    if (!config.is_object()) throw Error("the compile settings: expected metric names as strings, or metric objects");
    const ConfigReader c(config, "a metric");
    const Metric named(c.string("name"));
    const std::size_t k = c.count("k", 1, std::size_t{1} << 20);
    const float threshold = c.number("threshold");
    c.check_all_read();
    if (named.function() == "binary_accuracy") return BinaryAccuracy(threshold);
    if (named.function() == "top_k_categorical_accuracy") return TopKCategoricalAccuracy(k);
    if (named.function() == "sparse_top_k_categorical_accuracy") return SparseTopKCategoricalAccuracy(k);
    return named;
}

CompiledMetric::CompiledMetric(const Metric& metric, const Loss& loss, std::size_t output_features)
    : name_(metric.name()), k_(metric.k()), threshold_(metric.threshold()) {
    const std::string& f = metric.function();
    if (f == "accuracy") {
        const std::string_view loss_name = loss.name();
        kind_ = loss_name == "sparse_categorical_crossentropy"               ? Kind::sparse_accuracy
                : loss_name == "binary_crossentropy" || output_features == 1 ? Kind::binary_accuracy
                                                                             : Kind::categorical_accuracy;
    } else {
        kind_ = f == "mae"                           ? Kind::mae
                : f == "mse"                         ? Kind::mse
                : f == "rmse"                        ? Kind::rmse
                : f == "binary_accuracy"             ? Kind::binary_accuracy
                : f == "categorical_accuracy"        ? Kind::categorical_accuracy
                : f == "sparse_categorical_accuracy" ? Kind::sparse_accuracy
                : f == "top_k_categorical_accuracy"  ? Kind::top_k
                                                     : Kind::sparse_top_k;
    }
}

namespace {
// As Keras's in_top_k: the target is in the top k unless k predictions beat it outright.
bool in_top_k(const float* p, std::size_t n, std::size_t target, std::size_t k) {
    if (target >= n) return false;
    std::size_t above = 0;
    for (std::size_t j = 0; j < n; ++j) above += p[j] > p[target];
    return above < k && std::isfinite(p[target]);
}
}  // namespace

double CompiledMetric::sum(const float* y_pred, const float* y_true, std::size_t rows, std::size_t n) const {
    double total = 0.0;
    for (std::size_t r = 0; r < rows; ++r) {
        const float* p = y_pred + r * n;
        const float* t = y_true + r * (kind_ == Kind::sparse_accuracy || kind_ == Kind::sparse_top_k ? 1 : n);
        switch (kind_) {
            case Kind::sparse_accuracy:
                total += static_cast<float>(std::max_element(p, p + n) - p) == t[0];
                break;
            case Kind::categorical_accuracy:
                total += std::max_element(p, p + n) - p == std::max_element(t, t + n) - t;
                break;
            case Kind::top_k:
                total += in_top_k(p, n, static_cast<std::size_t>(std::max_element(t, t + n) - t), k_);
                break;
            case Kind::sparse_top_k:
                total += t[0] >= 0.0f && in_top_k(p, n, static_cast<std::size_t>(t[0]), k_);
                break;
            case Kind::binary_accuracy: {
                std::size_t hits = 0;  // Keras: y_true == (y_pred > threshold), so soft labels never match
                for (std::size_t j = 0; j < n; ++j) hits += t[j] == (p[j] > threshold_ ? 1.0f : 0.0f);
                total += double(hits) / n;
                break;
            }
            case Kind::mae:
            case Kind::mse:
            case Kind::rmse: {
                double row = 0.0;
                for (std::size_t j = 0; j < n; ++j) {
                    const double e = double(p[j]) - t[j];
                    row += kind_ == Kind::mae ? std::abs(e) : e * e;
                }
                total += row / n;
                break;
            }
        }
    }
    return total;
}

float CompiledMetric::result(double sum, std::size_t rows) const {
    if (rows == 0) return 0.0f;
    const double mean = sum / double(rows);
    return static_cast<float>(kind_ == Kind::rmse ? std::sqrt(mean) : mean);
}

}  // namespace detail
}  // namespace recur
