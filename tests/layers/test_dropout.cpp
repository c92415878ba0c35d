// Dropout: Keras's inverted scaling in training only, masks fixed by the step's seed and the
// element's place, gradients through a fixed mask, the same result for any thread count.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <recur/recur.hpp>

#include "layers/layer_pass.hpp"
#include "support/compare.hpp"
#include "support/probe.hpp"

using recur::Dense;
using recur::Dropout;
using recur::Sequential;
using recur::Shape;
using recur::Tensor;

namespace {
// One training (or inference) forward of a lone Dropout layer over `input`.
std::vector<float> run(const Dropout& layer, const std::vector<float>& input, std::size_t batch, bool training,
                       std::uint64_t seed, std::vector<float>* workspace = nullptr) {
    std::vector<float> local;
    std::vector<float>& ws = workspace ? *workspace : local;
    ws.assign(recur::detail::LayerAccess::workspace_floats(layer, batch, 1), -1.0f);
    recur::detail::LayerPass pass;
    pass.batch = batch;
    pass.input = input.data();
    pass.workspace = ws.data();
    pass.training = training;
    pass.seed = seed;
    recur::detail::LayerAccess::forward(layer, pass);
    return std::vector<float>(pass.output, pass.output + input.size());
}
}  // namespace

TEST_CASE("Dropout drops rate of the elements in training, scales the rest by 1 / (1 - rate), passes all in predict") {
    Dropout layer(0.3f);
    layer.input_shape({1000});
    const std::vector<float> input(100 * 1000, 2.0f);
    const std::vector<float> out = run(layer, input, 100, true, 42);
    std::size_t dropped = 0;
    for (float v : out) {
        CHECK((v == 0.0f || v == 2.0f * (1.0f / 0.7f)));
        dropped += v == 0.0f;
    }
    // 100000 draws: the fraction is within 0.01 of 0.3 (over 6 standard deviations).
    CHECK(std::abs(double(dropped) / out.size() - 0.3) < 0.01);
    CHECK(run(layer, input, 100, true, 42) == out);  // the seed fixes the mask
    CHECK(run(layer, input, 100, true, 43) != out);
    CHECK(run(layer, input, 100, false, 42) == input);
}

TEST_CASE("Dropout's backward is its forward's derivative, the mask held fixed") {
    Dropout layer(0.5f);
    layer.input_shape({3, 4});  // a sequence of 3 steps of 4 features
    const std::size_t batch = 5, n = batch * 12;
    std::vector<float> input(n), ws, output_grad(n), input_grad(n);
    for (std::size_t i = 0; i < n; ++i) input[i] = std::sin(0.7 * i), output_grad[i] = std::cos(1.3 * i);
    recur::detail::LayerPass pass;
    pass.batch = batch;
    pass.timesteps = 3;
    ws.assign(recur::detail::LayerAccess::workspace_floats(layer, batch, 3), 0.0f);
    pass.input = input.data();
    pass.workspace = ws.data();
    pass.training = true;
    pass.seed = 7;
    recur::detail::LayerAccess::forward(layer, pass);
    const std::vector<float> out(pass.output, pass.output + n);
    pass.output_grad = output_grad.data();
    pass.input_grad = input_grad.data();
    recur::detail::LayerAccess::backward(layer, pass);
    for (std::size_t i = 0; i < n; ++i) {  // out_i depends on in_i alone: d out_i / d in_i by differences
        std::vector<float> moved = input;
        moved[i] += 0.01f;
        recur::detail::LayerPass again = pass;
        std::vector<float> ws2(ws.size());
        again.input = moved.data();
        again.workspace = ws2.data();
        recur::detail::LayerAccess::forward(layer, again);
        const double slope = (double(again.output[i]) - out[i]) / 0.01;
        CHECK(input_grad[i] == doctest::Approx(slope * output_grad[i]).epsilon(1e-3).scale(1e-3));
    }
}

TEST_CASE("gradients of a model with Dropout against finite differences, one training mask held fixed") {
    recur::manual_seed(5);
    Sequential model;
    model.add(recur::LSTM(4).return_sequences(true).input_shape({5, 3}));
    model.add(Dropout(0.4f));
    model.add(recur::GRU(3));
    model.add(Dropout(0.25f));
    model.add(Dense(2));
    Tensor x(Shape{6, 5, 3}), y(Shape{6, 2});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.37 * i);
    for (std::size_t i = 0; i < y.size(); ++i) y.data()[i] = std::cos(0.91 * i);
    recur::testing::check_gradients(model, recur::MSE(), x, y, 1234);
}

TEST_CASE("a model with Dropout trains to the same bits on 1 and 2 threads; predict and evaluate drop nothing") {
    Tensor x(Shape{32, 6, 2}), y(Shape{32, 1});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.11 * i);
    for (std::size_t i = 0; i < y.size(); ++i) y.data()[i] = std::cos(0.3 * i);
    auto train = [&](std::size_t threads) {
        recur::set_num_threads(threads);
        recur::manual_seed(9);
        Sequential model;
        model.add(recur::SimpleRNN(16).input_shape({6, 2}));
        model.add(Dropout(0.5f));
        model.add(Dense(1));
        model.compile("adam", "mse");
        model.fit(x, y, recur::FitOptions().epochs(3).batch_size(8).verbose(0));
        return model;
    };
    const std::size_t threads_before = recur::num_threads();
    Sequential one = train(1), two = train(2);
    recur::set_num_threads(threads_before);
    const auto a = one.get_weights(), b = two.get_weights();
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(recur::testing::same_bits(a[i], b[i]));
    // Inference: the same as the model without its Dropout layer.
    Sequential plain;
    plain.add(recur::SimpleRNN(16).input_shape({6, 2}));
    plain.add(Dense(1));
    plain.set_weights(one.get_weights());
    plain.compile("adam", "mse");
    CHECK(recur::testing::same_bits(one.predict(x), plain.predict(x)));
    CHECK(one.evaluate(x, y) == plain.evaluate(x, y));
    CHECK_NOTHROW(one.stream(1));  // a stream passes through it
}

TEST_CASE("Dropout's rate is checked, saved and loaded") {
    CHECK_THROWS_WITH_AS(Dropout(1.0f), "Dropout: expected a rate in [0, 1), got 1", recur::Error);
    CHECK_THROWS_AS(Dropout(-0.1f), recur::Error);
    CHECK_THROWS_AS(Dropout(NAN), recur::Error);
    Sequential model;
    model.add(Dense(3).input_shape({2}));
    model.add(Dropout(0.2f));
    model.add(Dense(1));
    model.compile("sgd", "mse");
    const std::string path = std::filesystem::temp_directory_path() / ("recur_dropout_" + std::to_string(::getpid()) + ".safetensors");
    model.save(path);
    const Sequential loaded = recur::load_model(path);
    CHECK(std::string(loaded.layer(1).type_name()) == "Dropout");
    CHECK(static_cast<const Dropout&>(loaded.layer(1)).rate() == 0.2f);
    std::filesystem::remove(path);
}
