#pragma once
// Sequential's insides, shared by sequential.cpp (building, training) and the io and
// stream code that read and restore them.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <recur/model.hpp>

#include "layers/layer_pass.hpp"
#include "model/metrics.hpp"
#include "model/network.hpp"
#include "model/occupancy.hpp"
#include "random.hpp"

namespace recur {

using detail::LayerAccess;

struct Sequential::Impl {
    std::string name;
    std::vector<std::unique_ptr<Layer>> layers;
    std::unique_ptr<Optimizer> optimizer;
    std::unique_ptr<Loss> loss;
    std::vector<Metric> compiled_metrics;            // as compiled
    std::vector<detail::CompiledMetric> metrics;     // resolved against the output and the loss
    std::optional<detail::Network> network;  // set once every layer knows its input shape
    Tensor params, grads;                    // flat, Keras order
    // Moved on by every change of the weights (a build, a training step, set_weights) and by
    // the model's end: a Stream, which holds a copy of the weights, compares it with the
    // version it was made at.
    std::shared_ptr<std::atomic<std::uint64_t>> weights_version = std::make_shared<std::atomic<std::uint64_t>>(0);
    detail::Workspace train_ws, validation_ws;
    mutable detail::WorkspacePool inference_workspaces;  // predict's and evaluate's
    std::vector<std::size_t> batch_rows;     // 0, 1, 2, ...: train_on_batch gathers its batch in order
    std::size_t epochs_done = 0;
    detail::Generator generator{detail::draw_seed()};  // this model's initialisation and shuffles
    std::map<std::string, std::string> metadata;       // the caller's, kept in the model file
    mutable detail::Occupancy occupancy;
    bool fitting = false;        // inside fit (a callback is running or may run)
    bool stop_training = false;  // Keras's model.stop_training

    ~Impl() { ++*weights_version; }

    // Lays the weights of every layer end to end in one buffer, keeping the values of layers
    // that already have weights and initialising the others. `call` names the user's call.
    void build(const std::string& call);
    // Gives layer `from` onwards their input shapes from the layer before, then builds.
    void propagate_shapes(std::size_t from, const std::string& call);
    const detail::Network& net(const std::string& call) const;

    // Checks x against the model (building it from x's shape on first use).
    void check_x(const Tensor& x, const std::string& call);
    // Checks y against x, the output and the loss; resolves the metrics.
    void check_y(const Tensor& x, const Tensor& y, const std::string& call);
    void check_compiled(const std::string& call) const;
    // add, compile, fit and train_on_batch cannot run from a callback inside fit.
    void check_not_fitting(const std::string& call) const;
    // Whether a layer is stateful (a forward pass then changes the model).
    bool keeps_states() const;
    // Reads of a model with stateful layers change it: they need it alone.
    detail::Access reading() const { return keeps_states() ? detail::Access::change : detail::Access::read; }
    // Stateful layers take `samples` in batches of `batch` only if every batch has that size,
    // the size they carry states for.
    void check_stateful_batches(std::size_t samples, std::size_t batch, const std::string& call) const;
    // The loss's weights of x's samples: sample_weight times class_weight's weight of each
    // sample's class, (N,) or (N, T) for a sequence output's steps; checked against x and y.
    // Empty when neither is given.
    Tensor loss_weights(const Tensor& x, const Tensor& y, const Tensor& sample_weight,
                        const std::map<std::size_t, float>& class_weight, const std::string& call) const;
    // Copies the weights of the samples `rows` into ws.row_weights, one per output row
    // (none when `weights` is empty).
    void gather_weights(detail::Workspace& ws, const Tensor& weights, std::span<const std::size_t> rows) const;

    // Output rows of a batch: one per sample, or one per timestep for sequence outputs.
    std::size_t output_rows(std::size_t batch, std::size_t timesteps) const;
    // Whether the loss folds the last layer's activation into its gradient.
    bool loss_fuses_output_activation() const;
    // The loss of the batch in ws (its targets against y_pred); its gradient into grad when not
    // null. With a mask on the output, masked steps count in neither the sum nor the mean:
    // the real rows are gathered into ws.real_rows first.
    float loss_value(detail::Workspace& ws, const float* y_pred, float* grad, std::size_t batch) const;
    // The rows the loss scored (all, or the real ones gathered), for the metrics.
    struct Scored {
        const float* y_pred;
        const float* y_true;
        std::size_t rows;
    };
    Scored scored_rows(const detail::Workspace& ws, std::size_t batch) const;

    // One optimizer step on the batch already gathered into ws. When the loss, a gradient
    // or the update is not finite, the weights and the optimizer are left as they were and
    // `failure` says which (else it is empty).
    struct Step {
        float loss;  // before the update
        std::string failure;
    };
    Step train_step(detail::Workspace& ws, std::size_t batch);
    // "layer/weight" of the flat parameter at `index`.
    std::string weight_name(std::size_t index) const;
    // The mean loss and the mean of every metric over the given samples, batch by batch.
    std::vector<float> evaluate_rows(detail::Workspace& ws, const Tensor& x, const Tensor& y, const Tensor& weights,
                                     std::span<const std::size_t> rows, std::size_t batch_size,
                                     const std::string& call) const;
    // Sequential::stream's work, once the model is held.
    Stream make_stream(std::size_t batch, const std::string& call) const;
    // The same over all of x, after checking the call's arguments as `call`.
    std::vector<float> evaluate_all(const Tensor& x, const Tensor& y, std::size_t batch_size, const Tensor& sample_weight,
                                    const std::string& call);
};

}  // namespace recur
