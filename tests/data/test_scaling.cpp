#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <recur/recur.hpp>

TEST_CASE("MinMaxScaler maps the fitted range to [0, 1] and back, as sklearn") {
    const std::vector<float> train{2.0f, 6.0f, 4.0f, 10.0f};
    recur::MinMaxScaler scaler;
    CHECK_FALSE(scaler.fitted());
    scaler.fit(train);
    CHECK(scaler.fitted());
    CHECK(scaler.data_min() == 2.0f);
    CHECK(scaler.data_max() == 10.0f);
    CHECK(scaler.transform(train) == std::vector<float>{0.0f, 0.5f, 0.25f, 1.0f});
    // Values beyond the training range fall outside [0, 1], as sklearn's do (no clipping).
    const std::vector<float> later{0.0f, 14.0f};
    CHECK(scaler.transform(later) == std::vector<float>{-0.25f, 1.5f});

    const std::vector<float> series{-3.7f, 0.1f, 2.2f, 123.456f, 9.99f};
    const std::vector<float> back = scaler.inverse_transform(scaler.transform(series));
    REQUIRE(back.size() == series.size());
    for (std::size_t i = 0; i < series.size(); ++i) CHECK(back[i] == doctest::Approx(series[i]).epsilon(1e-6));

    const recur::MinMaxScaler restored(2.0f, 10.0f);
    CHECK(restored.inverse_transform(std::vector<float>{0.5f}) == std::vector<float>{6.0f});
}

TEST_CASE("MinMaxScaler on a constant series maps it to 0 without dividing by zero") {
    const std::vector<float> constant(5, 3.5f);
    recur::MinMaxScaler scaler;
    scaler.fit(constant);
    CHECK(scaler.transform(constant) == std::vector<float>(5, 0.0f));
    CHECK(scaler.inverse_transform(std::vector<float>{0.0f, 1.0f}) == std::vector<float>{3.5f, 4.5f});
}

TEST_CASE("StandardScaler uses the mean and the population standard deviation, as sklearn") {
    const std::vector<float> train{1.0f, 2.0f, 3.0f, 4.0f};
    recur::StandardScaler scaler;
    scaler.fit(train);
    CHECK(scaler.mean() == 2.5f);
    CHECK(scaler.scale() == doctest::Approx(std::sqrt(1.25)).epsilon(1e-7));  // ddof = 0, not 1
    const std::vector<float> z = scaler.transform(train);
    CHECK(z[0] == doctest::Approx(-1.5 / std::sqrt(1.25)));
    CHECK(z[3] == doctest::Approx(1.5 / std::sqrt(1.25)));

    // A large mean with a small spread: a one-pass sum of squares would lose the spread.
    const std::vector<float> offset{10000.0f, 10001.0f, 10002.0f, 10003.0f};
    scaler.fit(offset);
    CHECK(scaler.scale() == doctest::Approx(std::sqrt(1.25)).epsilon(1e-6));
    const std::vector<float> back = scaler.inverse_transform(scaler.transform(offset));
    for (std::size_t i = 0; i < offset.size(); ++i) CHECK(back[i] == doctest::Approx(offset[i]).epsilon(1e-7));

    const std::vector<float> constant(3, -2.0f);
    scaler.fit(constant);
    CHECK(scaler.scale() == 1.0f);
    CHECK(scaler.transform(constant) == std::vector<float>(3, 0.0f));
}

TEST_CASE("scalers reject empty or non-finite data and use before fit") {
    const std::vector<float> none;
    const std::vector<float> with_nan{1.0f, NAN};
    CHECK_THROWS_WITH_AS(recur::MinMaxScaler().fit(none), "MinMaxScaler::fit: expected at least one value, got none",
                         recur::Error);
    CHECK_THROWS_WITH_AS(recur::StandardScaler().fit(with_nan),
                         "StandardScaler::fit: expected finite values, got nan at index 1", recur::Error);
    CHECK_THROWS_WITH_AS(recur::MinMaxScaler().transform(with_nan),
                         "MinMaxScaler::transform: the scaler is not fitted; call fit first", recur::Error);
    CHECK_THROWS_WITH_AS(recur::StandardScaler().inverse_transform(none), doctest::Contains("not fitted"), recur::Error);
    CHECK_THROWS_WITH_AS(recur::MinMaxScaler(3.0f, 1.0f), doctest::Contains("expected finite data_min <= data_max, got 3 and 1"),
                         recur::Error);
    CHECK_THROWS_WITH_AS(recur::StandardScaler(0.0f, 0.0f), doctest::Contains("a scale > 0, got 0 and 0"), recur::Error);
}

TEST_CASE("chronological_split counts as Sequential::fit's validation_split") {
    CHECK(recur::chronological_split(10, 0.2) == 8);
    CHECK(recur::chronological_split(10, 0.2f) == 8);  // float's 0.2 is a hair above 0.2
    CHECK(recur::chronological_split(10, 0.25) == 7);
    CHECK(recur::chronological_split(10, 0.0) == 10);
    CHECK_THROWS_WITH_AS(recur::chronological_split(10, 1.0),
                         "chronological_split: expected a test fraction in [0, 1), got 1", recur::Error);
    CHECK_THROWS_WITH_AS(recur::chronological_split(10, -0.1), doctest::Contains("got -0.1"), recur::Error);
    CHECK(recur::chronological_split(4, 1e-9) == 3);  // Python's int(4 * (1 - 1e-9))
    // Large counts: never more than n, never off by the float error of the fraction.
    CHECK(recur::chronological_split(10'000'000, 0.0) == 10'000'000);
    CHECK(recur::chronological_split(100'000'000, 0.5) == 50'000'000);
    CHECK(recur::chronological_split(10'000'000, 0.2f) == 8'000'000);
    CHECK(recur::chronological_split(std::size_t{1} << 62, 0.0) == std::size_t{1} << 62);
    CHECK_THROWS_WITH_AS(recur::chronological_split(4, 1e-17),
                         "chronological_split: a test fraction of 1e-17 of 4 samples leaves 4 to train on and 0 to test; "
                         "both need at least one",
                         recur::Error);
    CHECK_THROWS_WITH_AS(recur::chronological_split(2, 0.9), doctest::Contains("leaves 0 to train on"), recur::Error);
}
