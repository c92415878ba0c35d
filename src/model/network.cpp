#include "model/network.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "random.hpp"
#include "tensor/sizes.hpp"
#include "threads.hpp"

namespace recur::detail {

Network::Network(std::vector<Layer*> chain) : layers(std::move(chain)) {
    for (Layer* layer : layers) {
        offsets.push_back(param_count);
        param_count = add(param_count, layer->count_params());  // checks each layer's sizes
        for (const auto& spec : LayerAccess::weight_specs(*layer)) variable_sizes.push_back(spec.shape.elements());
    }
    if (param_count > kMaxFloats)
        throw Error("Sequential: the layers' weights together are more than memory can address");
    input_shape = layers.front()->input_shape();
    output_shape = layers.back()->output_shape();
    sequence_input = LayerAccess::input_is_sequence(*layers.front());
    for (Layer* layer : layers) output_masked = LayerAccess::set_input_masked(*layer, output_masked);
    draws_noise = std::any_of(layers.begin(), layers.end(), [](const Layer* l) { return LayerAccess::draws_noise(*l); });
    for (std::size_t l = 0, variable = 0; l < layers.size(); ++l) {
        std::size_t offset = offsets[l];
        for (const auto& r : LayerAccess::weight_regularizers(*layers[l])) {
            const std::size_t size = variable_sizes[variable++];
            if (r && (r->l1() > 0.0f || r->l2() > 0.0f)) regularized.push_back({offset, size, r->l1(), r->l2()});
            offset += size;
        }
    }
    output_masked = output_masked && output_shape.rank() == 2;
}

Shape resolve(const Shape& shape, std::size_t timesteps) {
    std::vector<std::size_t> dims = shape.dims();
    std::replace(dims.begin(), dims.end(), None, timesteps);
    return Shape(dims);
}

std::size_t sample_floats(const Shape& shape, std::size_t timesteps) { return elements(resolve(shape, timesteps)); }

namespace {
// Whole cache lines between regions keep every region 64-byte aligned.
std::size_t lines(std::size_t floats) { return round_up(floats, 16); }
}  // namespace

void Workspace::reserve(const Network& net, std::size_t batch, std::size_t steps, const std::string& call) {
    const std::size_t in = sample_floats(net.input_shape, steps), out = sample_floats(net.output_shape, steps);
    const std::size_t out_rows = mul(batch, net.output_shape.rank() == 2 ? steps : 1);
    std::size_t needed = add(lines(mul(batch, in)), mul(net.output_masked ? 6 : 3, lines(mul(batch, out))),
                             mul(net.output_masked ? 2 : 1, lines(out_rows)));
    for (Layer* layer : net.layers)
        needed = add(needed, lines(LayerAccess::workspace_floats(*layer, batch, steps)),
                     lines(mul(batch, sample_floats(layer->output_shape(), steps))));
    if (buffer_.size() < needed) {
        try {
            buffer_ = Tensor(Shape{needed});
        } catch (const Error& e) {
            throw Error(call + ": the activations of a batch of " + std::to_string(batch) +
                        (net.sequence_input ? " samples of " + std::to_string(steps) + " timesteps" : "") +
                        " cannot be allocated: " + e.what());
        }
    }
    timesteps = steps;
    float* p = buffer_.data();
    auto take = [&](std::size_t floats) {
        float* region = p;
        p += lines(floats);
        return region;
    };
    x = take(batch * in);
    y_true = take(batch * out);
    d_pred = take(batch * out);
    y_sequence = take(batch * out);
    real_rows = net.output_masked ? take(3 * lines(batch * out)) : nullptr;
    row_weights = take(net.output_masked ? 2 * lines(out_rows) : out_rows);  // with a mask: the real rows' too
    weighted = false;
    output_mask = nullptr;
    passes.resize(net.layers.size());
    for (std::size_t l = 0; l < net.layers.size(); ++l) {
        passes[l] = LayerPass{};
        passes[l].batch = batch;
        passes[l].timesteps = steps;
        passes[l].workspace = take(LayerAccess::workspace_floats(*net.layers[l], batch, steps));
        passes[l].output_grad = take(batch * sample_floats(net.layers[l]->output_shape(), steps));
    }
}

WorkspacePool::Lease WorkspacePool::borrow() {
    std::lock_guard lock(mutex_);
    if (free_.empty()) return Lease(*this, std::make_unique<Workspace>());
    std::unique_ptr<Workspace> ws = std::move(free_.back());
    free_.pop_back();
    return Lease(*this, std::move(ws));
}

WorkspacePool::Lease::~Lease() {
    std::lock_guard lock(pool_.mutex_);
    pool_.free_.push_back(std::move(ws_));
}

namespace {

// dst[t][b][f] = src[b][t][f] and back.
void to_time_major(float* dst, const float* src, std::size_t B, std::size_t T, std::size_t F) {
    for (std::size_t b = 0; b < B; ++b)
        for (std::size_t t = 0; t < T; ++t) std::memcpy(dst + (t * B + b) * F, src + (b * T + t) * F, F * sizeof(float));
}
void to_batch_major(float* dst, const float* src, std::size_t B, std::size_t T, std::size_t F) {
    for (std::size_t b = 0; b < B; ++b)
        for (std::size_t t = 0; t < T; ++t) std::memcpy(dst + (b * T + t) * F, src + (t * B + b) * F, F * sizeof(float));
}

}  // namespace

float regularization(const Network& net, const float* weights, float* grads) {
    double penalty = 0.0;
    for (const Network::Regularized& r : net.regularized) {
        double l1 = 0.0, l2 = 0.0;
        for (std::size_t i = r.offset; i < r.offset + r.size; ++i) {
            const float w = weights[i];
            l1 += std::abs(w);
            l2 += double(w) * w;
            // d/dw of l1 |w| + l2 w^2, with sign(0) = 0 as Keras's
            if (grads) grads[i] += r.l1 * float((w > 0.0f) - (w < 0.0f)) + 2.0f * r.l2 * w;
        }
        penalty += r.l1 * l1 + r.l2 * l2;
    }
    return static_cast<float>(penalty);
}

const float* forward(const Network& net, Workspace& ws, const float* weights, std::size_t batch,
                     const std::uint64_t* training_seed) {
    const float* activations = ws.x;
    ws.activity_penalty = 0.0f;
    for (std::size_t l = 0; l < net.layers.size(); ++l) {
        LayerPass& pass = ws.passes[l];
        pass.training = training_seed != nullptr;
        pass.seed = training_seed ? mix_seed(*training_seed, l) : 0;
        pass.batch = batch;
        pass.timesteps = ws.timesteps;
        pass.weights = weights + net.offsets[l];
        pass.input = activations;
        pass.mask = l > 0 ? ws.passes[l - 1].output_mask : nullptr;
        pass.output_mask = nullptr;
        LayerAccess::forward(*net.layers[l], pass);
        ws.activity_penalty += pass.activity_penalty;
        activations = pass.output;
    }
    ws.output_mask = net.output_masked ? ws.passes.back().output_mask : nullptr;
    if (net.output_shape.rank() == 2) {
        to_batch_major(ws.y_sequence, activations, batch, ws.timesteps, net.output_shape[1]);
        activations = ws.y_sequence;
    }
    ws.y_pred = activations;
    return activations;
}

void backward(const Network& net, Workspace& ws, const float* weights, float* grads, std::size_t batch,
              bool past_output_activation) {
    LayerPass& last = ws.passes.back();
    last.output_grad_past_activation = past_output_activation;
    if (net.output_shape.rank() == 2)
        to_time_major(last.output_grad, ws.d_pred, batch, ws.timesteps, net.output_shape[1]);
    else
        std::copy_n(ws.d_pred, batch * net.output_shape[0], last.output_grad);
    // Layers before the first with weights (a Masking layer) need no gradients at all.
    std::size_t first = 0;
    while (first + 1 < net.layers.size() && net.offsets[first + 1] == 0) ++first;
    for (std::size_t l = net.layers.size(); l-- > first;) {
        LayerPass& pass = ws.passes[l];
        pass.weights = weights + net.offsets[l];
        pass.grads = grads + net.offsets[l];
        pass.input_grad = l > first ? ws.passes[l - 1].output_grad : nullptr;
        LayerAccess::backward(*net.layers[l], pass);
    }
}

void gather_time_major(Workspace& ws, const Tensor& x, std::span<const std::size_t> rows) {
    float* dst = ws.x;
    const std::size_t timesteps = ws.timesteps, sample = x.size() / x.shape()[0], F = sample / timesteps, B = rows.size();
    for_each_piece(B, 16, double(B) * sample * kWorkPerFloatMoved, [&](std::size_t b0, std::size_t count) {
        for (std::size_t b = b0; b < b0 + count; ++b)
            for (std::size_t t = 0; t < timesteps; ++t)
                std::memcpy(dst + (t * B + b) * F, x.data() + rows[b] * sample + t * F, F * sizeof(float));
    });
}

void gather_rows(float* dst, const Tensor& y, std::span<const std::size_t> rows) {
    const std::size_t sample = y.size() / y.shape()[0];
    for (std::size_t b = 0; b < rows.size(); ++b)
        std::memcpy(dst + b * sample, y.data() + rows[b] * sample, sample * sizeof(float));
}

}  // namespace recur::detail

namespace recur {

// A layer called on its own runs through the same machinery as a one-layer model.
std::vector<Tensor> Layer::call_standalone(const Tensor& x, bool with_states,
                                           const std::vector<const float*>& initial_states) {
    const std::string call = type_name();
    const Shape sample = x.shape().drop_front();
    if (has_input_shape() && !sample.fits(input_shape_))
        throw Error(call + ": layer '" + name_ + "' expects input of shape " + input_shape_.str_with_batch() +
                    ", got " + x.shape().str());
    if (is_sequence(sample) && sample[0] == 0)
        throw Error(call + ": layer '" + name_ + "' expects sequences of at least one timestep, got shape " +
                    x.shape().str());
    check_input(x, call);  // finite values, or valid ids
    if (!built()) {  // as Keras, the first call builds the layer for its input (or for the shape it was given)
        const Shape previous = input_shape_;
        // Keras's input spec: later calls may bring sequences of any length.
        const Shape built_for = is_sequence(sample) ? sample.drop_front().prepend(None) : sample;
        set_input_shape(has_input_shape() ? input_shape_ : built_for, call);
        try {
            owned_ = Tensor(Shape{count_params()});
        } catch (const Error& e) {
            input_shape_ = previous;
            throw Error(call + ": layer '" + name_ + "' cannot be built: " + e.what());
        }
        weights_ = owned_.data();
        detail::Generator generator(detail::draw_seed());
        initialize(weights_, generator);
    }
    const std::size_t batch = x.shape()[0];
    detail::Network net({this});
    const std::size_t timesteps = net.timesteps(sample);
    std::vector<Tensor> outputs;
    outputs.emplace_back(detail::resolve(net.output_shape, timesteps).prepend(batch));
    const std::size_t states = with_states ? state_count() : 0;
    for (std::size_t i = 0; i < states; ++i) outputs.emplace_back(Shape{batch, state_width()});
    if (batch == 0) return outputs;  // as Keras: an empty batch gives an empty result
    check_batch(batch, call);
    detail::Workspace ws;
    ws.reserve(net, batch, timesteps, call);
    std::vector<std::size_t> rows(batch);
    std::iota(rows.begin(), rows.end(), 0);
    detail::gather_time_major(ws, x, rows);
    for (std::size_t i = 0; i < initial_states.size() && i < 2; ++i) ws.passes[0].initial_states[i] = initial_states[i];
    const float* y = detail::forward(net, ws, weights_, batch);
    std::copy_n(y, outputs[0].size(), outputs[0].data());
    for (std::size_t i = 0; i < states; ++i) std::copy_n(ws.passes[0].states[i], outputs[1 + i].size(), outputs[1 + i].data());
    return outputs;
}

}  // namespace recur
