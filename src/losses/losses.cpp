#include <recur/error.hpp>
#include <recur/losses.hpp>

#include "config.hpp"
#include "losses/loss_config.hpp"
#include "text.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace recur {

Loss::~Loss() = default;

void Loss::check_targets(const Tensor&, std::size_t, const char*) const {}

float Loss::compute_fused(const float*, const float*, float*, std::size_t, std::size_t) const {
    throw Error(std::string(name()) + ": this loss folds no output activation into its gradient");
}

namespace {
// mean over all elements of f(error), and f'(error) / n into grad.
template <class F>
float mean_of(const float* y_pred, const float* y_true, float* grad, std::size_t n, F&& f) {
    double sum = 0.0;
    const float inv_n = 1.0f / static_cast<float>(n);
    for (std::size_t i = 0; i < n; ++i) {
        const float e = y_pred[i] - y_true[i];
        auto [value, slope] = f(e);
        sum += value;
        if (grad) grad[i] = slope * inv_n;
    }
    return static_cast<float>(sum / static_cast<double>(n));
}
}  // namespace

float MSE::compute(const float* y_pred, const float* y_true, float* grad, std::size_t rows,
                   std::size_t features) const {
    return mean_of(y_pred, y_true, grad, rows * features, [](float e) { return std::pair{e * e, 2.0f * e}; });
}

float MAE::compute(const float* y_pred, const float* y_true, float* grad, std::size_t rows,
                   std::size_t features) const {
    return mean_of(y_pred, y_true, grad, rows * features, [](float e) {
        return std::pair{std::abs(e), e > 0.0f ? 1.0f : e < 0.0f ? -1.0f : 0.0f};
    });
}

Huber& Huber::delta(float value) {
    if (!(value > 0.0f) || !std::isfinite(value))
        throw Error("Huber::delta: expected a finite value > 0, got " + std::to_string(value));
    delta_ = value;
    return *this;
}

float Huber::compute(const float* y_pred, const float* y_true, float* grad, std::size_t rows,
                     std::size_t features) const {
    const float d = delta_;
    return mean_of(y_pred, y_true, grad, rows * features, [d](float e) {
        const float a = std::abs(e);
        if (a <= d) return std::pair{0.5f * e * e, e};
        return std::pair{d * (a - 0.5f * d), e > 0.0f ? d : -d};
    });
}

namespace {

constexpr float kClip = 1e-7f;  // Keras's epsilon: probabilities are clipped to [kClip, 1 - kClip]

float clipped(float p) { return std::clamp(p, kClip, 1.0f - kClip); }

// log softmax of one row, stably: z - max - log(sum exp(z - max)); writes softmax into p.
double log_sum_exp(const float* z, std::size_t n, float* p) {
    const float max = *std::max_element(z, z + n);
    double sum = 0.0;
    for (std::size_t j = 0; j < n; ++j) sum += std::exp(double(z[j]) - max);
    if (p)
        for (std::size_t j = 0; j < n; ++j) p[j] = static_cast<float>(std::exp(double(z[j]) - max) / sum);
    return max + std::log(sum);
}

// Categorical crossentropy against a target distribution t, per row, from probabilities p:
// value -sum t log p; fused gradient (p - t) / rows for the softmax's input.
float categorical_fused(const float* p, const float* t, float* grad, std::size_t rows, std::size_t n) {
    double sum = 0.0;
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t j = 0; j < n; ++j) {
            const std::size_t i = r * n + j;
            if (t[i] != 0.0f) sum -= double(t[i]) * std::log(clipped(p[i]));
            if (grad) grad[i] = (p[i] - t[i]) / static_cast<float>(rows);
        }
    return static_cast<float>(sum / rows);
}

// The same from logits: gradient (softmax(z) - t) / rows.
float categorical_from_logits(const float* z, const float* t, float* grad, std::size_t rows, std::size_t n) {
    double sum = 0.0;
    for (std::size_t r = 0; r < rows; ++r) {
        const double lse = log_sum_exp(z + r * n, n, grad ? grad + r * n : nullptr);
        for (std::size_t j = 0; j < n; ++j) {
            const std::size_t i = r * n + j;
            sum -= double(t[i]) * (z[i] - lse);
            if (grad) grad[i] = (grad[i] - t[i]) / static_cast<float>(rows);
        }
    }
    return static_cast<float>(sum / rows);
}

// The same from probabilities that did not come from a softmax of this model: -t / p.
float categorical_from_probabilities(const float* p, const float* t, float* grad, std::size_t rows, std::size_t n) {
    double sum = 0.0;
    for (std::size_t i = 0; i < rows * n; ++i) {
        const float q = clipped(p[i]);
        sum -= double(t[i]) * std::log(q);
        if (grad) grad[i] = -t[i] / (q * static_cast<float>(rows));
    }
    return static_cast<float>(sum / rows);
}

// Calls f(row, label) with each row's integer class label.
template <class F>
void for_each_label(const float* labels, std::size_t rows, F&& f) {
    for (std::size_t r = 0; r < rows; ++r) f(r, static_cast<std::size_t>(labels[r]));
}

}  // namespace

void SparseCategoricalCrossentropy::check_targets(const Tensor& y, std::size_t classes, const char* call) const {
    for (std::size_t i = 0; i < y.size(); ++i) {
        const float label = y.data()[i];
        if (!(label >= 0.0f) || label != std::floor(label) || label >= static_cast<float>(classes))
            throw Error(std::string(call) + ": sparse_categorical_crossentropy expects integer labels in [0, " +
                        std::to_string(classes) + "), got " + std::to_string(label) + " at position " +
                        std::to_string(i));
    }
}

float SparseCategoricalCrossentropy::compute(const float* y_pred, const float* y_true, float* grad, std::size_t rows,
                                             std::size_t n) const {
    double sum = 0.0;
    if (from_logits_) {
        for_each_label(y_true, rows, [&](std::size_t r, std::size_t label) {
            const float* z = y_pred + r * n;
            sum -= z[label] - log_sum_exp(z, n, grad ? grad + r * n : nullptr);
            if (grad) {
                for (std::size_t j = 0; j < n; ++j) grad[r * n + j] /= static_cast<float>(rows);
                grad[r * n + label] -= 1.0f / static_cast<float>(rows);
            }
        });
    } else {
        if (grad) std::fill_n(grad, rows * n, 0.0f);
        for_each_label(y_true, rows, [&](std::size_t r, std::size_t label) {
            const float q = clipped(y_pred[r * n + label]);
            sum -= std::log(q);
            if (grad) grad[r * n + label] = -1.0f / (q * static_cast<float>(rows));
        });
    }
    return static_cast<float>(sum / rows);
}

float SparseCategoricalCrossentropy::compute_fused(const float* p, const float* y_true, float* grad, std::size_t rows,
                                                   std::size_t n) const {
    double sum = 0.0;
    if (grad)
        for (std::size_t i = 0; i < rows * n; ++i) grad[i] = p[i] / static_cast<float>(rows);
    for_each_label(y_true, rows, [&](std::size_t r, std::size_t label) {
        sum -= std::log(clipped(p[r * n + label]));
        if (grad) grad[r * n + label] -= 1.0f / static_cast<float>(rows);
    });
    return static_cast<float>(sum / rows);
}

float CategoricalCrossentropy::compute(const float* y_pred, const float* y_true, float* grad, std::size_t rows,
                                       std::size_t n) const {
    return from_logits_ ? categorical_from_logits(y_pred, y_true, grad, rows, n)
                        : categorical_from_probabilities(y_pred, y_true, grad, rows, n);
}

float CategoricalCrossentropy::compute_fused(const float* p, const float* y_true, float* grad, std::size_t rows,
                                             std::size_t n) const {
    return categorical_fused(p, y_true, grad, rows, n);
}

// -[t log p + (1 - t) log(1 - p)], averaged over every element as Keras does.
float BinaryCrossentropy::compute(const float* y_pred, const float* y_true, float* grad, std::size_t rows,
                                  std::size_t n) const {
    double sum = 0.0;
    const float count = static_cast<float>(rows * n);
    for (std::size_t i = 0; i < rows * n; ++i) {
        const float t = y_true[i];
        if (from_logits_) {  // stable: max(z, 0) - z t + log(1 + exp(-|z|))
            const float z = y_pred[i];
            sum += std::max(z, 0.0f) - z * t + std::log1p(std::exp(-std::abs(z)));
            if (grad) grad[i] = (1.0f / (1.0f + std::exp(-z)) - t) / count;
        } else {
            const float p = clipped(y_pred[i]);
            sum -= t * std::log(p) + (1.0f - t) * std::log(1.0f - p);
            if (grad) grad[i] = (p - t) / (p * (1.0f - p) * count);
        }
    }
    return static_cast<float>(sum / (rows * n));
}

float BinaryCrossentropy::compute_fused(const float* p, const float* y_true, float* grad, std::size_t rows,
                                        std::size_t n) const {
    double sum = 0.0;
    const float count = static_cast<float>(rows * n);
    for (std::size_t i = 0; i < rows * n; ++i) {
        const float t = y_true[i], q = clipped(p[i]);
        sum -= t * std::log(q) + (1.0f - t) * std::log(1.0f - q);
        if (grad) grad[i] = (p[i] - t) / count;
    }
    return static_cast<float>(sum / (rows * n));
}

void Loss::write_config(detail::ConfigWriter&) const {
    throw Error(std::string("the loss \"") + name() +
                "\" is a class of its own, which a model file cannot record; compile with one of recur's losses to save");
}

void Huber::write_config(detail::ConfigWriter& config) const { config.set("delta", delta_); }

template <class Derived>
void CrossentropyBase<Derived>::write_config(detail::ConfigWriter& config) const {
    config.set("from_logits", from_logits_);
}
template class CrossentropyBase<SparseCategoricalCrossentropy>;
template class CrossentropyBase<CategoricalCrossentropy>;
template class CrossentropyBase<BinaryCrossentropy>;

namespace detail {

struct LossAccess {
    static void write_config(const Loss& loss, ConfigWriter& config) { loss.write_config(config); }
};

nlohmann::json loss_config(const Loss& loss) {
    nlohmann::json config{{"name", loss.name()}};
    ConfigWriter writer(config);
    LossAccess::write_config(loss, writer);
    return config;
}

std::unique_ptr<Loss> loss_from_config(const nlohmann::json& config) {
    const ConfigReader c(config, "the loss");
    std::unique_ptr<Loss> loss = make_loss(c.string("name"));
    // The settings each loss wrote for itself, read back through its own setters.
    if (auto* huber = dynamic_cast<Huber*>(loss.get())) huber->delta(c.number("delta"));
    if (auto* sparse = dynamic_cast<SparseCategoricalCrossentropy*>(loss.get())) sparse->from_logits(c.boolean("from_logits"));
    if (auto* categorical = dynamic_cast<CategoricalCrossentropy*>(loss.get()))
        categorical->from_logits(c.boolean("from_logits"));
    if (auto* binary = dynamic_cast<BinaryCrossentropy*>(loss.get())) binary->from_logits(c.boolean("from_logits"));
    c.check_all_read();
    return loss;
}

}  // namespace detail

std::unique_ptr<Loss> make_loss(std::string_view name) {
    if (name == "mse" || name == "mean_squared_error") return std::make_unique<MSE>();
    if (name == "mae" || name == "mean_absolute_error") return std::make_unique<MAE>();
    if (name == "huber" || name == "huber_loss") return std::make_unique<Huber>();
    if (name == "sparse_categorical_crossentropy") return std::make_unique<SparseCategoricalCrossentropy>();
    if (name == "categorical_crossentropy") return std::make_unique<CategoricalCrossentropy>();
    if (name == "binary_crossentropy") return std::make_unique<BinaryCrossentropy>();
    throw Error("compile: expected loss \"mse\", \"mae\", \"huber\", \"sparse_categorical_crossentropy\", "
                "\"categorical_crossentropy\" or \"binary_crossentropy\", got \"" + std::string(name) + "\"");
}

}  // namespace recur
