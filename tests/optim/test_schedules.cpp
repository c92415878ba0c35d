// Keras's learning-rate schedules, their values worked out by hand from Keras's formulas, and
// an optimizer that follows one: per step, in fit's logs, in model files and checkpoints.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <numbers>
#include <string>

#include <recur/recur.hpp>

#include "support/compare.hpp"

using recur::CosineDecay;
using recur::Dense;
using recur::Error;
using recur::ExponentialDecay;
using recur::PiecewiseConstantDecay;
using recur::Sequential;
using recur::Shape;
using recur::Tensor;

TEST_CASE("ExponentialDecay: initial * rate^(step / decay_steps), floored with staircase") {
    const ExponentialDecay smooth(0.1f, 10, 0.5f);
    CHECK(smooth(0) == 0.1f);
    CHECK(smooth(5) == doctest::Approx(0.1 * std::sqrt(0.5)).epsilon(1e-7));
    CHECK(smooth(20) == doctest::Approx(0.025).epsilon(1e-7));
    const ExponentialDecay stairs(0.1f, 10, 0.5f, true);
    CHECK(stairs(9) == 0.1f);
    CHECK(stairs(10) == 0.05f);
    CHECK(stairs(29) == 0.025f);
}

TEST_CASE("PiecewiseConstantDecay: each value up to and including its boundary") {
    const PiecewiseConstantDecay pieces({10, 20}, {1.0f, 0.5f, 0.1f});
    CHECK(pieces(0) == 1.0f);
    CHECK(pieces(10) == 1.0f);
    CHECK(pieces(11) == 0.5f);
    CHECK(pieces(20) == 0.5f);
    CHECK(pieces(21) == 0.1f);
    CHECK(pieces(1000000) == 0.1f);
}

TEST_CASE("CosineDecay: half a cosine down to alpha, after an optional linear warmup") {
    const CosineDecay plain(1.0f, 10, 0.1f);
    CHECK(plain(0) == 1.0f);
    CHECK(plain(5) == doctest::Approx(0.9 * 0.5 + 0.1).epsilon(1e-7));  // cos(pi/2) = 0
    CHECK(plain(10) == doctest::Approx(0.1).epsilon(1e-7));
    CHECK(plain(50) == doctest::Approx(0.1).epsilon(1e-7));  // held at the end
    const CosineDecay warm(0.0f, 10, 0.0f, 1.0f, 5);
    CHECK(warm(0) == 0.0f);
    CHECK(warm(2) == doctest::Approx(0.4).epsilon(1e-7));
    CHECK(warm(5) == 1.0f);
    CHECK(warm(10) == doctest::Approx(0.5).epsilon(1e-7));
    CHECK(warm(15) == doctest::Approx(0.0).epsilon(1e-7));
}

TEST_CASE("schedules refuse settings out of range") {
    CHECK_THROWS_AS(ExponentialDecay(0.0f, 10, 0.5f), Error);
    CHECK_THROWS_AS(ExponentialDecay(0.1f, 0, 0.5f), Error);
    CHECK_THROWS_AS(ExponentialDecay(0.1f, 10, NAN), Error);
    CHECK_THROWS_AS(PiecewiseConstantDecay({10, 20}, {1.0f, 0.5f}), Error);
    CHECK_THROWS_AS(PiecewiseConstantDecay({20, 10}, {1.0f, 0.5f, 0.1f}), Error);
    CHECK_THROWS_AS(PiecewiseConstantDecay({10}, {1.0f, -0.5f}), Error);
    CHECK_THROWS_AS(CosineDecay(1.0f, 10, 1.5f), Error);
    CHECK_THROWS_AS(CosineDecay(1.0f, 10, 0.0f, std::nullopt, 5), Error);
    CHECK_THROWS_AS(CosineDecay(0.0f, 10), Error);
}

namespace {
// Dense(1) without bias, w 1, on one sample (1 -> 0): an SGD step at rate lr multiplies w by 1 - 2 lr.
Sequential decaying(const recur::Optimizer& optimizer) {
    Sequential model;
    model.add(Dense(1).use_bias(false).input_shape({1}));
    model.compile(optimizer, "mse");
    model.set_weights({Tensor(Shape{1, 1}, {1.0f})});
    return model;
}
const Tensor kOne(Shape{1, 1}, {1.0f}), kZero(Shape{1, 1}, {0.0f});
}  // namespace

TEST_CASE("an optimizer with a schedule takes each step at the rate of the steps before it") {
    // Rates 0.1, 0.05, 0.025 for steps 1, 2, 3 (Keras: schedule(iterations) before the step).
    Sequential model = decaying(recur::SGD().learning_rate(ExponentialDecay(0.1f, 1, 0.5f)));
    CHECK(model.optimizer().learning_rate() == 0.1f);
    model.train_on_batch(kOne, kZero);
    CHECK(model.get_weights()[0](0, 0) == doctest::Approx(0.8).epsilon(1e-7));
    CHECK(model.optimizer().learning_rate() == 0.05f);
    const auto history = model.fit(kOne, kZero, recur::FitOptions().epochs(2).verbose(0));
    CHECK(model.get_weights()[0](0, 0) == doctest::Approx(0.8 * 0.9 * 0.95).epsilon(1e-6));
    // The logs hold the rate of the next step.
    CHECK(history.history.at("learning_rate") == std::vector<float>{0.025f, 0.0125f});
    CHECK_THROWS_AS(model.optimizer().set_learning_rate(0.5f), Error);
}

TEST_CASE("a schedule is saved with the model and a checkpoint resumes it exactly") {
    const std::string dir = std::filesystem::temp_directory_path() / ("recur_schedules_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto optimizer = recur::Adam().learning_rate(CosineDecay(0.01f, 20, 0.1f, 0.05f, 4));
    const Tensor x(Shape{8, 3, 1}, {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f, 1.0f, 0.9f, 0.8f,
                                    0.7f, 0.6f, 0.5f, 0.4f, 0.3f, 0.2f, 0.1f, 0.0f, 0.1f, 0.2f, 0.3f, 0.4f});
    const Tensor y(Shape{8, 1}, {0.4f, 0.7f, 1.0f, 0.7f, 0.4f, 0.1f, 0.2f, 0.5f});
    auto make = [&] {
        recur::manual_seed(7);
        Sequential model;
        model.add(recur::SimpleRNN(4).input_shape({3, 1}));
        model.add(Dense(1));
        model.compile(optimizer, "mse");
        return model;
    };
    const auto options = recur::FitOptions().epochs(6).batch_size(2).verbose(0);
    Sequential straight = make();
    straight.fit(x, y, options);

    Sequential first = make();
    first.fit(x, y, recur::FitOptions(options).epochs(3));
    first.save_checkpoint(dir + "/ckpt.safetensors");
    Sequential resumed = recur::load_model(dir + "/ckpt.safetensors");
    REQUIRE(resumed.optimizer().learning_rate_schedule() != nullptr);
    CHECK(std::string(resumed.optimizer().learning_rate_schedule()->name()) == "CosineDecay");
    CHECK(resumed.optimizer().learning_rate() == first.optimizer().learning_rate());
    resumed.fit(x, y, recur::FitOptions(options).initial_epoch(3));
    const auto a = straight.get_weights(), b = resumed.get_weights();
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(recur::testing::same_bits(a[i], b[i]));
    std::filesystem::remove_all(dir);
}
