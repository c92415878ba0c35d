// GRU: a cell of three gates (z, r, h) and one state, in Keras's two variants: the reset gate
// applied after the recurrent product (reset_after, the default, as PyTorch's GRU and cuDNN),
// or before it.
#include <algorithm>

#include "config.hpp"
#include "layers/layer_pass.hpp"
#include "layers/products.hpp"
#include "layers/recurrent.hpp"

namespace recur {
namespace detail {
namespace {

// reset_after: p = h_{t-1} U + b' (all three gates) is kept, since the reset gate multiplies
// its h part; the recurrent side's gradient (dz, dr, dhh r) differs from the input side's
// (dz, dr, dhh) and goes to the kept floats in turn.
class GruResetAfterCell final : public Cell {
public:
    std::size_t gates() const override { return 3; }
    bool recurrent_bias() const override { return true; }
    std::size_t kept_floats(std::size_t units) const override { return 3 * units; }
    bool uses_carry() const override { return true; }
    bool recurrent_side_kept() const override { return true; }

    void forward_step(const CellStep& s) const override {
        const auto& k = kernels::active();
        const std::size_t U = s.units;
        k.linear_forward_packed(s.kept, s.h_prev, s.packed, s.recurrent_bias, s.rows, U, 3 * U);
        k.gru_forward(s.gates, s.kept, s.h, s.h_prev, s.rows, U, s.activation, s.recurrent_activation);
    }

    void backward_step(const CellStep& s) const override {
        const auto& k = kernels::active();
        const std::size_t U = s.units;
        k.recurrent_backward(s.scratch, U, s.dh, s.kept_next, 3 * U, s.packed, nullptr, s.rows, 3 * U, U,
                             kernels::Act::linear);
        k.gru_backward(s.gates, s.kept, s.carry, s.scratch, s.h_prev, s.rows, U, s.activation, s.recurrent_activation);
    }
};

// reset_after off: two products a step, h_{t-1} U_zr for z and r, then (r h_{t-1}) U_h for hh;
// rh is kept, for the backward pass and the gradient of U_h.
class GruResetBeforeCell final : public Cell {
public:
    std::size_t gates() const override { return 3; }
    std::size_t kept_floats(std::size_t units) const override { return units; }
    bool uses_carry() const override { return true; }

    // U_zr and U_h apart: forward U_zr (U x 2U) then U_h (U x U); backward their transposes.
    std::size_t packed_floats(std::size_t U) const override {
        return std::max(add(kernels::packed_floats(U, mul(2, U)), kernels::packed_floats(U, U)),
                        add(kernels::packed_floats(mul(2, U), U), kernels::packed_floats(U, U)));
    }
    void pack(float* packed, const float* u, std::size_t U, bool transposed) const override {
        if (transposed) {
            pack_weights(packed, u, 2 * U, U, 3 * U, true);
            pack_weights(packed + kernels::packed_floats(2 * U, U), u + 2 * U, U, U, 3 * U, true);
        } else {
            pack_weights(packed, u, U, 2 * U, 3 * U, false);
            pack_weights(packed + kernels::packed_floats(U, 2 * U), u + 2 * U, U, U, 3 * U, false);
        }
    }

    void forward_step(const CellStep& s) const override {
        const auto& k = kernels::active();
        const std::size_t U = s.units;
        const float* u_h = s.packed + kernels::packed_floats(U, 2 * U);
        k.recurrent_forward(s.gates, s.gates, 3 * U, s.h_prev, U, s.packed, s.rows, U, 2 * U, s.recurrent_activation);
        k.gru_reset(s.kept, s.gates, s.h_prev, s.rows, U);
        k.recurrent_forward(s.gates + 2 * U, s.gates + 2 * U, 3 * U, s.kept, U, u_h, s.rows, U, U, s.activation);
        k.gru_update(s.h, s.gates, s.h_prev, s.rows, U);
    }

    // dh_t = dh from above + (dz, dr)_{t+1} U_zr^T, plus (in the carry) what went through the
    // step after's update and reset gates; then back through this step's update, the product
    // with U_h (e = dhh U_h^T), and its reset.
    void backward_step(const CellStep& s) const override {
        const auto& k = kernels::active();
        const std::size_t U = s.units;
        const float* u_h = s.packed + kernels::packed_floats(2 * U, U);
        k.recurrent_backward(s.scratch, U, s.dh, s.gates_next, 3 * U, s.packed, nullptr, s.rows, 2 * U, U,
                             kernels::Act::linear);
        k.gru_update_backward(s.gates, s.carry, s.scratch, s.h_prev, s.rows, U, s.activation, s.recurrent_activation);
        k.recurrent_backward(s.scratch, U, nullptr, s.gates + 2 * U, 3 * U, u_h, nullptr, s.rows, U, U,
                             kernels::Act::linear);
        k.gru_reset_backward(s.gates, s.carry, s.scratch, s.h_prev, s.rows, U, s.recurrent_activation);
    }

    // dW and db from (dz, dr, dhh) as the other cells; then dU_zr = H_prev^T (dz, dr) and
    // dU_h = (r h_prev)^T dhh.
    void weight_gradients(const RecurrentGradients& g, const RecurrentBuffers& b, const float* x,
                          const RecurrentDims& d) const override {
        const std::size_t rows = d.rows(), D = d.features, U = d.units;
        weight_gradient({{g.kernel, x, D, D}, {g.bias, nullptr, 0, 1}}, 3 * U, b.gates, 3 * U, rows, 3 * U, b.slab);
        weight_gradient({{g.recurrent_kernel, b.h_prev, U, U}}, 3 * U, b.gates, 3 * U, rows, 2 * U, b.slab);
        weight_gradient({{g.recurrent_kernel + 2 * U, b.kept, U, U}}, 3 * U, b.gates + 2 * U, 3 * U, rows, U, b.slab);
    }
};

}  // namespace
}  // namespace detail

GRU::GRU(std::size_t units) : RecurrentLayer("gru", "GRU", units) {}

GRU& GRU::recurrent_activation(std::string_view name) {
    set_activation(name, "recurrent_activation", recurrent_activation_);
    return *this;
}

GRU& GRU::reset_after(bool on) {
    set_flag(on, "reset_after", reset_after_);
    return *this;
}

const detail::Cell& GRU::cell() const {
    static const detail::GruResetAfterCell after;
    static const detail::GruResetBeforeCell before;
    return reset_after_ ? static_cast<const detail::Cell&>(after) : before;
}

void GRU::write_cell_config(detail::ConfigWriter& config) const {
    config.set("recurrent_activation", activation_name(recurrent_activation_));
    config.set("reset_after", reset_after_);
}

std::unique_ptr<Layer> GRU::from_config(const detail::ConfigReader& c) {
    GRU gru(c.count("units", 1, detail::kMaxDimension));
    gru.activation(c.string("activation")).recurrent_activation(c.string("recurrent_activation"));
    gru.use_bias(c.boolean("use_bias")).reset_after(c.boolean("reset_after"));
    gru.return_sequences(c.boolean("return_sequences")).go_backwards(c.boolean("go_backwards"));
    if (c.has("return_state")) gru.return_state(c.boolean("return_state"));
    if (c.has("stateful")) gru.stateful(c.boolean("stateful"));
    return gru.clone();
}

}  // namespace recur
