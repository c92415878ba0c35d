#pragma once
// Metrics for compile, by Keras's names or as Keras's metric objects. A metric is reported as
// its running mean over the rows seen (per epoch in fit, over all of x in evaluate), computed
// on each batch's forward pass, unweighted, as Keras's compiled metrics.
#include <cstddef>
#include <string>
#include <string_view>

namespace recur {

// By name: "accuracy" (resolved from the loss as Keras does: sparse categorical accuracy for
// sparse labels, binary accuracy for binary crossentropy or one output per row, categorical
// accuracy otherwise), "mae", "mse", "rmse", "binary_accuracy", "categorical_accuracy",
// "sparse_categorical_accuracy", "top_k_categorical_accuracy",
// "sparse_top_k_categorical_accuracy" (k 5); Keras's long names ("mean_squared_error", ...)
// too, logged under the name given. An unknown name is a recur::Error, and so is a name
// compile is given twice.
class Metric {
public:
    Metric(const char* name) : Metric(std::string(name)) {}
    Metric(std::string_view name) : Metric(std::string(name)) {}
    Metric(std::string name);
    // The name the logs and History use.
    const std::string& name() const { return name_; }
    // The function it computes: one of the names above (never a long one).
    const std::string& function() const { return function_; }
    std::size_t k() const { return k_; }            // top-k accuracies
    float threshold() const { return threshold_; }  // binary accuracy

protected:
    Metric(std::string name, std::string function, std::size_t k = 5, float threshold = 0.5f);

private:
    std::string name_, function_;
    std::size_t k_;
    float threshold_;
};

// Keras's metric classes, named in the logs as Keras names them.
struct MeanSquaredError final : Metric {
    MeanSquaredError() : Metric("mean_squared_error", "mse") {}
};
// sqrt of the mean squared error over every output seen (not a mean of batch roots).
struct RootMeanSquaredError final : Metric {
    RootMeanSquaredError() : Metric("root_mean_squared_error", "rmse") {}
};
struct MeanAbsoluteError final : Metric {
    MeanAbsoluteError() : Metric("mean_absolute_error", "mae") {}
};
// The mean over each row's outputs of y_true == (y_pred > threshold), as Keras compares them.
struct BinaryAccuracy final : Metric {
    explicit BinaryAccuracy(float threshold = 0.5f);
};
// argmax(y_true) == argmax(y_pred).
struct CategoricalAccuracy final : Metric {
    CategoricalAccuracy() : Metric("categorical_accuracy", "categorical_accuracy") {}
};
// y_true (a class index) == argmax(y_pred).
struct SparseCategoricalAccuracy final : Metric {
    SparseCategoricalAccuracy() : Metric("sparse_categorical_accuracy", "sparse_categorical_accuracy") {}
};
// Whether the true class (argmax of y_true) is among the k largest predictions; as Keras's
// in_top_k, predictions tied with it at the boundary count it in.
struct TopKCategoricalAccuracy final : Metric {
    explicit TopKCategoricalAccuracy(std::size_t k = 5);
};
// The same with y_true a class index.
struct SparseTopKCategoricalAccuracy final : Metric {
    explicit SparseTopKCategoricalAccuracy(std::size_t k = 5);
};

}  // namespace recur
