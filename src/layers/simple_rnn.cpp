#include "layers/simple_rnn.hpp"

#include <algorithm>
#include <cstring>

#include <recur/threads.hpp>

#include "layers/initializers.hpp"
#include "layers/layer_pass.hpp"
#include "tensor/sizes.hpp"
#include "threads.hpp"

namespace recur {
namespace detail {

namespace {

// out[rows x n] = in[rows x k] w[k x n] + bias with w packed, split into fixed row blocks
// across threads.
void rows_times_matrix(float* out, const float* in, const float* w_packed, const float* bias,
                       std::size_t rows, std::size_t k, std::size_t n) {
    const auto& kern = kernels::active();
    for_each_piece(rows, 64, double(rows) * k * n, [&](std::size_t r0, std::size_t count) {
        kern.linear_forward_packed(out + r0 * n, in + r0 * k, w_packed, bias, count, k, n);
    });
}

// Between a block of `rows` batch rows of n units (row-major) and its unit-major copy of
// `lanes` floats per unit, the lanes past `rows` zero.
void to_lanes(float* out, const float* in, std::size_t rows, std::size_t n, std::size_t lanes) {
    if (rows < lanes) std::fill_n(out, n * lanes, 0.0f);
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t j = 0; j < n; ++j) out[j * lanes + r] = in[r * n + j];
}
void from_lanes(float* out, const float* in, std::size_t rows, std::size_t n, std::size_t lanes) {
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t j = 0; j < n; ++j) out[r * n + j] = in[j * lanes + r];
}

// The batch-in-lanes buffers of one group of rows: its (T + 1) state blocks, then its T
// pre-activation blocks (the gradient blocks in the backward pass).
struct LaneGroup {
    float* hs;
    float* a;
    std::size_t first_row, rows;
};
LaneGroup lane_group(float* lanes, std::size_t group, const RnnDims& dims, std::size_t width) {
    const std::size_t B = dims.batch, T = dims.timesteps, H = dims.units;
    const std::size_t groups = (B + width - 1) / width, block = H * width;
    return {lanes + group * (T + 1) * block, lanes + groups * (T + 1) * block + group * T * block, group * width,
            std::min(width, B - group * width)};
}

// The time loop of simple_rnn_forward with the batch in the lanes, a group of rows at a time.
void lanes_forward(float* hs, const float* a, float* lanes, const float* u, const RnnDims& dims, kernels::Act act) {
    const std::size_t B = dims.batch, T = dims.timesteps, H = dims.units, slab = B * H;
    const auto& k = kernels::active();
    const std::size_t width = k.lanes, block = H * width;
    for_each_piece((B + width - 1) / width, 1, double(T) * B * H * H, [&](std::size_t group, std::size_t) {
        const LaneGroup g = lane_group(lanes, group, dims, width);
        to_lanes(g.hs, hs + g.first_row * H, g.rows, H, width);
        for (std::size_t t = 0; t < T; ++t) to_lanes(g.a + t * block, a + t * slab + g.first_row * H, g.rows, H, width);
        k.rnn_forward_lanes(g.hs, g.a, u, width, H, T, act);
        for (std::size_t t = 1; t <= T; ++t) from_lanes(hs + t * slab + g.first_row * H, g.hs + t * block, g.rows, H, width);
    });
}

// The dA loop of simple_rnn_backward with the batch in the lanes, on the states the forward
// pass left in `lanes`; dA goes back into a in the row-major layout.
void lanes_backward(float* a, float* lanes, const float* dh, bool dh_every_step, const float* u,
                    const RnnDims& dims, kernels::Act act) {
    const std::size_t B = dims.batch, T = dims.timesteps, H = dims.units, slab = B * H;
    const auto& k = kernels::active();
    const std::size_t width = k.lanes, block = H * width;
    for_each_piece((B + width - 1) / width, 1, double(T) * B * H * H, [&](std::size_t group, std::size_t) {
        const LaneGroup g = lane_group(lanes, group, dims, width);
        for (std::size_t t = 0; t < T; ++t) {
            if (dh_every_step) to_lanes(g.a + t * block, dh + t * slab + g.first_row * H, g.rows, H, width);
            else if (t + 1 == T) to_lanes(g.a + t * block, dh + g.first_row * H, g.rows, H, width);
            else std::fill_n(g.a + t * block, block, 0.0f);
        }
        k.rnn_backward_lanes(g.a, g.hs, u, width, H, T, act);
        for (std::size_t t = 0; t < T; ++t) from_lanes(a + t * slab + g.first_row * H, g.a + t * block, g.rows, H, width);
    });
}

}  // namespace

void weight_gradient(float* out, const float* a, const float* b, std::size_t rows, std::size_t m, std::size_t n,
                     float* scratch) {
    // Large blocks let each thread read less of the slab; at least two row blocks for dw.
    const std::size_t block_rows = m >= 512 ? 256 : m < 128 ? 32 : 64, block_cols = n >= 512 ? 384 : 192;
    const std::size_t row_blocks = (m + block_rows - 1) / block_rows, col_blocks = (n + block_cols - 1) / block_cols;
    // Rows of a of at most 512 bytes read well in place (eight or more to a page); wider ones
    // are copied out.
    const bool a_in_place = m <= 128;
    float* b_packed = scratch;
    float* a_blocks = scratch + kernels::packed_floats(kGradientSlab, n);  // block i0: slab rows x its width, at i0 * rows
    const auto& k = kernels::active();
    auto slab = [&](std::size_t round) {
        const std::size_t r0 = round * kGradientSlab;
        return std::pair{r0, std::min(kGradientSlab, rows - r0)};
    };
    for_each_piece_in_rounds(
        (rows + kGradientSlab - 1) / kGradientSlab, 2, row_blocks * col_blocks, double(rows) * m * n,
        [&](std::size_t round, std::size_t part) {
            const auto [r0, count] = slab(round);
            if (part == 0) return k.pack(b_packed, b + r0 * n, count, n, false);
            if (a_in_place) return;
            for (std::size_t p = 0; p < count; ++p)
                for (std::size_t i0 = 0; i0 < m; i0 += block_rows) {
                    const std::size_t width = std::min(block_rows, m - i0);
                    std::memcpy(a_blocks + i0 * count + p * width, a + (r0 + p) * m + i0, width * sizeof(float));
                }
        },
        [&](std::size_t round, std::size_t block) {
            const auto [r0, count] = slab(round);
            const std::size_t i0 = block / col_blocks * block_rows, j0 = block % col_blocks * block_cols;
            const std::size_t width = std::min(block_rows, m - i0);
            const float* a_block = a_in_place ? a + r0 * m + i0 : a_blocks + i0 * count;
            k.matmul_tn_packed(out + i0 * n + j0, a_block, a_in_place ? m : width, b_packed, count, width, n, j0,
                               std::min(block_cols, n - j0), n, round > 0);
        });
}

void simple_rnn_forward(float* hs, float* a, float* packed, float* lanes, const float* x, const float* w,
                        const float* u, const float* b, const RnnDims& dims, kernels::Act act) {
    const std::size_t B = dims.batch, T = dims.timesteps, D = dims.features, H = dims.units;
    const std::size_t slab = B * H;
    const auto& k = kernels::active();
    float* u_packed = packed;
    float* w_packed = packed + kernels::packed_floats(H, H);
    pack_weights(w_packed, w, D, H, false);
    rows_times_matrix(a, x, w_packed, b, T * B, D, H);
    if (batch_in_lanes(B, H, k.lanes)) return lanes_forward(hs, a, lanes, u, dims, act);
    pack_weights(u_packed, u, H, H, false);
    for_each_piece(B, batch_piece(B, H, num_threads()), double(T) * B * H * H, [&](std::size_t r0, std::size_t rows) {
        for (std::size_t t = 0; t < T; ++t)
            k.rnn_step_forward_packed(hs + (t + 1) * slab + r0 * H, a + t * slab + r0 * H,
                                      hs + t * slab + r0 * H, u_packed, rows, H, act);
    });
}

void simple_rnn_backward(float* dx, float* dw, float* du, float* db, float* a, float* packed, float* lanes,
                         const float* dh, bool dh_every_step, const float* hs, const float* x,
                         const float* w, const float* u, const RnnDims& dims, kernels::Act act) {
    const std::size_t B = dims.batch, T = dims.timesteps, D = dims.features, H = dims.units;
    const std::size_t slab = B * H;
    const auto& k = kernels::active();
    float* ut_packed = packed;
    float* wt_packed = packed + kernels::packed_floats(H, H);
    float* slabs = wt_packed + std::max(kernels::packed_floats(D, H), kernels::packed_floats(H, D));
    if (batch_in_lanes(B, H, k.lanes)) {
        lanes_backward(a, lanes, dh, dh_every_step, u, dims, act);
    } else {
        pack_weights(ut_packed, u, H, H, true);
        for_each_piece(B, batch_piece(B, H, num_threads()), double(T) * B * H * H, [&](std::size_t r0, std::size_t rows) {
            for (std::size_t t = T; t-- > 0;) {
                const float* dh_t = dh_every_step ? dh + t * slab + r0 * H
                                    : t + 1 == T  ? dh + r0 * H
                                                  : nullptr;
                const float* da_next = t + 1 == T ? nullptr : a + (t + 1) * slab + r0 * H;
                k.rnn_step_backward(a + t * slab + r0 * H, dh_t, da_next, ut_packed, hs + (t + 1) * slab + r0 * H,
                                    rows, H, act);
            }
        });
    }
    weight_gradient(dw, x, a, T * B, D, H, slabs);
    // The initial state hs[0] is zero, so step 0 adds nothing to du: it is left out.
    if (T > 1) weight_gradient(du, hs + slab, a + slab, (T - 1) * B, H, H, slabs);
    else std::fill_n(du, H * H, 0.0f);
    if (db)
        for_each_piece(H, 64, double(T) * B * H, [&](std::size_t j0, std::size_t count) {
            k.column_sums(db + j0, a + j0, T * B, count, H);
        });
    if (dx) {
        pack_weights(wt_packed, w, H, D, true);
        rows_times_matrix(dx, a, wt_packed, nullptr, T * B, H, D);
    }
}

}  // namespace detail

// ---- the layer object ----

namespace {
// Copies the T slabs of a T x B x F block in reverse time order.
void reverse_time(float* out, const float* in, std::size_t T, std::size_t slab) {
    for (std::size_t t = 0; t < T; ++t) std::memcpy(out + (T - 1 - t) * slab, in + t * slab, slab * sizeof(float));
}
}  // namespace

SimpleRNN::SimpleRNN(std::size_t units) : Layer("simple_rnn"), units_(units) {
    detail::check_count(units, detail::kMaxDimension, "SimpleRNN", "units");
}

SimpleRNN& SimpleRNN::activation(std::string_view name) {
    check_configurable("activation");
    const Activation act = parse_activation(name, "SimpleRNN::activation");
    if (act == Activation::softmax)
        throw Error("SimpleRNN::activation: expected \"tanh\", \"relu\", \"sigmoid\" or \"linear\", got \"softmax\"");
    activation_ = act;
    return *this;
}
SimpleRNN& SimpleRNN::use_bias(bool on) {
    check_configurable("use_bias");
    use_bias_ = on;
    return *this;
}
SimpleRNN& SimpleRNN::return_sequences(bool on) {
    check_configurable("return_sequences");
    return_sequences_ = on;
    return *this;
}
SimpleRNN& SimpleRNN::return_state(bool on) {
    check_configurable("return_state");
    return_state_ = on;
    return *this;
}
SimpleRNN& SimpleRNN::go_backwards(bool on) {
    check_configurable("go_backwards");
    go_backwards_ = on;
    return *this;
}
SimpleRNN& SimpleRNN::input_shape(Shape timesteps_features) {
    check_configurable("input_shape");
    set_input_shape(std::move(timesteps_features), "SimpleRNN::input_shape");
    return *this;
}
SimpleRNN& SimpleRNN::name(std::string name) { set_name(std::move(name)); return *this; }

std::unique_ptr<Layer> SimpleRNN::clone() const { return std::make_unique<SimpleRNN>(*this); }

std::pair<std::size_t, std::size_t> SimpleRNN::input_ranks() const { return {2, 2}; }

Shape SimpleRNN::compute_output_shape(const Shape& input) const {
    return return_sequences_ ? Shape{input[0], units_} : Shape{units_};
}

std::vector<Layer::WeightSpec> SimpleRNN::weight_specs(const Shape& input) const {
    std::vector<WeightSpec> specs{{"kernel", Shape{input[1], units_}},
                                  {"recurrent_kernel", Shape{units_, units_}}};
    if (use_bias_) specs.push_back({"bias", Shape{units_}});
    return specs;
}

void SimpleRNN::initialize(float* weights, std::mt19937_64& generator) const {
    const std::size_t D = input_shape()[1], H = units_;
    detail::glorot_uniform(weights, D, H, generator);
    detail::orthogonal(weights + D * H, H, H, generator);
    if (use_bias_) std::fill_n(weights + D * H + H * H, H, 0.0f);
}

// hs | a | (go_backwards) x reversed in time | the weights packed for the kernels | the
// batch-in-lanes copies of hs and a
std::size_t SimpleRNN::workspace_floats(std::size_t batch) const {
    using detail::mul;
    const std::size_t T = input_shape()[0], D = input_shape()[1], H = units_;
    return detail::add(mul(2 * T + 1, batch, H), go_backwards_ ? mul(T, batch, D) : 0,
                       detail::simple_rnn_packed_floats(D, H), detail::simple_rnn_lanes_floats(batch, T, H));
}

void SimpleRNN::forward(detail::LayerPass& pass) const {
    const std::size_t B = pass.batch, T = input_shape()[0], D = input_shape()[1], H = units_;
    float* hs = pass.workspace;
    float* a = hs + (T + 1) * B * H;
    float* x_reversed = a + T * B * H;
    float* packed = x_reversed + (go_backwards_ ? T * B * D : 0);
    float* lanes = packed + detail::simple_rnn_packed_floats(D, H);
    const float* x = pass.input;
    if (go_backwards_) {
        reverse_time(x_reversed, x, T, B * D);
        x = x_reversed;
    }
    std::fill_n(hs, B * H, 0.0f);
    const float* w = pass.weights;
    detail::simple_rnn_forward(hs, a, packed, lanes, x, w, w + D * H, use_bias_ ? w + D * H + H * H : nullptr,
                               {B, T, D, H}, detail::kernel_act(activation_));
    pass.output = return_sequences_ ? hs + B * H : hs + T * B * H;
    pass.state = hs + T * B * H;
}

void SimpleRNN::backward(detail::LayerPass& pass) const {
    const std::size_t B = pass.batch, T = input_shape()[0], D = input_shape()[1], H = units_;
    float* hs = pass.workspace;
    float* a = hs + (T + 1) * B * H;
    float* x_reversed = a + T * B * H;
    float* packed = x_reversed + (go_backwards_ ? T * B * D : 0);
    float* lanes = packed + detail::simple_rnn_packed_floats(D, H);
    const float* x = go_backwards_ ? x_reversed : pass.input;
    const float* w = pass.weights;
    float* g = pass.grads;
    // With go_backwards the input gradient comes out in processing order, in x_reversed
    // (no longer needed once the weight gradients are done), and is then put back in time order.
    float* dx = pass.input_grad && go_backwards_ ? x_reversed : pass.input_grad;
    detail::simple_rnn_backward(dx, g, g + D * H, use_bias_ ? g + D * H + H * H : nullptr, a, packed, lanes,
                                pass.output_grad, return_sequences_, hs, x, w, w + D * H, {B, T, D, H},
                                detail::kernel_act(activation_));
    if (pass.input_grad && go_backwards_) reverse_time(pass.input_grad, x_reversed, T, B * D);
}

std::vector<Tensor> SimpleRNN::operator()(const Tensor& x) {
    if (x.rank() != 3)
        throw Error("SimpleRNN: layer '" + name() + "' expects input of shape (batch, timesteps, features), got " +
                    x.shape().str());
    return call_standalone(x, return_state_);
}

}  // namespace recur
