#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tensor.hpp"

namespace recur {

namespace detail {
struct LayerPass;
struct StreamPass;
struct LayerAccess;
class ConfigReader;
class ConfigWriter;
class Cell;
}  // namespace detail

enum class Activation { linear, tanh, relu, sigmoid, softmax };

// "tanh", "relu", "sigmoid", "linear", "softmax" (and None's spelling "none").
Activation parse_activation(std::string_view name, std::string_view caller);
const char* activation_name(Activation activation);

// Keras's weight regularizers: training adds l1 sum |w| + l2 sum w^2 over the weight to the
// loss (and so to the loss that fit and evaluate report), and its gradient to the weight's.
class Regularizer {
public:
    float l1() const { return l1_; }
    float l2() const { return l2_; }

protected:
    Regularizer(float l1, float l2, const char* call);

private:
    float l1_, l2_;
};
struct L1 final : Regularizer {
    explicit L1(float l1 = 0.01f) : Regularizer(l1, 0.0f, "L1") {}
};
struct L2 final : Regularizer {
    explicit L2(float l2 = 0.01f) : Regularizer(0.0f, l2, "L2") {}
};
struct L1L2 final : Regularizer {
    explicit L1L2(float l1 = 0.0f, float l2 = 0.0f) : Regularizer(l1, l2, "L1L2") {}
};

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
    // The regularizer of a weight ("kernel", "recurrent_kernel", "bias", "embeddings"), if any.
    std::optional<Regularizer> regularizer(std::string_view weight) const;

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
    // Sets the regularizer of a weight this kind lists in regularizable().
    void set_regularizer(const std::string& weight, const Regularizer& regularizer);
    // Runs a forward pass of a layer called on its own (building it on first use, with
    // weights of its own); returns the output, then the final states when asked. A recurrent
    // layer starts from initial_states (batch x units each) when given.
    std::vector<Tensor> call_standalone(const Tensor& x, bool with_states,
                                        const std::vector<const float*>& initial_states = {});

    struct WeightSpec {
        std::string name;
        Shape shape;
    };

private:
    friend struct detail::LayerAccess;
    // Everything a model, a stream or a model file needs of a layer kind comes through these
    // hooks, so that nothing outside the layer's own files needs to know which kind it is.

    // Shapes. The per-sample input ranks the layer takes (SimpleRNN: 2, 2; Dense: 1, 2).
    virtual std::pair<std::size_t, std::size_t> input_ranks() const = 0;
    // Whether a sample of this shape is a sequence, (T, D) or (Embedding) T ids, kept
    // time-major inside; its first axis is time, which may be None (any length).
    virtual bool is_sequence(const Shape& sample) const { return sample.rank() == 2; }
    virtual Shape compute_output_shape(const Shape& input) const = 0;
    // Checks the values given to the first layer, a batch or a stream's step: finite (Embedding:
    // valid ids).
    virtual void check_input(TensorView x, const std::string& call) const;
    // Where the layer may stand in a Sequential model (Embedding: first only); `index` is its place.
    virtual void check_placement(std::size_t, const std::string&) const {}
    // The activation of the output, which a loss may fold into its gradient (a softmax head).
    virtual std::optional<Activation> output_activation() const { return std::nullopt; }
    // Called once the input shape is set (a wrapper passes it to the layers it holds).
    virtual void input_shape_set(const std::string&) {}
    // Keras's masks: whether the output has a mask (a timestep per sample that later layers
    // skip) when the input has one or not; forward then sets pass.output_mask. Masking and
    // Embedding(mask_zero) make one, Dense on sequences and a recurrent layer with
    // return_sequences pass theirs on, the others drop it.
    virtual bool output_masked(bool) const { return false; }

    // Weights.
    virtual std::vector<WeightSpec> weight_specs(const Shape& input) const = 0;
    virtual void initialize(float* weights, std::mt19937_64& generator) const = 0;

    // A pass over a batch of `timesteps` steps per sample (1 when the model's input is no
    // sequence): forward leaves the output (and a recurrent layer's final states) in the
    // pass, backward the gradients.
    virtual std::size_t workspace_floats(std::size_t batch, std::size_t timesteps) const = 0;
    // The weights that take a regularizer, by Keras's option name ("kernel_regularizer",
    // "recurrent_regularizer", ...) and weight name.
    virtual std::vector<std::pair<std::string, std::string>> regularizable() const { return {}; }
    // Each weight's regularizer, in weight_specs order.
    virtual std::vector<std::optional<Regularizer>> weight_regularizers() const;
    // Whether training passes draw random numbers (dropout): fit then gives each step a seed.
    virtual bool draws_noise() const { return false; }
    virtual void forward(detail::LayerPass& pass) const = 0;
    virtual void backward(detail::LayerPass& pass) const = 0;
    // The final states forward leaves (h; h and c for LSTM; a Bidirectional layer's forward
    // ones then its backward ones), each batch x state_width().
    virtual std::size_t state_count() const { return 0; }
    virtual std::size_t state_width() const { return 0; }
    // Keras's stateful layers: the final states of a batch are the next batch's initial
    // states, so a batch's forward pass changes the layer; its batch size is then fixed
    // until reset_states.
    virtual bool keeps_states() const { return false; }
    virtual void check_batch(std::size_t, const std::string&) const {}
    virtual void reset_states() {}

    // One timestep at a time (Sequential::stream): what a stream keeps for this layer, laid
    // out by stream_start (weights packed for the kernels, zero states); stream_step runs one
    // step with the same kernels predict uses and returns the output.
    virtual void check_streamable(const std::string&) const {}
    virtual std::size_t stream_floats(std::size_t batch) const = 0;
    virtual void stream_start(detail::StreamPass& pass) const = 0;
    virtual void stream_reset(detail::StreamPass&) const {}
    virtual const float* stream_step(detail::StreamPass& pass, const float* input) const noexcept = 0;

    // Model files: the layer's own options (its type, name and input shape are written for it).
    virtual void write_config(detail::ConfigWriter& config) const = 0;

    std::string name_;
    Shape input_shape_;
    float* weights_ = nullptr;  // this layer's slice of a flat parameter buffer, or owned_
    Tensor owned_;              // the weights of a layer called on its own
    bool in_model_ = false;     // a model's own copy: its options were checked by the model
    std::map<std::string, Regularizer, std::less<>> regularizers_;  // by weight name
    std::atomic<std::uint64_t>* model_version_ = nullptr;  // its model's weights version, which set_weights moves on

protected:
    bool input_masked_ = false;  // set by its model: its batches come with a mask
};

// What SimpleRNN, LSTM and GRU share: Keras's RNN arguments, and one time loop over the
// sequence that a cell's gate math plugs into.
class Recurrent : public Layer {
public:
    std::size_t units() const { return units_; }
    Activation activation() const { return activation_; }
    bool use_bias() const { return use_bias_; }
    bool return_sequences() const { return return_sequences_; }
    bool return_state() const { return return_state_; }
    bool go_backwards() const { return go_backwards_; }
    bool stateful() const { return stateful_; }

protected:
    Recurrent(std::string_view type_prefix, const char* type, std::size_t units);

    void set_activation(std::string_view name, const char* option, Activation& target);
    void set_flag(bool on, const char* option, bool& target);
    void set_shape(Shape timesteps_features);
    // Calls the layer on a batch (N, T, D) as Keras does, from the given initial states
    // (none: zeros; else h, and c for LSTM, each (N, units)).
    std::vector<Tensor> call(const Tensor& x, const std::vector<Tensor>& initial_state = {});

    std::size_t units_;
    Activation activation_ = Activation::tanh;
    Activation recurrent_activation_ = Activation::sigmoid;  // the gates' (LSTM, GRU)
    bool use_bias_ = true;
    bool return_sequences_ = false;
    bool return_state_ = false;
    bool go_backwards_ = false;
    bool stateful_ = false;

private:
    // The gate math of one step and the buffers it needs.
    virtual const detail::Cell& cell() const = 0;
    // Keeps a stateful layer's final states for the next batch.
    void carry_states(const detail::LayerPass& pass) const;
    // Options of the kind's own (LSTM's recurrent_activation, ...) for its model-file config.
    virtual void write_cell_config(detail::ConfigWriter&) const {}
    // Keras's initial bias: zeros, or (LSTM's unit_forget_bias) ones for the forget gate.
    virtual void initialize_bias(float* bias, std::size_t floats) const;

    std::pair<std::size_t, std::size_t> input_ranks() const override { return {2, 2}; }
    Shape compute_output_shape(const Shape& input) const override;
    void check_placement(std::size_t index, const std::string& call) const override;
    std::vector<std::pair<std::string, std::string>> regularizable() const override {
        return {{"kernel_regularizer", "kernel"}, {"recurrent_regularizer", "recurrent_kernel"}, {"bias_regularizer", "bias"}};
    }
    bool output_masked(bool input_masked) const override { return input_masked && return_sequences_; }
    std::vector<WeightSpec> weight_specs(const Shape& input) const override;
    void initialize(float* weights, std::mt19937_64& generator) const override;
    std::size_t workspace_floats(std::size_t batch, std::size_t timesteps) const override;
    void forward(detail::LayerPass& pass) const override;
    void backward(detail::LayerPass& pass) const override;
    // A batch with a mask: each row's real steps only, packed (layers/recurrent.hpp).
    void forward_masked(detail::LayerPass& pass) const;
    void backward_masked(detail::LayerPass& pass) const;
    std::size_t state_count() const override;
    std::size_t state_width() const override { return units_; }
    bool keeps_states() const override { return stateful_; }
    void check_batch(std::size_t batch, const std::string& call) const override;
    void reset_states() override;
    void check_streamable(const std::string& call) const override;
    std::size_t stream_floats(std::size_t batch) const override;
    void stream_start(detail::StreamPass& pass) const override;
    void stream_reset(detail::StreamPass& pass) const override;
    const float* stream_step(detail::StreamPass& pass, const float* input) const noexcept override;
    void write_config(detail::ConfigWriter& config) const override;

    const char* type_;
    // A stateful layer's states between batches (h, then c): batch x units each, or empty
    // before the first batch and after reset_states.
    mutable Tensor carried_;
    // Keras's zero_output_for_mask, which its Bidirectional turns on for return_sequences: a
    // masked step outputs zeros instead of the last real step's output.
    bool zero_output_for_mask_ = false;
    friend class Bidirectional;  // makes its backward copy with go_backwards turned
};

// Chained setters that return the concrete recurrent layer: LSTM(32).return_sequences(true).
template <class Derived>
class RecurrentLayer : public Recurrent {
public:
    Derived& kernel_regularizer(const Regularizer& r) { set_regularizer("kernel", r); return self(); }
    Derived& recurrent_regularizer(const Regularizer& r) { set_regularizer("recurrent_kernel", r); return self(); }
    Derived& bias_regularizer(const Regularizer& r) { set_regularizer("bias", r); return self(); }
    Derived& activation(std::string_view name) {
        set_activation(name, "activation", activation_);
        return self();
    }
    Derived& use_bias(bool on) {
        set_flag(on, "use_bias", use_bias_);
        return self();
    }
    Derived& return_sequences(bool on) {
        set_flag(on, "return_sequences", return_sequences_);
        return self();
    }
    // Keras's return_state: a call on the layer returns [output, final states...]. A
    // Sequential model takes one output, so it refuses such a layer.
    Derived& return_state(bool on) {
        set_flag(on, "return_state", return_state_);
        return self();
    }
    // Processes the sequence from its end; outputs come in processing order, as Keras's.
    Derived& go_backwards(bool on) {
        set_flag(on, "go_backwards", go_backwards_);
        return self();
    }
    // Keras's stateful: each sample's final states start the same sample of the next batch
    // (predict, evaluate, train_on_batch, fit with shuffle off), until Sequential::reset_states.
    // For a long series cut into consecutive batches: truncated backpropagation through time.
    Derived& stateful(bool on) {
        set_flag(on, "stateful", stateful_);
        return self();
    }
    Derived& input_shape(Shape timesteps_features) {
        set_shape(std::move(timesteps_features));
        return self();
    }
    Derived& name(std::string name) {
        set_name(std::move(name));
        return self();
    }
    using Layer::input_shape;
    using Layer::name;
    using Recurrent::activation;
    using Recurrent::go_backwards;
    using Recurrent::return_sequences;
    using Recurrent::return_state;
    using Recurrent::stateful;
    using Recurrent::use_bias;

    // Calls the layer on a batch (N, T, D) as Keras does: builds it on first use and returns
    // [output] or, with return_state, [output, final state] ([output, h, c] for LSTM).
    // initial_state: Keras's, [h] ([h, c] for LSTM), each (N, units).
    std::vector<Tensor> operator()(const Tensor& x, const std::vector<Tensor>& initial_state = {}) {
        return call(x, initial_state);
    }

    std::unique_ptr<Layer> clone() const override { return std::make_unique<Derived>(self()); }

protected:
    using Recurrent::Recurrent;
    Derived& self() { return static_cast<Derived&>(*this); }
    const Derived& self() const { return static_cast<const Derived&>(*this); }
};

// Fully-connected recurrent layer: h_t = activation(x_t W + h_{t-1} U + b). Weights kernel
// (D, units), recurrent_kernel (units, units), bias (units).
class SimpleRNN final : public RecurrentLayer<SimpleRNN> {
public:
    explicit SimpleRNN(std::size_t units);
    const char* type_name() const override { return "SimpleRNN"; }

private:
    friend struct detail::LayerAccess;
    static std::unique_ptr<Layer> from_config(const detail::ConfigReader& config);
    const detail::Cell& cell() const override;
};

// Long short-term memory, as Keras's LSTM: gates i, f, c, o (in that order in the weights),
// i = ra(x W_i + h U_i + b_i) and likewise f, o; c_t = f c_{t-1} + i a(x W_c + h U_c + b_c);
// h_t = o a(c_t), with a the activation (tanh) and ra the recurrent activation (sigmoid).
// Weights kernel (D, 4 units), recurrent_kernel (units, 4 units), bias (4 units).
class LSTM final : public RecurrentLayer<LSTM> {
public:
    explicit LSTM(std::size_t units);
    LSTM& recurrent_activation(std::string_view name);
    // As Keras (on by default): the forget gate's bias starts at 1, so that the cell
    // remembers from the start.
    LSTM& unit_forget_bias(bool on);
    Activation recurrent_activation() const { return recurrent_activation_; }
    bool unit_forget_bias() const { return unit_forget_bias_; }
    const char* type_name() const override { return "LSTM"; }

private:
    friend struct detail::LayerAccess;
    static std::unique_ptr<Layer> from_config(const detail::ConfigReader& config);
    const detail::Cell& cell() const override;
    void write_cell_config(detail::ConfigWriter& config) const override;
    void initialize_bias(float* bias, std::size_t floats) const override;
    bool unit_forget_bias_ = true;
};

// Gated recurrent unit, as Keras's GRU: gates z, r, h (in that order in the weights),
// z = ra(x W_z + h U_z + b_z), r likewise, h_t = z h_{t-1} + (1 - z) hh. With reset_after (the
// default, as PyTorch's GRU and cuDNN): hh = a(x W_h + b_h + r (h U_h + b'_h)), the bias
// (2, 3 units) holding the input bias then the recurrent one; without: hh = a(x W_h +
// (r h) U_h + b_h), the bias (3 units).
class GRU final : public RecurrentLayer<GRU> {
public:
    explicit GRU(std::size_t units);
    GRU& recurrent_activation(std::string_view name);
    GRU& reset_after(bool on);
    Activation recurrent_activation() const { return recurrent_activation_; }
    bool reset_after() const { return reset_after_; }
    const char* type_name() const override { return "GRU"; }

private:
    friend struct detail::LayerAccess;
    static std::unique_ptr<Layer> from_config(const detail::ConfigReader& config);
    const detail::Cell& cell() const override;
    void write_cell_config(detail::ConfigWriter& config) const override;
    bool reset_after_ = true;
};

// Keras's Bidirectional: a recurrent layer run forwards and a copy of it run backwards
// (go_backwards turned), their outputs merged: "concat" (the default: forward's units, then
// backward's), "sum", "mul" or "ave". With return_sequences the backward outputs are put back
// in time order first; with a mask each sequence's backward run starts at its last real step.
// With the layer's return_state, a call on its own returns [output, forward states...,
// backward states...] ([output, h_f, c_f, h_b, c_b] for LSTM), as Keras's.
// Weights: the forward layer's, then the backward layer's, named forward_<layer>/kernel, ...
// (Keras's get_weights order). It needs whole sequences, so a stream refuses it.
class Bidirectional final : public Layer {
public:
    explicit Bidirectional(const Recurrent& layer);
    Bidirectional(const Bidirectional& other);

    Bidirectional& merge_mode(std::string_view mode);
    Bidirectional& input_shape(Shape timesteps_features);
    Bidirectional& name(std::string name);
    using Layer::input_shape;
    using Layer::name;

    const std::string& merge_mode() const { return merge_mode_; }
    const Recurrent& forward_layer() const { return *forward_; }
    const Recurrent& backward_layer() const { return *backward_; }

    std::vector<Tensor> operator()(const Tensor& x);

    const char* type_name() const override { return "Bidirectional"; }
    std::unique_ptr<Layer> clone() const override;

private:
    friend struct detail::LayerAccess;
    static std::unique_ptr<Layer> from_config(const detail::ConfigReader& config);
    std::pair<std::size_t, std::size_t> input_ranks() const override { return {2, 2}; }
    void input_shape_set(const std::string& call) override;
    void check_placement(std::size_t index, const std::string& call) const override;
    bool output_masked(bool input_masked) const override;
    std::size_t state_count() const override;
    std::size_t state_width() const override { return forward_->units(); }
    Shape compute_output_shape(const Shape& input) const override;
    std::vector<std::optional<Regularizer>> weight_regularizers() const override;
    std::vector<WeightSpec> weight_specs(const Shape& input) const override;
    void initialize(float* weights, std::mt19937_64& generator) const override;
    std::size_t workspace_floats(std::size_t batch, std::size_t timesteps) const override;
    void forward(detail::LayerPass& pass) const override;
    void backward(detail::LayerPass& pass) const override;
    void check_streamable(const std::string& call) const override;
    std::size_t stream_floats(std::size_t) const override { return 0; }
    void stream_start(detail::StreamPass&) const override {}
    const float* stream_step(detail::StreamPass&, const float* input) const noexcept override { return input; }
    void write_config(detail::ConfigWriter& config) const override;

    std::string layer_name_;  // the wrapped layer's own: forward_<it>, backward_<it>
    std::unique_ptr<Recurrent> forward_, backward_;
    std::string merge_mode_ = "concat";
};

// Densely-connected layer on the last axis: y = activation(x W + b), for (N, D) or (N, T, D).
class Dense final : public Layer {
public:
    explicit Dense(std::size_t units);

    Dense& activation(std::string_view name);
    Dense& use_bias(bool on);
    Dense& kernel_regularizer(const Regularizer& r) { set_regularizer("kernel", r); return *this; }
    Dense& bias_regularizer(const Regularizer& r) { set_regularizer("bias", r); return *this; }
    // Keras's activity_regularizer: the loss gains l1 sum |y| + l2 sum y^2 over the layer's
    // outputs in the batch (every row, as Keras's). With one, a crossentropy loss no longer
    // folds this layer's softmax or sigmoid into its gradient.
    Dense& activity_regularizer(const Regularizer& r);
    std::optional<Regularizer> activity_regularizer() const { return activity_regularizer_; }
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
    friend struct detail::LayerAccess;
    static std::unique_ptr<Layer> from_config(const detail::ConfigReader& config);
    std::pair<std::size_t, std::size_t> input_ranks() const override;
    Shape compute_output_shape(const Shape& input) const override;
    std::optional<Activation> output_activation() const override {
        return activity_regularizer_ ? std::nullopt : std::optional<Activation>(activation_);
    }
    std::vector<std::pair<std::string, std::string>> regularizable() const override {
        return {{"kernel_regularizer", "kernel"}, {"bias_regularizer", "bias"}};
    }
    bool output_masked(bool input_masked) const override { return input_masked; }
    std::vector<WeightSpec> weight_specs(const Shape& input) const override;
    void initialize(float* weights, std::mt19937_64& generator) const override;
    std::size_t workspace_floats(std::size_t batch, std::size_t timesteps) const override;
    void forward(detail::LayerPass& pass) const override;
    void backward(detail::LayerPass& pass) const override;
    std::size_t stream_floats(std::size_t batch) const override;
    void stream_start(detail::StreamPass& pass) const override;
    const float* stream_step(detail::StreamPass& pass, const float* input) const noexcept override;
    void write_config(detail::ConfigWriter& config) const override;

    std::size_t units_;
    Activation activation_ = Activation::linear;
    bool use_bias_ = true;
    std::optional<Regularizer> activity_regularizer_;
};

// Integer ids in, learned vectors out, as Keras's Embedding: (N, T) ids -> (N, T, output_dim).
// Ids are given as floats holding whole numbers in [0, input_dim) (exact up to 2^24); the
// weight "embeddings" (input_dim, output_dim) starts uniform in [-0.05, 0.05]. It can only
// be a model's first layer.
class Embedding final : public Layer {
public:
    Embedding(std::size_t input_dim, std::size_t output_dim);

    Embedding& input_shape(Shape timesteps);  // (T,): Keras's input_length
    Embedding& name(std::string name);
    // As Keras: id 0 is padding (input_dim counts it), and its steps are masked for the
    // layers after.
    Embedding& mask_zero(bool on);
    Embedding& embeddings_regularizer(const Regularizer& r) { set_regularizer("embeddings", r); return *this; }
    using Layer::name;
    using Layer::input_shape;

    std::size_t input_dim() const { return input_dim_; }
    std::size_t output_dim() const { return output_dim_; }
    bool mask_zero() const { return mask_zero_; }

    Tensor operator()(const Tensor& ids);

    const char* type_name() const override { return "Embedding"; }
    std::unique_ptr<Layer> clone() const override;

private:
    friend struct detail::LayerAccess;
    std::vector<std::pair<std::string, std::string>> regularizable() const override {
        return {{"embeddings_regularizer", "embeddings"}};
    }
    static std::unique_ptr<Layer> from_config(const detail::ConfigReader& config);
    std::pair<std::size_t, std::size_t> input_ranks() const override;
    bool is_sequence(const Shape&) const override { return true; }
    void check_input(TensorView ids, const std::string& call) const override;
    void check_placement(std::size_t index, const std::string& call) const override;
    bool output_masked(bool) const override { return mask_zero_; }
    Shape compute_output_shape(const Shape& input) const override;
    std::vector<WeightSpec> weight_specs(const Shape& input) const override;
    void initialize(float* weights, std::mt19937_64& generator) const override;
    std::size_t workspace_floats(std::size_t batch, std::size_t timesteps) const override;
    void forward(detail::LayerPass& pass) const override;
    void backward(detail::LayerPass& pass) const override;
    void check_streamable(const std::string& call) const override;
    std::size_t stream_floats(std::size_t batch) const override;
    void stream_start(detail::StreamPass& pass) const override;
    const float* stream_step(detail::StreamPass& pass, const float* input) const noexcept override;
    void write_config(detail::ConfigWriter& config) const override;

    std::size_t input_dim_, output_dim_;
    bool mask_zero_ = false;
};

// Keras's Masking: a timestep whose features all equal mask_value (default 0) is masked for
// the layers after (a recurrent layer skips it); the output is the input with masked steps
// zeroed. Sequences only, (T, D) per sample, and only as a model's first layer.
class Masking final : public Layer {
public:
    explicit Masking(float mask_value = 0.0f);

    Masking& input_shape(Shape timesteps_features);
    Masking& name(std::string name);
    using Layer::name;
    using Layer::input_shape;

    float mask_value() const { return mask_value_; }

    const char* type_name() const override { return "Masking"; }
    std::unique_ptr<Layer> clone() const override;

private:
    friend struct detail::LayerAccess;
    static std::unique_ptr<Layer> from_config(const detail::ConfigReader& config);
    std::pair<std::size_t, std::size_t> input_ranks() const override { return {2, 2}; }
    void check_placement(std::size_t index, const std::string& call) const override;
    bool output_masked(bool) const override { return true; }
    Shape compute_output_shape(const Shape& input) const override { return input; }
    std::vector<WeightSpec> weight_specs(const Shape&) const override { return {}; }
    void initialize(float*, std::mt19937_64&) const override {}
    std::size_t workspace_floats(std::size_t batch, std::size_t timesteps) const override;
    void forward(detail::LayerPass& pass) const override;
    void backward(detail::LayerPass& pass) const override;
    void check_streamable(const std::string& call) const override;
    std::size_t stream_floats(std::size_t) const override { return 0; }
    void stream_start(detail::StreamPass&) const override {}
    const float* stream_step(detail::StreamPass&, const float* input) const noexcept override { return input; }
    void write_config(detail::ConfigWriter& config) const override;

    float mask_value_;
};

// Keras's Dropout: in training, each input element is zeroed with probability rate and the
// others scaled by 1 / (1 - rate); in predict, evaluate and streams it passes its input on.
// Which elements drop depends only on the training step's seed (drawn from the model's
// generator) and the element's place in the batch, so it is the same for any thread count.
class Dropout final : public Layer {
public:
    explicit Dropout(float rate);

    Dropout& input_shape(Shape shape);
    Dropout& name(std::string name);
    using Layer::name;
    using Layer::input_shape;

    float rate() const { return rate_; }

    const char* type_name() const override { return "Dropout"; }
    std::unique_ptr<Layer> clone() const override;

private:
    friend struct detail::LayerAccess;
    static std::unique_ptr<Layer> from_config(const detail::ConfigReader& config);
    std::pair<std::size_t, std::size_t> input_ranks() const override { return {1, 2}; }
    bool output_masked(bool masked) const override { return masked; }
    Shape compute_output_shape(const Shape& input) const override { return input; }
    std::vector<WeightSpec> weight_specs(const Shape&) const override { return {}; }
    void initialize(float*, std::mt19937_64&) const override {}
    std::size_t elements(std::size_t batch, std::size_t timesteps) const;
    std::size_t workspace_floats(std::size_t batch, std::size_t timesteps) const override;
    bool draws_noise() const override { return rate_ > 0.0f; }
    void forward(detail::LayerPass& pass) const override;
    void backward(detail::LayerPass& pass) const override;
    std::size_t stream_floats(std::size_t) const override { return 0; }
    void stream_start(detail::StreamPass&) const override {}
    const float* stream_step(detail::StreamPass&, const float* input) const noexcept override { return input; }
    void write_config(detail::ConfigWriter& config) const override;

    float rate_;
};

}  // namespace recur
