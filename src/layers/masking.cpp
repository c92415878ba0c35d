// Keras's Masking: the mask comes from the values, and masked steps are zeroed, as Keras
// multiplies its output by the mask.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "config.hpp"
#include "layers/layer_pass.hpp"
#include "tensor/sizes.hpp"

namespace recur {

Masking::Masking(float mask_value) : Layer("masking"), mask_value_(mask_value) {
    if (!std::isfinite(mask_value))
        throw Error("Masking: expected a finite mask_value (inputs are finite), got " + std::to_string(mask_value));
}

Masking& Masking::input_shape(Shape timesteps_features) {
    check_configurable("input_shape");
    set_input_shape(std::move(timesteps_features), "Masking::input_shape");
    return *this;
}
Masking& Masking::name(std::string name) { set_name(std::move(name)); return *this; }

std::unique_ptr<Layer> Masking::clone() const { return std::make_unique<Masking>(*this); }

void Masking::check_placement(std::size_t index, const std::string& call) const {
    if (index != 0)
        throw Error(call + ": layer '" + name() + "' (Masking) reads the mask from the model's input, so it can only be "
                           "the first layer");
}

// The output, then the mask.
std::size_t Masking::workspace_floats(std::size_t batch, std::size_t timesteps) const {
    const std::size_t steps = detail::mul(timesteps, batch);
    return detail::add(detail::mul(steps, input_shape()[1]), detail::mask_floats(steps));
}

void Masking::forward(detail::LayerPass& pass) const {
    const std::size_t D = input_shape()[1], steps = pass.timesteps * pass.batch;
    auto* mask = reinterpret_cast<std::uint8_t*>(pass.workspace + steps * D);
    for (std::size_t r = 0; r < steps; ++r) {
        const float* x = pass.input + r * D;
        mask[r] = std::any_of(x, x + D, [&](float v) { return v != mask_value_; });
        if (mask[r]) std::copy_n(x, D, pass.workspace + r * D);
        else std::fill_n(pass.workspace + r * D, D, 0.0f);
    }
    pass.output = pass.workspace;
    pass.output_mask = mask;
}

void Masking::backward(detail::LayerPass& pass) const {
    if (!pass.input_grad) return;
    const std::size_t D = input_shape()[1], steps = pass.timesteps * pass.batch;
    const auto* mask = reinterpret_cast<const std::uint8_t*>(pass.workspace + steps * D);
    for (std::size_t r = 0; r < steps; ++r)
        for (std::size_t f = 0; f < D; ++f) pass.input_grad[r * D + f] = mask[r] ? pass.output_grad[r * D + f] : 0.0f;
}

void Masking::check_streamable(const std::string& call) const {
    throw Error(call + ": layer '" + name() + "' (Masking) masks steps of whole sequences; a stream runs every step "
                       "it is given, so leave masked steps out of the stream instead");
}

void Masking::write_config(detail::ConfigWriter& config) const { config.set("mask_value", mask_value_); }

std::unique_ptr<Layer> Masking::from_config(const detail::ConfigReader& c) {
    return Masking(c.number("mask_value")).clone();
}

}  // namespace recur
