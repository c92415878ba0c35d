// A model run one timestep at a time. The stream holds its own copy of the model's layers and
// of their weights, laid out for the kernels when it is made, with every buffer a step needs;
// a step is each layer's own step code, the same kernel calls a whole-sequence forward pass
// (predict) makes for that timestep, so it gives the same numbers, bit for bit.
#include <recur/stream.hpp>

#include <atomic>

#include "errors.hpp"
#include "layers/layer_pass.hpp"
#include "model/sequential_impl.hpp"
#include "tensor/sizes.hpp"

namespace recur {

struct Stream::Impl {
    std::size_t batch = 0, input_features = 0, output_features = 0;
    std::vector<std::unique_ptr<Layer>> layers;  // copies: the stream needs nothing of the model once made
    std::vector<detail::StreamPass> passes;
    Tensor buffer;  // every layer's StreamPass::buffer
    // The model's weights version when the stream was made: a stream whose model has changed
    // since (trained further, given other weights, rebuilt or destroyed) would answer for
    // weights the model no longer has, so it refuses to run.
    std::shared_ptr<const std::atomic<std::uint64_t>> model_version;
    std::uint64_t made_at = 0;

    Impl& current(const char* call) {
        if (model_version->load(std::memory_order_relaxed) != made_at)
            throw Error(std::string(call) + ": the model this stream was made from has changed since (trained, given "
                                            "other weights, rebuilt or destroyed); make a new stream from it");
        return *this;
    }
};

Stream::Stream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Stream::Stream(Stream&&) noexcept = default;
Stream& Stream::operator=(Stream&&) noexcept = default;
Stream::~Stream() = default;

Stream::Impl& Stream::impl(const char* call) const {
    if (!impl_) throw Error(std::string(call) + ": this stream was moved from; use the stream it was moved to");
    return *impl_;
}

std::size_t Stream::batch() const { return impl("Stream::batch").batch; }
std::size_t Stream::input_features() const { return impl("Stream::input_features").input_features; }

void Stream::reset() {
    Impl& m = impl("Stream::reset").current("Stream::reset");
    for (std::size_t l = 0; l < m.layers.size(); ++l) detail::LayerAccess::stream_reset(*m.layers[l], m.passes[l]);
}

TensorView Stream::step(const float* x_t) {
    constexpr const char* call = "Stream::step";
    Impl& m = impl(call).current(call);
    if (!x_t) throw Error(std::string(call) + ": expected the inputs of one timestep, got a null pointer");
    detail::LayerAccess::check_input(*m.layers.front(), TensorView(x_t, Shape{m.batch, m.input_features}), call);
    const float* activations = x_t;
    for (std::size_t l = 0; l < m.layers.size(); ++l)
        activations = detail::LayerAccess::stream_step(*m.layers[l], m.passes[l], activations);
    return TensorView(activations, Shape{m.batch, m.output_features});
}

Stream Sequential::stream(std::size_t batch) const {
    const std::string call = "Sequential::stream";
    const Impl& m = impl("Sequential::stream");
    detail::Occupancy::Hold hold(m.occupancy, detail::Access::read, call);
    return detail::api_call(call, [&] { return m.make_stream(batch, call); });
}

Stream Sequential::Impl::make_stream(std::size_t batch, const std::string& call) const {
    const detail::Network& n = net(call);
    detail::check_count(batch, detail::kMaxDimension, call, "batch");
    // A step takes one timestep of a sequence: (T, D) inputs, or (T,) ids.
    if (!LayerAccess::input_is_sequence(*layers.front()))
        throw Error(call + ": expected a model whose input is a sequence, got input " + n.input_shape.str_with_batch());
    auto s = std::make_unique<Stream::Impl>();
    s->batch = batch;
    s->input_features = n.input_shape.rank() == 2 ? n.input_shape[1] : 1;
    s->output_features = n.output_shape.back();
    std::size_t floats = 0;
    std::vector<std::size_t> offsets;
    for (const auto& layer : layers) {
        LayerAccess::check_streamable(*layer, call);
        s->layers.push_back(layer->clone());
        offsets.push_back(floats);
        floats = detail::add(floats, detail::round_up(LayerAccess::stream_floats(*layer, batch), 16));
    }
    s->buffer = Tensor(Shape{floats});
    for (std::size_t l = 0; l < layers.size(); ++l) {
        detail::StreamPass pass{batch, params.data() + n.offsets[l], s->buffer.data() + offsets[l]};
        LayerAccess::stream_start(*s->layers[l], pass);
        pass.weights = nullptr;  // from now on the stream reads only its own buffer
        s->passes.push_back(pass);
    }
    s->model_version = weights_version;
    s->made_at = weights_version->load(std::memory_order_relaxed);
    return Stream(std::move(s));
}

}  // namespace recur
