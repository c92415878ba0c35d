// Models whose time axis is None (Keras's input_shape=(None, D)) take batches of any number
// of timesteps. A batch of T steps must give exactly what a model built for T steps gives
// with the same weights (that path is checked against PyTorch by the parity fixtures), and
// SimpleRNN's output is checked against the recurrence written out here in doubles.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <recur/recur.hpp>

#include "support/compare.hpp"
#include "support/weights.hpp"

using recur::Dense;
using recur::Error;
using recur::GRU;
using recur::LSTM;
using recur::None;
using recur::Sequential;
using recur::Shape;
using recur::SimpleRNN;
using recur::Tensor;
using recur::testing::same_bits;

namespace {

Tensor ramp(Shape shape, float scale = 0.017f) {
    Tensor t(std::move(shape));
    for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = scale * static_cast<float>(i % 43) - 0.3f;
    return t;
}

void copy_weights(Sequential& to, const Sequential& from) {
    for (std::size_t l = 0; l < from.layers().size(); ++l) to.layer(l).set_weights(from.layer(l).get_weights());
}

// A recurrent layer (made by `cell` for an input shape) and a Dense head.
template <class MakeCell>
Sequential model_for(MakeCell cell, Shape input) {
    Sequential model;
    model.add(cell(std::move(input)));
    model.add(Dense(2));
    return model;
}

template <class MakeCell>
void check_any_length(MakeCell cell, bool streams = true) {
    Sequential any = model_for(cell, Shape{None, 3});
    CHECK(any.input_shape() == Shape{None, 3});
    for (std::size_t T : {1, 4, 9}) {
        CAPTURE(T);
        Sequential fixed = model_for(cell, Shape{T, 3});
        copy_weights(fixed, any);
        const Tensor x = ramp({5, T, 3});
        CHECK(same_bits(any.predict(x), fixed.predict(x)));
        CHECK(same_bits(any.predict(x, 2), fixed.predict(x, 2)));
    }

    // Training on batches of changing length: each SGD step (no state carried between
    // steps) is the step a model built for that length takes.
    any.compile(recur::SGD().learning_rate(0.05f), "mse");
    for (std::size_t T : {4, 7, 2}) {
        CAPTURE(T);
        Sequential fixed = model_for(cell, Shape{T, 3});
        copy_weights(fixed, any);
        fixed.compile(recur::SGD().learning_rate(0.05f), "mse");
        const Tensor x = ramp({6, T, 3}), y = ramp({6, 2}, 0.05f);
        CHECK(any.train_on_batch(x, y) == fixed.train_on_batch(x, y));
        CHECK(recur::testing::all_weights(any) == recur::testing::all_weights(fixed));
        CHECK(any.evaluate(x, y, 4) == fixed.evaluate(x, y, 4));
    }

    // fit with validation data of another length.
    Sequential fixed = model_for(cell, Shape{5, 3});
    copy_weights(fixed, any);
    any.compile("adam", "mse");
    fixed.compile("adam", "mse");
    const Tensor x = ramp({8, 5, 3}), y = ramp({8, 2}, 0.04f);
    const Tensor x_val = ramp({3, 11, 3}, 0.02f), y_val = ramp({3, 2}, 0.03f);
    const auto options = recur::FitOptions().epochs(2).batch_size(3).shuffle(false).verbose(0);
    const recur::History h_any = any.fit(x, y, recur::FitOptions(options).validation_data(x_val, y_val));
    const recur::History h_fixed = fixed.fit(x, y, options);
    CHECK(h_any.loss == h_fixed.loss);
    CHECK(recur::testing::all_weights(any) == recur::testing::all_weights(fixed));
    Sequential fixed_val = model_for(cell, Shape{11, 3});
    copy_weights(fixed_val, fixed);
    fixed_val.compile("adam", "mse");
    REQUIRE(h_any.val_loss.size() == 2);
    CHECK(h_any.val_loss.back() == fixed_val.evaluate(x_val, y_val));

    // A stream steps through a sequence of any length, as predict runs it.
    if (!streams) return;
    const Tensor long_x = ramp({2, 13, 3});
    const Tensor expected = any.predict(long_x);
    recur::Stream stream = any.stream(2);
    Tensor step({2, 3});
    recur::TensorView out;
    for (std::size_t t = 0; t < 13; ++t) {
        for (std::size_t b = 0; b < 2; ++b)
            for (std::size_t f = 0; f < 3; ++f) step(b, f) = long_x(b, t, f);
        out = stream.step(step.data());
    }
    CHECK(std::equal(out.begin(), out.end(), expected.begin(), expected.end()));
}

}  // namespace

TEST_CASE("None timesteps: any length runs as a model built for that length (SimpleRNN, LSTM, GRU)") {
    SUBCASE("SimpleRNN") { check_any_length([](Shape in) { return SimpleRNN(6).input_shape(in); }); }
    SUBCASE("LSTM") { check_any_length([](Shape in) { return LSTM(6).input_shape(in); }); }
    SUBCASE("GRU") { check_any_length([](Shape in) { return GRU(6).input_shape(in); }); }
    SUBCASE("GRU, go_backwards") { 
        check_any_length([](Shape in) { return GRU(5).go_backwards(true).input_shape(in); }, false);
    }
}

TEST_CASE("None timesteps: SimpleRNN's output is the recurrence, whatever the length") {
    Sequential model;
    model.add(SimpleRNN(4).input_shape({None, 2}));
    const auto w = model.layer(0).get_weights();  // kernel (2, 4), recurrent_kernel (4, 4), bias (4)
    for (std::size_t T : {1, 3, 17}) {
        CAPTURE(T);
        const Tensor x = ramp({3, T, 2}, 0.05f);
        const Tensor y = model.predict(x);
        REQUIRE(y.shape() == Shape{3, 4});
        for (std::size_t b = 0; b < 3; ++b) {
            std::vector<double> h(4, 0.0);
            for (std::size_t t = 0; t < T; ++t) {
                std::vector<double> next(4);
                for (std::size_t j = 0; j < 4; ++j) {
                    double a = w[2](j);
                    for (std::size_t i = 0; i < 2; ++i) a += double(x(b, t, i)) * w[0](i, j);
                    for (std::size_t i = 0; i < 4; ++i) a += h[i] * w[1](i, j);
                    next[j] = std::tanh(a);
                }
                h = next;
            }
            for (std::size_t j = 0; j < 4; ++j) CHECK(y(b, j) == doctest::Approx(h[j]).epsilon(1e-5));
        }
    }
}

TEST_CASE("None timesteps: sequence outputs, summary and per-step targets") {
    Sequential model("variable");
    const std::size_t D = 2;
    model.add(LSTM(5).return_sequences(true).input_shape({recur::None, D}).name("lstm"));
    model.add(Dense(3).name("head"));
    CHECK(model.output_shape() == Shape{None, 3});
    std::ostringstream summary;
    model.summary(summary);
    CHECK(summary.str().find(" lstm (LSTM)                 (None, None, 5)           160") != std::string::npos);
    CHECK(summary.str().find(" head (Dense)                (None, None, 3)           18") != std::string::npos);

    model.compile("adam", "mse", {"mae"});
    for (std::size_t T : {3, 8}) {
        CAPTURE(T);
        const Tensor x = ramp({4, T, 2});
        CHECK(model.predict(x).shape() == Shape{4, T, 3});
        const Tensor y = ramp({4, T, 3}, 0.03f);
        const float before = model.evaluate(x, y);
        CHECK(std::isfinite(model.train_on_batch(x, y)));
        CHECK(model.evaluate(x, y) < before);
        // Targets of another length than x's are refused, naming the shape needed.
        const std::string needed = "needs targets (None, " + std::to_string(T) + ", 3)";
        CHECK_THROWS_WITH_AS(model.train_on_batch(x, ramp({4, T + 1, 3})), doctest::Contains(needed.c_str()), Error);
    }
}

TEST_CASE("None timesteps: an Embedding front takes id sequences of any length") {
    Sequential model;
    model.add(recur::Embedding(10, 4).input_shape({None}));
    model.add(GRU(3));
    CHECK(model.input_shape() == Shape{None});
    Sequential fixed;
    fixed.add(recur::Embedding(10, 4).input_shape({6}));
    fixed.add(GRU(3));
    copy_weights(fixed, model);
    Tensor ids({2, 6});
    for (std::size_t i = 0; i < ids.size(); ++i) ids.data()[i] = static_cast<float>((i * 7) % 10);
    CHECK(same_bits(model.predict(ids), fixed.predict(ids)));
    CHECK(model.predict(Tensor(Shape{2, 11})).shape() == Shape{2, 3});
}

TEST_CASE("None timesteps: what stays refused") {
    // A fixed length still refuses another one.
    Sequential fixed;
    fixed.add(SimpleRNN(3).input_shape({5, 1}).name("rnn"));
    CHECK_THROWS_WITH_AS(fixed.predict(Tensor(Shape{2, 6, 1})),
                         doctest::Contains("x has shape (2, 6, 1) but layer 'rnn' expects (None, 5, 1)"), Error);

    // None stands for the time axis only.
    CHECK_THROWS_WITH_AS(SimpleRNN(3).input_shape({4, None}), doctest::Contains("takes None (any length) only for the time axis"),
                         Error);
    CHECK_THROWS_WITH_AS(Dense(3).input_shape({None}), doctest::Contains("only for the time axis"), Error);
    CHECK_THROWS_WITH_AS(LSTM(3).input_shape({None, None}), doctest::Contains("got (None, None)"), Error);

    // Sequences of no step at all.
    Sequential any;
    any.add(GRU(3).input_shape({None, 2}).name("gru"));
    any.compile("adam", "mse");
    CHECK_THROWS_WITH_AS(any.predict(Tensor(Shape{2, 0, 2})), doctest::Contains("expected sequences of at least one timestep"),
                         Error);
    CHECK_THROWS_WITH_AS(any.fit(Tensor(Shape{2, 0, 2}), Tensor(Shape{2, 3})), doctest::Contains("at least one timestep"), Error);
    GRU standalone = GRU(3).input_shape({None, 2});
    CHECK_THROWS_WITH_AS(standalone(Tensor(Shape{2, 0, 2})), doctest::Contains("at least one timestep"), Error);
    CHECK(standalone(ramp({2, 7, 2})).front().shape() == Shape{2, 3});
    CHECK(standalone(ramp({2, 2, 2})).front().shape() == Shape{2, 3});

    // A shape holding None counts no elements: tensors never have one.
    const Shape any_length{None, 3};
    CHECK_THROWS_WITH_AS((void)any_length.elements(), doctest::Contains("unknown length (None)"), Error);
    CHECK_THROWS_AS(Tensor{any_length}, Error);
    CHECK(any_length.str() == "(None, 3)");
}

TEST_CASE("None timesteps: saved and loaded as Keras writes None (null)") {
    const auto path = std::filesystem::temp_directory_path() / "recur_any_length.safetensors";
    Sequential model;
    model.add(LSTM(4).return_sequences(true).input_shape({None, 2}));
    model.add(GRU(3));
    model.save(path.string());
    const Sequential loaded = recur::load_model(path.string());
    std::filesystem::remove(path);
    CHECK(loaded.input_shape() == Shape{None, 2});
    CHECK(loaded.layer(1).input_shape() == Shape{None, 4});
    const Tensor x = ramp({3, 9, 2});
    CHECK(same_bits(loaded.predict(x), model.predict(x)));
}
