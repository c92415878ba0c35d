#include <doctest/doctest.h>

#include <vector>

#include <recur/recur.hpp>

TEST_CASE("losses give Keras's values and their gradients") {
    const std::vector<float> pred{1.0f, 2.0f, -1.0f, 0.5f}, target{0.0f, 2.5f, 1.0f, 0.5f};
    std::vector<float> grad(4);

    const float mse = recur::MSE().compute(pred.data(), target.data(), grad.data(), 2, 2);
    CHECK(mse == doctest::Approx((1.0 + 0.25 + 4.0 + 0.0) / 4));
    CHECK(grad[0] == doctest::Approx(2.0 * 1.0 / 4));
    CHECK(grad[2] == doctest::Approx(2.0 * -2.0 / 4));

    const float mae = recur::MAE().compute(pred.data(), target.data(), grad.data(), 2, 2);
    CHECK(mae == doctest::Approx((1.0 + 0.5 + 2.0 + 0.0) / 4));
    CHECK(grad[1] == doctest::Approx(-0.25));
    CHECK(grad[3] == 0.0f);

    // delta 1: |e| <= 1 -> 0.5 e^2, else |e| - 0.5
    const float huber = recur::Huber().compute(pred.data(), target.data(), grad.data(), 2, 2);
    CHECK(huber == doctest::Approx((0.5 + 0.125 + 1.5 + 0.0) / 4));
    CHECK(grad[1] == doctest::Approx(-0.5 / 4));
    CHECK(grad[2] == doctest::Approx(-1.0 / 4));
}

TEST_CASE("loss names resolve as Keras's strings do") {
    CHECK(std::string(recur::make_loss("mse")->name()) == "mean_squared_error");
    CHECK(std::string(recur::make_loss("mean_absolute_error")->name()) == "mean_absolute_error");
    CHECK(std::string(recur::make_loss("huber")->name()) == "huber_loss");
    CHECK_THROWS_WITH_AS(recur::make_loss("hinge"), doctest::Contains("binary_crossentropy\", got \"hinge\""),
                         recur::Error);
    CHECK_THROWS_WITH_AS(recur::Huber().delta(0.0f), doctest::Contains("Huber::delta"), recur::Error);
}
