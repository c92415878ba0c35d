#include <doctest/doctest.h>

#include <cmath>
#include <sstream>
#include <vector>

#include <recur/recur.hpp>

#include "support/weights.hpp"

using recur::Dense;
using recur::Sequential;
using recur::Shape;
using recur::SimpleRNN;
using recur::Tensor;
using recur::testing::all_weights;

namespace {

std::pair<Tensor, Tensor> seed_data() {
    std::vector<float> series;
    for (int i = 0; i < 15; ++i) series.push_back(i / 10.0f);
    return recur::sliding_windows(series, 5);
}

Sequential seed_model() {
    Sequential model;
    model.add(SimpleRNN(10).input_shape({5, 1}));
    model.add(Dense(1));
    model.compile(recur::Adam().learning_rate(0.01f), recur::MSE());
    return model;
}

// Two epochs of fit of the model `build` makes, from one seed, on 1, 2 and 8 threads: the
// weights must agree to the bit.
template <class Build>
void check_same_bits_on_1_2_8_threads(Build build, const Tensor& x, const Tensor& y) {
    auto run = [&](std::size_t threads) {
        recur::set_num_threads(threads);
        recur::manual_seed(13);
        Sequential model = build();
        model.fit(x, y, recur::FitOptions().epochs(2).batch_size(48).verbose(0));
        return all_weights(model);
    };
    const std::size_t original = recur::num_threads();
    const auto one = run(1), two = run(2), eight = run(8);
    recur::set_num_threads(original);
    CHECK(one == two);
    CHECK(one == eight);
}

}  // namespace

TEST_CASE("the seed model converges: every prediction within 0.05 of its target") {
    recur::manual_seed(42);
    auto [X, Y] = seed_data();
    Sequential model = seed_model();
    const recur::History history = model.fit(X, Y, recur::FitOptions().epochs(500).verbose(0));
    REQUIRE(history.loss.size() == 500);
    CHECK(history.val_loss.empty());
    CHECK(history.loss.back() < 0.01f * history.loss.front());
    const Tensor pred = model.predict(X);
    CHECK(pred.shape() == Shape{10, 1});
    for (std::size_t i = 0; i < 10; ++i) CHECK(std::abs(pred(i, 0) - Y(i)) < 0.05f);
    CHECK(model.evaluate(X, Y) == doctest::Approx(history.loss.back()).epsilon(0.5));
}

TEST_CASE("manual_seed makes initialisation and shuffling reproducible") {
    auto [X, Y] = seed_data();
    auto run = [&] {
        recur::manual_seed(5);
        Sequential model = seed_model();
        model.fit(X, Y, recur::FitOptions().epochs(5).batch_size(3).verbose(0));
        return all_weights(model);
    };
    const auto first = run(), second = run();
    CHECK(first == second);
    recur::manual_seed(6);
    CHECK(all_weights(seed_model()) != first);
}

TEST_CASE("Keras summary layout") {
    recur::manual_seed(0);
    Sequential model("summary_model");
    model.add(SimpleRNN(10).name("rnn").input_shape({5, 1}));
    model.add(Dense(1).name("head"));
    std::ostringstream os;
    model.summary(os);
    const std::string expected =
        "Model: \"summary_model\"\n"
        "_________________________________________________________________\n"
        " Layer (type)                Output Shape              Param #   \n"
        "=================================================================\n"
        " rnn (SimpleRNN)             (None, 10)                120       \n"
        "                                                                 \n"
        " head (Dense)                (None, 1)                 11        \n"
        "                                                                 \n"
        "=================================================================\n"
        "Total params: 131\n"
        "Trainable params: 131\n"
        "Non-trainable params: 0\n"
        "_________________________________________________________________\n";
    CHECK(os.str() == expected);
}

TEST_CASE("layers get unique Keras-style names") {
    const SimpleRNN a(2), b(2);
    CHECK(a.name().rfind("simple_rnn", 0) == 0);
    CHECK(a.name() != b.name());
}

TEST_CASE("set_weights then get_weights round-trips, and a twin model predicts the same") {
    recur::manual_seed(8);
    auto [X, Y] = seed_data();
    Sequential model = seed_model();
    model.fit(X, Y, recur::FitOptions().epochs(3).verbose(0));
    Sequential twin;
    twin.add(SimpleRNN(10).input_shape({5, 1}));
    twin.add(Dense(1));
    for (std::size_t i = 0; i < model.layers().size(); ++i) twin.layer(i).set_weights(model.layer(i).get_weights());
    CHECK(all_weights(twin) == all_weights(model));
    const Tensor a = model.predict(X), b = twin.predict(X);
    CHECK(std::equal(a.begin(), a.end(), b.begin()));
}

TEST_CASE("train_on_batch takes one step and returns the loss before it") {
    recur::manual_seed(9);
    auto [X, Y] = seed_data();
    Sequential model = seed_model();
    const float before = model.evaluate(X, Y);
    const float reported = model.train_on_batch(X, Y);
    CHECK(reported == doctest::Approx(before).epsilon(1e-6));
    CHECK(model.evaluate(X, Y) < before);
    CHECK(model.optimizer().iterations() == 1);
}

TEST_CASE("string shortcuts compile with Keras's defaults") {
    Sequential model = seed_model();
    model.compile("sgd", "mse");
    CHECK(std::string(model.optimizer().name()) == "SGD");
    CHECK(model.optimizer().learning_rate() == doctest::Approx(0.01));
    model.compile("rmsprop", "mae");
    CHECK(std::string(model.loss().name()) == "mean_absolute_error");
    model.compile(recur::Adam(), "huber");
    CHECK(std::string(model.loss().name()) == "huber_loss");
}

TEST_CASE("validation_split holds out the last samples and records val_loss") {
    recur::manual_seed(10);
    auto [X, Y] = seed_data();
    Sequential model = seed_model();
    const auto history = model.fit(X, Y, recur::FitOptions().epochs(4).validation_split(0.2f).verbose(0));
    REQUIRE(history.val_loss.size() == 4);
    // The held-out samples are the last two: evaluating them alone gives the last val_loss.
    Tensor x_val({2, 5, 1}), y_val({2});
    std::copy(X.begin() + 40, X.end(), x_val.begin());
    std::copy(Y.begin() + 8, Y.end(), y_val.begin());
    CHECK(model.evaluate(x_val, y_val) == doctest::Approx(history.val_loss.back()).epsilon(1e-6));

    const auto with_data = model.fit(X, Y, recur::FitOptions().epochs(2).validation_data(x_val, y_val).verbose(0));
    CHECK(with_data.val_loss.size() == 2);
}

TEST_CASE("the progress output follows Keras's verbose levels") {
    recur::manual_seed(11);
    auto [X, Y] = seed_data();
    Sequential model = seed_model();
    std::ostringstream captured;
    auto* old = std::cout.rdbuf(captured.rdbuf());
    model.fit(X, Y, recur::FitOptions().epochs(2).batch_size(4).validation_split(0.2f).verbose(2));
    model.fit(X, Y, recur::FitOptions().epochs(1).batch_size(4).verbose(1));
    model.fit(X, Y, recur::FitOptions().epochs(1).verbose(0));
    std::cout.rdbuf(old);
    const std::string out = captured.str();
    CHECK(out.find("Epoch 1/2\n2/2 - 0s - loss: ") != std::string::npos);
    CHECK(out.find(" - val_loss: ") != std::string::npos);
    CHECK(out.find("Epoch 1/1\n3/3 [==============================] - 0s ") != std::string::npos);
    CHECK(out.find("Epoch 1/1\n", out.find("Epoch 1/1\n") + 1) == std::string::npos);  // verbose 0 is silent
}

TEST_CASE("predictions do not depend on the batch size they are computed in") {
    recur::manual_seed(12);
    Sequential model;
    model.add(SimpleRNN(33).return_sequences(true).input_shape({7, 3}));
    model.add(SimpleRNN(17));
    model.add(Dense(2));
    Tensor x({37, 7, 3});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.37f * static_cast<float>(i));
    const Tensor all = model.predict(x, 64), small = model.predict(x, 5);
    CHECK(std::equal(all.begin(), all.end(), small.begin()));
}

TEST_CASE("training is bitwise the same with 1, 2 and 8 threads") {
    Tensor x({96, 12, 8}), y({96, 3});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::cos(0.11f * static_cast<float>(i));
    for (std::size_t i = 0; i < y.size(); ++i) y.data()[i] = std::sin(0.7f * static_cast<float>(i));
    check_same_bits_on_1_2_8_threads(
        [] {
            Sequential model;
            // Large enough that every time loop and weight gradient runs on threads.
            model.add(SimpleRNN(96).return_sequences(true).input_shape({12, 8}));
            model.add(SimpleRNN(96));
            model.add(Dense(3));
            model.compile("adam", "mse");
            return model;
        },
        x, y);
}

TEST_CASE("LSTM and GRU: set_weights twins predict the same; batch size and thread count change no bit") {
    auto build = [] {
        Sequential model;
        model.add(recur::LSTM(40).return_sequences(true).input_shape({9, 6}));
        model.add(recur::GRU(36).return_sequences(true));
        model.add(recur::GRU(20).reset_after(false));
        model.add(Dense(3));
        model.compile("adam", "mse");
        return model;
    };
    Tensor x({96, 9, 6}), y({96, 3});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::cos(0.13f * static_cast<float>(i));
    for (std::size_t i = 0; i < y.size(); ++i) y.data()[i] = std::sin(0.7f * static_cast<float>(i));
    check_same_bits_on_1_2_8_threads(build, x, y);

    recur::manual_seed(15);
    Sequential model = build();
    model.fit(x, y, recur::FitOptions().epochs(1).batch_size(32).verbose(0));
    recur::manual_seed(16);
    Sequential twin = build();
    CHECK(all_weights(twin) != all_weights(model));
    for (std::size_t i = 0; i < model.layers().size(); ++i) twin.layer(i).set_weights(model.layer(i).get_weights());
    CHECK(all_weights(twin) == all_weights(model));
    const Tensor a = model.predict(x, 96), b = twin.predict(x, 7);
    CHECK(std::equal(a.begin(), a.end(), b.begin()));
}
