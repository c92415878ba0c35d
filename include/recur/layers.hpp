#pragma once
#include <cstddef>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tensor.hpp"

namespace recur {

namespace detail {
struct LayerPass;
struct LayerAccess;
}  // namespace detail

enum class Activation { linear, tanh, relu, sigmoid, softmax };

// "tanh", "relu", "sigmoid", "linear", "softmax" (and None's spelling "none").
Activation parse_activation(std::string_view name, std::string_view caller);
const char* activation_name(Activation activation);

// A layer describes shapes and options; its weights live in the model's flat parameter
// buffer (or, for a layer called on its own, in storage of its own). Options are chained
// setters named after Keras's arguments: SimpleRNN(10).return_sequences(true).input_shape({5, 1}).
// Once a layer is built, or added to a model (the model holds a copy), its options are
// fixed. Calling a layer on its own builds it on its first call, so, like any object that
// changes, it must not be called from two threads at once.
class Layer {
public:
    virtual ~Layer();

    const std::string& name() const { return name_; }
    virtual const char* type_name() const = 0;  // "SimpleRNN", "Dense"

    // Per-sample shapes: the batch axis is left out, as in Keras's input_shape.
    const Shape& input_shape() const { return input_shape_; }
    bool has_input_shape() const { return input_shape_.rank() > 0; }
    Shape output_shape() const;

    bool built() const { return weights_ != nullptr; }
    std::size_t count_params() const;
    // Keras order and shapes; empty until the layer is built.
    std::vector<std::string> weight_names() const;  // "kernel", "recurrent_kernel", "bias"
    std::vector<Shape> weight_shapes() const;
    std::vector<Tensor> get_weights() const;
    void set_weights(const std::vector<Tensor>& weights);

    virtual std::unique_ptr<Layer> clone() const = 0;

protected:
    Layer(std::string_view type_prefix);  // takes a unique Keras-style name: dense, dense_1, ...
    Layer(const Layer& other);
    Layer& operator=(const Layer&) = delete;

    void set_name(std::string name);
    // Checks the rank against input_ranks() and the dimensions against zero; `call` names
    // the user's call in messages (e.g. "Dense::input_shape", "Sequential::fit").
    void set_input_shape(Shape shape, const std::string& call);
    // Option setters call this first: the options of a built layer (its weights and buffers
    // were laid out for them) or of a layer in a model (the model checked them) are fixed.
    void check_configurable(const char* option) const;
    // Runs a forward pass of a layer called on its own (building it on first use, with
    // weights of its own); returns the output and (for recurrent layers) the final state.
    std::vector<Tensor> call_standalone(const Tensor& x, bool with_state);

    struct WeightSpec {
        std::string name;
        Shape shape;
    };

private:
    friend struct detail::LayerAccess;
    // The per-sample input ranks the layer takes (SimpleRNN: 2, 2; Dense: 1, 2).
    virtual std::pair<std::size_t, std::size_t> input_ranks() const = 0;
    // Steps per sample when the input is a sequence (kept time-major inside), else 1.
    virtual std::size_t input_timesteps() const { return input_shape_.rank() == 2 ? input_shape_[0] : 1; }
    // Checks the values of a batch given to the first layer (Embedding: valid ids).
    virtual void check_input(const Tensor&, const char*) const {}
    virtual Shape compute_output_shape(const Shape& input) const = 0;
    virtual std::vector<WeightSpec> weight_specs(const Shape& input) const = 0;
    virtual void initialize(float* weights, std::mt19937_64& generator) const = 0;
    virtual std::size_t workspace_floats(std::size_t batch) const = 0;
    virtual void forward(detail::LayerPass& pass) const = 0;
    virtual void backward(detail::LayerPass& pass) const = 0;

    std::string name_;
    Shape input_shape_;
    float* weights_ = nullptr;  // this layer's slice of a flat parameter buffer, or owned_
    Tensor owned_;              // the weights of a layer called on its own
    bool in_model_ = false;     // a model's own copy: its options were checked by the model
};

// Fully-connected recurrent layer: h_t = activation(x_t W + h_{t-1} U + b).
class SimpleRNN : public Layer {
public:
    explicit SimpleRNN(std::size_t units);

    SimpleRNN& activation(std::string_view name);
    SimpleRNN& use_bias(bool on);
    SimpleRNN& return_sequences(bool on);
    SimpleRNN& return_state(bool on);
    SimpleRNN& go_backwards(bool on);
    SimpleRNN& input_shape(Shape timesteps_features);  // (T, D)
    SimpleRNN& name(std::string name);
    using Layer::name;

    std::size_t units() const { return units_; }
    Activation activation() const { return activation_; }
    bool use_bias() const { return use_bias_; }
    bool return_sequences() const { return return_sequences_; }
    bool return_state() const { return return_state_; }
    bool go_backwards() const { return go_backwards_; }
    using Layer::input_shape;

    // Calls the layer on a batch (N, T, D) as Keras does: builds it on first use and
    // returns [output] or, with return_state, [output, final_state].
    std::vector<Tensor> operator()(const Tensor& x);

    const char* type_name() const override { return "SimpleRNN"; }
    std::unique_ptr<Layer> clone() const override;

private:
    std::pair<std::size_t, std::size_t> input_ranks() const override;
    Shape compute_output_shape(const Shape& input) const override;
    std::vector<WeightSpec> weight_specs(const Shape& input) const override;
    void initialize(float* weights, std::mt19937_64& generator) const override;
    std::size_t workspace_floats(std::size_t batch) const override;
    void forward(detail::LayerPass& pass) const override;
    void backward(detail::LayerPass& pass) const override;

    std::size_t units_;
    Activation activation_ = Activation::tanh;
    bool use_bias_ = true;
    bool return_sequences_ = false;
    bool return_state_ = false;
    bool go_backwards_ = false;
};

// Densely-connected layer on the last axis: y = activation(x W + b), for (N, D) or (N, T, D).
class Dense : public Layer {
public:
    explicit Dense(std::size_t units);

    Dense& activation(std::string_view name);
    Dense& use_bias(bool on);
    Dense& input_shape(Shape shape);  // (D) or (T, D)
    Dense& name(std::string name);
    using Layer::name;

    std::size_t units() const { return units_; }
    Activation activation() const { return activation_; }
    bool use_bias() const { return use_bias_; }
    using Layer::input_shape;

    Tensor operator()(const Tensor& x);

    const char* type_name() const override { return "Dense"; }
    std::unique_ptr<Layer> clone() const override;

private:
    std::pair<std::size_t, std::size_t> input_ranks() const override;
    Shape compute_output_shape(const Shape& input) const override;
    std::vector<WeightSpec> weight_specs(const Shape& input) const override;
    void initialize(float* weights, std::mt19937_64& generator) const override;
    std::size_t workspace_floats(std::size_t batch) const override;
    void forward(detail::LayerPass& pass) const override;
    void backward(detail::LayerPass& pass) const override;

    std::size_t units_;
    Activation activation_ = Activation::linear;
    bool use_bias_ = true;
};

// Integer ids in, learned vectors out, as Keras's Embedding: (N, T) ids -> (N, T, output_dim).
// Ids are given as floats holding whole numbers in [0, input_dim); the weight "embeddings"
// (input_dim, output_dim) starts uniform in [-0.05, 0.05]. It can only be a model's first layer.
class Embedding : public Layer {
public:
    Embedding(std::size_t input_dim, std::size_t output_dim);

    Embedding& input_shape(Shape timesteps);  // (T,): Keras's input_length
    Embedding& name(std::string name);
    using Layer::name;
    using Layer::input_shape;

    std::size_t input_dim() const { return input_dim_; }
    std::size_t output_dim() const { return output_dim_; }

    Tensor operator()(const Tensor& ids);

    const char* type_name() const override { return "Embedding"; }
    std::unique_ptr<Layer> clone() const override;

private:
    std::pair<std::size_t, std::size_t> input_ranks() const override;
    std::size_t input_timesteps() const override;
    void check_input(const Tensor& ids, const char* call) const override;
    Shape compute_output_shape(const Shape& input) const override;
    std::vector<WeightSpec> weight_specs(const Shape& input) const override;
    void initialize(float* weights, std::mt19937_64& generator) const override;
    std::size_t workspace_floats(std::size_t batch) const override;
    void forward(detail::LayerPass& pass) const override;
    void backward(detail::LayerPass& pass) const override;

    std::size_t input_dim_, output_dim_;
};

}  // namespace recur
