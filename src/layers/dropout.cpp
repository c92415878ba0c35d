// Keras's Dropout, with its mask drawn by a counter-based generator: an element's fate is a
// hash of the step's seed and the element's index, so no thread order can change it.
#include <algorithm>
#include <cmath>

#include "config.hpp"
#include "layers/layer_pass.hpp"
#include "random.hpp"
#include "tensor/sizes.hpp"
#include "text.hpp"

namespace recur {

Dropout::Dropout(float rate) : Layer("dropout"), rate_(rate) {
    if (!(rate >= 0.0f && rate < 1.0f))
        throw Error("Dropout: expected a rate in [0, 1), got " + detail::as_text(rate));
}

Dropout& Dropout::input_shape(Shape shape) {
    check_configurable("input_shape");
    set_input_shape(std::move(shape), "Dropout::input_shape");
    return *this;
}
Dropout& Dropout::name(std::string name) { set_name(std::move(name)); return *this; }

std::unique_ptr<Layer> Dropout::clone() const { return std::make_unique<Dropout>(*this); }

// The elements of a batch: its samples' steps (one when the samples are no sequences) times features.
std::size_t Dropout::elements(std::size_t batch, std::size_t timesteps) const {
    return detail::mul(detail::mul(input_shape().rank() == 2 ? timesteps : 1, batch), input_shape().back());
}

// The output, then the scale each element was given (0 or 1 / (1 - rate)) for backward.
std::size_t Dropout::workspace_floats(std::size_t batch, std::size_t timesteps) const {
    return detail::mul(elements(batch, timesteps), 2);
}

void Dropout::forward(detail::LayerPass& pass) const {
    const std::size_t n = elements(pass.batch, pass.timesteps);
    float* out = pass.workspace;
    float* scale = pass.workspace + n;
    pass.output = out;
    pass.output_mask = pass.mask;
    if (!pass.training) {  // inference passes its input on (and never goes backward)
        std::copy_n(pass.input, n, out);
        return;
    }
    const float kept = 1.0f / (1.0f - rate_);
    for (std::size_t i = 0; i < n; ++i) {
        scale[i] = detail::uniform_at(pass.seed, i) >= rate_ ? kept : 0.0f;
        out[i] = pass.input[i] * scale[i];
    }
}

void Dropout::backward(detail::LayerPass& pass) const {
    if (!pass.input_grad) return;
    const std::size_t n = elements(pass.batch, pass.timesteps);
    const float* scale = pass.workspace + n;
    for (std::size_t i = 0; i < n; ++i) pass.input_grad[i] = pass.output_grad[i] * scale[i];
}

void Dropout::write_config(detail::ConfigWriter& config) const { config.set("rate", rate_); }

std::unique_ptr<Layer> Dropout::from_config(const detail::ConfigReader& c) { return Dropout(c.number("rate")).clone(); }

}  // namespace recur
