// A model run one timestep at a time: each SimpleRNN keeps its hidden state between steps,
// every buffer is allocated when the stream is made, and a step is the same kernel calls a
// whole-sequence forward pass makes for that timestep, so it gives the same numbers.
#include <recur/stream.hpp>

#include <algorithm>
#include <cmath>

#include "errors.hpp"
#include "kernels/kernels.hpp"
#include "layers/dense.hpp"
#include "model/sequential_impl.hpp"
#include "tensor/sizes.hpp"

namespace recur {

struct Stream::Impl {
    struct Stage {
        const Layer* layer;
        const float* weights;
        std::size_t in, out;  // features per row
        Tensor state;         // SimpleRNN: batch x units, the state after the last step
        Tensor next_state;    // SimpleRNN: the state being computed, then swapped in
        Tensor scratch;       // SimpleRNN: the input projection; Dense: the output
    };
    std::size_t batch;
    std::vector<Stage> stages;
    // The model's buffers as they were when the stream was made: expired once the model is
    // rebuilt (a layer added), replaced or destroyed, after which the weights pointers dangle.
    std::weak_ptr<const int> layout;

    // The stream, after checking that it is usable from `call`.
    Impl& usable(const char* call) {
        if (layout.expired())
            throw Error(std::string(call) + ": the model this stream was made from has been rebuilt, replaced or "
                                            "destroyed since; make a new stream from the model as it is now");
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
std::size_t Stream::input_features() const { return impl("Stream::input_features").stages.front().in; }

void Stream::reset() {
    for (auto& stage : impl("Stream::reset").usable("Stream::reset").stages)
        std::fill(stage.state.begin(), stage.state.end(), 0.0f);
}

TensorView Stream::step(const float* x_t) {
    constexpr const char* call = "Stream::step";
    Impl& m = impl(call).usable(call);
    if (!x_t) throw Error(std::string(call) + ": expected the inputs of one timestep, got a null pointer");
    const auto& k = kernels::active();
    const std::size_t B = m.batch, D = m.stages.front().in;
    if (const auto* embedding = dynamic_cast<const Embedding*>(m.stages.front().layer)) {
        for (std::size_t b = 0; b < B; ++b)
            if (!(x_t[b] >= 0.0f) || static_cast<double>(x_t[b]) >= static_cast<double>(embedding->input_dim()) ||
                x_t[b] != std::floor(x_t[b]))
                throw Error(std::string(call) + ": layer '" + embedding->name() + "' expects whole-number ids in [0, " +
                            std::to_string(embedding->input_dim()) + "), got " + std::to_string(x_t[b]) +
                            " for sequence " + std::to_string(b));
    } else {
        for (std::size_t i = 0; i < B * D; ++i)
            if (!std::isfinite(x_t[i]))
                throw Error(std::string(call) + ": the inputs must be finite, but input " + std::to_string(i) +
                            " is " + std::to_string(x_t[i]));
    }
    const float* input = x_t;
    for (auto& s : m.stages) {
        if (const auto* rnn = dynamic_cast<const SimpleRNN*>(s.layer)) {
            const std::size_t D = s.in, H = s.out;
            const float* w = s.weights;
            k.linear_forward(s.scratch.data(), input, w, rnn->use_bias() ? w + D * H + H * H : nullptr, B, D, H);
            k.rnn_step_forward(s.next_state.data(), s.scratch.data(), s.state.data(), w + D * H, B, H,
                               detail::kernel_act(rnn->activation()));
            std::swap(s.state, s.next_state);  // moves two pointers, allocates nothing
            input = s.state.data();
        } else if (dynamic_cast<const Embedding*>(s.layer)) {
            for (std::size_t b = 0; b < B; ++b)
                std::copy_n(s.weights + static_cast<std::size_t>(input[b]) * s.out, s.out, s.scratch.data() + b * s.out);
            input = s.scratch.data();
        } else {
            const auto* dense = static_cast<const Dense*>(s.layer);
            const float* w = s.weights;
            detail::dense_forward(s.scratch.data(), input, w, dense->use_bias() ? w + s.in * s.out : nullptr, B, s.in,
                                  s.out, dense->activation());
            input = s.scratch.data();
        }
    }
    return TensorView(input, Shape{B, m.stages.back().out});
}

Stream Sequential::stream(std::size_t batch) const {
    const std::string call = "Sequential::stream";
    const Impl& m = impl("Sequential::stream");
    detail::Occupancy::Hold hold(m.occupancy, detail::Access::read, call);
    return detail::api_call(call, [&] { return m.make_stream(batch, call); });
}

Stream Sequential::Impl::make_stream(std::size_t batch, const std::string& call) const {
    const Impl& m = *this;
    const detail::Network& net = m.net(call);
    detail::check_count(batch, detail::kMaxDimension, call, "batch");
    const bool ids = dynamic_cast<const Embedding*>(m.layers.front().get()) != nullptr;  // (T,): one id per step
    if (!ids && net.input_shape.rank() != 2)
        throw Error(call + ": expected a model whose input is a sequence, got input " + net.input_shape.str_with_batch());
    auto impl = std::make_unique<Stream::Impl>();
    impl->batch = batch;
    impl->layout = m.layout;
    for (std::size_t l = 0; l < m.layers.size(); ++l) {
        const Layer& layer = *m.layers[l];
        Stream::Impl::Stage stage{&layer, m.params.data() + net.offsets[l], l == 0 && ids ? 1 : layer.input_shape().back(),
                                  layer.output_shape().back(), Tensor(), Tensor(), Tensor()};
        if (const auto* rnn = dynamic_cast<const SimpleRNN*>(&layer)) {
            if (rnn->go_backwards())
                throw Error(call + ": layer '" + layer.name() +
                            "' has go_backwards on; it needs the whole sequence before its first output");
            stage.state = Tensor(Shape{batch, stage.out});
            stage.next_state = Tensor(Shape{batch, stage.out});
        } else if (!dynamic_cast<const Dense*>(&layer) && !dynamic_cast<const Embedding*>(&layer)) {
            throw Error(call + ": layer type " + layer.type_name() + " cannot stream");
        }
        stage.scratch = Tensor(Shape{batch, stage.out});
        impl->stages.push_back(std::move(stage));
    }
    return Stream(std::move(impl));
}

}  // namespace recur
