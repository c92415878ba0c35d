// Sample and class weights with Keras's arithmetic, worked out by hand: the loss is
// sum(weight * loss of the row) / rows (SUM_OVER_BATCH_SIZE: a mean over the rows, not over
// the weights), its gradient likewise; masked steps leave both the sum and the count.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <vector>

#include <recur/recur.hpp>

using recur::Dense;
using recur::Error;
using recur::Sequential;
using recur::Shape;
using recur::Tensor;

namespace {

// Dense(1) on 2 features with kernel (0.5, -0.25) and bias 0.1: p = 0.5 a - 0.25 b + 0.1.
Sequential linear_model() {
    Sequential model;
    model.add(Dense(1).input_shape({2}));
    model.layer(0).set_weights({Tensor(Shape{2, 1}, {0.5f, -0.25f}), Tensor(Shape{1}, {0.1f})});
    model.compile(recur::SGD().learning_rate(0.1f), "mse");
    return model;
}

const Tensor kX(Shape{3, 2}, {1.0f, 2.0f, -1.0f, 0.5f, 0.25f, -2.0f});
const Tensor kY(Shape{3}, {0.3f, -0.2f, 1.0f});
const Tensor kW(Shape{3}, {2.0f, 0.5f, 0.0f});

double prediction(std::size_t i) { return 0.5 * kX(i, 0) - 0.25 * kX(i, 1) + 0.1; }

}  // namespace

TEST_CASE("sample_weight: sum(w loss) / N, in evaluate, train_on_batch and fit") {
    double loss = 0.0, dk0 = 0.0, dk1 = 0.0, db = 0.0;
    for (std::size_t i = 0; i < 3; ++i) {
        const double e = prediction(i) - kY(i);
        loss += kW(i) * e * e / 3.0;
        dk0 += kW(i) * 2.0 * e * kX(i, 0) / 3.0;
        dk1 += kW(i) * 2.0 * e * kX(i, 1) / 3.0;
        db += kW(i) * 2.0 * e / 3.0;
    }
    Sequential model = linear_model();
    CHECK(model.evaluate(kX, kY, 32, kW) == doctest::Approx(loss).epsilon(1e-6));
    CHECK(model.evaluate(kX, kY, 2, kW) == doctest::Approx(loss).epsilon(1e-6));  // batches of 2 and 1
    CHECK(model.evaluate_dict(kX, kY, 32, kW).at("loss") == doctest::Approx(loss).epsilon(1e-6));
    CHECK(model.train_on_batch(kX, kY, kW) == doctest::Approx(loss).epsilon(1e-6));
    const auto w = model.layer(0).get_weights();
    CHECK(w[0](0, 0) == doctest::Approx(0.5 - 0.1 * dk0).epsilon(1e-6));
    CHECK(w[0](1, 0) == doctest::Approx(-0.25 - 0.1 * dk1).epsilon(1e-6));
    CHECK(w[1](0) == doctest::Approx(0.1 - 0.1 * db).epsilon(1e-6));

    // fit, one full batch without shuffling: the same step, and the same loss in its History.
    Sequential fitted = linear_model();
    const recur::History h = fitted.fit(kX, kY, recur::FitOptions().batch_size(3).shuffle(false).verbose(0).sample_weight(kW));
    CHECK(h.loss.front() == doctest::Approx(loss).epsilon(1e-6));
    const auto w2 = fitted.layer(0).get_weights();
    CHECK(w2[0](0, 0) == w[0](0, 0));
    CHECK(w2[1](0) == w[1](0));

    // Without weights: the plain mean.
    double plain = 0.0;
    for (std::size_t i = 0; i < 3; ++i) plain += std::pow(prediction(i) - kY(i), 2) / 3.0;
    CHECK(linear_model().evaluate(kX, kY) == doctest::Approx(plain).epsilon(1e-6));
}

TEST_CASE("sample_weight: validation_split's samples keep their weights") {
    Sequential model = linear_model();
    model.compile(recur::SGD().learning_rate(1e-30f), "mse");  // the weights barely move
    const recur::History h =
        model.fit(kX, kY, recur::FitOptions().validation_split(0.34).verbose(0).sample_weight(kW).shuffle(false));
    // 0.34 of 3 samples holds out the last two (Keras's split), with weights 0.5 and 0.
    REQUIRE(h.val_loss.size() == 1);
    const double e1 = prediction(1) - kY(1), e2 = prediction(2) - kY(2);
    CHECK(h.val_loss.front() == doctest::Approx((0.5 * e1 * e1 + 0.0 * e2 * e2) / 2).epsilon(1e-5));
}

TEST_CASE("class_weight: each sample weighs its class's weight, times its sample weight") {
    Sequential model;
    model.add(Dense(3).activation("softmax").input_shape({2}));
    model.compile(recur::SGD().learning_rate(0.1f), "sparse_categorical_crossentropy");
    Sequential twin;
    twin.add(Dense(3).activation("softmax").input_shape({2}));
    twin.layer(0).set_weights(model.layer(0).get_weights());
    twin.compile(recur::SGD().learning_rate(0.1f), "sparse_categorical_crossentropy");
    const Tensor labels(Shape{3}, {2.0f, 0.0f, 2.0f});
    const std::map<std::size_t, float> classes{{0, 3.0f}, {1, 1.0f}, {2, 0.5f}};
    const Tensor extra(Shape{3}, {1.0f, 2.0f, 4.0f});
    model.fit(kX, labels, recur::FitOptions().batch_size(3).shuffle(false).verbose(0).class_weight(classes).sample_weight(extra));
    // The same step by sample weights written out: class weight times sample weight.
    twin.train_on_batch(kX, labels, Tensor(Shape{3}, {0.5f * 1.0f, 3.0f * 2.0f, 0.5f * 4.0f}));
    const auto a = model.layer(0).get_weights(), b = twin.layer(0).get_weights();
    for (std::size_t i = 0; i < 2; ++i) CHECK(std::equal(a[i].begin(), a[i].end(), b[i].begin(), b[i].end()));

    // One-hot targets: the class is the largest entry.
    Sequential onehot;
    onehot.add(Dense(2).activation("softmax").input_shape({2}));
    onehot.compile("sgd", "categorical_crossentropy");
    const Tensor y(Shape{3, 2}, {0, 1, 1, 0, 0, 1});
    CHECK_THROWS_WITH_AS(onehot.fit(kX, y, recur::FitOptions().verbose(0).class_weight({{1, 2.0f}})),
                         doctest::Contains("class_weight has no weight for class 0 (sample 1)"), Error);
    CHECK_NOTHROW(onehot.fit(kX, y, recur::FitOptions().verbose(0).class_weight({{0, 1.0f}, {1, 2.0f}})));
}

TEST_CASE("per-timestep weights on a sequence output, and with a mask") {
    // Dense(1) per timestep: the rows are (sample, step).
    Sequential model;
    model.add(recur::Masking(-9.0f).input_shape({2, 1}));
    model.add(Dense(1));
    model.layer(1).set_weights({Tensor(Shape{1, 1}, {2.0f}), Tensor(Shape{1}, {0.0f})});
    model.compile("sgd", "mse");
    const Tensor x(Shape{2, 2, 1}, {1.0f, -9.0f, 0.5f, 3.0f});  // step (0, 1) masked
    const Tensor y(Shape{2, 2, 1}, {1.0f, 7.0f, 0.0f, 5.0f});
    const Tensor w(Shape{2, 2}, {3.0f, 100.0f, 1.0f, 2.0f});
    // Real rows: (0,0) p 2 e 1, (1,0) p 1 e 1, (1,1) p 6 e 1: sum(w e^2) / 3 = (3 + 1 + 2) / 3.
    CHECK(model.evaluate(x, y, 32, w) == doctest::Approx(2.0).epsilon(1e-6));
    // Per-sample weights over a sequence: each sample's weight on each of its steps.
    CHECK(model.evaluate(x, y, 32, Tensor(Shape{2}, {2.0f, 1.0f})) == doctest::Approx((2.0 + 1.0 + 1.0) / 3).epsilon(1e-6));
}

TEST_CASE("sample and class weights: what is refused") {
    Sequential model = linear_model();
    CHECK_THROWS_WITH_AS(model.evaluate(kX, kY, 32, Tensor(Shape{2})), doctest::Contains("expected sample_weight of shape (3,), got (2,)"), Error);
    CHECK_THROWS_WITH_AS(model.train_on_batch(kX, kY, Tensor(Shape{3}, {1.0f, -1.0f, 1.0f})),
                         doctest::Contains("expected sample weights that are finite and >= 0, got -1"), Error);
    CHECK_THROWS_WITH_AS(model.fit(kX, kY, recur::FitOptions().verbose(0).sample_weight(Tensor(Shape{3}, {1.0f, NAN, 1.0f}))),
                         doctest::Contains("finite and >= 0, got nan"), Error);
    CHECK_THROWS_WITH_AS(model.fit(kX, kY, recur::FitOptions().verbose(0).class_weight({{0, -2.0f}})),
                         doctest::Contains("expected class weights that are finite and >= 0, got -2"), Error);
    Sequential sequences;
    sequences.add(recur::SimpleRNN(2).return_sequences(true).input_shape({3, 1}));
    sequences.compile("sgd", "mse");
    CHECK_THROWS_WITH_AS(sequences.fit(Tensor(Shape{2, 3, 1}), Tensor(Shape{2, 3, 2}), recur::FitOptions().verbose(0).class_weight({{0, 1.0f}})),
                         doctest::Contains("class_weight is for one output per sample"), Error);
    CHECK_THROWS_WITH_AS(sequences.evaluate(Tensor(Shape{2, 3, 1}), Tensor(Shape{2, 3, 2}), 32, Tensor(Shape{2, 4})),
                         doctest::Contains("expected sample_weight of shape (2,) or (2, 3) (one per timestep), got (2, 4)"), Error);
}
