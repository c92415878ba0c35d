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
#include "model/metrics.hpp"
#include "model/network.hpp"

namespace recur {

using detail::LayerAccess;

struct Sequential::Impl {
    std::string name;
    std::vector<std::unique_ptr<Layer>> layers;
    std::unique_ptr<Optimizer> optimizer;
    std::unique_ptr<Loss> loss;
    std::vector<std::string> metric_names;   // as compiled
    std::vector<detail::Metric> metrics;     // resolved against the output by prepare()
    std::optional<detail::Network> network;  // set once every layer knows its input shape
    Tensor params, grads;                    // flat, Keras order
    Tensor last_finite_params;               // the weights before the step in progress
    detail::Workspace train_ws, validation_ws;
    mutable detail::WorkspacePool inference_workspaces;  // predict's and evaluate's
    std::vector<std::size_t> batch_rows;     // 0, 1, 2, ...: train_on_batch gathers its batch in order
    std::size_t epochs_done = 0;

    // Lays the weights of every layer end to end in one buffer, keeping the values of layers
    // that already have weights and initialising the others.
    void build();
    // Gives layer `from` onwards their input shapes from the layer before, then builds.
    void propagate_shapes(std::size_t from, const char* call);
    const detail::Network& net(const char* call) const;

    // Checks x against the model (building it from x's shape on first use).
    void check_x(const Tensor& x, const char* call);
    // Checks y against x, the output and the loss; resolves the metrics.
    void check_y(const Tensor& x, const Tensor& y, const char* call);
    void check_compiled(const char* call) const;

    // Output rows of a batch: one per sample, or one per timestep for sequence outputs.
    std::size_t output_rows(std::size_t batch) const;
    // Whether the loss folds the last layer's activation into its gradient.
    bool loss_fuses_output_activation() const;
    float loss_value(const float* y_pred, const float* y_true, float* grad, std::size_t batch) const;

    // One optimizer step on the batch already gathered into ws; returns the loss before it.
    // A non-finite loss, or an update that makes a weight non-finite, leaves the weights as
    // they were and returns the non-finite value (NaN for an undone update).
    float train_step(detail::Workspace& ws, std::size_t batch);
    // The mean loss and the mean of every metric over the given samples, batch by batch.
    std::vector<float> evaluate_rows(detail::Workspace& ws, const Tensor& x, const Tensor& y,
                                     std::span<const std::size_t> rows, std::size_t batch_size) const;
    // The same over all of x, after checking the call's arguments as `call`.
    std::vector<float> evaluate_all(const Tensor& x, const Tensor& y, std::size_t batch_size, const char* call);
};

}  // namespace recur
