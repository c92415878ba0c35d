#include "layers/simple_rnn.hpp"

#include <algorithm>

#include "config.hpp"
#include "layers/layer_pass.hpp"
#include "threads.hpp"

namespace recur {
namespace detail {

namespace {

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
LaneGroup lane_group(float* lanes, std::size_t group, const RecurrentDims& dims, std::size_t width) {
    const std::size_t B = dims.batch, T = dims.timesteps, H = dims.units;
    const std::size_t groups = (B + width - 1) / width, block = H * width;
    return {lanes + group * (T + 1) * block, lanes + groups * (T + 1) * block + group * T * block, group * width,
            std::min(width, B - group * width)};
}

// The forward time loop with the batch in the lanes, a group of rows at a time.
void lanes_forward(float* hs, const float* a, float* lanes, const float* u, const RecurrentDims& dims, kernels::Act act) {
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

// The backward (dA) time loop with the batch in the lanes, on the states the forward
// pass left in `lanes`; dA goes back into a in the row-major layout.
void lanes_backward(float* a, float* lanes, const float* dh, bool dh_every_step, const float* u,
                    const RecurrentDims& dims, kernels::Act act) {
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

void SimpleRnnCell::forward_step(const CellStep& s) const {
    kernels::active().recurrent_forward(s.h, s.gates, s.units, s.h_prev, s.units, s.packed, s.rows, s.units, s.units,
                                        s.activation);
}

void SimpleRnnCell::backward_step(const CellStep& s) const {
    kernels::active().recurrent_backward(s.gates, s.units, s.dh, s.gates_next, s.units, s.packed, s.h, s.rows,
                                         s.units, s.units, s.activation);
}

bool SimpleRnnCell::forward_loop(const RecurrentBuffers& b, const RecurrentDims& d, const RecurrentWeights& w,
                                 kernels::Act act) const {
    if (!batch_in_lanes(d.batch, d.units, kernels::active().lanes)) return false;
    lanes_forward(b.hs, b.gates, b.lanes, w.recurrent_kernel, d, act);
    return true;
}

bool SimpleRnnCell::backward_loop(const RecurrentBuffers& b, const RecurrentDims& d, const RecurrentWeights& w,
                                  const float* dh, bool dh_every_step, kernels::Act act) const {
    if (!batch_in_lanes(d.batch, d.units, kernels::active().lanes)) return false;
    lanes_backward(b.gates, b.lanes, dh, dh_every_step, w.recurrent_kernel, d, act);
    return true;
}

}  // namespace detail

SimpleRNN::SimpleRNN(std::size_t units) : RecurrentLayer("simple_rnn", "SimpleRNN", units) {}

const detail::Cell& SimpleRNN::cell() const {
    static const detail::SimpleRnnCell cell;
    return cell;
}

std::unique_ptr<Layer> SimpleRNN::from_config(const detail::ConfigReader& c) {
    SimpleRNN rnn(c.count("units", 1, detail::kMaxDimension));
    rnn.activation(c.string("activation")).use_bias(c.boolean("use_bias"));
    rnn.return_sequences(c.boolean("return_sequences")).go_backwards(c.boolean("go_backwards"));
    if (c.has("return_state")) rnn.return_state(c.boolean("return_state"));
    if (c.has("stateful")) rnn.stateful(c.boolean("stateful"));
    return rnn.clone();
}

}  // namespace recur
