#include <doctest/doctest.h>

#include <cmath>

#include <recur/recur.hpp>

#include "support/probe.hpp"

using recur::Embedding;
using recur::Sequential;
using recur::Shape;
using recur::Tensor;

TEST_CASE("Embedding maps ids to rows of its weight, as Keras does") {
    recur::manual_seed(51);
    Embedding embedding(5, 3);
    const Tensor ids({2, 4}, {0, 1, 4, 4, 2, 2, 3, 0});
    const Tensor out = embedding(ids);
    CHECK(out.shape() == Shape{2, 4, 3});
    const Tensor w = embedding.get_weights().at(0);
    CHECK(w.shape() == Shape{5, 3});
    for (float v : w) CHECK(std::abs(v) <= 0.05f);
    for (std::size_t b = 0; b < 2; ++b)
        for (std::size_t t = 0; t < 4; ++t)
            for (std::size_t j = 0; j < 3; ++j) CHECK(out(b, t, j) == w(static_cast<std::size_t>(ids(b, t)), j));
    CHECK(embedding.count_params() == 15);
}

TEST_CASE("Embedding feeds SimpleRNN, and its gradient adds each step's gradient to its id's row") {
    recur::manual_seed(52);
    Sequential model;
    model.add(Embedding(6, 3).input_shape({5}));
    model.add(recur::SimpleRNN(4));
    model.add(recur::Dense(2));
    CHECK(model.layer(0).output_shape() == Shape{5, 3});
    CHECK(model.count_params() == 18 + (12 + 16 + 4) + 10);
    const Tensor ids({3, 5}, {0, 1, 2, 3, 4, 5, 5, 5, 1, 0, 2, 2, 2, 2, 2});
    const Tensor y({3, 2}, {0.5f, -1.0f, 1.0f, 0.0f, -0.5f, 0.25f});
    recur::testing::check_gradients(model, recur::MSE(), ids, y);

    model.compile(recur::Adam().learning_rate(0.05f), "mse");
    const auto history = model.fit(ids, y, recur::FitOptions().epochs(200).verbose(0));
    CHECK(history.loss.back() < 0.01f * history.loss.front());
    recur::Stream stream = model.stream(3);  // ids one step at a time give what predict gives
    const Tensor expected = model.predict(ids);
    recur::TensorView out;
    for (std::size_t t = 0; t < 5; ++t) {
        const float step[3] = {ids(0, t), ids(1, t), ids(2, t)};
        out = stream.step(step);
    }
    for (std::size_t i = 0; i < expected.size(); ++i) CHECK(std::abs(out.data()[i] - expected.data()[i]) <= 1e-6f);
}

TEST_CASE("Embedding rejects ids it has no row for, and any place but first") {
    Sequential model;
    model.add(Embedding(4, 2).name("emb").input_shape({3}));
    model.add(recur::Dense(1));
    CHECK_THROWS_WITH_AS(model.predict(Tensor({1, 3}, {0, 4, 1})),
                         doctest::Contains("layer 'emb' expects whole-number ids in [0, 4), got 4.0"), recur::Error);
    CHECK_THROWS_WITH_AS(model.predict(Tensor({1, 3}, {0, 1.5f, 1})), doctest::Contains("got 1.5"), recur::Error);
    CHECK_THROWS_WITH_AS(model.predict(Tensor({1, 3}, {-1, 0, 0})), doctest::Contains("got -1.0"), recur::Error);
    Sequential late;
    late.add(recur::Dense(2).input_shape({3}));
    CHECK_THROWS_WITH_AS(late.add(Embedding(4, 2).name("late_emb")),
                         doctest::Contains("layer 'late_emb' (Embedding) takes ids, so it can only be the first layer"),
                         recur::Error);
    CHECK_THROWS_WITH_AS(Embedding(0, 2), doctest::Contains("expected input_dim >= 1"), recur::Error);
}
