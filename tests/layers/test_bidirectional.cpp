// Bidirectional as Keras's: shapes, weights in Keras's order, outputs that are the forward
// layer's and the backward layer's (each checked against PyTorch by the parity fixtures)
// merged, gradients against finite differences, masks, model files.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include <recur/recur.hpp>

#include "support/probe.hpp"

using recur::Bidirectional;
using recur::Dense;
using recur::Error;
using recur::GRU;
using recur::LSTM;
using recur::None;
using recur::Sequential;
using recur::Shape;
using recur::SimpleRNN;
using recur::Tensor;

namespace {

Tensor ramp(Shape shape, float scale = 0.021f) {
    Tensor t(std::move(shape));
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = scale * static_cast<float>(i % 29) - 0.25f;
    return t;
}

bool close(float a, float b) { return std::abs(a - b) <= 1e-6f + 1e-5f * std::abs(b); }

// The wrapped layer's outputs by two one-way models holding the wrapper's weights.
template <class MakeCell>
void check_merged(MakeCell cell, const std::string& mode, bool sequences) {
    CAPTURE(mode);
    CAPTURE(sequences);
    const std::size_t B = 3, T = 5, D = 2, U = 4;
    Sequential model;
    model.add(Bidirectional(cell().return_sequences(sequences)).merge_mode(mode).input_shape({T, D}));
    const std::vector<Tensor> w = model.layer(0).get_weights();
    const std::size_t half = w.size() / 2;
    Sequential forward, backward;
    forward.add(cell().return_sequences(sequences).input_shape({T, D}));
    backward.add(cell().return_sequences(sequences).go_backwards(true).input_shape({T, D}));
    forward.layer(0).set_weights({w.begin(), w.begin() + half});
    backward.layer(0).set_weights({w.begin() + half, w.end()});
    const Tensor x = ramp({B, T, D});
    const Tensor y = model.predict(x), f = forward.predict(x), b = backward.predict(x);
    const std::size_t steps = sequences ? T : 1;
    REQUIRE(y.size() == B * steps * (mode == "concat" ? 2 * U : U));
    for (std::size_t s = 0; s < B; ++s)
        for (std::size_t t = 0; t < steps; ++t)
            for (std::size_t u = 0; u < U; ++u) {
                // The backward layer's outputs come in processing order; the wrapper puts them in time order.
                const float fv = f.data()[(s * steps + t) * U + u], bv = b.data()[(s * steps + (steps - 1 - t)) * U + u];
                const float* out = y.data() + (s * steps + t) * (mode == "concat" ? 2 * U : U);
                if (mode == "concat") {
                    CHECK(close(out[u], fv));
                    CHECK(close(out[U + u], bv));
                } else {
                    const float want = mode == "sum" ? fv + bv : mode == "mul" ? fv * bv : (fv + bv) / 2;
                    CHECK(close(out[u], want));
                }
            }
}

}  // namespace

TEST_CASE("Bidirectional: shapes, parameters, names and summary as Keras's") {
    Sequential model;
    model.add(Bidirectional(LSTM(5).name("lstm")).input_shape({6, 3}).name("bidirectional"));
    CHECK(model.output_shape() == Shape{10});
    CHECK(model.count_params() == 2 * 4 * (3 * 5 + 5 * 5 + 5));
    const std::vector<std::string> names = model.layer(0).weight_names();
    REQUIRE(names.size() == 6);
    CHECK(names[0] == "forward_lstm/kernel");
    CHECK(names[1] == "forward_lstm/recurrent_kernel");
    CHECK(names[2] == "forward_lstm/bias");
    CHECK(names[3] == "backward_lstm/kernel");
    CHECK(names[5] == "backward_lstm/bias");
    std::ostringstream summary;
    model.summary(summary);
    // As Keras's print_row: the name and type, 29 characters, go on over a second line.
    CHECK(summary.str().find("\n bidirectional (Bidirectiona  (None, 10)               360       \n"
                             " l)                                                              \n") != std::string::npos);

    Sequential sum;
    sum.add(Bidirectional(GRU(4).return_sequences(true)).merge_mode("sum").input_shape({None, 2}));
    CHECK(sum.output_shape() == Shape{None, 4});
    CHECK(sum.count_params() == 2 * 3 * (2 * 4 + 4 * 4 + 2 * 4));
    const auto& wrapper = static_cast<const Bidirectional&>(sum.layer(0));
    CHECK(wrapper.forward_layer().go_backwards() == false);
    CHECK(wrapper.backward_layer().go_backwards() == true);
    CHECK(wrapper.merge_mode() == "sum");
}

TEST_CASE("Bidirectional: the outputs are the two layers' merged (concat, sum, mul, ave), last step or every step") {
    for (const std::string mode : {"concat", "sum", "mul", "ave"})
        for (bool sequences : {false, true}) {
            check_merged([] { return SimpleRNN(4); }, mode, sequences);
            check_merged([] { return LSTM(4); }, mode, sequences);
            check_merged([] { return GRU(4); }, mode, sequences);
        }
}

TEST_CASE("Bidirectional: gradients agree with finite differences, with and without a mask") {
    for (const std::string mode : {"concat", "mul", "ave"}) {
        CAPTURE(mode);
        Sequential model;
        model.add(Bidirectional(GRU(3).return_sequences(true)).merge_mode(mode).input_shape({4, 2}));
        model.add(Bidirectional(LSTM(2)).merge_mode(mode == "mul" ? "sum" : mode));
        model.add(Dense(2));
        recur::testing::check_gradients(model, recur::MSE(), ramp({3, 4, 2}, 0.07f), ramp({3, 2}, 0.05f));
    }
    Sequential masked;
    masked.add(recur::Masking().input_shape({5, 2}));
    masked.add(Bidirectional(SimpleRNN(3).return_sequences(true)));
    masked.add(Dense(1));
    Tensor x = ramp({3, 5, 2}, 0.05f);
    for (std::size_t f = 0; f < 2; ++f) x(0, 4, f) = x(2, 1, f) = x(2, 3, f) = 0.0f;  // masked steps
    recur::testing::check_gradients(masked, recur::MSE(), x, ramp({3, 5, 1}, 0.04f));
}

TEST_CASE("Bidirectional with a mask: each sequence's backward run starts at its last real step") {
    const std::size_t T = 6, D = 2;
    Sequential masked;
    masked.add(recur::Masking().input_shape({T, D}));
    masked.add(Bidirectional(LSTM(3).return_sequences(true)));
    Sequential plain;
    plain.add(Bidirectional(LSTM(3).return_sequences(true)).input_shape({None, D}));
    plain.layer(0).set_weights(masked.layer(1).get_weights());
    const std::size_t lengths[] = {6, 2, 4};
    Tensor x({3, T, D});
    for (std::size_t b = 0; b < 3; ++b)
        for (std::size_t t = 0; t < lengths[b]; ++t)
            for (std::size_t f = 0; f < D; ++f) x(b, t, f) = 0.1f * static_cast<float>(b + 1) - 0.07f * static_cast<float>(t + f);
    const Tensor y = masked.predict(x);
    for (std::size_t b = 0; b < 3; ++b) {
        CAPTURE(b);
        const std::size_t L = lengths[b];
        Tensor alone({1, L, D});
        for (std::size_t t = 0; t < L; ++t)
            for (std::size_t f = 0; f < D; ++f) alone(0, t, f) = x(b, t, f);
        const Tensor expected = plain.predict(alone);
        for (std::size_t t = 0; t < L; ++t)
            for (std::size_t u = 0; u < 6; ++u) CHECK(close(y(b, t, u), expected(0, t, u)));
        // After the end both halves are zero: Keras's Bidirectional turns on its layers'
        // zero_output_for_mask with return_sequences (PyTorch's padded outputs are zero too).
        for (std::size_t t = L; t < T; ++t)
            for (std::size_t u = 0; u < 6; ++u) CHECK(y(b, t, u) == 0.0f);
    }
}

TEST_CASE("Bidirectional: model files, streams and bad settings") {
    Sequential model;
    model.add(Bidirectional(GRU(3).reset_after(false).return_sequences(true)).merge_mode("ave").input_shape({None, 2}));
    model.add(Bidirectional(SimpleRNN(2).activation("relu")));
    model.add(Dense(1));
    const std::string path = "recur_bidirectional_test.safetensors";
    model.save(path);
    const Sequential loaded = recur::load_model(path);
    std::remove(path.c_str());
    const Tensor x = ramp({2, 7, 2});
    const Tensor a = model.predict(x), b = loaded.predict(x);
    CHECK(std::equal(a.begin(), a.end(), b.begin(), b.end()));
    const auto& first = static_cast<const Bidirectional&>(loaded.layer(0));
    CHECK(first.merge_mode() == "ave");
    CHECK(first.forward_layer().return_sequences());
    CHECK(loaded.layer(1).weight_names().front() == model.layer(1).weight_names().front());

    CHECK_THROWS_WITH_AS(model.stream(1), doctest::Contains("(Bidirectional) runs each sequence from its end too"), Error);
    CHECK_THROWS_WITH_AS(Bidirectional(GRU(2)).merge_mode("max"), doctest::Contains("expected \"concat\", \"sum\", \"mul\" or \"ave\", got \"max\""), Error);
    Sequential with_states;
    CHECK_THROWS_WITH_AS(with_states.add(Bidirectional(LSTM(2).return_state(true)).input_shape({3, 2})),
                         doctest::Contains("wraps a layer with return_state on, which gives several outputs"), Error);
    GRU built(2);
    built(ramp({1, 3, 2}));
    CHECK_THROWS_WITH_AS(Bidirectional{built}, doctest::Contains("is built; wrap a layer that is not"), Error);
    Bidirectional standalone(SimpleRNN(2));
    CHECK(standalone(ramp({4, 3, 5})).front().shape() == Shape{4, 4});
}

TEST_CASE("Bidirectional with return_state: [output, forward h, c, backward h, c], as Keras's") {
    const Tensor x = ramp({3, 5, 2});
    Bidirectional both(LSTM(4).return_state(true).return_sequences(true));
    const std::vector<Tensor> out = both(x);
    REQUIRE(out.size() == 5);
    CHECK(out[0].shape() == Shape{3, 5, 8});
    for (std::size_t i = 1; i < 5; ++i) CHECK(out[i].shape() == Shape{3, 4});
    // The same states from the two layers called apart with the wrapper's weights.
    LSTM forward = LSTM(4).return_state(true), backward = LSTM(4).return_state(true).go_backwards(true);
    forward(x);
    backward(x);
    const std::vector<Tensor> w = both.get_weights();
    forward.set_weights({w[0], w[1], w[2]});
    backward.set_weights({w[3], w[4], w[5]});
    const std::vector<Tensor> f = forward(x), b = backward(x);
    for (std::size_t i = 0; i < 2; ++i) {
        CHECK(std::equal(out[1 + i].begin(), out[1 + i].end(), f[1 + i].begin(), f[1 + i].end()));
        CHECK(std::equal(out[3 + i].begin(), out[3 + i].end(), b[1 + i].begin(), b[1 + i].end()));
    }
    Bidirectional gru(GRU(3).return_state(true));
    CHECK(gru(x).size() == 3);  // [output, forward h, backward h]
}
