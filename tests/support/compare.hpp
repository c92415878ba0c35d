#pragma once
#include <algorithm>

#include <recur/recur.hpp>

namespace recur::testing {

// The same shape and the same floats (a NaN never equals itself, so it fails).
inline bool same_bits(const Tensor& a, const Tensor& b) {
    return a.shape() == b.shape() && std::equal(a.begin(), a.end(), b.begin());
}

}  // namespace recur::testing
