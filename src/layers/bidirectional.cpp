// Keras's Bidirectional: two recurrent layers over one input, one of them backwards, through
// the layers' own passes; this file merges their outputs and splits the gradients back.
#include <algorithm>
#include <cstring>

#include "config.hpp"
#include "layers/layer_pass.hpp"
#include "layers/registry.hpp"
#include "tensor/sizes.hpp"
#include "text.hpp"

namespace recur {

using detail::LayerAccess;

namespace {
std::unique_ptr<Recurrent> copy_of(const Recurrent& layer, const std::string& name) {
    std::unique_ptr<Recurrent> copy(static_cast<Recurrent*>(layer.clone().release()));
    LayerAccess::set_name(*copy, name);
    return copy;
}
}  // namespace

Bidirectional::Bidirectional(const Recurrent& layer) : Layer("bidirectional"), layer_name_(layer.name()) {
    const std::string call = "Bidirectional";
    if (layer.built())
        throw Error(call + ": layer '" + layer.name() + "' is built; wrap a layer that is not (its copies get weights of their own)");
    if (layer.stateful())
        throw Error(call + ": layer '" + layer.name() + "' is stateful; a Bidirectional layer's backward run starts "
                           "at each sequence's end, so it has no state to carry to the next batch");
    forward_ = copy_of(layer, "forward_" + layer_name_);
    backward_ = copy_of(layer, "backward_" + layer_name_);
    backward_->go_backwards_ = !layer.go_backwards();
    forward_->zero_output_for_mask_ = backward_->zero_output_for_mask_ = layer.return_sequences();  // as Keras's
    LayerAccess::adopt(*forward_);
    LayerAccess::adopt(*backward_);
    if (layer.has_input_shape()) set_input_shape(layer.input_shape(), call);
}

Bidirectional::Bidirectional(const Bidirectional& other)
    : Layer(other),
      layer_name_(other.layer_name_),
      forward_(static_cast<Recurrent*>(other.forward_->clone().release())),
      backward_(static_cast<Recurrent*>(other.backward_->clone().release())),
      merge_mode_(other.merge_mode_) {}

Bidirectional& Bidirectional::merge_mode(std::string_view mode) {
    check_configurable("merge_mode");
    if (mode != "concat" && mode != "sum" && mode != "mul" && mode != "ave")
        throw Error("Bidirectional::merge_mode: expected \"concat\", \"sum\", \"mul\" or \"ave\", got \"" +
                    detail::printable(mode) + "\"");
    merge_mode_ = mode;
    return *this;
}
Bidirectional& Bidirectional::input_shape(Shape timesteps_features) {
    check_configurable("input_shape");
    set_input_shape(std::move(timesteps_features), "Bidirectional::input_shape");
    return *this;
}
Bidirectional& Bidirectional::name(std::string name) { set_name(std::move(name)); return *this; }

std::unique_ptr<Layer> Bidirectional::clone() const { return std::make_unique<Bidirectional>(*this); }

std::vector<Tensor> Bidirectional::operator()(const Tensor& x) {
    if (x.rank() != 3)
        throw Error("Bidirectional: layer '" + name() + "' expects input of shape (batch, timesteps, features), got " +
                    x.shape().str());
    return call_standalone(x, forward_->return_state());
}

void Bidirectional::check_placement(std::size_t, const std::string& call) const {
    if (forward_->return_state())
        throw Error(call + ": layer '" + name() + "' wraps a layer with return_state on, which gives several outputs; a "
                           "Sequential model takes one");
}

std::size_t Bidirectional::state_count() const { return 2 * LayerAccess::state_count(*forward_); }

void Bidirectional::input_shape_set(const std::string& call) {
    LayerAccess::set_input_shape(*forward_, input_shape(), call);
    LayerAccess::set_input_shape(*backward_, input_shape(), call);
}

// Called as the model is built: the wrapped layers take the mask as this layer does.
bool Bidirectional::output_masked(bool input_masked) const {
    LayerAccess::set_input_masked(*forward_, input_masked);
    LayerAccess::set_input_masked(*backward_, input_masked);
    return input_masked && forward_->return_sequences();
}

Shape Bidirectional::compute_output_shape(const Shape& input) const {
    Shape one = LayerAccess::output_shape(*forward_, input);
    if (merge_mode_ != "concat") return one;
    std::vector<std::size_t> dims = one.dims();
    dims.back() *= 2;
    return Shape(dims);
}

std::vector<Layer::WeightSpec> Bidirectional::weight_specs(const Shape&) const {
    std::vector<WeightSpec> specs;
    for (const Recurrent* layer : {forward_.get(), backward_.get()})
        for (auto& spec : LayerAccess::weight_specs(*layer)) specs.push_back({layer->name() + "/" + spec.name, spec.shape});
    return specs;
}

// The wrapped layers' own regularizers, forward then backward, as their weights lie.
std::vector<std::optional<Regularizer>> Bidirectional::weight_regularizers() const {
    std::vector<std::optional<Regularizer>> all;
    for (const Recurrent* layer : {forward_.get(), backward_.get()})
        for (const auto& r : LayerAccess::weight_regularizers(*layer)) all.push_back(r);
    return all;
}

void Bidirectional::initialize(float* weights, std::mt19937_64& generator) const {
    LayerAccess::initialize(*forward_, weights, generator);
    LayerAccess::initialize(*backward_, weights + forward_->count_params(), generator);
}

namespace {
// The regions of a pass beside the two layers' workspaces: both outputs (the backward one in
// time order), the merged output, the gradients of both outputs, the backward input gradient.
struct Merge {
    float *forward, *backward, *output, *d_forward, *d_backward, *d_input;
};
struct Sizes {
    std::size_t forward_ws, backward_ws, rows, units, width, input;
};
Sizes sizes_of(const Recurrent& forward, const Recurrent& backward, const Layer& self, std::size_t batch,
               std::size_t timesteps) {
    const std::size_t rows = forward.return_sequences() ? detail::mul(timesteps, batch) : batch;
    return {detail::round_up(LayerAccess::workspace_floats(forward, batch, timesteps), 16),
            detail::round_up(LayerAccess::workspace_floats(backward, batch, timesteps), 16),
            rows,
            forward.units(),
            self.output_shape().back(),
            detail::mul(timesteps, batch, self.input_shape()[1])};
}
Merge merge_layout(float* p, const Sizes& s) {
    auto take = [&](std::size_t floats) {
        float* region = p;
        p += detail::round_up(floats, 16);
        return region;
    };
    p += s.forward_ws + s.backward_ws;
    Merge m{};
    m.forward = take(s.rows * s.units);
    m.backward = take(s.rows * s.units);
    m.output = take(s.rows * s.width);
    m.d_forward = take(s.rows * s.units);
    m.d_backward = take(s.rows * s.units);
    m.d_input = take(s.input);
    return m;
}
}  // namespace

std::size_t Bidirectional::workspace_floats(std::size_t batch, std::size_t timesteps) const {
    const Sizes s = sizes_of(*forward_, *backward_, *this, batch, timesteps);
    using detail::add;
    using detail::mul;
    using detail::round_up;
    return add(s.forward_ws, s.backward_ws, mul(4, round_up(mul(s.rows, s.units), 16)),
               round_up(mul(s.rows, s.width), 16), round_up(s.input, 16));
}

namespace {
// The pass of one of the two layers: the same input, batch and mask, its own weights and workspace.
detail::LayerPass inner_pass(const detail::LayerPass& pass, const float* weights, float* grads, float* workspace) {
    detail::LayerPass inner;
    inner.batch = pass.batch;
    inner.timesteps = pass.timesteps;
    inner.weights = weights;
    inner.grads = grads;
    inner.input = pass.input;
    inner.workspace = workspace;
    inner.mask = pass.mask;
    return inner;
}
}  // namespace

void Bidirectional::forward(detail::LayerPass& pass) const {
    const Sizes s = sizes_of(*forward_, *backward_, *this, pass.batch, pass.timesteps);
    const Merge m = merge_layout(pass.workspace, s);
    const std::size_t B = pass.batch, T = pass.timesteps, U = s.units;
    detail::LayerPass f = inner_pass(pass, pass.weights, nullptr, pass.workspace);
    detail::LayerPass b = inner_pass(pass, pass.weights + forward_->count_params(), nullptr, pass.workspace + s.forward_ws);
    LayerAccess::forward(*forward_, f);
    LayerAccess::forward(*backward_, b);
    std::copy_n(f.output, s.rows * U, m.forward);
    if (forward_->return_sequences())  // processing order back to time order
        for (std::size_t t = 0; t < T; ++t) std::copy_n(b.output + (T - 1 - t) * B * U, B * U, m.backward + t * B * U);
    else
        std::copy_n(b.output, s.rows * U, m.backward);
    for (std::size_t r = 0; r < s.rows; ++r) {
        const float* x = m.forward + r * U;
        const float* y = m.backward + r * U;
        float* out = m.output + r * s.width;
        if (merge_mode_ == "concat") {
            std::copy_n(x, U, out);
            std::copy_n(y, U, out + U);
        } else {
            for (std::size_t u = 0; u < U; ++u)
                out[u] = merge_mode_ == "sum" ? x[u] + y[u] : merge_mode_ == "mul" ? x[u] * y[u] : (x[u] + y[u]) * 0.5f;
        }
    }
    pass.output = m.output;
    pass.output_mask = forward_->return_sequences() ? pass.mask : nullptr;
    const std::size_t n = LayerAccess::state_count(*forward_);
    for (std::size_t i = 0; i < n; ++i) pass.states[i] = f.states[i], pass.states[n + i] = b.states[i];
}

void Bidirectional::backward(detail::LayerPass& pass) const {
    const Sizes s = sizes_of(*forward_, *backward_, *this, pass.batch, pass.timesteps);
    const Merge m = merge_layout(pass.workspace, s);
    const std::size_t B = pass.batch, T = pass.timesteps, U = s.units;
    // Each output's share of the merged output's gradient (the backward one in time order).
    for (std::size_t r = 0; r < s.rows; ++r) {
        const float* dy = pass.output_grad + r * s.width;
        float* df = m.d_forward + r * U;
        float* db = m.d_backward + r * U;
        for (std::size_t u = 0; u < U; ++u) {
            if (merge_mode_ == "concat") df[u] = dy[u], db[u] = dy[U + u];
            else if (merge_mode_ == "sum") df[u] = db[u] = dy[u];
            else if (merge_mode_ == "ave") df[u] = db[u] = 0.5f * dy[u];
            else df[u] = dy[u] * m.backward[r * U + u], db[u] = dy[u] * m.forward[r * U + u];
        }
    }
    float* d_backward = m.d_backward;
    if (forward_->return_sequences()) {  // time order to the backward layer's processing order, in m.output's room
        for (std::size_t t = 0; t < T; ++t) std::copy_n(m.d_backward + (T - 1 - t) * B * U, B * U, m.output + t * B * U);
        d_backward = m.output;
    }
    const std::size_t forward_weights = forward_->count_params();
    detail::LayerPass f = inner_pass(pass, pass.weights, pass.grads, pass.workspace);
    f.output_grad = m.d_forward;
    f.input_grad = pass.input_grad;
    LayerAccess::backward(*forward_, f);
    detail::LayerPass b = inner_pass(pass, pass.weights + forward_weights, pass.grads + forward_weights,
                                     pass.workspace + s.forward_ws);
    b.output_grad = d_backward;
    b.input_grad = pass.input_grad ? m.d_input : nullptr;
    LayerAccess::backward(*backward_, b);
    if (pass.input_grad)
        for (std::size_t i = 0; i < s.input; ++i) pass.input_grad[i] += m.d_input[i];
}

void Bidirectional::check_streamable(const std::string& call) const {
    throw Error(call + ": layer '" + name() + "' (Bidirectional) runs each sequence from its end too, so it needs whole "
                       "sequences; a stream gives one step at a time");
}

void Bidirectional::write_config(detail::ConfigWriter& config) const {
    nlohmann::json layer = detail::layer_config(*forward_);
    layer["name"] = layer_name_;
    config.set("layer", layer);
    config.set("merge_mode", merge_mode_);
}

std::unique_ptr<Layer> Bidirectional::from_config(const detail::ConfigReader& c) {
    // The kind first: a file could nest wrappers deeper than the stack would follow.
    const nlohmann::json& config = c.object("layer");
    const auto type = config.find("type");
    if (type == config.end() || !type->is_string() ||
        (*type != "SimpleRNN" && *type != "LSTM" && *type != "GRU"))
        throw Error("Bidirectional: expected a recurrent layer (SimpleRNN, LSTM or GRU), got " +
                    (type == config.end() ? std::string("no \"type\"") : type->dump(-1, ' ', true).substr(0, 60)));
    const std::unique_ptr<Layer> layer = detail::layer_from_config(config, "the layer in a Bidirectional");
    const auto* recurrent = dynamic_cast<const Recurrent*>(layer.get());
    if (!recurrent) throw Error(std::string("Bidirectional: expected a recurrent layer, got ") + layer->type_name());
    if (const Shape outer = c.shape("input_shape"); recurrent->input_shape() != outer)
        throw Error("Bidirectional: the layer in it has input_shape " + recurrent->input_shape().str() +
                    " but the Bidirectional " + outer.str() + "; expected the same");
    Bidirectional wrapper(*recurrent);
    wrapper.merge_mode(c.string("merge_mode"));
    return wrapper.clone();
}

}  // namespace recur
