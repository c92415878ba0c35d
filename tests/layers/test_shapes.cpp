#include <doctest/doctest.h>

#include <cmath>

#include <recur/recur.hpp>

using recur::Dense;
using recur::Sequential;
using recur::Shape;
using recur::SimpleRNN;
using recur::Tensor;

namespace {
Tensor ramp(Shape shape) {
    Tensor t(std::move(shape));
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = 0.01f * static_cast<float>(i % 37) - 0.2f;
    return t;
}
}  // namespace

TEST_CASE("SimpleRNN output shapes and parameter counts follow Keras") {
    Sequential last;
    last.add(SimpleRNN(10).input_shape({5, 1}));
    CHECK(last.output_shape() == Shape{10});
    CHECK(last.count_params() == 120);  // 10*10 + 10*1 + 10, as the seed computes

    Sequential all;
    all.add(SimpleRNN(10).return_sequences(true).input_shape({5, 1}));
    CHECK(all.output_shape() == Shape{5, 10});
    CHECK(all.count_params() == 120);

    Sequential no_bias;
    no_bias.add(SimpleRNN(4).use_bias(false).input_shape({3, 2}));
    CHECK(no_bias.count_params() == 4 * 2 + 4 * 4);
    CHECK(no_bias.layer(0).get_weights().size() == 2);

    Sequential backwards;
    backwards.add(SimpleRNN(6).go_backwards(true).return_sequences(true).input_shape({7, 3}));
    CHECK(backwards.output_shape() == Shape{7, 6});
    CHECK(backwards.count_params() == 6 * 3 + 6 * 6 + 6);
}

TEST_CASE("stacked SimpleRNN layers and Dense heads chain their shapes") {
    Sequential model;
    model.add(SimpleRNN(8).return_sequences(true).input_shape({6, 2}));
    model.add(SimpleRNN(5).return_sequences(true));
    model.add(SimpleRNN(4));
    model.add(Dense(3));
    CHECK(model.layer(1).input_shape() == Shape{6, 8});
    CHECK(model.layer(2).input_shape() == Shape{6, 5});
    CHECK(model.output_shape() == Shape{3});
    CHECK(model.count_params() == (8 * 2 + 64 + 8) + (5 * 8 + 25 + 5) + (4 * 5 + 16 + 4) + (4 * 3 + 3));
    CHECK(model.predict(ramp({9, 6, 2})).shape() == Shape{9, 3});

    Sequential per_step;
    per_step.add(SimpleRNN(8).return_sequences(true).input_shape({6, 2}));
    per_step.add(Dense(7).activation("softmax"));
    CHECK(per_step.output_shape() == Shape{6, 7});
    CHECK(per_step.layer(1).count_params() == 8 * 7 + 7);
    CHECK(per_step.predict(ramp({3, 6, 2})).shape() == Shape{3, 6, 7});
}

TEST_CASE("weights come in Keras order and shapes") {
    Sequential model;
    model.add(SimpleRNN(10).input_shape({5, 1}));
    model.add(Dense(1));
    const auto rnn = model.layer(0).get_weights();
    REQUIRE(rnn.size() == 3);
    CHECK(rnn[0].shape() == Shape{1, 10});
    CHECK(rnn[1].shape() == Shape{10, 10});
    CHECK(rnn[2].shape() == Shape{10});
    CHECK(model.layer(0).weight_names() == std::vector<std::string>{"kernel", "recurrent_kernel", "bias"});
    const auto dense = model.layer(1).get_weights();
    REQUIRE(dense.size() == 2);
    CHECK(dense[0].shape() == Shape{10, 1});
    CHECK(dense[1].shape() == Shape{1});
}

TEST_CASE("Keras initialisers: glorot kernel, orthogonal recurrent kernel, zero bias") {
    recur::manual_seed(3);
    Sequential model;
    model.add(SimpleRNN(16).input_shape({4, 8}));
    const auto w = model.layer(0).get_weights();
    const float limit = std::sqrt(6.0f / (8 + 16));
    for (float v : w[0]) CHECK(std::abs(v) <= limit);
    for (std::size_t i = 0; i < 16; ++i)
        for (std::size_t j = 0; j < 16; ++j) {
            double dot = 0.0;
            for (std::size_t r = 0; r < 16; ++r) dot += double(w[1](r, i)) * w[1](r, j);
            CHECK(dot == doctest::Approx(i == j ? 1.0 : 0.0).epsilon(1e-5));
        }
    for (float v : w[2]) CHECK(v == 0.0f);
}

TEST_CASE("a standalone call returns the output and, with return_state, the final state") {
    recur::manual_seed(1);
    const Tensor x = ramp({4, 5, 3});
    SimpleRNN rnn = SimpleRNN(6).return_state(true);
    const auto out = rnn(x);
    REQUIRE(out.size() == 2);
    CHECK(out[0].shape() == Shape{4, 6});
    CHECK(out[1].shape() == Shape{4, 6});
    for (std::size_t i = 0; i < out[0].size(); ++i) CHECK(out[0].data()[i] == out[1].data()[i]);

    SimpleRNN seq = SimpleRNN(6).return_sequences(true).return_state(true);
    const auto [sequence, state] = [&] { auto o = seq(x); return std::pair{o[0], o[1]}; }();
    CHECK(sequence.shape() == Shape{4, 5, 6});
    for (std::size_t b = 0; b < 4; ++b)
        for (std::size_t j = 0; j < 6; ++j) CHECK(state(b, j) == sequence(b, 4, j));

    CHECK(SimpleRNN(6)(x).size() == 1);
    CHECK(Dense(2)(x).shape() == Shape{4, 5, 2});
}

TEST_CASE("go_backwards reads the sequence from the end and returns outputs in processing order") {
    recur::manual_seed(2);
    const Tensor x = ramp({3, 4, 2});
    Tensor reversed(x.shape());
    for (std::size_t b = 0; b < 3; ++b)
        for (std::size_t t = 0; t < 4; ++t)
            for (std::size_t d = 0; d < 2; ++d) reversed(b, t, d) = x(b, 3 - t, d);

    SimpleRNN backwards = SimpleRNN(5).go_backwards(true).return_sequences(true);
    const Tensor got = backwards(x).front();
    SimpleRNN forwards = SimpleRNN(5).return_sequences(true);
    forwards(reversed);
    forwards.set_weights(backwards.get_weights());
    const Tensor want = forwards(reversed).front();
    REQUIRE(got.shape() == want.shape());
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got.data()[i] == want.data()[i]);
}

TEST_CASE("a model built without input_shape takes it from the first data it sees") {
    Sequential model;
    model.add(SimpleRNN(3));
    model.add(Dense(1));
    CHECK_FALSE(model.built());
    CHECK(model.predict(ramp({2, 4, 5})).shape() == Shape{2, 1});
    CHECK(model.built());
    CHECK(model.layer(0).input_shape() == Shape{4, 5});
    CHECK(model.count_params() == 3 * 5 + 9 + 3 + 4);
}
