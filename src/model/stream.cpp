// A model run one timestep at a time: each SimpleRNN keeps its hidden state between steps,
// every buffer is allocated when the stream is made, and a step is the same kernel calls a
// whole-sequence forward pass makes for that timestep, so it gives the same numbers.
#include <recur/stream.hpp>

#include <algorithm>

#include "kernels/kernels.hpp"
#include "layers/dense.hpp"
#include "model/sequential_impl.hpp"

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
};

Stream::Stream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Stream::Stream(Stream&&) noexcept = default;
Stream& Stream::operator=(Stream&&) noexcept = default;
Stream::~Stream() = default;

std::size_t Stream::batch() const { return impl_->batch; }
std::size_t Stream::input_features() const { return impl_->stages.front().in; }

void Stream::reset() {
    for (auto& stage : impl_->stages) std::fill(stage.state.begin(), stage.state.end(), 0.0f);
}

TensorView Stream::step(const float* x_t) {
    const auto& k = kernels::active();
    const std::size_t B = impl_->batch;
    const float* input = x_t;
    for (auto& s : impl_->stages) {
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
    return TensorView(input, Shape{B, impl_->stages.back().out});
}

Stream Sequential::stream(std::size_t batch) const {
    const Impl& m = *impl_;
    const detail::Network& net = m.net("Sequential::stream");
    if (batch == 0) throw Error("Sequential::stream: expected batch >= 1, got 0");
    if (net.input_timesteps == 1 && net.input_shape.rank() != 2)
        throw Error("Sequential::stream: expected a model whose input is a sequence, got input " +
                    net.input_shape.str_with_batch());
    auto impl = std::make_unique<Stream::Impl>();
    impl->batch = batch;
    for (std::size_t l = 0; l < m.layers.size(); ++l) {
        const Layer& layer = *m.layers[l];
        Stream::Impl::Stage stage{&layer, m.params.data() + net.offsets[l], layer.input_shape().back(),
                                  layer.output_shape().back(), Tensor(), Tensor(), Tensor()};
        if (const auto* rnn = dynamic_cast<const SimpleRNN*>(&layer)) {
            if (rnn->go_backwards())
                throw Error("Sequential::stream: layer '" + layer.name() +
                            "' has go_backwards on; it needs the whole sequence before its first output");
            stage.state = Tensor(Shape{batch, stage.out});
            stage.next_state = Tensor(Shape{batch, stage.out});
        } else if (!dynamic_cast<const Dense*>(&layer) && !dynamic_cast<const Embedding*>(&layer)) {
            throw Error(std::string("Sequential::stream: layer type ") + layer.type_name() + " cannot stream");
        }
        stage.scratch = Tensor(Shape{batch, stage.out});
        impl->stages.push_back(std::move(stage));
    }
    return Stream(std::move(impl));
}

}  // namespace recur
