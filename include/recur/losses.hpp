#pragma once
#include <cstddef>
#include <memory>
#include <string_view>

namespace recur {

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
};

class MSE : public Loss {
public:
    const char* name() const override { return "mean_squared_error"; }
    std::unique_ptr<Loss> clone() const override { return std::make_unique<MSE>(*this); }
    float compute(const float* y_pred, const float* y_true, float* grad, std::size_t rows,
                  std::size_t features) const override;
};

class MAE : public Loss {
public:
    const char* name() const override { return "mean_absolute_error"; }
    std::unique_ptr<Loss> clone() const override { return std::make_unique<MAE>(*this); }
    float compute(const float* y_pred, const float* y_true, float* grad, std::size_t rows,
                  std::size_t features) const override;
};

// 0.5 e^2 where |e| <= delta, delta (|e| - 0.5 delta) beyond.
class Huber : public Loss {
public:
    Huber& delta(float value);
    float delta() const { return delta_; }
    const char* name() const override { return "huber_loss"; }
    std::unique_ptr<Loss> clone() const override { return std::make_unique<Huber>(*this); }
    float compute(const float* y_pred, const float* y_true, float* grad, std::size_t rows,
                  std::size_t features) const override;

private:
    float delta_ = 1.0f;
};

// "mse" / "mean_squared_error", "mae" / "mean_absolute_error", "huber" / "huber_loss".
std::unique_ptr<Loss> make_loss(std::string_view name);

}  // namespace recur
