#include "layers/recurrent.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>

#include <recur/threads.hpp>

#include "config.hpp"
#include "layers/initializers.hpp"
#include "layers/layer_pass.hpp"
#include "layers/products.hpp"
#include "tensor/sizes.hpp"
#include "threads.hpp"

namespace recur {
namespace detail {

// ---- the cell's defaults ----

std::size_t Cell::packed_floats(std::size_t units) const {
    const std::size_t width = mul(gates(), units);
    return std::max(kernels::packed_floats(units, width), kernels::packed_floats(width, units));
}

void Cell::pack(float* packed, const float* recurrent_kernel, std::size_t units, bool transposed) const {
    const std::size_t width = gates() * units;
    if (transposed) pack_weights(packed, recurrent_kernel, width, units, width, true);
    else pack_weights(packed, recurrent_kernel, units, width, width, false);
}

void Cell::weight_gradients(const RecurrentGradients& g, const RecurrentBuffers& b, const float* x,
                            const RecurrentDims& d) const {
    const std::size_t rows = d.timesteps * d.batch, D = d.features, U = d.units, width = gates() * U;
    if (!recurrent_side_kept()) {
        weight_gradient({{g.kernel, x, D, D}, {g.recurrent_kernel, b.hs, U, U}, {g.bias, nullptr, 0, 1}}, width,
                        b.gates, width, rows, width, b.slab);
        return;
    }
    weight_gradient({{g.kernel, x, D, D}, {g.bias, nullptr, 0, 1}}, width, b.gates, width, rows, width, b.slab);
    weight_gradient({{g.recurrent_kernel, b.hs, U, U}, {g.recurrent_bias, nullptr, 0, 1}}, width, b.kept,
                    kept_floats(U), rows, width, b.slab);
}

// ---- the scan ----

namespace {

struct Sizes {
    std::size_t hs, cs, gates, kept, reversed, kernel_packed, recurrent_packed, slab, scratch, lanes;
};

Sizes sizes(const Cell& cell, const RecurrentDims& d, bool go_backwards) {
    const std::size_t B = d.batch, T = d.timesteps, D = d.features, U = d.units, width = mul(cell.gates(), U);
    const std::size_t states = mul(T + 1, B, U);
    return {states,
            cell.cell_state() ? states : 0,
            mul(T, B, width),
            mul(T, B, cell.kept_floats(U)),
            go_backwards ? mul(T, B, D) : 0,
            std::max(kernels::packed_floats(D, width), kernels::packed_floats(width, D)),
            cell.packed_floats(U),
            weight_gradient_floats(add(D, U, 1), width),
            cell.uses_carry() ? mul(B, U) : 0,
            cell.lanes_floats(B, T, U)};
}

}  // namespace

std::size_t recurrent_workspace_floats(const Cell& cell, const RecurrentDims& dims, bool go_backwards) {
    const Sizes s = sizes(cell, dims, go_backwards);
    return add(s.hs, s.cs, s.gates, s.kept, s.reversed, s.kernel_packed, s.recurrent_packed, s.slab,
               mul(2, s.scratch), s.lanes);
}

RecurrentBuffers recurrent_layout(float* p, const Cell& cell, const RecurrentDims& dims, bool go_backwards) {
    const Sizes s = sizes(cell, dims, go_backwards);
    auto take = [&](std::size_t floats) {
        float* region = floats ? p : nullptr;
        p += floats;
        return region;
    };
    RecurrentBuffers b{};
    b.hs = take(s.hs);
    b.cs = take(s.cs);
    b.gates = take(s.gates);
    b.kept = take(s.kept);
    b.x_reversed = take(s.reversed);
    b.recurrent_packed = take(s.recurrent_packed);
    b.kernel_packed = take(s.kernel_packed);
    b.slab = take(s.slab);
    b.scratch = take(s.scratch);
    b.carry = take(s.scratch);
    b.lanes = take(s.lanes);
    return b;
}

namespace {

// Step 0 of rows [r0, r0 + rows); moving on a step adds one step's strides to each buffer
// (next(), prev()), which is all the time loop does between a cell's calls.
class PieceSteps {
public:
    PieceSteps(const Cell& cell, const RecurrentBuffers& b, const RecurrentDims& d, const RecurrentWeights& w,
               CellActivations acts, std::size_t r0, std::size_t rows)
        : width_(cell.gates() * d.units), kept_width_(cell.kept_floats(d.units)), state_(d.batch * d.units) {
        const std::size_t U = d.units;
        step_.rows = rows;
        step_.units = U;
        step_.activation = acts.activation;
        step_.recurrent_activation = acts.recurrent_activation;
        step_.gates = b.gates + r0 * width_;
        step_.kept = b.kept ? b.kept + r0 * kept_width_ : nullptr;
        step_.h_prev = b.hs + r0 * U;
        step_.h = b.hs + state_ + r0 * U;
        step_.c_prev = b.cs ? b.cs + r0 * U : nullptr;
        step_.c = b.cs ? b.cs + state_ + r0 * U : nullptr;
        step_.packed = b.recurrent_packed;
        step_.recurrent_bias = w.recurrent_bias;
        step_.carry = b.carry ? b.carry + r0 * U : nullptr;
        step_.scratch = b.scratch ? b.scratch + r0 * U : nullptr;
        gates_stride_ = d.batch * width_;
        kept_stride_ = d.batch * kept_width_;
    }
    CellStep& step() { return step_; }
    // To step t (from step 0).
    void seek(std::size_t t) { move(static_cast<std::ptrdiff_t>(t)); }
    void next() { move(1); }
    void prev() { move(-1); }

private:
    void move(std::ptrdiff_t by) {
        step_.gates += by * static_cast<std::ptrdiff_t>(gates_stride_);
        if (step_.kept) step_.kept += by * static_cast<std::ptrdiff_t>(kept_stride_);
        const std::ptrdiff_t states = by * static_cast<std::ptrdiff_t>(state_);
        step_.h_prev += states;
        step_.h += states;
        if (step_.c) step_.c_prev += states, step_.c += states;
    }
    CellStep step_{};
    std::size_t width_, kept_width_, state_, gates_stride_ = 0, kept_stride_ = 0;
};

}  // namespace

void recurrent_forward(const Cell& cell, const RecurrentBuffers& b, const float* x, const RecurrentWeights& w,
                       const RecurrentDims& d, CellActivations acts) {
    const std::size_t B = d.batch, T = d.timesteps, D = d.features, U = d.units, width = cell.gates() * U;
    pack_weights(b.kernel_packed, w.kernel, D, width, width, false);
    rows_times_matrix(b.gates, x, b.kernel_packed, w.bias, T * B, D, width);
    if (cell.forward_loop(b, d, w, acts.activation)) return;
    cell.pack(b.recurrent_packed, w.recurrent_kernel, U, false);
    for_each_piece(B, batch_piece(B, U * width, num_threads()), double(T) * B * U * width,
                   [&](std::size_t r0, std::size_t rows) {
                       PieceSteps piece(cell, b, d, w, acts, r0, rows);
                       for (std::size_t t = 0; t < T; ++t) {
                           cell.forward_step(piece.step());
                           if (t + 1 < T) piece.next();
                       }
                   });
}

void recurrent_backward(const Cell& cell, const RecurrentBuffers& b, const float* x, const RecurrentWeights& w,
                        const RecurrentGradients& g, const float* dh, bool dh_every_step, float* dx,
                        const RecurrentDims& d, CellActivations acts) {
    const std::size_t B = d.batch, T = d.timesteps, D = d.features, U = d.units, width = cell.gates() * U;
    const std::size_t kept = cell.kept_floats(U), state = B * U;
    if (!cell.backward_loop(b, d, w, dh, dh_every_step, acts.activation)) {
        cell.pack(b.recurrent_packed, w.recurrent_kernel, U, true);
        for_each_piece(B, batch_piece(B, U * width, num_threads()), double(T) * B * U * width,
                       [&](std::size_t r0, std::size_t rows) {
                           PieceSteps piece(cell, b, d, w, acts, r0, rows);
                           CellStep& s = piece.step();
                           if (s.carry) std::fill_n(s.carry, rows * U, 0.0f);
                           piece.seek(T - 1);
                           for (std::size_t t = T; t-- > 0;) {
                               s.dh = dh_every_step ? dh + t * state + r0 * U : t + 1 == T ? dh + r0 * U : nullptr;
                               s.gates_next = t + 1 < T ? s.gates + B * width : nullptr;
                               s.kept_next = t + 1 < T && s.kept ? s.kept + B * kept : nullptr;
                               cell.backward_step(s);
                               if (t > 0) piece.prev();
                           }
                       });
    }
    cell.weight_gradients(g, b, x, d);
    if (dx) {
        pack_weights(b.kernel_packed, w.kernel, width, D, width, true);
        rows_times_matrix(dx, b.gates, b.kernel_packed, nullptr, T * B, width, D);
    }
}

}  // namespace detail

// ---- the layer ----

namespace {
// Copies the T slabs of a T x B x F block in reverse time order.
void reverse_time(float* out, const float* in, std::size_t T, std::size_t slab) {
    for (std::size_t t = 0; t < T; ++t) std::memcpy(out + (T - 1 - t) * slab, in + t * slab, slab * sizeof(float));
}
}  // namespace

Recurrent::Recurrent(std::string_view type_prefix, const char* type, std::size_t units)
    : Layer(type_prefix), units_(units), type_(type) {
    detail::check_count(units, detail::kMaxDimension, type, "units");
}

void Recurrent::set_activation(std::string_view name, const char* option, Activation& target) {
    check_configurable(option);
    const std::string call = std::string(type_) + "::" + option;
    const Activation act = parse_activation(name, call);
    if (act == Activation::softmax)
        throw Error(call + ": expected \"tanh\", \"relu\", \"sigmoid\" or \"linear\", got \"softmax\"");
    target = act;
}

void Recurrent::set_flag(bool on, const char* option, bool& target) {
    check_configurable(option);
    target = on;
}

void Recurrent::set_shape(Shape timesteps_features) {
    check_configurable("input_shape");
    set_input_shape(std::move(timesteps_features), std::string(type_) + "::input_shape");
}

std::vector<Tensor> Recurrent::call(const Tensor& x) {
    if (x.rank() != 3)
        throw Error(std::string(type_) + ": layer '" + name() +
                    "' expects input of shape (batch, timesteps, features), got " + x.shape().str());
    return call_standalone(x, return_state_);
}

Shape Recurrent::compute_output_shape(const Shape& input) const {
    return return_sequences_ ? Shape{input[0], units_} : Shape{units_};
}

void Recurrent::check_placement(std::size_t, const std::string& call) const {
    if (return_state_)
        throw Error(call + ": layer '" + name() +
                    "' has return_state on, which gives several outputs; a Sequential model takes one");
}

std::vector<Layer::WeightSpec> Recurrent::weight_specs(const Shape& input) const {
    const std::size_t width = cell().gates() * units_;
    std::vector<WeightSpec> specs{{"kernel", Shape{input[1], width}}, {"recurrent_kernel", Shape{units_, width}}};
    if (use_bias_) specs.push_back({"bias", cell().recurrent_bias() ? Shape{std::size_t{2}, width} : Shape{width}});
    return specs;
}

namespace {
// The weights' views in a layer's slice: kernel, recurrent kernel, then the bias(es).
template <class T>
detail::RecurrentWeightViews<T> views(T* w, std::size_t D, std::size_t U, std::size_t width, bool bias,
                                      bool recurrent_bias) {
    T* b = w + D * width + U * width;
    return {w, w + D * width, bias ? b : nullptr, bias && recurrent_bias ? b + width : nullptr};
}
}  // namespace

void Recurrent::initialize(float* weights, std::mt19937_64& generator) const {
    const std::size_t D = input_shape()[1], U = units_, width = cell().gates() * U;
    const auto w = views(weights, D, U, width, use_bias_, cell().recurrent_bias());
    detail::glorot_uniform(w.kernel, D, width, generator);
    detail::orthogonal(w.recurrent_kernel, U, width, generator);
    if (w.bias) initialize_bias(w.bias, cell().recurrent_bias() ? 2 * width : width);
}

void Recurrent::initialize_bias(float* bias, std::size_t floats) const { std::fill_n(bias, floats, 0.0f); }

std::size_t Recurrent::state_count() const { return cell().cell_state() ? 2 : 1; }

namespace {
detail::RecurrentDims dims_of(const Layer& layer, std::size_t batch, std::size_t timesteps, std::size_t units) {
    return {batch, timesteps, layer.input_shape()[1], units};
}
detail::CellActivations acts_of(Activation activation, Activation recurrent) {
    return {detail::kernel_act(activation), detail::kernel_act(recurrent)};
}
}  // namespace

std::size_t Recurrent::workspace_floats(std::size_t batch, std::size_t timesteps) const {
    return detail::recurrent_workspace_floats(cell(), dims_of(*this, batch, timesteps, units_), go_backwards_);
}

void Recurrent::forward(detail::LayerPass& pass) const {
    const detail::RecurrentDims d = dims_of(*this, pass.batch, pass.timesteps, units_);
    const std::size_t B = d.batch, T = d.timesteps, U = d.units, width = cell().gates() * U;
    const detail::Cell& c = cell();
    const detail::RecurrentBuffers b = detail::recurrent_layout(pass.workspace, c, d, go_backwards_);
    const float* x = pass.input;
    if (go_backwards_) {
        reverse_time(b.x_reversed, x, T, B * d.features);
        x = b.x_reversed;
    }
    std::fill_n(b.hs, B * U, 0.0f);
    if (b.cs) std::fill_n(b.cs, B * U, 0.0f);
    detail::recurrent_forward(c, b, x, views(pass.weights, d.features, U, width, use_bias_, c.recurrent_bias()), d,
                              acts_of(activation_, recurrent_activation_));
    pass.output = return_sequences_ ? b.hs + B * U : b.hs + T * B * U;
    pass.states = {b.hs + T * B * U, b.cs ? b.cs + T * B * U : nullptr};
}

void Recurrent::backward(detail::LayerPass& pass) const {
    const detail::RecurrentDims d = dims_of(*this, pass.batch, pass.timesteps, units_);
    const std::size_t B = d.batch, T = d.timesteps, U = d.units, width = cell().gates() * U;
    const detail::Cell& c = cell();
    const detail::RecurrentBuffers b = detail::recurrent_layout(pass.workspace, c, d, go_backwards_);
    const float* x = go_backwards_ ? b.x_reversed : pass.input;
    // With go_backwards the input gradient comes out in processing order, in x_reversed
    // (no longer needed once the weight gradients are done), and is then put back in time order.
    float* dx = pass.input_grad && go_backwards_ ? b.x_reversed : pass.input_grad;
    detail::recurrent_backward(c, b, x, views(pass.weights, d.features, U, width, use_bias_, c.recurrent_bias()),
                               views(pass.grads, d.features, U, width, use_bias_, c.recurrent_bias()),
                               pass.output_grad, return_sequences_, dx, d, acts_of(activation_, recurrent_activation_));
    if (pass.input_grad && go_backwards_) reverse_time(pass.input_grad, b.x_reversed, T, B * d.features);
}

// ---- streaming: one timestep for `batch` sequences ----
// A stream keeps, for this layer: W and U packed as predict packs them, the biases, the
// states, the states being computed, and one step's gates and kept floats.

namespace {
struct StreamLayout {
    float *kernel, *recurrent, *bias, *recurrent_bias, *h, *c, *h_next, *c_next, *gates, *kept;
};
// The regions in order, each a whole number of cache lines; their total when base is null.
std::size_t stream_regions(float* base, StreamLayout* layout, const detail::Cell& cell, std::size_t B, std::size_t D,
                           std::size_t U) {
    using detail::mul;
    const std::size_t width = mul(cell.gates(), U), states = mul(B, U);
    const std::size_t floats[] = {kernels::packed_floats(D, width), cell.packed_floats(U), width, width, states, states,
                                  states, states, mul(B, width), mul(B, cell.kept_floats(U))};
    float** regions[] = {&layout->kernel, &layout->recurrent, &layout->bias, &layout->recurrent_bias, &layout->h,
                         &layout->c, &layout->h_next, &layout->c_next, &layout->gates, &layout->kept};
    std::size_t offset = 0;
    for (std::size_t i = 0; i < std::size(floats); ++i) {
        if (base) *regions[i] = base + offset;
        offset = detail::add(offset, detail::round_up(floats[i], 16));
    }
    return offset;
}
StreamLayout stream_layout(float* base, const detail::Cell& cell, std::size_t B, std::size_t D, std::size_t U) {
    StreamLayout layout{};
    stream_regions(base, &layout, cell, B, D, U);
    return layout;
}
}  // namespace

void Recurrent::check_streamable(const std::string& call) const {
    if (go_backwards_)
        throw Error(call + ": layer '" + name() + "' has go_backwards on; it needs the whole sequence before its first output");
}

std::size_t Recurrent::stream_floats(std::size_t batch) const {
    StreamLayout unused{};
    return stream_regions(nullptr, &unused, cell(), batch, input_shape()[1], units_);
}

void Recurrent::stream_start(detail::StreamPass& pass) const {
    const std::size_t D = input_shape()[1], U = units_, width = cell().gates() * U;
    const StreamLayout s = stream_layout(pass.buffer, cell(), pass.batch, D, U);
    const auto w = views(pass.weights, D, U, width, use_bias_, cell().recurrent_bias());
    detail::pack_weights(s.kernel, w.kernel, D, width, width, false);
    cell().pack(s.recurrent, w.recurrent_kernel, U, false);
    if (w.bias) std::copy_n(w.bias, width, s.bias);
    if (w.recurrent_bias) std::copy_n(w.recurrent_bias, width, s.recurrent_bias);
    stream_reset(pass);
}

void Recurrent::stream_reset(detail::StreamPass& pass) const {
    const StreamLayout s = stream_layout(pass.buffer, cell(), pass.batch, input_shape()[1], units_);
    std::fill_n(s.h, pass.batch * units_, 0.0f);
    std::fill_n(s.c, pass.batch * units_, 0.0f);
}

const float* Recurrent::stream_step(detail::StreamPass& pass, const float* input) const noexcept {
    const detail::Cell& c = cell();
    const std::size_t B = pass.batch, D = input_shape()[1], U = units_, width = c.gates() * U;
    const StreamLayout s = stream_layout(pass.buffer, c, B, D, U);
    kernels::active().linear_forward_packed(s.gates, input, s.kernel, use_bias_ ? s.bias : nullptr, B, D, width);
    detail::CellStep step{};
    step.rows = B;
    step.units = U;
    step.activation = detail::kernel_act(activation_);
    step.recurrent_activation = detail::kernel_act(recurrent_activation_);
    step.gates = s.gates;
    step.kept = c.kept_floats(U) ? s.kept : nullptr;
    step.h_prev = s.h;
    step.h = s.h_next;
    step.c_prev = c.cell_state() ? s.c : nullptr;
    step.c = c.cell_state() ? s.c_next : nullptr;
    step.packed = s.recurrent;
    step.recurrent_bias = use_bias_ && c.recurrent_bias() ? s.recurrent_bias : nullptr;
    c.forward_step(step);
    std::copy_n(s.h_next, B * U, s.h);
    if (c.cell_state()) std::copy_n(s.c_next, B * U, s.c);
    return s.h;
}

void Recurrent::write_config(detail::ConfigWriter& config) const {
    config.set("units", units_);
    config.set("activation", activation_name(activation_));
    config.set("use_bias", use_bias_);
    config.set("return_sequences", return_sequences_);
    config.set("return_state", return_state_);
    config.set("go_backwards", go_backwards_);
    write_cell_config(config);
}

}  // namespace recur
