// Faults and extremes: a loss that becomes NaN, exploding gradients, interrupted saves,
// and the smallest and longest shapes.
#include <doctest/doctest.h>

#include <sys/resource.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <vector>

#include <recur/recur.hpp>

#include "support/weights.hpp"

using recur::Sequential;
using recur::Shape;
using recur::Tensor;
using recur::testing::all_weights;

namespace {

std::pair<Tensor, Tensor> sine_data() {
    std::vector<float> series;
    for (int i = 0; i < 60; ++i) series.push_back(std::sin(i * 0.3f));
    return recur::sliding_windows(series, 10);
}

Sequential relu_model(const recur::Optimizer& optimizer, std::uint64_t seed = 3) {
    recur::manual_seed(seed);
    Sequential model;
    model.add(recur::SimpleRNN(16).activation("relu").input_shape({10, 1}));
    model.add(recur::Dense(1));
    model.compile(optimizer, "mse");
    return model;
}


Tensor rows(const Tensor& t, std::size_t begin, std::size_t count) {
    const std::size_t per = t.size() / t.shape()[0];
    std::vector<std::size_t> dims(t.shape().begin(), t.shape().end());
    dims[0] = count;
    Tensor out{Shape(dims)};
    std::copy_n(t.data() + begin * per, count * per, out.data());
    return out;
}

}  // namespace

TEST_CASE("a loss that becomes NaN stops fit with the weights from before the failing batch") {
    auto [X, Y] = sine_data();  // 50 windows: 5 batches of 10 per epoch
    const recur::SGD too_fast = recur::SGD().learning_rate(0.5f).momentum(0.9f);
    Sequential model = relu_model(too_fast);
    const recur::History history = model.fit(X, Y, recur::FitOptions().epochs(100).batch_size(10).shuffle(false).verbose(0));
    REQUIRE(history.terminated_on_nan);
    CHECK(history.loss.size() < 100);
    const std::vector<float> kept = all_weights(model);
    for (float w : kept) CHECK(std::isfinite(w));

    // The same steps one batch at a time: the weights before the first non-finite step.
    Sequential twin = relu_model(too_fast);
    std::vector<float> before;
    bool failed = false;
    for (std::size_t epoch = 0; epoch < 100 && !failed; ++epoch)
        for (std::size_t b = 0; b < 5 && !failed; ++b) {
            before = all_weights(twin);
            failed = !std::isfinite(twin.train_on_batch(rows(X, b * 10, 10), rows(Y, b * 10, 10)));
        }
    REQUIRE(failed);
    CHECK(all_weights(twin) == before);  // train_on_batch left them untouched
    CHECK(kept == before);
}

TEST_CASE("an LSTM or GRU whose loss becomes NaN stops fit with the weights from before the failing batch") {
    auto [X, Y] = sine_data();
    const recur::SGD too_fast = recur::SGD().learning_rate(2.0f).momentum(0.9f);
    // Linear gates and activations: nothing bounds the states, so the run blows up.
    auto build = [&](bool lstm) {
        recur::manual_seed(4);
        Sequential model;
        if (lstm) model.add(recur::LSTM(8).activation("linear").recurrent_activation("linear").input_shape({10, 1}));
        else model.add(recur::GRU(8).activation("linear").recurrent_activation("linear").input_shape({10, 1}));
        model.add(recur::Dense(1));
        model.compile(too_fast, "mse");
        return model;
    };
    for (bool lstm : {true, false}) {
        CAPTURE(lstm);
        Sequential model = build(lstm);
        const recur::History history =
            model.fit(X, Y, recur::FitOptions().epochs(200).batch_size(10).shuffle(false).verbose(0));
        REQUIRE(history.terminated_on_nan);
        const std::vector<float> kept = all_weights(model);
        for (float w : kept) CHECK(std::isfinite(w));
        Sequential twin = build(lstm);
        std::vector<float> before;
        bool failed = false;
        for (std::size_t epoch = 0; epoch < 200 && !failed; ++epoch)
            for (std::size_t b = 0; b < 5 && !failed; ++b) {
                before = all_weights(twin);
                failed = !std::isfinite(twin.train_on_batch(rows(X, b * 10, 10), rows(Y, b * 10, 10)));
            }
        REQUIRE(failed);
        CHECK(kept == before);
    }
}

TEST_CASE("clipnorm keeps a too-fast SGD run stable where the unclipped run blows up or stalls") {
    auto [X, Y] = sine_data();
    const auto options = recur::FitOptions().epochs(100).batch_size(10).verbose(0);
    for (std::uint64_t seed = 3; seed <= 7; ++seed) {
        CAPTURE(seed);
        Sequential unclipped = relu_model(recur::SGD().learning_rate(0.5f).momentum(0.9f), seed);
        const auto wild = unclipped.fit(X, Y, options);
        CHECK((wild.terminated_on_nan || wild.loss.back() > 0.3f));
        Sequential clipped = relu_model(recur::SGD().learning_rate(0.5f).momentum(0.9f).clipnorm(0.1f), seed);
        const auto history = clipped.fit(X, Y, options);
        CHECK_FALSE(history.terminated_on_nan);
        CHECK(history.loss.back() < 0.05f);
        CHECK(history.loss.back() < history.loss.front() / 5);
    }
}

TEST_CASE("a save interrupted at any point leaves the previous file intact and loadable") {
    auto [X, Y] = sine_data();
    Sequential model = relu_model(recur::Adam());
    const std::string path = (std::filesystem::temp_directory_path() / "recur_test_interrupted.safetensors").string();
    model.save(path);
    const Tensor expected = recur::load_model(path).predict(X);
    model.fit(X, Y, recur::FitOptions().epochs(2).verbose(0));  // new weights that must not half-land

    // The kernel stops the writes at a file size limit: inside the 8-byte length, inside the
    // JSON header, in the middle of the data, and one byte short of the end (just before rename).
    const std::uintmax_t full = std::filesystem::file_size(path);
    rlimit saved{};
    getrlimit(RLIMIT_FSIZE, &saved);
    std::signal(SIGXFSZ, SIG_IGN);  // a failed write, not a killed process
    for (std::uintmax_t limit : {std::uintmax_t{4}, std::uintmax_t{40}, full / 2, full - 1}) {
        CAPTURE(limit);
        rlimit small = saved;
        small.rlim_cur = limit;
        REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
        CHECK_THROWS_WITH_AS(model.save(path), doctest::Contains("the previous file is untouched"), recur::Error);
        REQUIRE(setrlimit(RLIMIT_FSIZE, &saved) == 0);
        const Tensor again = recur::load_model(path).predict(X);
        CHECK(std::equal(again.begin(), again.end(), expected.begin()));
    }
    std::signal(SIGXFSZ, SIG_DFL);
    std::filesystem::remove(path);
}

TEST_CASE("extremes: one timestep, one unit, one sample, a batch larger than the data") {
    recur::manual_seed(61);
    Sequential tiny;
    tiny.add(recur::SimpleRNN(1).input_shape({1, 1}));
    tiny.add(recur::Dense(1));
    tiny.compile(recur::Adam().learning_rate(0.05f), "mse");
    const Tensor x({1, 1, 1}, {0.5f}), y({1}, {0.25f});
    const auto history = tiny.fit(x, y, recur::FitOptions().epochs(300).batch_size(64).verbose(0));
    CHECK(history.loss.back() < 1e-4f);
    CHECK(tiny.predict(x)(0, 0) == doctest::Approx(0.25f).epsilon(0.05));
    CHECK(tiny.count_params() == 1 + 1 + 1 + 2);
}

TEST_CASE("a sequence of 10,000 steps trains without trouble, in memory proportional to its length") {
    recur::manual_seed(62);
    Sequential model;
    model.add(recur::SimpleRNN(8).input_shape({10000, 1}));
    model.add(recur::Dense(1));
    model.compile("adam", "mse");
    Tensor x({2, 10000, 1});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.01f * static_cast<float>(i));
    const Tensor y({2}, {0.5f, -0.5f});
    const float first = model.train_on_batch(x, y);
    float last = first;
    for (int step = 0; step < 20; ++step) last = model.train_on_batch(x, y);
    CHECK(std::isfinite(last));
    CHECK(last < first);
}

TEST_CASE("2-D input where a sequence is expected gets a clear error") {
    Sequential model;
    model.add(recur::SimpleRNN(4).name("rnn").input_shape({5, 1}));
    CHECK_THROWS_WITH_AS(model.predict(Tensor({3, 5})),
                         "Sequential::predict: x has shape (3, 5) but layer 'rnn' expects (None, 5, 1)", recur::Error);
    Sequential unbuilt;
    unbuilt.add(recur::SimpleRNN(4).name("rnn2"));
    CHECK_THROWS_WITH_AS(unbuilt.predict(Tensor({3, 5})),
                         doctest::Contains("x has shape (3, 5) but layer 'rnn2' (SimpleRNN) expects 3 dimensions"),
                         recur::Error);
    CHECK_THROWS_WITH_AS(recur::SimpleRNN(3).name("s")(Tensor({2, 5})),
                         doctest::Contains("expects input of shape (batch, timesteps, features), got (2, 5)"), recur::Error);
}
