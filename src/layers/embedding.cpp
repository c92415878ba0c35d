#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "config.hpp"
#include "layers/initializers.hpp"
#include "layers/layer_pass.hpp"
#include "tensor/sizes.hpp"

namespace recur {

Embedding::Embedding(std::size_t input_dim, std::size_t output_dim)
    : Layer("embedding"), input_dim_(input_dim), output_dim_(output_dim) {
    detail::check_count(input_dim, detail::kMaxDimension, "Embedding", "input_dim");
    detail::check_count(output_dim, detail::kMaxDimension, "Embedding", "output_dim");
}

Embedding& Embedding::input_shape(Shape timesteps) {
    check_configurable("input_shape");
    set_input_shape(std::move(timesteps), "Embedding::input_shape");
    return *this;
}
Embedding& Embedding::name(std::string name) { set_name(std::move(name)); return *this; }
Embedding& Embedding::mask_zero(bool on) {
    check_configurable("mask_zero");
    mask_zero_ = on;
    return *this;
}

std::unique_ptr<Layer> Embedding::clone() const { return std::make_unique<Embedding>(*this); }

std::pair<std::size_t, std::size_t> Embedding::input_ranks() const { return {1, 1}; }

void Embedding::check_input(TensorView ids, const std::string& call) const {
    for (std::size_t i = 0; i < ids.size(); ++i) {
        const float id = ids.data()[i];
        // The range first: converting a float beyond size_t's range would be undefined.
        if (!(id >= 0.0f) || static_cast<double>(id) >= static_cast<double>(input_dim_) || id != std::floor(id))
            throw Error(call + ": layer '" + name() + "' expects whole-number ids in [0, " + std::to_string(input_dim_) +
                        "), got " + std::to_string(id) + " at position " + std::to_string(i));
    }
}

void Embedding::check_placement(std::size_t index, const std::string& call) const {
    if (index != 0)
        throw Error(call + ": layer '" + name() + "' (Embedding) takes ids, so it can only be the first layer");
}

Shape Embedding::compute_output_shape(const Shape& input) const { return Shape{input[0], output_dim_}; }

std::vector<Layer::WeightSpec> Embedding::weight_specs(const Shape&) const {
    return {{"embeddings", Shape{input_dim_, output_dim_}}};
}

void Embedding::initialize(float* weights, std::mt19937_64& generator) const {
    detail::uniform(weights, input_dim_ * output_dim_, -0.05f, 0.05f, generator);
}

// The vectors, then (mask_zero) the mask.
std::size_t Embedding::workspace_floats(std::size_t batch, std::size_t timesteps) const {
    const std::size_t rows = detail::mul(timesteps, batch);
    return detail::add(detail::mul(rows, output_dim_), mask_zero_ ? detail::mask_floats(rows) : 0);
}

void Embedding::forward(detail::LayerPass& pass) const {
    const std::size_t rows = pass.timesteps * pass.batch;
    for (std::size_t r = 0; r < rows; ++r)
        std::memcpy(pass.workspace + r * output_dim_, pass.weights + static_cast<std::size_t>(pass.input[r]) * output_dim_,
                    output_dim_ * sizeof(float));
    pass.output = pass.workspace;
    if (mask_zero_) {
        auto* mask = reinterpret_cast<std::uint8_t*>(pass.workspace + rows * output_dim_);
        for (std::size_t r = 0; r < rows; ++r) mask[r] = pass.input[r] != 0.0f;
        pass.output_mask = mask;
    }
}

// Each row's gradient is added to its id's vector, rows in order: deterministic. The ids
// themselves have no gradient.
void Embedding::backward(detail::LayerPass& pass) const {
    const std::size_t rows = pass.timesteps * pass.batch;
    std::fill_n(pass.grads, input_dim_ * output_dim_, 0.0f);
    for (std::size_t r = 0; r < rows; ++r) {
        float* g = pass.grads + static_cast<std::size_t>(pass.input[r]) * output_dim_;
        const float* dy = pass.output_grad + r * output_dim_;
        for (std::size_t j = 0; j < output_dim_; ++j) g[j] += dy[j];
    }
}

// A stream keeps a copy of the embeddings and one step's output.
std::size_t Embedding::stream_floats(std::size_t batch) const {
    return detail::add(detail::round_up(detail::mul(input_dim_, output_dim_), 16), detail::mul(batch, output_dim_));
}

void Embedding::stream_start(detail::StreamPass& pass) const {
    std::copy_n(pass.weights, input_dim_ * output_dim_, pass.buffer);
}

void Embedding::check_streamable(const std::string& call) const {
    if (mask_zero_)
        throw Error(call + ": layer '" + name() + "' has mask_zero on; a stream runs every step it is given, so "
                           "leave padding out of the stream instead");
}

// One id per sequence, checked (Layer::check_input) before the step.
const float* Embedding::stream_step(detail::StreamPass& pass, const float* ids) const noexcept {
    float* out = pass.buffer + detail::round_up(input_dim_ * output_dim_, 16);
    for (std::size_t b = 0; b < pass.batch; ++b)
        std::memcpy(out + b * output_dim_, pass.buffer + static_cast<std::size_t>(ids[b]) * output_dim_,
                    output_dim_ * sizeof(float));
    return out;
}

void Embedding::write_config(detail::ConfigWriter& config) const {
    config.set("input_dim", input_dim_);
    config.set("output_dim", output_dim_);
    config.set("mask_zero", mask_zero_);
}

std::unique_ptr<Layer> Embedding::from_config(const detail::ConfigReader& c) {
    return Embedding(c.count("input_dim", 1, detail::kMaxDimension), c.count("output_dim", 1, detail::kMaxDimension))
        .mask_zero(c.has("mask_zero") && c.boolean("mask_zero"))
        .clone();
}

Tensor Embedding::operator()(const Tensor& ids) {
    if (ids.rank() != 2)
        throw Error("Embedding: layer '" + name() + "' expects ids of shape (batch, timesteps), got " + ids.shape().str());
    return call_standalone(ids, false).front();
}

}  // namespace recur
