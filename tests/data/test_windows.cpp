#include <doctest/doctest.h>

#include <vector>

#include <recur/recur.hpp>

TEST_CASE("sliding_windows builds the seed's data exactly") {
    std::vector<float> series;
    for (int i = 0; i < 15; ++i) series.push_back(i / 10.0f);
    auto [X, Y] = recur::sliding_windows(series, 5);
    CHECK(X.shape() == recur::Shape{10, 5, 1});
    CHECK(Y.shape() == recur::Shape{10});
    for (std::size_t i = 0; i < 10; ++i) {
        for (std::size_t t = 0; t < 5; ++t) CHECK(X(i, t, 0) == static_cast<float>(i + t) / 10.0f);
        CHECK(Y(i) == static_cast<float>(i + 5) / 10.0f);
    }
}

TEST_CASE("sliding_windows rejects windows that do not fit") {
    const std::vector<float> series{1, 2, 3};
    CHECK_THROWS_WITH_AS(recur::sliding_windows(series, 0), doctest::Contains("expected window >= 1, got 0"), recur::Error);
    CHECK_THROWS_WITH_AS(recur::sliding_windows(series, 3),
                         doctest::Contains("expected a series longer than the window (3), got 3 values"), recur::Error);
}
