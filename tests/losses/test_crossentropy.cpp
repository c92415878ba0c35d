#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include <recur/recur.hpp>

#include "support/probe.hpp"

using recur::Sequential;
using recur::Shape;
using recur::Tensor;
using recur::testing::check_gradients;

namespace {

Tensor random_tensor(Shape shape, unsigned seed) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    Tensor t(std::move(shape));
    for (float& v : t) v = dist(gen);
    return t;
}

Tensor labels(std::vector<float> values) {
    const std::size_t n = values.size();
    return Tensor(Shape{n}, std::move(values));
}

Sequential classifier(const char* activation, std::size_t classes, bool sequences = false) {
    recur::manual_seed(41);
    Sequential model;
    model.add(recur::SimpleRNN(4).return_sequences(sequences).input_shape({3, 2}));
    model.add(recur::Dense(classes).activation(activation));
    return model;
}

}  // namespace

TEST_CASE("sparse categorical crossentropy: Keras's value from probabilities and from logits") {
    const std::vector<float> logits{2.0f, 1.0f, 0.1f, 0.5f, 2.5f, -1.0f};
    const std::vector<float> y{0.0f, 1.0f};
    std::vector<float> probs(6), grad(6);
    double want = 0.0;
    for (int r = 0; r < 2; ++r) {
        double sum = 0.0;
        for (int j = 0; j < 3; ++j) sum += std::exp(logits[r * 3 + j]);
        for (int j = 0; j < 3; ++j) probs[r * 3 + j] = static_cast<float>(std::exp(logits[r * 3 + j]) / sum);
        want -= std::log(probs[r * 3 + static_cast<int>(y[r])]) / 2.0;
    }
    recur::SparseCategoricalCrossentropy sparse;
    CHECK(sparse.compute(probs.data(), y.data(), grad.data(), 2, 3) == doctest::Approx(want).epsilon(1e-5));
    CHECK(grad[0] == doctest::Approx(-1.0 / (2 * probs[0])).epsilon(1e-5));
    CHECK(grad[1] == 0.0f);
    CHECK(sparse.compute_fused(probs.data(), y.data(), grad.data(), 2, 3) == doctest::Approx(want).epsilon(1e-5));
    CHECK(grad[0] == doctest::Approx((probs[0] - 1.0) / 2).epsilon(1e-5));
    CHECK(grad[4] == doctest::Approx((probs[4] - 1.0) / 2).epsilon(1e-5));
    recur::SparseCategoricalCrossentropy from_logits;
    from_logits.from_logits(true);
    CHECK(from_logits.compute(logits.data(), y.data(), grad.data(), 2, 3) == doctest::Approx(want).epsilon(1e-5));
    CHECK(grad[2] == doctest::Approx(probs[2] / 2).epsilon(1e-5));
    CHECK_FALSE(from_logits.fused_activation().has_value());
    CHECK(sparse.fused_activation() == recur::Activation::softmax);
}

TEST_CASE("crossentropy from logits stays finite where probabilities would underflow") {
    const std::vector<float> logits{200.0f, -200.0f}, y{1.0f};
    std::vector<float> grad(2);
    recur::SparseCategoricalCrossentropy sparse;
    sparse.from_logits(true);
    const float loss = sparse.compute(logits.data(), y.data(), grad.data(), 1, 2);
    CHECK(loss == doctest::Approx(400.0f));
    CHECK(grad[0] == doctest::Approx(1.0f));
    CHECK(grad[1] == doctest::Approx(-1.0f));
    recur::BinaryCrossentropy binary;
    binary.from_logits(true);
    const std::vector<float> z{-100.0f}, t{1.0f};
    CHECK(binary.compute(z.data(), t.data(), grad.data(), 1, 1) == doctest::Approx(100.0f));
    CHECK(grad[0] == doctest::Approx(-1.0f));
}

TEST_CASE("binary and categorical crossentropy values") {
    const std::vector<float> p{0.8f, 0.3f}, t{1.0f, 0.0f};
    std::vector<float> grad(2);
    const double want = -(std::log(0.8) + std::log(0.7)) / 2;
    CHECK(recur::BinaryCrossentropy().compute(p.data(), t.data(), grad.data(), 2, 1) == doctest::Approx(want).epsilon(1e-5));
    CHECK(recur::BinaryCrossentropy().compute_fused(p.data(), t.data(), grad.data(), 2, 1) ==
          doctest::Approx(want).epsilon(1e-5));
    CHECK(grad[0] == doctest::Approx((0.8 - 1.0) / 2));
    const std::vector<float> q{0.7f, 0.2f, 0.1f}, onehot{0.0f, 1.0f, 0.0f};
    std::vector<float> grad3(3);
    CHECK(recur::CategoricalCrossentropy().compute(q.data(), onehot.data(), grad3.data(), 1, 3) ==
          doctest::Approx(-std::log(0.2)).epsilon(1e-5));
    CHECK(grad3[1] == doctest::Approx(-1.0 / 0.2).epsilon(1e-5));
    CHECK(grad3[0] == 0.0f);
}

TEST_CASE("crossentropy gradients through the model, fused with softmax and sigmoid, and from logits") {
    const Tensor x = random_tensor({5, 3, 2}, 1);
    SUBCASE("sparse, softmax") {
        Sequential model = classifier("softmax", 4);
        check_gradients(model, recur::SparseCategoricalCrossentropy(), x, labels({0, 3, 1, 2, 3}));
    }
    SUBCASE("sparse, logits") {
        Sequential model = classifier("linear", 4);
        check_gradients(model, recur::SparseCategoricalCrossentropy().from_logits(true), x, labels({0, 3, 1, 2, 3}));
    }
    SUBCASE("sparse, softmax, per timestep") {
        Sequential model = classifier("softmax", 3, true);
        Tensor y({5, 3});
        for (std::size_t i = 0; i < y.size(); ++i) y.data()[i] = static_cast<float>(i % 3);
        check_gradients(model, recur::SparseCategoricalCrossentropy(), x, y);
    }
    SUBCASE("categorical, softmax and logits") {
        Tensor y({5, 4});
        for (std::size_t r = 0; r < 5; ++r) y(r, (r * 3) % 4) = 1.0f;
        Sequential softmax = classifier("softmax", 4);
        check_gradients(softmax, recur::CategoricalCrossentropy(), x, y);
        Sequential logits = classifier("linear", 4);
        check_gradients(logits, recur::CategoricalCrossentropy().from_logits(true), x, y);
    }
    SUBCASE("binary, sigmoid, logits and unfused probabilities") {
        const Tensor y({5, 2}, {1, 0, 0, 1, 1, 1, 0, 0, 1, 0});
        Sequential sigmoid = classifier("sigmoid", 2);
        check_gradients(sigmoid, recur::BinaryCrossentropy(), x, y);
        Sequential logits = classifier("linear", 2);
        check_gradients(logits, recur::BinaryCrossentropy().from_logits(true), x, y);
    }
    SUBCASE("categorical after tanh: the unfused path") {
        Tensor y({5, 4});
        for (std::size_t r = 0; r < 5; ++r) y(r, r % 4) = 1.0f;
        Sequential model = classifier("sigmoid", 4);
        check_gradients(model, recur::CategoricalCrossentropy(), x, y);
    }
}

TEST_CASE("sparse labels are checked: whole numbers within the classes") {
    Sequential model = classifier("softmax", 3);
    model.compile("adam", "sparse_categorical_crossentropy");
    const Tensor x = random_tensor({2, 3, 2}, 2);
    CHECK_THROWS_WITH_AS(model.fit(x, labels({0, 3})), doctest::Contains("integer labels in [0, 3), got 3.0"), recur::Error);
    CHECK_THROWS_WITH_AS(model.fit(x, labels({0.5f, 1})), doctest::Contains("got 0.5"), recur::Error);
    CHECK_THROWS_WITH_AS(model.fit(x, Tensor({2, 3})), doctest::Contains("needs targets (None, 1)"), recur::Error);
}
