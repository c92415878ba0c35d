#pragma once
// Loss and gradients of a model at its current weights, through the same forward and
// backward passes fit uses, but without an optimizer step.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>

#include <doctest/doctest.h>
#include <vector>

#include <recur/recur.hpp>

#include "layers/layer_pass.hpp"
#include "model/network.hpp"

namespace recur::testing {

class Probe {
public:
    // With a training seed, training passes whose dropout masks that seed fixes.
    Probe(Sequential& model, const recur::Loss& loss, Tensor x, Tensor y, std::optional<std::uint64_t> training_seed = {})
        : net_(chain(model)), loss_(loss), x_(std::move(x)), y_(std::move(y)), seed_(training_seed),
          weights_(const_cast<float*>(recur::detail::LayerAccess::weights(model.layer(0)))),
          batch_(x_.shape()[0]) {
        ws_.reserve(net_, batch_, net_.timesteps(x_.shape().drop_front()), "Probe");
        std::vector<std::size_t> rows(batch_);
        std::iota(rows.begin(), rows.end(), 0);
        recur::detail::gather_time_major(ws_, x_, rows);
        recur::detail::gather_rows(ws_.y_true, y_, rows);
    }

    std::size_t param_count() const { return net_.param_count; }
    float* weights() { return weights_; }

    // With a loss that folds the model's last activation in (crossentropy after softmax),
    // the fused path fit takes; else the plain one.
    float loss(std::vector<float>* grads = nullptr) {
        const float* y_pred = recur::detail::forward(net_, ws_, weights_, batch_, seed_ ? &*seed_ : nullptr);
        const std::size_t F = net_.output_shape.back(), T = ws_.timesteps;
        const std::size_t rows = net_.output_shape.rank() == 2 ? batch_ * T : batch_;
        const auto* dense = dynamic_cast<const recur::Dense*>(net_.layers.back());
        const bool fused = dense && !dense->activity_regularizer() && loss_.fused_activation() == dense->activation();
        // With a mask on a sequence output, only the real steps are scored (row b T + t, mask t B + b).
        std::vector<std::size_t> scored;
        for (std::size_t r = 0; r < rows; ++r)
            if (!ws_.output_mask || ws_.output_mask[(r % T) * batch_ + r / T]) scored.push_back(r);
        const std::size_t targets = loss_.target_features(F);
        std::vector<float> pred(scored.size() * F), truth(scored.size() * targets), grad(scored.size() * F);
        for (std::size_t i = 0; i < scored.size(); ++i) {
            std::copy_n(y_pred + scored[i] * F, F, pred.data() + i * F);
            std::copy_n(ws_.y_true + scored[i] * targets, targets, truth.data() + i * targets);
        }
        const float value = fused ? loss_.compute_fused(pred.data(), truth.data(), grad.data(), scored.size(), F)
                                  : loss_.compute(pred.data(), truth.data(), grad.data(), scored.size(), F);
        std::fill_n(ws_.d_pred, rows * F, 0.0f);
        for (std::size_t i = 0; i < scored.size(); ++i) std::copy_n(grad.data() + i * F, F, ws_.d_pred + scored[i] * F);
        const float activity = ws_.activity_penalty;
        if (!grads) return value + activity + recur::detail::regularization(net_, weights_);
        grads->assign(net_.param_count, 0.0f);
        recur::detail::backward(net_, ws_, weights_, grads->data(), batch_, fused);
        return value + activity + recur::detail::regularization(net_, weights_, grads->data());
    }

private:
    static std::vector<recur::Layer*> chain(Sequential& model) {
        std::vector<recur::Layer*> layers;
        for (auto& layer : model.layers()) layers.push_back(layer.get());
        return layers;
    }
    recur::detail::Network net_;
    const recur::Loss& loss_;
    Tensor x_, y_;
    std::optional<std::uint64_t> seed_;
    float* weights_;
    std::size_t batch_;
    recur::detail::Workspace ws_;
};

// Central differences with step h; float32 losses of order 1 make errors of about
// 1e-7 / h plus h^2 terms, so agreement to 1e-3 absolute plus 2% relative is a real check.
// Where relu's kink (or a clipped probability) lies within h of a weight's value the central
// difference straddles it; a quarter of the step, still well above the rounding noise, is
// then tried before the weight is counted wrong.
inline void check_gradients(Sequential& model, const recur::Loss& loss, const Tensor& x, const Tensor& y,
                            std::optional<std::uint64_t> training_seed = {}) {
    Probe probe(model, loss, x, y, training_seed);
    std::vector<float> analytic;
    probe.loss(&analytic);
    float* w = probe.weights();
    auto numeric = [&](std::size_t i, float h) {
        const float saved = w[i];
        w[i] = saved + h;
        const double up = probe.loss();
        w[i] = saved - h;
        const double down = probe.loss();
        w[i] = saved;
        return (up - down) / (2.0 * h);
    };
    auto agrees = [&](std::size_t i, double estimate) {
        return std::abs(analytic[i] - estimate) <= 1e-3 + 2e-2 * std::abs(estimate);
    };
    std::size_t checked = 0;
    for (std::size_t i = 0; i < probe.param_count(); ++i) {
        const double coarse = numeric(i, 2e-3f);
        const double fine = agrees(i, coarse) ? coarse : numeric(i, 5e-4f);
        CAPTURE(i);
        CAPTURE(coarse);
        CHECK(agrees(i, fine));
        ++checked;
    }
    CHECK(checked == probe.param_count());
    CHECK(std::any_of(analytic.begin(), analytic.end(), [](float g) { return std::abs(g) > 1e-4f; }));
}

}  // namespace recur::testing
