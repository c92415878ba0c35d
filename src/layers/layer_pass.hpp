#pragma once
// What a layer's forward and backward see: flat buffers, all activations time-major
// (T x batch x features for sequences, batch x features otherwise).
#include <cstddef>
#include <vector>

#include <recur/layers.hpp>

#include "kernels/kernels.hpp"

namespace recur::detail {

struct LayerPass {
    std::size_t batch = 0;
    const float* weights = nullptr;  // this layer's weights, Keras order, end to end
    float* grads = nullptr;          // same layout; backward overwrites it
    const float* input = nullptr;    // the activations of the layer below
    float* workspace = nullptr;      // workspace_floats(batch) floats, kept from forward to backward
    const float* output = nullptr;   // set by forward
    const float* state = nullptr;    // set by forward of a recurrent layer: batch x units
    float* output_grad = nullptr;    // backward: d loss / d output; the layer may overwrite it
    bool output_grad_past_activation = false;  // output_grad is d loss / d activation input
    float* input_grad = nullptr;     // backward: d loss / d input goes here; null if unneeded
};

// Keras-style unique names: the first "dense" is "dense", the next "dense_1", ...
std::string unique_name(std::string_view prefix);


// The kernels' activation for a layer's (softmax is handled apart).
kernels::Act kernel_act(Activation activation);

// kernels::active().pack, its panels spread over the threads when the matrix is large.
void pack_weights(float* packed, const float* b, std::size_t k, std::size_t n, bool transposed);

// The model's door to a layer's private build and compute hooks.
struct LayerAccess {
    using WeightSpec = Layer::WeightSpec;
    static Shape output_shape(const Layer& layer, const Shape& input) { return layer.compute_output_shape(input); }
    static std::vector<WeightSpec> weight_specs(const Layer& layer) { return layer.weight_specs(layer.input_shape_); }
    static std::size_t workspace_floats(const Layer& layer, std::size_t batch) { return layer.workspace_floats(batch); }
    static void forward(const Layer& layer, LayerPass& pass) { layer.forward(pass); }
    static void backward(const Layer& layer, LayerPass& pass) { layer.backward(pass); }
    static void set_input_shape(Layer& layer, Shape shape, const std::string& call) {
        layer.set_input_shape(std::move(shape), call);
    }
    // Marks a model's own copy of a layer: its options are fixed from now on.
    static void adopt(Layer& layer) { layer.in_model_ = true; }
    // Forgets an input shape given by a model that then could not be built (never a built layer's).
    static void clear_input_shape(Layer& layer) {
        if (!layer.built()) layer.input_shape_ = Shape();
    }
    static std::pair<std::size_t, std::size_t> input_ranks(const Layer& layer) { return layer.input_ranks(); }
    static const float* weights(const Layer& layer) { return layer.weights_; }
    static std::size_t input_timesteps(const Layer& layer) { return layer.input_timesteps(); }
    static void check_input(const Layer& layer, const Tensor& x, const char* call) { layer.check_input(x, call); }
    // Points the layer at its slice of a model's parameter buffer; the values are the caller's.
    static void bind(Layer& layer, float* weights) {
        layer.weights_ = weights;
        layer.owned_ = Tensor();
    }
    static void initialize(const Layer& layer, float* weights, std::mt19937_64& generator) {
        layer.initialize(weights, generator);
    }
};

}  // namespace recur::detail
