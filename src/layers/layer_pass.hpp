#pragma once
// What a layer's passes see: flat buffers, all activations time-major (T x batch x features
// for sequences, batch x features otherwise); and the door through which a model, a stream
// and a model file reach a layer's private hooks.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <recur/layers.hpp>

#include "kernels/kernels.hpp"

namespace recur::detail {

struct LayerPass {
    std::size_t batch = 0;
    std::size_t timesteps = 1;       // of this batch's samples (1 when they are no sequences)
    const float* weights = nullptr;  // this layer's weights, Keras order, end to end
    float* grads = nullptr;          // same layout; backward overwrites it
    const float* input = nullptr;    // the activations of the layer below
    float* workspace = nullptr;      // workspace_floats(batch, timesteps) floats, kept from forward to backward
    const float* output = nullptr;   // set by forward
    std::array<const float*, 4> states{};  // set by forward of a recurrent layer: h (and c), batch x units each
    std::array<const float*, 2> initial_states{};  // a recurrent layer's starting h (and c); null: zeros
    // Keras's mask, T x batch bytes in time order: 1 for a real step, 0 for one to skip;
    // null when the input has none. forward sets output_mask (see Layer::output_masked).
    const std::uint8_t* mask = nullptr;
    const std::uint8_t* output_mask = nullptr;
    float* output_grad = nullptr;    // backward: d loss / d output; the layer may overwrite it
    bool output_grad_past_activation = false;  // output_grad is d loss / d activation input
    float* input_grad = nullptr;     // backward: d loss / d input goes here; null if unneeded
    // A training pass (dropout drops) and its seed, the step's own mixed with the layer's place.
    bool training = false;
    std::uint64_t seed = 0;
    // Set by forward: what an activity regularizer adds to the loss for this batch (0: none).
    float activity_penalty = 0.0f;
};

// Floats that hold a mask of `steps` bytes in a float workspace.
inline std::size_t mask_floats(std::size_t steps) { return steps / sizeof(float) + 1; }

// One layer of a stream: the floats it keeps (stream_floats(batch)), laid out by stream_start.
struct StreamPass {
    std::size_t batch = 0;
    const float* weights = nullptr;  // the model's weights of the layer: read by stream_start only
    float* buffer = nullptr;
};

// Keras-style unique names: the first "dense" is "dense", the next "dense_1", ...
std::string unique_name(std::string_view prefix);

// The kernels' activation for a layer's (softmax is handled apart).
kernels::Act kernel_act(Activation activation);

// The model's door to a layer's private build and compute hooks.
struct LayerAccess {
    using WeightSpec = Layer::WeightSpec;
    static Shape output_shape(const Layer& layer, const Shape& input) { return layer.compute_output_shape(input); }
    static std::vector<WeightSpec> weight_specs(const Layer& layer) { return layer.weight_specs(layer.input_shape_); }
    static std::size_t workspace_floats(const Layer& layer, std::size_t batch, std::size_t timesteps) {
        return layer.workspace_floats(batch, timesteps);
    }
    static void forward(const Layer& layer, LayerPass& pass) { layer.forward(pass); }
    static bool draws_noise(const Layer& layer) { return layer.draws_noise(); }
    static std::vector<std::optional<Regularizer>> weight_regularizers(const Layer& layer) {
        return layer.weight_regularizers();
    }
    static std::vector<std::pair<std::string, std::string>> regularizable(const Layer& layer) {
        return layer.regularizable();
    }
    static void set_regularizer(Layer& layer, const std::string& weight, const Regularizer& r) {
        layer.set_regularizer(weight, r);
    }
    static void backward(const Layer& layer, LayerPass& pass) { layer.backward(pass); }
    static std::size_t state_count(const Layer& layer) { return layer.state_count(); }
    static bool keeps_states(const Layer& layer) { return layer.keeps_states(); }
    static void check_batch(const Layer& layer, std::size_t batch, const std::string& call) { layer.check_batch(batch, call); }
    static void reset_states(Layer& layer) { layer.reset_states(); }
    static void set_input_shape(Layer& layer, Shape shape, const std::string& call) {
        layer.set_input_shape(std::move(shape), call);
    }
    static void set_name(Layer& layer, std::string name) { layer.set_name(std::move(name)); }
    // Marks a model's own copy of a layer: its options are fixed from now on.
    static void adopt(Layer& layer) { layer.in_model_ = true; }
    // Forgets an input shape given by a model that then could not be built (never a built layer's).
    static void clear_input_shape(Layer& layer) {
        if (!layer.built()) layer.input_shape_ = Shape();
    }
    static std::pair<std::size_t, std::size_t> input_ranks(const Layer& layer) { return layer.input_ranks(); }
    static const float* weights(const Layer& layer) { return layer.weights_; }
    static bool input_is_sequence(const Layer& layer) { return layer.is_sequence(layer.input_shape_); }
    static void check_input(const Layer& layer, TensorView x, const std::string& call) { layer.check_input(x, call); }
    static void check_placement(const Layer& layer, std::size_t index, const std::string& call) {
        layer.check_placement(index, call);
    }
    static std::optional<Activation> output_activation(const Layer& layer) { return layer.output_activation(); }
    // Tells a layer whether its batches come with a mask; returns whether its output has one.
    static bool set_input_masked(Layer& layer, bool masked) {
        layer.input_masked_ = masked;
        return layer.output_masked(masked);
    }
    // Points the layer at its slice of a model's parameter buffer (the values are the
    // caller's) and at the model's weights version.
    static void bind(Layer& layer, float* weights, std::atomic<std::uint64_t>* version) {
        layer.weights_ = weights;
        layer.owned_ = Tensor();
        layer.model_version_ = version;
    }
    static void initialize(const Layer& layer, float* weights, std::mt19937_64& generator) {
        layer.initialize(weights, generator);
    }
    static void check_streamable(const Layer& layer, const std::string& call) { layer.check_streamable(call); }
    static std::size_t stream_floats(const Layer& layer, std::size_t batch) { return layer.stream_floats(batch); }
    static void stream_start(const Layer& layer, StreamPass& pass) { layer.stream_start(pass); }
    static void stream_reset(const Layer& layer, StreamPass& pass) { layer.stream_reset(pass); }
    static const float* stream_step(const Layer& layer, StreamPass& pass, const float* input) noexcept {
        return layer.stream_step(pass, input);
    }
    static void write_config(const Layer& layer, ConfigWriter& config) { layer.write_config(config); }
    // A layer kind's maker from its config (its type, name and input shape are read for it).
    template <class Kind>
    static std::unique_ptr<Layer> from_config(const ConfigReader& config) {
        return Kind::from_config(config);
    }
};

}  // namespace recur::detail
