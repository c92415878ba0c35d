#include <recur/data.hpp>

#include <string>

namespace recur {

std::pair<Tensor, Tensor> sliding_windows(std::span<const float> series, std::size_t window) {
    if (window == 0) throw Error("sliding_windows: expected window >= 1, got 0");
    if (series.size() <= window)
        throw Error("sliding_windows: expected a series longer than the window (" + std::to_string(window) +
                    "), got " + std::to_string(series.size()) + " values");
    const std::size_t n = series.size() - window;
    Tensor x(Shape{n, window, std::size_t{1}});
    Tensor y(Shape{n});
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t t = 0; t < window; ++t) x(i, t, 0) = series[i + t];
        y(i) = series[i + window];
    }
    return {std::move(x), std::move(y)};
}

}  // namespace recur
