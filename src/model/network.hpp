#pragma once
// Running a chain of built layers: the flat weight layout, the workspace, and the forward
// and backward passes from a batch-major batch to a batch-major output and back.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <recur/layers.hpp>
#include <recur/tensor.hpp>

#include "layers/layer_pass.hpp"

namespace recur::detail {

struct Network {
    std::vector<Layer*> layers;               // each with its input shape set
    std::vector<std::size_t> offsets;         // each layer's first weight in the flat buffer
    std::vector<std::size_t> variable_sizes;  // every Keras weight, in order
    std::size_t param_count = 0;
    Shape input_shape, output_shape;  // per sample; a sequence's time axis may be None
    bool sequence_input = false;      // samples are sequences, read time-major
    bool output_masked = false;       // the output comes with a mask (a sequence with masked steps)
    bool draws_noise = false;         // a layer draws random numbers in training (dropout)
    // The weights with a regularizer: where they lie in the flat buffer and its factors.
    struct Regularized {
        std::size_t offset, size;
        float l1, l2;
    };
    std::vector<Regularized> regularized;

    explicit Network(std::vector<Layer*> chain);

    // The timesteps of a batch whose samples have this shape: its time axis, or 1.
    std::size_t timesteps(const Shape& sample) const { return sequence_input ? sample[0] : 1; }
};

// A per-sample shape with its time axis, if None, `timesteps` long.
Shape resolve(const Shape& shape, std::size_t timesteps);
// Its floats, saturating (tensor/sizes.hpp).
std::size_t sample_floats(const Shape& shape, std::size_t timesteps);

// Activations and gradients of a batch, in one allocation that grows when a larger batch (or
// model) needs more and is reused otherwise: a training step allocates nothing.
class Workspace {
public:
    // Lays out a batch of `batch` samples of `timesteps` steps each; `call` names the user's
    // call in the message when the buffer cannot be allocated.
    void reserve(const Network& net, std::size_t batch, std::size_t timesteps, const std::string& call);

    std::size_t timesteps = 1;     // of the batch it was last laid out for
    float* x = nullptr;            // the input batch, time-major
    float* y_true = nullptr;       // the targets, batch-major
    const float* y_pred = nullptr; // the output, batch-major (set by forward)
    float* d_pred = nullptr;       // d loss / d output, batch-major
    float* y_sequence = nullptr;   // a sequence output put back in batch-major order
    // The output's mask (set by forward; time-major, T x batch), null without one; and room
    // for a masked loss's real rows, gathered.
    const std::uint8_t* output_mask = nullptr;
    float* real_rows = nullptr;
    std::size_t real_count = 0;  // rows gathered there
    // The loss's weight of each output row (sample weights), gathered with the batch; null
    // when the loss is unweighted.
    float* row_weights = nullptr;
    bool weighted = false;
    float activity_penalty = 0.0f;  // the last forward's, over all layers (activity regularizers)
    std::vector<LayerPass> passes;

private:
    Tensor buffer_;
};

// Workspaces for the calls that may run from many threads at once (predict, evaluate): a call
// borrows one and gives it back, so that calls allocate only when more of them run at once
// than ever before, and a large model's activations are not allocated (and faulted in) anew
// by every call.
class WorkspacePool {
public:
    class Lease {
    public:
        Lease(WorkspacePool& pool, std::unique_ptr<Workspace> ws) : pool_(pool), ws_(std::move(ws)) {}
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        ~Lease();
        Workspace& operator*() { return *ws_; }

    private:
        WorkspacePool& pool_;
        std::unique_ptr<Workspace> ws_;
    };
    Lease borrow();

private:
    std::mutex mutex_;
    std::vector<std::unique_ptr<Workspace>> free_;
};

// The regularizers' penalty at these weights (what the loss gains); with grads, their
// gradient added there too.
float regularization(const Network& net, const float* weights, float* grads = nullptr);

// Runs every layer on ws.x; returns (and sets ws.y_pred to) the batch-major output. With a
// training seed, a training pass: dropout drops, by masks that seed decides.
const float* forward(const Network& net, Workspace& ws, const float* weights, std::size_t batch,
                     const std::uint64_t* training_seed = nullptr);
// From ws.d_pred back through every layer; overwrites grads (the flat gradient buffer).
// `past_output_activation`: d_pred is already the gradient of the last layer's activation
// input (a loss that folds the activation in).
void backward(const Network& net, Workspace& ws, const float* weights, float* grads, std::size_t batch,
              bool past_output_activation = false);

// Copies the samples `rows` of x (N, ...) into ws.x, time-major (T x rows x features) when
// the samples are sequences.
void gather_time_major(Workspace& ws, const Tensor& x, std::span<const std::size_t> rows);
// Copies the samples `rows` of y (N, ...) into dst, batch-major.
void gather_rows(float* dst, const Tensor& y, std::span<const std::size_t> rows);

}  // namespace recur::detail
