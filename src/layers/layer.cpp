#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include <recur/layers.hpp>

#include "layers/layer_pass.hpp"
#include "tensor/sizes.hpp"
#include "text.hpp"

namespace recur {

namespace detail {
std::string unique_name(std::string_view prefix) {
    static std::mutex mutex;
    static std::map<std::string, int, std::less<>> counts;
    std::lock_guard lock(mutex);
    const int n = counts[std::string(prefix)]++;
    return n == 0 ? std::string(prefix) : std::string(prefix) + "_" + std::to_string(n);
}

kernels::Act kernel_act(Activation activation) {
    switch (activation) {
        case Activation::tanh: return kernels::Act::tanh;
        case Activation::relu: return kernels::Act::relu;
        case Activation::sigmoid: return kernels::Act::sigmoid;
        default: return kernels::Act::linear;
    }
}
}  // namespace detail

Activation parse_activation(std::string_view name, std::string_view caller) {
    if (name == "tanh") return Activation::tanh;
    if (name == "relu") return Activation::relu;
    if (name == "sigmoid") return Activation::sigmoid;
    if (name == "linear" || name == "none") return Activation::linear;
    if (name == "softmax") return Activation::softmax;
    throw Error(std::string(caller) +
                ": expected activation \"tanh\", \"relu\", \"sigmoid\", \"linear\" or \"softmax\", got \"" +
                detail::printable(name) + "\"");
}

const char* activation_name(Activation activation) {
    switch (activation) {
        case Activation::tanh: return "tanh";
        case Activation::relu: return "relu";
        case Activation::sigmoid: return "sigmoid";
        case Activation::softmax: return "softmax";
        case Activation::linear: break;
    }
    return "linear";
}

Layer::Layer(std::string_view type_prefix) : name_(detail::unique_name(type_prefix)) {}

// A copy is independent of the original: a built layer's weights are copied into storage
// of the copy's own.
Layer::Layer(const Layer& other)
    : name_(other.name_), input_shape_(other.input_shape_), regularizers_(other.regularizers_) {
    if (other.built()) {
        owned_ = Tensor(Shape{other.count_params()});
        std::copy_n(other.weights_, owned_.size(), owned_.data());
        weights_ = owned_.data();
    }
}

Layer::~Layer() = default;

void Layer::set_name(std::string name) {
    const std::string call = std::string(type_name()) + "::name";
    check_configurable("name");
    // Weights are saved as "<layer name>/<weight name>", in a JSON header, and names appear
    // in messages: no '/', no control characters.
    if (name.empty() || name.find('/') != std::string::npos || !detail::valid_utf8(name) ||
        std::any_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
        throw Error(call + ": expected a non-empty UTF-8 name without '/' or control characters, got \"" +
                    detail::printable(name) + "\"");
    name_ = std::move(name);
}

void Layer::check_configurable(const char* option) const {
    const std::string call = std::string(type_name()) + "::" + option + ": layer '" + name_ + "'";
    if (built())
        throw Error(call + " is built, so its options are fixed (its weights were laid out for them); make a new layer");
    if (in_model_)
        throw Error(call + " belongs to a model, so its options are fixed (the model was checked with them); add a "
                           "new layer to a new model instead");
}

void Layer::set_input_shape(Shape shape, const std::string& call) {
    const auto [min_rank, max_rank] = input_ranks();
    if (shape.rank() < min_rank || shape.rank() > max_rank)
        throw Error(call + ": layer '" + name_ + "' expects " + std::to_string(min_rank) +
                    (max_rank > min_rank ? " or " + std::to_string(max_rank) : "") +
                    " dimensions per sample (batch axis left out), got " + shape.str());
    // The time axis (the first of a sequence, which has the layer's larger rank) may be
    // None: any number of timesteps.
    const bool sequence = is_sequence(shape);
    for (std::size_t axis = 0; axis < shape.rank(); ++axis) {
        const std::size_t d = shape[axis];
        if (d == None && axis == 0 && sequence) continue;
        if (d == None)
            throw Error(call + ": layer '" + name_ + "' takes None (any length) only for the time axis, the first of " +
                        "a sequence's, got " + shape.str());
        if (d == 0 || d > detail::kMaxDimension)
            throw Error(call + ": layer '" + name_ + "' expects dimensions " +
                        (d == 0 ? ">= 1" : "<= " + std::to_string(detail::kMaxDimension)) + ", got " + shape.str());
    }
    if (built() && shape != input_shape_)
        throw Error(call + ": layer '" + name_ + "' is built for " + input_shape_.str() + ", got " + shape.str());
    input_shape_ = std::move(shape);
    input_shape_set(call);
}

void Layer::check_input(TensorView x, const std::string& call) const {
    if (!std::all_of(x.begin(), x.end(), [](float v) { return std::isfinite(v); }))
        throw Error(call + ": x must be finite, but it holds NaN or Inf");
}

Shape Layer::output_shape() const {
    if (!has_input_shape())
        throw Error("Layer::output_shape: layer '" + name_ + "' has no input shape yet");
    return compute_output_shape(input_shape_);
}

std::vector<std::string> Layer::weight_names() const {
    std::vector<std::string> names;
    if (has_input_shape())
        for (auto& spec : weight_specs(input_shape_)) names.push_back(spec.name);
    return names;
}

std::vector<Shape> Layer::weight_shapes() const {
    std::vector<Shape> shapes;
    if (has_input_shape())
        for (auto& spec : weight_specs(input_shape_)) shapes.push_back(spec.shape);
    return shapes;
}

// Checked: a layer configured with absurd sizes is refused here, before anything is allocated.
std::size_t Layer::count_params() const {
    const std::vector<Shape> shapes = weight_shapes();
    std::size_t n = 0;
    for (const Shape& shape : shapes) n = detail::add(n, detail::elements(shape));
    if (n > detail::kMaxFloats) {
        std::string listed;
        for (const Shape& shape : shapes) listed += (listed.empty() ? "" : ", ") + shape.str();
        throw Error("Layer::count_params: layer '" + name_ + "' asks for weights of shapes " + listed +
                    ", more than memory can address");
    }
    return n;
}

std::vector<Tensor> Layer::get_weights() const {
    std::vector<Tensor> weights;
    if (!built()) return weights;
    const float* p = weights_;
    for (const Shape& shape : weight_shapes()) {
        Tensor w(shape);
        std::copy_n(p, w.size(), w.data());
        p += w.size();
        weights.push_back(std::move(w));
    }
    return weights;
}

void Layer::set_weights(const std::vector<Tensor>& weights) {
    if (!built())
        throw Error("Layer::set_weights: layer '" + name_ +
                    "' is not built yet; give it an input shape and add it to a model first");
    const auto specs = weight_specs(input_shape_);
    if (weights.size() != specs.size())
        throw Error("Layer::set_weights: layer '" + name_ + "' expects " + std::to_string(specs.size()) +
                    " weights, got " + std::to_string(weights.size()));
    for (std::size_t i = 0; i < specs.size(); ++i) {
        if (weights[i].shape() != specs[i].shape)
            throw Error("Layer::set_weights: layer '" + name_ + "' expects " + specs[i].name + " of shape " +
                        specs[i].shape.str() + ", got " + weights[i].shape().str());
        const float* bad = std::find_if(weights[i].begin(), weights[i].end(), [](float w) { return !std::isfinite(w); });
        if (bad != weights[i].end())
            throw Error("Layer::set_weights: layer '" + name_ + "' expects finite values, but " + specs[i].name +
                        " holds " + std::to_string(*bad) + " at index " + std::to_string(bad - weights[i].begin()));
    }
    float* p = weights_;
    for (const Tensor& w : weights) p = std::copy(w.begin(), w.end(), p);
    if (model_version_) ++*model_version_;  // the model's streams now hold other weights
}

Regularizer::Regularizer(float l1, float l2, const char* call) : l1_(l1), l2_(l2) {
    for (float v : {l1, l2})
        if (!(v >= 0.0f && std::isfinite(v)))
            throw Error(std::string(call) + ": expected finite factors >= 0, got " + detail::as_text(v));
}

void Layer::set_regularizer(const std::string& weight, const Regularizer& regularizer) {
    const auto options = regularizable();
    const auto at = std::find_if(options.begin(), options.end(), [&](const auto& o) { return o.second == weight; });
    if (at == options.end())
        throw Error(std::string(type_name()) + ": layer '" + name_ + "' has no weight \"" + weight + "\" to regularize");
    check_configurable(at->first.c_str());
    regularizers_.insert_or_assign(weight, regularizer);
}

std::optional<Regularizer> Layer::regularizer(std::string_view weight) const {
    const auto at = regularizers_.find(weight);
    if (at == regularizers_.end()) return std::nullopt;
    return at->second;
}

std::vector<std::optional<Regularizer>> Layer::weight_regularizers() const {
    std::vector<std::optional<Regularizer>> all;
    for (const WeightSpec& spec : weight_specs(input_shape_)) all.push_back(regularizer(spec.name));
    return all;
}

}  // namespace recur
