#pragma once
// Sizes computed from numbers that come from outside (a file, a flag, a caller) must not
// wrap around to a small number and size a buffer too small for what is written into it.
// These products and sums saturate at kTooLarge instead, a size no allocation accepts.
#include <cstddef>
#include <cstdint>
#include <string>

#include <recur/error.hpp>

#include <recur/tensor.hpp>

namespace recur::detail {

inline constexpr std::size_t kTooLarge = SIZE_MAX;
// The largest single dimension (timesteps, features, units, ids) recur accepts: sums of a
// few of them cannot wrap, and no product of two fits in memory anyway.
inline constexpr std::size_t kMaxDimension = std::size_t{1} << 40;
// The most floats one allocation may hold: its size in bytes must fit a ptrdiff_t.
inline constexpr std::size_t kMaxFloats = PTRDIFF_MAX / sizeof(float);

constexpr std::size_t mul(std::size_t a, std::size_t b) {
    std::size_t product = 0;
    return __builtin_mul_overflow(a, b, &product) ? kTooLarge : product;
}
template <class... Rest>
constexpr std::size_t mul(std::size_t a, std::size_t b, Rest... rest) {
    return mul(mul(a, b), rest...);
}

constexpr std::size_t add(std::size_t a, std::size_t b) {
    std::size_t sum = 0;
    return __builtin_add_overflow(a, b, &sum) ? kTooLarge : sum;
}
template <class... Rest>
constexpr std::size_t add(std::size_t a, std::size_t b, Rest... rest) {
    return add(add(a, b), rest...);
}

// n rounded up to a multiple of m (m > 0).
constexpr std::size_t round_up(std::size_t n, std::size_t m) {
    return n > kTooLarge - (m - 1) ? kTooLarge : (n + m - 1) / m * m;
}

// Checks a count given by a caller or a file (units, a batch, threads): from 1 to max.
inline void check_count(std::size_t value, std::size_t max, const std::string& call, const std::string& what) {
    if (value == 0) throw Error(call + ": expected " + what + " >= 1, got 0");
    if (value > max) throw Error(call + ": expected " + what + " <= " + std::to_string(max) + ", got " + std::to_string(value));
}

// Shape::elements without the exception: kTooLarge where it would overflow.
inline std::size_t elements(const Shape& shape) {
    std::size_t n = 1;
    for (std::size_t d : shape) n = mul(n, d);
    return n;
}

}  // namespace recur::detail
