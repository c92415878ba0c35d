// Weight regularizers with Keras's arithmetic, worked out by hand: the loss gains
// l1 sum |w| + l2 sum w^2 per regularized weight, in fit, train_on_batch and evaluate alike.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>

#include <recur/recur.hpp>

#include "support/probe.hpp"

using recur::Dense;
using recur::Sequential;
using recur::Shape;
using recur::Tensor;

namespace {
// Dense(1) on 2 features, kernel (0.5, -0.25), bias 0.1: p = 0.5 a - 0.25 b + 0.1.
Sequential regularized_line() {
    Sequential model;
    model.add(Dense(1).kernel_regularizer(recur::L1L2(0.1f, 0.2f)).bias_regularizer(recur::L2(0.5f)).input_shape({2}));
    model.set_weights({Tensor(Shape{2, 1}, {0.5f, -0.25f}), Tensor(Shape{1}, {0.1f})});
    model.compile(recur::SGD().learning_rate(0.1f), "mse");
    return model;
}
const Tensor kX(Shape{2, 2}, {1.0f, 2.0f, -1.0f, 0.5f});
const Tensor kY(Shape{2, 1}, {0.3f, -0.2f});
}  // namespace

TEST_CASE("the penalty joins the loss in evaluate, train_on_batch and fit, and its gradient the step") {
    // Predictions 0.1 and -0.525: errors -0.2 and -0.325, mse (0.04 + 0.105625) / 2.
    const double mse = (0.04 + 0.105625) / 2;
    // 0.1 (0.5 + 0.25) + 0.2 (0.25 + 0.0625) + 0.5 (0.01)
    const double penalty = 0.1 * 0.75 + 0.2 * 0.3125 + 0.5 * 0.01;
    Sequential model = regularized_line();
    CHECK(model.evaluate(kX, kY) == doctest::Approx(mse + penalty).epsilon(1e-6));
    CHECK(model.train_on_batch(kX, kY) == doctest::Approx(mse + penalty).epsilon(1e-6));
    // d mse / d k = mean(2 e x): k0 (2 (-0.2) 1 + 2 (-0.325) (-1)) / 2 = 0.125, k1 (2 (-0.2) 2 + 2 (-0.325) 0.5) / 2 = -0.5625;
    // d / d b = (2 (-0.2) + 2 (-0.325)) / 2 = -0.525. Penalty gradients: 0.1 sign(k) + 0.4 k, and 1.0 b.
    const auto w = model.get_weights();
    CHECK(w[0](0, 0) == doctest::Approx(0.5 - 0.1 * (0.125 + 0.1 + 0.4 * 0.5)).epsilon(1e-6));
    CHECK(w[0](1, 0) == doctest::Approx(-0.25 - 0.1 * (-0.5625 - 0.1 - 0.4 * 0.25)).epsilon(1e-6));
    CHECK(w[1](0) == doctest::Approx(0.1 - 0.1 * (-0.525 + 1.0 * 0.1)).epsilon(1e-6));

    Sequential fitted = regularized_line();
    const auto history = fitted.fit(kX, kY, recur::FitOptions().epochs(1).verbose(0).shuffle(false).validation_data(kX, kY));
    CHECK(history.loss[0] == doctest::Approx(mse + penalty).epsilon(1e-6));  // the batch's loss, before its step
    CHECK(history.val_loss[0] == doctest::Approx(fitted.evaluate(kX, kY)).epsilon(1e-6));
}

TEST_CASE("regularized gradients against finite differences: every recurrent cell, Bidirectional, Embedding") {
    recur::manual_seed(21);
    Sequential model;
    model.add(recur::Embedding(7, 3).embeddings_regularizer(recur::L2(0.05f)).input_shape({5}));
    model.add(recur::Bidirectional(recur::LSTM(3)
                                       .return_sequences(true)
                                       .kernel_regularizer(recur::L1(0.02f))
                                       .recurrent_regularizer(recur::L2(0.03f))
                                       .bias_regularizer(recur::L1L2(0.01f, 0.02f))));
    model.add(recur::GRU(3).return_sequences(true).recurrent_regularizer(recur::L1L2(0.01f, 0.05f)));
    model.add(recur::SimpleRNN(2).kernel_regularizer(recur::L2(0.1f)));
    model.add(Dense(2).kernel_regularizer(recur::L1(0.05f)));
    Tensor x(Shape{4, 5}), y(Shape{4, 2});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = float((i * 3) % 7);
    for (std::size_t i = 0; i < y.size(); ++i) y.data()[i] = std::sin(0.7 * i);
    recur::testing::check_gradients(model, recur::MSE(), x, y);
}

TEST_CASE("regularizers are saved and loaded, and refuse bad factors and built layers") {
    Sequential model = regularized_line();
    const std::string path =
        std::filesystem::temp_directory_path() / ("recur_regularizers_" + std::to_string(::getpid()) + ".safetensors");
    model.save(path);
    const Sequential loaded = recur::load_model(path);
    REQUIRE(loaded.layer(0).regularizer("kernel"));
    CHECK(loaded.layer(0).regularizer("kernel")->l1() == 0.1f);
    CHECK(loaded.layer(0).regularizer("kernel")->l2() == 0.2f);
    CHECK(loaded.layer(0).regularizer("bias")->l2() == 0.5f);
    CHECK(loaded.evaluate(kX, kY) == model.evaluate(kX, kY));
    std::filesystem::remove(path);

    CHECK_THROWS_WITH_AS(recur::L1(-0.1f), "L1: expected finite factors >= 0, got -0.1", recur::Error);
    CHECK_THROWS_AS(recur::L2(NAN), recur::Error);
    CHECK_THROWS_AS(recur::L1L2(0.1f, INFINITY), recur::Error);
    Dense built = Dense(2);
    (void)built(Tensor(Shape{1, 3}, {1, 2, 3}));
    CHECK_THROWS_WITH_AS(built.kernel_regularizer(recur::L2()), doctest::Contains("is built"), recur::Error);
}

TEST_CASE("Dense's activity_regularizer: the batch's output penalty joins the loss, by hand and by differences") {
    // The line of regularized_line without its weight regularizers, and L1L2(0.1, 0.2) on its output:
    // outputs 0.1 and -0.525, so 0.1 (0.625) + 0.2 (0.01 + 0.275625) over the batch of two.
    Sequential model;
    model.add(Dense(1).activity_regularizer(recur::L1L2(0.1f, 0.2f)).input_shape({2}));
    model.set_weights({Tensor(Shape{2, 1}, {0.5f, -0.25f}), Tensor(Shape{1}, {0.1f})});
    model.compile(recur::SGD().learning_rate(0.1f), "mse");
    const double mse = (0.04 + 0.105625) / 2, activity = 0.1 * 0.625 + 0.2 * 0.285625;
    CHECK(model.evaluate(kX, kY) == doctest::Approx(mse + activity).epsilon(1e-6));
    // Batches of one: each batch's penalty is its own output's, and evaluate averages them by batch size.
    CHECK(model.evaluate(kX, kY, 1) == doctest::Approx(mse + activity / 2).epsilon(1e-6));
    CHECK(model.train_on_batch(kX, kY) == doctest::Approx(mse + activity).epsilon(1e-6));

    recur::manual_seed(4);
    Sequential softmax;  // a crossentropy head that no longer folds its softmax, on sequences
    softmax.add(recur::GRU(3).return_sequences(true).input_shape({4, 2}));
    softmax.add(Dense(3).activation("softmax").activity_regularizer(recur::L1L2(0.05f, 0.1f)));
    Tensor x(Shape{3, 4, 2}), y(Shape{3, 4});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.9 * i);
    for (std::size_t i = 0; i < y.size(); ++i) y.data()[i] = float(i % 3);
    recur::testing::check_gradients(softmax, recur::SparseCategoricalCrossentropy(), x, y);

    const std::string path =
        std::filesystem::temp_directory_path() / ("recur_activity_" + std::to_string(::getpid()) + ".safetensors");
    model.save(path);
    const Sequential loaded = recur::load_model(path);
    REQUIRE(static_cast<const Dense&>(loaded.layer(0)).activity_regularizer());
    CHECK(static_cast<const Dense&>(loaded.layer(0)).activity_regularizer()->l2() == 0.2f);
    CHECK(loaded.evaluate(kX, kY) == model.evaluate(kX, kY));
    std::filesystem::remove(path);
}
