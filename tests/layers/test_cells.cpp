// LSTM and GRU as a Keras user meets them: shapes, parameter counts, weights in Keras's order
// and shapes, Keras's initialisers, standalone calls with their states, and stacks of every
// kind. Expected values come from Keras's documented rules, worked out by hand here.
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include <recur/recur.hpp>

#include "support/compare.hpp"

using recur::Dense;
using recur::GRU;
using recur::LSTM;
using recur::Sequential;
using recur::Shape;
using recur::Tensor;
using recur::testing::same_bits;

namespace {

Tensor ramp(Shape shape) {
    Tensor t(std::move(shape));
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = 0.013f * static_cast<float>(i % 41) - 0.25f;
    return t;
}

// Rows of m (rows x cols) are orthonormal: m m^T = I.
void check_orthonormal_rows(const Tensor& m) {
    const std::size_t rows = m.shape()[0], cols = m.shape()[1];
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < rows; ++j) {
            double dot = 0.0;
            for (std::size_t c = 0; c < cols; ++c) dot += double(m(i, c)) * m(j, c);
            CHECK(dot == doctest::Approx(i == j ? 1.0 : 0.0).epsilon(1e-5));
        }
}

}  // namespace

TEST_CASE("LSTM: output shapes and 4(DU + U^2 + U) parameters, as Keras counts them") {
    Sequential last;
    last.add(LSTM(10).input_shape({5, 3}));
    CHECK(last.output_shape() == Shape{10});
    CHECK(last.count_params() == 4 * (3 * 10 + 10 * 10 + 10));

    Sequential all;
    all.add(LSTM(7).return_sequences(true).input_shape({6, 2}));
    CHECK(all.output_shape() == Shape{6, 7});
    CHECK(all.count_params() == 4 * (2 * 7 + 49 + 7));

    Sequential no_bias;
    no_bias.add(LSTM(4).use_bias(false).input_shape({3, 2}));
    CHECK(no_bias.count_params() == 4 * (2 * 4 + 16));
    CHECK(no_bias.layer(0).get_weights().size() == 2);

    std::ostringstream summary;
    last.summary(summary);
    // Keras's names: lstm, lstm_1, ... (which one depends on the LSTMs made before).
    CHECK(last.layer(0).name().starts_with("lstm"));
    CHECK(summary.str().find(" " + last.layer(0).name() + " (LSTM)") != std::string::npos);
    CHECK(summary.str().find("(None, 10)") != std::string::npos);
    CHECK(summary.str().find("Total params: 560") != std::string::npos);
}

TEST_CASE("GRU: reset_after (default) has 3(DU + U^2 + 2U) parameters, reset_before 3(DU + U^2 + U)") {
    Sequential after;
    after.add(GRU(10).input_shape({5, 3}));
    CHECK(after.output_shape() == Shape{10});
    CHECK(after.count_params() == 3 * (3 * 10 + 100 + 2 * 10));

    Sequential before;
    before.add(GRU(10).reset_after(false).input_shape({5, 3}));
    CHECK(before.count_params() == 3 * (3 * 10 + 100 + 10));

    Sequential seq;
    seq.add(GRU(6).return_sequences(true).go_backwards(true).input_shape({4, 2}));
    CHECK(seq.output_shape() == Shape{4, 6});

    std::ostringstream summary;
    after.summary(summary);
    CHECK(after.layer(0).name().starts_with("gru"));
    CHECK(summary.str().find(" " + after.layer(0).name() + " (GRU)") != std::string::npos);
    CHECK(summary.str().find("Total params: 450") != std::string::npos);
}

TEST_CASE("LSTM and GRU weights come in Keras's order and shapes") {
    Sequential model;
    model.add(LSTM(5).return_sequences(true).input_shape({4, 3}));
    model.add(GRU(6).return_sequences(true));
    model.add(GRU(2).reset_after(false));
    const auto lstm = model.layer(0).get_weights();
    REQUIRE(lstm.size() == 3);
    CHECK(lstm[0].shape() == Shape{3, 20});
    CHECK(lstm[1].shape() == Shape{5, 20});
    CHECK(lstm[2].shape() == Shape{20});
    CHECK(model.layer(0).weight_names() == std::vector<std::string>{"kernel", "recurrent_kernel", "bias"});
    const auto gru = model.layer(1).get_weights();
    REQUIRE(gru.size() == 3);
    CHECK(gru[0].shape() == Shape{5, 18});
    CHECK(gru[1].shape() == Shape{6, 18});
    CHECK(gru[2].shape() == Shape{2, 18});  // rows: input bias, recurrent bias
    const auto before = model.layer(2).get_weights();
    CHECK(before[2].shape() == Shape{6});
}

TEST_CASE("Keras's initialisers: glorot kernel, orthogonal recurrent kernel, unit_forget_bias") {
    recur::manual_seed(5);
    Sequential model;
    model.add(LSTM(8).return_sequences(true).input_shape({4, 6}));
    model.add(LSTM(8).unit_forget_bias(false).return_sequences(true));
    model.add(GRU(8));
    const auto lstm = model.layer(0).get_weights();
    const float limit = std::sqrt(6.0f / (6 + 32));  // glorot_uniform over (D, 4U)
    for (float v : lstm[0]) CHECK(std::abs(v) <= limit);
    check_orthonormal_rows(lstm[1]);  // (U, 4U): orthonormal rows, as Keras's Orthogonal
    for (std::size_t j = 0; j < 32; ++j) CHECK(lstm[2](j) == (j >= 8 && j < 16 ? 1.0f : 0.0f));
    const auto no_forget_bias = model.layer(1).get_weights();
    for (float v : no_forget_bias[2]) CHECK(v == 0.0f);
    const auto gru = model.layer(2).get_weights();
    check_orthonormal_rows(gru[1]);
    for (float v : gru[2]) CHECK(v == 0.0f);
}

TEST_CASE("standalone calls: LSTM returns [output, h, c], GRU [output, h]") {
    recur::manual_seed(1);
    const Tensor x = ramp({4, 5, 3});
    LSTM lstm = LSTM(6).return_state(true);
    const auto out = lstm(x);
    REQUIRE(out.size() == 3);
    CHECK(out[0].shape() == Shape{4, 6});
    CHECK(out[1].shape() == Shape{4, 6});
    CHECK(out[2].shape() == Shape{4, 6});
    CHECK(same_bits(out[0], out[1]));
    CHECK_FALSE(same_bits(out[1], out[2]));  // c is not h

    LSTM seq = LSTM(6).return_sequences(true).return_state(true);
    seq(x);
    seq.set_weights(lstm.get_weights());
    const auto s = seq(x);
    REQUIRE(s.size() == 3);
    CHECK(s[0].shape() == Shape{4, 5, 6});
    for (std::size_t b = 0; b < 4; ++b)
        for (std::size_t j = 0; j < 6; ++j) CHECK(s[1](b, j) == s[0](b, 4, j));
    CHECK(same_bits(s[1], out[1]));
    CHECK(same_bits(s[2], out[2]));

    GRU gru = GRU(3).return_state(true);
    const auto g = gru(x);
    REQUIRE(g.size() == 2);
    CHECK(same_bits(g[0], g[1]));
    CHECK(LSTM(2)(x).size() == 1);
    CHECK(GRU(2).reset_after(false)(x).size() == 1);
}

TEST_CASE("an LSTM step by hand: one unit, one feature, two steps, Keras's equations") {
    // kernel (1, 4), recurrent_kernel (1, 4), bias (4), gates i, f, c, o.
    LSTM lstm = LSTM(1).return_sequences(true);
    const Tensor x({1, 2, 1}, {0.5f, -1.0f});
    lstm(x);
    lstm.set_weights({Tensor({1, 4}, {0.1f, 0.2f, 0.3f, 0.4f}), Tensor({1, 4}, {-0.5f, 0.6f, 0.7f, -0.8f}),
                      Tensor({4}, {0.01f, 1.0f, -0.02f, 0.03f})});
    const Tensor got = lstm(x).front();
    auto sigmoid = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
    double h = 0.0, c = 0.0;
    const double xs[] = {0.5, -1.0};
    for (int t = 0; t < 2; ++t) {
        const double i = sigmoid(0.1 * xs[t] - 0.5 * h + 0.01), f = sigmoid(0.2 * xs[t] + 0.6 * h + 1.0);
        const double g = std::tanh(0.3 * xs[t] + 0.7 * h - 0.02), o = sigmoid(0.4 * xs[t] - 0.8 * h + 0.03);
        c = f * c + i * g;
        h = o * std::tanh(c);
        CHECK(got(0, t, 0) == doctest::Approx(h).epsilon(1e-6));
    }
}

TEST_CASE("a GRU step by hand, both reset variants, Keras's equations") {
    // kernel (1, 3), recurrent_kernel (1, 3), gates z, r, h.
    const Tensor x({1, 2, 1}, {0.5f, -1.0f});
    const Tensor kernel({1, 3}, {0.1f, 0.2f, 0.3f}), recurrent({1, 3}, {-0.5f, 0.6f, 0.7f});
    auto sigmoid = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
    const double xs[] = {0.5, -1.0};

    GRU after = GRU(1).return_sequences(true);
    after(x);
    after.set_weights({kernel, recurrent, Tensor({2, 3}, {0.01f, 0.02f, 0.03f, -0.04f, 0.05f, -0.06f})});
    const Tensor got_after = after(x).front();
    double h = 0.0;
    for (int t = 0; t < 2; ++t) {
        const double z = sigmoid(0.1 * xs[t] + 0.01 - 0.5 * h - 0.04), r = sigmoid(0.2 * xs[t] + 0.02 + 0.6 * h + 0.05);
        const double hh = std::tanh(0.3 * xs[t] + 0.03 + r * (0.7 * h - 0.06));
        h = z * h + (1.0 - z) * hh;
        CHECK(got_after(0, t, 0) == doctest::Approx(h).epsilon(1e-6));
    }

    GRU before = GRU(1).reset_after(false).return_sequences(true);
    before(x);
    before.set_weights({kernel, recurrent, Tensor({3}, {0.01f, 0.02f, 0.03f})});
    const Tensor got_before = before(x).front();
    h = 0.0;
    for (int t = 0; t < 2; ++t) {
        const double z = sigmoid(0.1 * xs[t] + 0.01 - 0.5 * h), r = sigmoid(0.2 * xs[t] + 0.02 + 0.6 * h);
        const double hh = std::tanh(0.3 * xs[t] + 0.03 + 0.7 * (r * h));
        h = z * h + (1.0 - z) * hh;
        CHECK(got_before(0, t, 0) == doctest::Approx(h).epsilon(1e-6));
    }
}

TEST_CASE("go_backwards on LSTM and GRU equals the forward layer on the reversed sequence") {
    recur::manual_seed(2);
    const Tensor x = ramp({3, 4, 2});
    Tensor reversed(x.shape());
    for (std::size_t b = 0; b < 3; ++b)
        for (std::size_t t = 0; t < 4; ++t)
            for (std::size_t d = 0; d < 2; ++d) reversed(b, t, d) = x(b, 3 - t, d);
    LSTM lstm_back = LSTM(5).go_backwards(true).return_sequences(true);
    LSTM lstm_fwd = LSTM(5).return_sequences(true);
    const Tensor got = lstm_back(x).front();
    lstm_fwd(reversed);
    lstm_fwd.set_weights(lstm_back.get_weights());
    CHECK(same_bits(got, lstm_fwd(reversed).front()));
    GRU gru_back = GRU(5).go_backwards(true);
    GRU gru_fwd = GRU(5);
    const Tensor got_gru = gru_back(x).front();
    gru_fwd(reversed);
    gru_fwd.set_weights(gru_back.get_weights());
    CHECK(same_bits(got_gru, gru_fwd(reversed).front()));
}

TEST_CASE("a stack of every kind, Embedding -> GRU -> LSTM -> SimpleRNN -> Dense, trains and predicts") {
    recur::manual_seed(4);
    Sequential model;
    model.add(recur::Embedding(12, 4).input_shape({6}));
    model.add(GRU(8).return_sequences(true));
    model.add(LSTM(7).return_sequences(true));
    model.add(recur::SimpleRNN(5));
    model.add(Dense(3).activation("softmax"));
    CHECK(model.count_params() == 12 * 4 + 3 * (4 * 8 + 64 + 16) + 4 * (8 * 7 + 49 + 7) + (7 * 5 + 25 + 5) + 18);
    model.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
    Tensor ids({24, 6}), labels({24});
    for (std::size_t i = 0; i < 24; ++i) {
        for (std::size_t t = 0; t < 6; ++t) ids(i, t) = static_cast<float>((i * 5 + t * 3) % 12);
        labels(i) = static_cast<float>(static_cast<std::size_t>(ids(i, 0)) % 3);
    }
    const auto history = model.fit(ids, labels, recur::FitOptions().epochs(40).batch_size(8).verbose(0));
    CHECK(history.loss.back() < 0.5f * history.loss.front());
    CHECK(model.predict(ids).shape() == Shape{24, 3});
}
