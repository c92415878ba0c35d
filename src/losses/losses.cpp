#include <recur/error.hpp>
#include <recur/losses.hpp>

#include <cmath>
#include <string>

namespace recur {

Loss::~Loss() = default;

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

std::unique_ptr<Loss> make_loss(std::string_view name) {
    if (name == "mse" || name == "mean_squared_error") return std::make_unique<MSE>();
    if (name == "mae" || name == "mean_absolute_error") return std::make_unique<MAE>();
    if (name == "huber" || name == "huber_loss") return std::make_unique<Huber>();
    throw Error("compile: expected loss \"mse\", \"mae\" or \"huber\", got \"" + std::string(name) + "\"");
}

}  // namespace recur
