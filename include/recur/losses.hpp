#pragma once
#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>

#include "layers.hpp"
#include "tensor.hpp"

namespace recur {

namespace detail {
class ConfigWriter;
struct LossAccess;
}  // namespace detail

// A loss gives its value and its gradient in one pass. Predictions and targets are
// `rows` x `features`, row-major; the value is the mean over every element, as Keras
// reduces (mean over the last axis, then over the batch).
class Loss {
public:
    virtual ~Loss();
    virtual const char* name() const = 0;  // Keras's function name: "mean_squared_error"
    virtual std::unique_ptr<Loss> clone() const = 0;
    // Returns the loss; writes d loss / d y_pred into grad unless grad is null.
    virtual float compute(const float* y_pred, const float* y_true, float* grad,
                          std::size_t rows, std::size_t features) const = 0;

    // Target values per output row: the output's features, or 1 for integer class labels.
    virtual std::size_t target_features(std::size_t output_features) const { return output_features; }
    // Checks targets before training (e.g. labels in range); throws recur::Error naming `call`.
    virtual void check_targets(const Tensor& y, std::size_t output_features, const char* call) const;

    // The output activation this loss can fold into its gradient (softmax for the categorical
    // crossentropies, sigmoid for the binary one), when it takes probabilities.
    virtual std::optional<Activation> fused_activation() const { return std::nullopt; }
    // compute() for a model that ends in fused_activation(): `probabilities` are that
    // activation's output and grad receives d loss / d its input, p - y, which stays exact
    // where going through the activation's Jacobian would lose digits.
    virtual float compute_fused(const float* probabilities, const float* y_true, float* grad,
                                std::size_t rows, std::size_t features) const;

protected:
    friend struct detail::LossAccess;
    // Model files: the loss's own settings (its name is written for it). A class that does
    // not write them, such as a loss of the caller's own, cannot be saved: this default says so.
    virtual void write_config(detail::ConfigWriter& config) const;
};

class MSE final : public Loss {
public:
    const char* name() const override { return "mean_squared_error"; }
    std::unique_ptr<Loss> clone() const override { return std::make_unique<MSE>(*this); }
    float compute(const float* y_pred, const float* y_true, float* grad, std::size_t rows,
                  std::size_t features) const override;

private:
    void write_config(detail::ConfigWriter&) const override {}
};

class MAE final : public Loss {
public:
    const char* name() const override { return "mean_absolute_error"; }
    std::unique_ptr<Loss> clone() const override { return std::make_unique<MAE>(*this); }
    float compute(const float* y_pred, const float* y_true, float* grad, std::size_t rows,
                  std::size_t features) const override;

private:
    void write_config(detail::ConfigWriter&) const override {}
};

// 0.5 e^2 where |e| <= delta, delta (|e| - 0.5 delta) beyond.
class Huber final : public Loss {
public:
    Huber& delta(float value);
    float delta() const { return delta_; }
    const char* name() const override { return "huber_loss"; }
    std::unique_ptr<Loss> clone() const override { return std::make_unique<Huber>(*this); }
    float compute(const float* y_pred, const float* y_true, float* grad, std::size_t rows,
                  std::size_t features) const override;

private:
    void write_config(detail::ConfigWriter& config) const override;
    float delta_ = 1.0f;
};

// Crossentropy over classes, for a softmax output (or logits with from_logits(true)). Keras
// clips probabilities to [1e-7, 1 - 1e-7] before the log.
template <class Derived>
class CrossentropyBase : public Loss {
public:
    Derived& from_logits(bool on) { from_logits_ = on; return static_cast<Derived&>(*this); }
    bool from_logits() const { return from_logits_; }
    // Taking probabilities, the loss folds its head's activation in; taking logits, none.
    std::optional<Activation> fused_activation() const override {
        if (from_logits_) return std::nullopt;
        return Derived::kHead;
    }
    std::unique_ptr<Loss> clone() const override {
        return std::make_unique<Derived>(static_cast<const Derived&>(*this));
    }

protected:
    void write_config(detail::ConfigWriter& config) const override;
    bool from_logits_ = false;
};

// Targets are integer class labels, one per output row: y (N,) for output (N, classes).
class SparseCategoricalCrossentropy final : public CrossentropyBase<SparseCategoricalCrossentropy> {
public:
    static constexpr Activation kHead = Activation::softmax;
    const char* name() const override { return "sparse_categorical_crossentropy"; }
    float compute(const float* y_pred, const float* y_true, float* grad, std::size_t rows,
                  std::size_t features) const override;
    std::size_t target_features(std::size_t) const override { return 1; }
    void check_targets(const Tensor& y, std::size_t output_features, const char* call) const override;
    float compute_fused(const float* probabilities, const float* y_true, float* grad, std::size_t rows,
                        std::size_t features) const override;
};

// Targets are one-hot (or any probability) vectors shaped like the output.
class CategoricalCrossentropy final : public CrossentropyBase<CategoricalCrossentropy> {
public:
    static constexpr Activation kHead = Activation::softmax;
    const char* name() const override { return "categorical_crossentropy"; }
    float compute(const float* y_pred, const float* y_true, float* grad, std::size_t rows,
                  std::size_t features) const override;
    float compute_fused(const float* probabilities, const float* y_true, float* grad, std::size_t rows,
                        std::size_t features) const override;
};

// Independent yes/no targets in [0, 1], for a sigmoid output (or logits with from_logits(true)).
class BinaryCrossentropy final : public CrossentropyBase<BinaryCrossentropy> {
public:
    static constexpr Activation kHead = Activation::sigmoid;
    const char* name() const override { return "binary_crossentropy"; }
    float compute(const float* y_pred, const float* y_true, float* grad, std::size_t rows,
                  std::size_t features) const override;
    float compute_fused(const float* probabilities, const float* y_true, float* grad, std::size_t rows,
                        std::size_t features) const override;
};

// "mse" / "mean_squared_error", "mae" / "mean_absolute_error", "huber" / "huber_loss",
// "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy".
std::unique_ptr<Loss> make_loss(std::string_view name);

}  // namespace recur
