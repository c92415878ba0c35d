#pragma once
// Loss and gradients of a model at its current weights, through the same forward and
// backward passes fit uses, but without an optimizer step.
#include <numeric>
#include <vector>

#include <recur/recur.hpp>

#include "layers/layer_pass.hpp"
#include "model/network.hpp"

namespace recur::testing {

class Probe {
public:
    Probe(Sequential& model, const recur::Loss& loss, Tensor x, Tensor y)
        : net_(chain(model)), loss_(loss), x_(std::move(x)), y_(std::move(y)),
          weights_(const_cast<float*>(recur::detail::LayerAccess::weights(model.layer(0)))),
          batch_(x_.shape()[0]) {
        ws_.reserve(net_, batch_);
        std::vector<std::size_t> rows(batch_);
        std::iota(rows.begin(), rows.end(), 0);
        recur::detail::gather_time_major(ws_.x, x_, rows);
        recur::detail::gather_rows(ws_.y_true, y_, rows);
    }

    std::size_t param_count() const { return net_.param_count; }
    float* weights() { return weights_; }

    float loss(std::vector<float>* grads = nullptr) {
        const float* y_pred = recur::detail::forward(net_, ws_, weights_, batch_);
        const std::size_t rows = net_.output_shape.rank() == 2 ? batch_ * net_.output_shape[0] : batch_;
        const float value = loss_.compute(y_pred, ws_.y_true, ws_.d_pred, rows, net_.output_shape.back());
        if (grads) {
            grads->assign(net_.param_count, 0.0f);
            recur::detail::backward(net_, ws_, weights_, grads->data(), batch_);
        }
        return value;
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
    float* weights_;
    std::size_t batch_;
    recur::detail::Workspace ws_;
};

}  // namespace recur::testing
