#include "layers/dense.hpp"

#include <algorithm>
#include <cmath>

#include "config.hpp"
#include "layers/initializers.hpp"
#include "layers/layer_pass.hpp"
#include "layers/registry.hpp"
#include "layers/products.hpp"
#include "tensor/sizes.hpp"
#include "threads.hpp"

namespace recur {
namespace detail {

void dense_rows(float* y, const float* x, const float* w, const float* b, std::size_t rows, std::size_t in,
                std::size_t units, Activation activation) noexcept {
    const auto& k = kernels::active();
    k.linear_forward(y, x, w, b, rows, in, units);
    if (activation == Activation::softmax) k.softmax_forward(y, y, rows, units);
    else if (activation != Activation::linear) k.activation_forward(y, y, rows * units, kernel_act(activation));
}

void dense_forward(float* y, const float* x, const float* w, const float* b, std::size_t rows,
                   std::size_t in, std::size_t units, Activation activation) {
    for_each_piece(rows, 64, double(rows) * in * units, [&](std::size_t r0, std::size_t count) {
        dense_rows(y + r0 * units, x + r0 * in, w, b, count, in, units, activation);
    });
}

void dense_backward(float* dx, float* dw, float* db, float* dy, float* wt_packed, const float* y,
                    const float* x, const float* w, std::size_t rows, std::size_t in,
                    std::size_t units, Activation activation) {
    const auto& k = kernels::active();
    if (activation == Activation::softmax) k.softmax_backward(dy, dy, y, rows, units);
    else if (activation != Activation::linear) k.activation_backward(dy, dy, y, rows * units, kernel_act(activation));
    for_each_piece(in, 16, double(rows) * in * units, [&](std::size_t i0, std::size_t count) {
        k.matmul_tn(dw + i0 * units, x + i0, dy, rows, count, units, in, units, units, false);
    });
    if (db) k.column_sums(db, dy, rows, units, units);
    if (dx) {
        pack_weights(wt_packed, w, units, in, units, true);
        for_each_piece(rows, 64, double(rows) * in * units, [&](std::size_t r0, std::size_t count) {
            k.linear_forward_packed(dx + r0 * in, dy + r0 * units, wt_packed, nullptr, count, units, in);
        });
    }
}

}  // namespace detail

Dense::Dense(std::size_t units) : Layer("dense"), units_(units) {
    detail::check_count(units, detail::kMaxDimension, "Dense", "units");
}

Dense& Dense::activation(std::string_view name) {
    check_configurable("activation");
    activation_ = parse_activation(name, "Dense::activation");
    return *this;
}
Dense& Dense::use_bias(bool on) {
    check_configurable("use_bias");
    use_bias_ = on;
    return *this;
}
Dense& Dense::input_shape(Shape shape) {
    check_configurable("input_shape");
    set_input_shape(std::move(shape), "Dense::input_shape");
    return *this;
}
Dense& Dense::name(std::string name) { set_name(std::move(name)); return *this; }

std::unique_ptr<Layer> Dense::clone() const { return std::make_unique<Dense>(*this); }

std::pair<std::size_t, std::size_t> Dense::input_ranks() const { return {1, 2}; }

Shape Dense::compute_output_shape(const Shape& input) const {
    return input.rank() == 2 ? Shape{input[0], units_} : Shape{units_};
}

std::vector<Layer::WeightSpec> Dense::weight_specs(const Shape& input) const {
    std::vector<WeightSpec> specs{{"kernel", Shape{input.back(), units_}}};
    if (use_bias_) specs.push_back({"bias", Shape{units_}});
    return specs;
}

void Dense::initialize(float* weights, std::mt19937_64& generator) const {
    const std::size_t in = input_shape().back();
    detail::glorot_uniform(weights, in, units_, generator);
    if (use_bias_) std::fill_n(weights + in * units_, units_, 0.0f);
}

namespace {
// On sequences each step is a row of its own.
std::size_t rows_of(const Shape& input, std::size_t batch, std::size_t timesteps) {
    return input.rank() == 2 ? detail::mul(batch, timesteps) : batch;
}
}  // namespace

// y | w^T packed for the backward pass
std::size_t Dense::workspace_floats(std::size_t batch, std::size_t timesteps) const {
    return detail::add(detail::mul(rows_of(input_shape(), batch, timesteps), units_),
                       kernels::packed_floats(units_, input_shape().back()));
}

Dense& Dense::activity_regularizer(const Regularizer& r) {
    check_configurable("activity_regularizer");
    activity_regularizer_ = r;
    return *this;
}

void Dense::forward(detail::LayerPass& pass) const {
    const std::size_t in = input_shape().back(), rows = rows_of(input_shape(), pass.batch, pass.timesteps);
    const float* w = pass.weights;
    detail::dense_forward(pass.workspace, pass.input, w, use_bias_ ? w + in * units_ : nullptr, rows, in, units_,
                          activation_);
    pass.output = pass.workspace;
    pass.output_mask = pass.mask;  // each step a row of its own: the same steps are real
    pass.activity_penalty = 0.0f;
    if (activity_regularizer_) {
        double l1 = 0.0, l2 = 0.0;
        for (std::size_t i = 0; i < rows * units_; ++i) {
            l1 += std::abs(pass.output[i]);
            l2 += double(pass.output[i]) * pass.output[i];
        }
        pass.activity_penalty = static_cast<float>(activity_regularizer_->l1() * l1 + activity_regularizer_->l2() * l2);
    }
}

void Dense::backward(detail::LayerPass& pass) const {
    const std::size_t in = input_shape().back(), rows = rows_of(input_shape(), pass.batch, pass.timesteps);
    if (activity_regularizer_) {  // the penalty's gradient joins the output's (never folded: see output_activation)
        const float l1 = activity_regularizer_->l1(), l2 = activity_regularizer_->l2();
        for (std::size_t i = 0; i < rows * units_; ++i) {
            const float y = pass.workspace[i];
            pass.output_grad[i] += l1 * float((y > 0.0f) - (y < 0.0f)) + 2.0f * l2 * y;
        }
    }
    float* g = pass.grads;
    detail::dense_backward(pass.input_grad, g, use_bias_ ? g + in * units_ : nullptr, pass.output_grad,
                           pass.workspace + rows * units_, pass.workspace, pass.input, pass.weights,
                           rows, in, units_, pass.output_grad_past_activation ? Activation::linear : activation_);
}

// A stream keeps a copy of the weights (kernel, then bias) and one step's output.
std::size_t Dense::stream_floats(std::size_t batch) const {
    const std::size_t in = input_shape().back();
    return detail::add(detail::round_up(detail::mul(detail::add(in, 1), units_), 16), detail::mul(batch, units_));
}

void Dense::stream_start(detail::StreamPass& pass) const {
    const std::size_t in = input_shape().back();
    std::copy_n(pass.weights, in * units_ + (use_bias_ ? units_ : 0), pass.buffer);
}

const float* Dense::stream_step(detail::StreamPass& pass, const float* input) const noexcept {
    const std::size_t in = input_shape().back();
    float* y = pass.buffer + detail::round_up((in + 1) * units_, 16);
    detail::dense_rows(y, input, pass.buffer, use_bias_ ? pass.buffer + in * units_ : nullptr, pass.batch, in, units_,
                       activation_);
    return y;
}

void Dense::write_config(detail::ConfigWriter& config) const {
    config.set("units", units_);
    config.set("activation", activation_name(activation_));
    config.set("use_bias", use_bias_);
    config.set("activity_regularizer", detail::regularizer_config(activity_regularizer_));
}

std::unique_ptr<Layer> Dense::from_config(const detail::ConfigReader& c) {
    Dense dense(c.count("units", 1, detail::kMaxDimension));
    dense.activation(c.string("activation")).use_bias(c.boolean("use_bias"));
    if (c.has("activity_regularizer") && !c.holds_null("activity_regularizer"))  // files from before it have none
        dense.activity_regularizer(detail::regularizer_from_config(c.object("activity_regularizer"), "activity_regularizer"));
    return dense.clone();
}

Tensor Dense::operator()(const Tensor& x) {
    if (x.rank() != 2 && x.rank() != 3)
        throw Error("Dense: layer '" + name() + "' expects input of shape (batch, features) or "
                    "(batch, timesteps, features), got " + x.shape().str());
    return call_standalone(x, false).front();
}

}  // namespace recur
