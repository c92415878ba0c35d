// LSTM: a cell of four gates (i, f, c, o) and two states (h and the cell state c).
#include <algorithm>

#include "config.hpp"
#include "layers/layer_pass.hpp"
#include "layers/recurrent.hpp"
#include "tensor/sizes.hpp"

namespace recur {
namespace detail {
namespace {

class LstmCell final : public Cell {
public:
    std::size_t gates() const override { return 4; }
    bool cell_state() const override { return true; }
    bool uses_carry() const override { return true; }

    // z = x W + b + h U (the product adds in place), then the gates, c and h.
    void forward_step(const CellStep& s) const override {
        const auto& k = kernels::active();
        const std::size_t U = s.units;
        k.recurrent_forward(s.gates, s.gates, 4 * U, s.h_prev, U, s.packed, s.rows, U, 4 * U, kernels::Act::linear);
        k.lstm_forward(s.gates, s.c, s.h, s.c_prev, s.rows, U, s.activation, s.recurrent_activation);
    }

    // dh_t = dh from above + dz_{t+1} U^T (in scratch); then the gates' gradients, with dc
    // carried from step to step.
    void backward_step(const CellStep& s) const override {
        const auto& k = kernels::active();
        const std::size_t U = s.units;
        k.recurrent_backward(s.scratch, U, s.dh, s.gates_next, 4 * U, s.packed, nullptr, s.rows, 4 * U, U,
                             kernels::Act::linear);
        k.lstm_backward(s.gates, s.carry, s.scratch, s.c_prev, s.c, s.rows, U, s.activation, s.recurrent_activation);
    }
};

}  // namespace
}  // namespace detail

LSTM::LSTM(std::size_t units) : RecurrentLayer("lstm", "LSTM", units) {}

LSTM& LSTM::recurrent_activation(std::string_view name) {
    set_activation(name, "recurrent_activation", recurrent_activation_);
    return *this;
}

LSTM& LSTM::unit_forget_bias(bool on) {
    set_flag(on, "unit_forget_bias", unit_forget_bias_);
    return *this;
}

const detail::Cell& LSTM::cell() const {
    static const detail::LstmCell cell;
    return cell;
}

// Keras's unit_forget_bias: the forget gate's bias (the second of four blocks) starts at 1.
void LSTM::initialize_bias(float* bias, std::size_t floats) const {
    std::fill_n(bias, floats, 0.0f);
    if (unit_forget_bias_) std::fill_n(bias + units_, units_, 1.0f);
}

void LSTM::write_cell_config(detail::ConfigWriter& config) const {
    config.set("recurrent_activation", activation_name(recurrent_activation_));
    config.set("unit_forget_bias", unit_forget_bias_);
}

std::unique_ptr<Layer> LSTM::from_config(const detail::ConfigReader& c) {
    LSTM lstm(c.count("units", 1, detail::kMaxDimension));
    lstm.activation(c.string("activation")).recurrent_activation(c.string("recurrent_activation"));
    lstm.use_bias(c.boolean("use_bias")).unit_forget_bias(c.boolean("unit_forget_bias"));
    lstm.return_sequences(c.boolean("return_sequences")).go_backwards(c.boolean("go_backwards"));
    if (c.has("return_state")) lstm.return_state(c.boolean("return_state"));
    if (c.has("stateful")) lstm.stateful(c.boolean("stateful"));
    return lstm.clone();
}

}  // namespace recur
