#pragma once
#include <cstddef>
#include <span>
#include <utility>

#include "tensor.hpp"

namespace recur {

// Windows of a series and the value that follows each: X (N, window, 1), Y (N,) with
// N = series.size() - window; X[i] holds series[i .. i + window), Y(i) = series[i + window].
std::pair<Tensor, Tensor> sliding_windows(std::span<const float> series, std::size_t window);

}  // namespace recur
