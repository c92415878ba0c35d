#include <recur/data.hpp>
#include <recur/error.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "data/split.hpp"

namespace recur {

namespace {

std::string str(double value) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", value);
    return buf;
}

// sklearn's _handle_zeros_in_scale for float32 data: a range or std this close to zero is
// a constant series, and dividing by it would blow rounding noise up to the whole range.
double nonzero_scale(double scale) { return scale < 10.0 * std::numeric_limits<float>::epsilon() ? 1.0 : scale; }

void check_data(std::span<const float> data, const char* call) {
    if (data.empty()) throw Error(std::string(call) + ": expected at least one value, got none");
    for (std::size_t i = 0; i < data.size(); ++i)
        if (!std::isfinite(data[i]))
            throw Error(std::string(call) + ": expected finite values, got " + str(data[i]) +
                        " at index " + std::to_string(i));
}

// y = (x - shift) / scale or its inverse, in double so that a round trip is exact to float.
std::vector<float> affine(std::span<const float> data, double shift, double scale, bool inverse) {
    std::vector<float> out(data.size());
    for (std::size_t i = 0; i < data.size(); ++i)
        out[i] = static_cast<float>(inverse ? data[i] * scale + shift : (data[i] - shift) / scale);
    return out;
}

}  // namespace

MinMaxScaler::MinMaxScaler(float data_min, float data_max) : fitted_(true), data_min_(data_min), data_max_(data_max) {
    if (!(std::isfinite(data_min) && std::isfinite(data_max) && data_min <= data_max))
        throw Error("MinMaxScaler: expected finite data_min <= data_max, got " + str(data_min) + " and " +
                    str(data_max));
}

MinMaxScaler& MinMaxScaler::fit(std::span<const float> data) {
    check_data(data, "MinMaxScaler::fit");
    const auto [lo, hi] = std::minmax_element(data.begin(), data.end());
    data_min_ = *lo;
    data_max_ = *hi;
    fitted_ = true;
    return *this;
}

void MinMaxScaler::check_fitted(const char* call) const {
    if (!fitted_) throw Error(std::string(call) + ": the scaler is not fitted; call fit first");
}

std::vector<float> MinMaxScaler::transform(std::span<const float> data) const {
    check_fitted("MinMaxScaler::transform");
    return affine(data, data_min_, nonzero_scale(double(data_max_) - data_min_), false);
}

std::vector<float> MinMaxScaler::inverse_transform(std::span<const float> data) const {
    check_fitted("MinMaxScaler::inverse_transform");
    return affine(data, data_min_, nonzero_scale(double(data_max_) - data_min_), true);
}

StandardScaler::StandardScaler(float mean, float scale) : fitted_(true), mean_(mean), scale_(scale) {
    if (!(std::isfinite(mean) && std::isfinite(scale) && scale > 0.0f))
        throw Error("StandardScaler: expected a finite mean and a scale > 0, got " + str(mean) + " and " +
                    str(scale));
}

StandardScaler& StandardScaler::fit(std::span<const float> data) {
    check_data(data, "StandardScaler::fit");
    // Two passes in double: the one-pass sum of squares loses everything on a series with
    // a large mean and a small spread.
    double sum = 0.0;
    for (float x : data) sum += x;
    const double mean = sum / static_cast<double>(data.size());
    double squares = 0.0;
    for (float x : data) squares += (x - mean) * (x - mean);
    mean_ = static_cast<float>(mean);
    scale_ = static_cast<float>(nonzero_scale(std::sqrt(squares / static_cast<double>(data.size()))));
    fitted_ = true;
    return *this;
}

void StandardScaler::check_fitted(const char* call) const {
    if (!fitted_) throw Error(std::string(call) + ": the scaler is not fitted; call fit first");
}

std::vector<float> StandardScaler::transform(std::span<const float> data) const {
    check_fitted("StandardScaler::transform");
    return affine(data, mean_, scale_, false);
}

std::vector<float> StandardScaler::inverse_transform(std::span<const float> data) const {
    check_fitted("StandardScaler::inverse_transform");
    return affine(data, mean_, scale_, true);
}

namespace detail {
std::size_t training_count(std::size_t n, double split) {
    if (split == static_cast<double>(static_cast<float>(split))) {
        char decimal[32];
        std::snprintf(decimal, sizeof decimal, "%.7g", split);
        split = std::strtod(decimal, nullptr);
    }
    const double kept = std::floor(static_cast<double>(n) * (1.0 - split));
    return kept >= static_cast<double>(n) ? n : static_cast<std::size_t>(kept);
}
}  // namespace detail

std::size_t chronological_split(std::size_t n, double test_fraction) {
    if (!(test_fraction >= 0.0 && test_fraction < 1.0))
        throw Error("chronological_split: expected a test fraction in [0, 1), got " + str(test_fraction));
    const std::size_t n_train = detail::training_count(n, test_fraction);  // as Sequential::fit's validation_split
    if (n_train == 0 || (test_fraction > 0.0 && n_train == n))
        throw Error("chronological_split: a test fraction of " + str(test_fraction) + " of " +
                    std::to_string(n) + " samples leaves " + std::to_string(n_train) + " to train on and " +
                    std::to_string(n - n_train) + " to test; both need at least one");
    return n_train;
}

}  // namespace recur
