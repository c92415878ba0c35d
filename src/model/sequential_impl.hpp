#pragma once
// Sequential's insides, shared by sequential.cpp (building, training) and the io and
// stream code that read and restore them.
#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <recur/model.hpp>

#include "layers/layer_pass.hpp"
#include "model/network.hpp"

namespace recur {

using detail::LayerAccess;

struct Sequential::Impl {
    std::string name;
    std::vector<std::unique_ptr<Layer>> layers;
    std::unique_ptr<Optimizer> optimizer;
    std::unique_ptr<Loss> loss;
    std::optional<detail::Network> network;  // set once every layer knows its input shape
    Tensor params, grads;                    // flat, Keras order
    detail::Workspace train_ws, validation_ws;
    std::size_t epochs_done = 0;

    // Lays the weights of every layer end to end in one buffer, keeping the values of
    // layers that already have weights and initialising the others.
    void build() {
        std::vector<Layer*> chain;
        for (auto& layer : layers) chain.push_back(layer.get());
        detail::Network net(std::move(chain));
        Tensor fresh(Shape{net.param_count});
        for (std::size_t l = 0; l < layers.size(); ++l) {
            float* dst = fresh.data() + net.offsets[l];
            if (layers[l]->built()) std::copy_n(LayerAccess::weights(*layers[l]), layers[l]->count_params(), dst);
            else LayerAccess::initialize(*layers[l], dst);
        }
        for (std::size_t l = 0; l < layers.size(); ++l) LayerAccess::bind(*layers[l], fresh.data() + net.offsets[l]);
        params = std::move(fresh);
        grads = Tensor(Shape{net.param_count});
        network.emplace(std::move(net));
        if (optimizer) optimizer->reset();
    }

    // Gives layer `from` onwards their input shapes from the layer before, then builds.
    void propagate_shapes(std::size_t from, const char* call) {
        for (std::size_t l = std::max<std::size_t>(from, 1); l < layers.size(); ++l) {
            const Shape given = layers[l - 1]->output_shape();
            Layer& layer = *layers[l];
            const auto [min_rank, max_rank] = LayerAccess::input_ranks(layer);
            if (layer.has_input_shape() && layer.input_shape() != given)
                throw Error(std::string(call) + ": layer '" + layer.name() + "' expects input " +
                            layer.input_shape().str_with_batch() + " but layer '" + layers[l - 1]->name() +
                            "' gives " + given.str_with_batch());
            if (given.rank() < min_rank || given.rank() > max_rank)
                throw Error(std::string(call) + ": layer '" + layer.name() + "' (" + layer.type_name() +
                            ") expects input with " + std::to_string(min_rank + 1) +
                            (max_rank > min_rank ? " or " + std::to_string(max_rank + 1) : "") +
                            " dimensions, but layer '" + layers[l - 1]->name() + "' gives " + given.str_with_batch());
            if (!layer.has_input_shape()) LayerAccess::set_input_shape(layer, given);
        }
        build();
    }

    const detail::Network& net(const char* call) const {
        if (!network)
            throw Error(std::string(call) + ": the model has no input shape yet; give the first layer "
                        ".input_shape(...) or call fit or predict first");
        return *network;
    }

    // Checks x against the model (building it from x's shape on first use).
    void check_x(const Tensor& x, const char* call) {
        if (layers.empty()) throw Error(std::string(call) + ": the model has no layers; add some first");
        if (x.rank() < 2 || x.shape()[0] == 0)
            throw Error(std::string(call) + ": x must be a batch with at least one sample, (samples, ...), got shape " +
                        x.shape().str());
        Layer& first = *layers.front();
        if (!network && !first.has_input_shape()) {
            const auto [min_rank, max_rank] = LayerAccess::input_ranks(first);
            const Shape sample = x.shape().drop_front();
            if (sample.rank() < min_rank || sample.rank() > max_rank)
                throw Error(std::string(call) + ": x has shape " + x.shape().str() + " but layer '" + first.name() +
                            "' (" + first.type_name() + ") expects " + std::to_string(min_rank + 1) +
                            (max_rank > min_rank ? " or " + std::to_string(max_rank + 1) : "") + " dimensions");
            LayerAccess::set_input_shape(first, sample);
            propagate_shapes(1, call);
        }
        if (x.shape().drop_front() != net(call).input_shape)
            throw Error(std::string(call) + ": x has shape " + x.shape().str() + " but layer '" + first.name() +
                        "' expects " + net(call).input_shape.str_with_batch());
        if (!std::all_of(x.begin(), x.end(), [](float v) { return std::isfinite(v); }))
            throw Error(std::string(call) + ": x must be finite, but it holds NaN or Inf");
    }

    void check_y(const Tensor& x, const Tensor& y, const char* call) const {
        const Shape& out = network->output_shape;
        if (y.rank() == 0 || y.shape()[0] != x.shape()[0])
            throw Error(std::string(call) + ": x has " + std::to_string(x.shape()[0]) + " samples but y has shape " +
                        y.shape().str());
        const Shape sample = y.shape().drop_front();
        // As Keras, targets (N,) match outputs (N, 1).
        const bool squeezed = out.back() == 1 && sample == Shape(std::vector(out.begin(), out.end() - 1));
        if (sample != out && !squeezed)
            throw Error(std::string(call) + ": y has shape " + y.shape().str() + " but the model's output is " +
                        out.str_with_batch());
        if (!std::all_of(y.begin(), y.end(), [](float v) { return std::isfinite(v); }))
            throw Error(std::string(call) + ": y must be finite, but it holds NaN or Inf");
    }

    void check_compiled(const char* call) const {
        if (!optimizer || !loss) throw Error(std::string(call) + ": the model must be compiled first (call compile)");
    }

    std::size_t loss_rows(std::size_t batch) const {
        const Shape& out = network->output_shape;
        return out.rank() == 2 ? batch * out[0] : batch;
    }

    // One optimizer step on the batch already gathered into ws; returns the loss before it.
    float train_step(detail::Workspace& ws, std::size_t batch) {
        const detail::Network& n = *network;
        const float* y_pred = detail::forward(n, ws, params.data(), batch);
        const float value = loss->compute(y_pred, ws.y_true, ws.d_pred, loss_rows(batch), n.output_shape.back());
        detail::backward(n, ws, params.data(), grads.data(), batch);
        optimizer->apply_gradients({params.data(), params.size()}, {grads.data(), grads.size()}, n.variable_sizes);
        return value;
    }

    // The mean loss over the given samples, batch by batch.
    float evaluate_rows(detail::Workspace& ws, const Tensor& x, const Tensor& y, std::span<const std::size_t> rows,
                        std::size_t batch_size) const {
        const detail::Network& n = *network;
        ws.reserve(n, std::min(batch_size, rows.size()));
        double sum = 0.0;
        for (std::size_t start = 0; start < rows.size(); start += batch_size) {
            const auto part = rows.subspan(start, std::min(batch_size, rows.size() - start));
            detail::gather_time_major(ws.x, x, part);
            detail::gather_rows(ws.y_true, y, part);
            const float* y_pred = detail::forward(n, ws, params.data(), part.size());
            sum += double(loss->compute(y_pred, ws.y_true, nullptr, loss_rows(part.size()), n.output_shape.back())) *
                   part.size();
        }
        return static_cast<float>(sum / rows.size());
    }
};

}  // namespace recur
