// Bad input is rejected at the API boundary with a message that names the call, the layer,
// what was expected and what was given.
#include <doctest/doctest.h>

#include <cmath>

#include <recur/recur.hpp>

using recur::Dense;
using recur::Error;
using recur::Sequential;
using recur::SimpleRNN;
using recur::Tensor;

namespace {
Sequential seed_model() {
    Sequential model;
    model.add(SimpleRNN(10).name("rnn").input_shape({5, 1}));
    model.add(Dense(1).name("head"));
    model.compile("adam", "mse");
    return model;
}
}  // namespace

TEST_CASE("fit rejects inputs that do not match the model") {
    Sequential model = seed_model();
    CHECK_THROWS_WITH_AS(model.fit(Tensor({10, 5, 2}), Tensor({10})),
                         "Sequential::fit: x has shape (10, 5, 2) but layer 'rnn' expects (None, 5, 1)", Error);
    CHECK_THROWS_WITH_AS(model.fit(Tensor({10, 5}), Tensor({10})),
                         doctest::Contains("x has shape (10, 5) but layer 'rnn' expects (None, 5, 1)"), Error);
    CHECK_THROWS_WITH_AS(model.fit(Tensor({10, 5, 1}), Tensor({9})),
                         doctest::Contains("x has 10 samples but y has shape (9,)"), Error);
    CHECK_THROWS_WITH_AS(model.fit(Tensor({10, 5, 1}), Tensor({10, 3})),
                         doctest::Contains("y has shape (10, 3) but the model's output (None, 1) with loss mean_squared_error needs targets (None, 1)"), Error);
    CHECK_THROWS_WITH_AS(model.fit(Tensor({10, 5, 1}), Tensor({10}), recur::FitOptions().batch_size(0)),
                         doctest::Contains("expected batch_size >= 1, got 0"), Error);
    CHECK_THROWS_WITH_AS(model.fit(Tensor({10, 5, 1}), Tensor({10}), recur::FitOptions().validation_split(1.0f)),
                         doctest::Contains("expected validation_split in [0, 1), got 1"), Error);
    Tensor nan_x({10, 5, 1});
    nan_x(3, 2, 0) = NAN;
    CHECK_THROWS_WITH_AS(model.fit(nan_x, Tensor({10})), doctest::Contains("x must be finite"), Error);
    Tensor inf_y({10});
    inf_y(1) = INFINITY;
    CHECK_THROWS_WITH_AS(model.fit(Tensor({10, 5, 1}), inf_y), doctest::Contains("y must be finite"), Error);
}

TEST_CASE("fit, evaluate and train_on_batch need a compiled model") {
    Sequential model;
    model.add(SimpleRNN(2).input_shape({3, 1}));
    CHECK_THROWS_WITH_AS(model.fit(Tensor({4, 3, 1}), Tensor({4, 2})),
                         "Sequential::fit: the model must be compiled first (call compile)", Error);
    CHECK_THROWS_WITH_AS(model.train_on_batch(Tensor({4, 3, 1}), Tensor({4, 2})),
                         doctest::Contains("Sequential::train_on_batch: the model must be compiled"), Error);
    CHECK_THROWS_WITH_AS(model.evaluate(Tensor({4, 3, 1}), Tensor({4, 2})),
                         doctest::Contains("Sequential::evaluate: the model must be compiled"), Error);
}

TEST_CASE("predict rejects inputs that do not match the model") {
    const Sequential model = seed_model();
    CHECK_THROWS_WITH_AS(model.predict(Tensor({3, 4, 1})),
                         "Sequential::predict: x has shape (3, 4, 1) but layer 'rnn' expects (None, 5, 1)", Error);
    CHECK_THROWS_WITH_AS(model.predict(Tensor({0, 5, 1})), doctest::Contains("at least one sample"), Error);
    CHECK_THROWS_WITH_AS(Sequential().predict(Tensor({1, 5, 1})), doctest::Contains("the model has no layers"), Error);
}

TEST_CASE("add rejects layers whose input does not fit the previous output") {
    Sequential model;
    model.add(SimpleRNN(10).name("first").input_shape({5, 1}));
    CHECK_THROWS_WITH_AS(model.add(SimpleRNN(4).name("second")),
                         "Sequential::add: layer 'second' (SimpleRNN) expects input with 3 dimensions, but layer "
                         "'first' gives (None, 10)",
                         Error);
    CHECK_THROWS_WITH_AS(model.add(Dense(3).name("head").input_shape({7})),
                         "Sequential::add: layer 'head' expects input (None, 7) but layer 'first' gives (None, 10)",
                         Error);
    CHECK_THROWS_WITH_AS(model.add(SimpleRNN(3).return_state(true).name("state")),
                         doctest::Contains("layer 'state' has return_state on"), Error);
    CHECK_THROWS_WITH_AS(model.add(Dense(1).name("first")), doctest::Contains("already has a layer named 'first'"), Error);
    CHECK(model.layers().size() == 1);  // nothing half-added
    model.add(Dense(1));
    CHECK(model.count_params() == 131);
}

TEST_CASE("set_weights rejects the wrong number or shapes of weights, naming the layer") {
    Sequential model = seed_model();
    auto weights = model.layer(0).get_weights();
    weights[1] = Tensor({10, 5});
    CHECK_THROWS_WITH_AS(model.layer(0).set_weights(weights),
                         "Layer::set_weights: layer 'rnn' expects recurrent_kernel of shape (10, 10), got (10, 5)", Error);
    weights.pop_back();
    CHECK_THROWS_WITH_AS(model.layer(0).set_weights(weights),
                         "Layer::set_weights: layer 'rnn' expects 3 weights, got 2", Error);
    CHECK_THROWS_WITH_AS(SimpleRNN(3).set_weights({}), doctest::Contains("is not built yet"), Error);
}

TEST_CASE("layer options are checked when set") {
    CHECK_THROWS_WITH_AS(SimpleRNN(0), "SimpleRNN: expected units >= 1, got 0", Error);
    CHECK_THROWS_WITH_AS(Dense(0), "Dense: expected units >= 1, got 0", Error);
    CHECK_THROWS_WITH_AS(SimpleRNN(3).activation("gelu"), doctest::Contains("got \"gelu\""), Error);
    CHECK_THROWS_WITH_AS(SimpleRNN(3).activation("softmax"), doctest::Contains("got \"softmax\""), Error);
    CHECK_THROWS_WITH_AS(SimpleRNN(3).name("x").input_shape({5}),
                         "SimpleRNN::input_shape: layer 'x' expects 2 dimensions per sample (batch axis left out), got (5,)",
                         Error);
    CHECK_THROWS_WITH_AS(SimpleRNN(3).input_shape({0, 1}), doctest::Contains("dimensions >= 1, got (0, 1)"), Error);
    CHECK_THROWS_WITH_AS(recur::set_num_threads(0), doctest::Contains("set_num_threads: expected threads >= 1, got 0"), Error);
    CHECK_THROWS_WITH_AS(Sequential().summary(), doctest::Contains("the model has no input shape yet"), Error);
    CHECK_THROWS_WITH_AS(Sequential().layer(0), doctest::Contains("index 0 is out of range for a model with 0 layers"), Error);
}
