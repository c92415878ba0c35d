#pragma once
// Keras's default initialisers, drawing from the generator of the model being built.
#include <cstddef>

#include "random.hpp"

namespace recur::detail {

// Uniform in [-limit, limit] with limit = sqrt(6 / (fan_in + fan_out)).
void glorot_uniform(float* w, std::size_t fan_in, std::size_t fan_out, Generator& generator);
// A (rows x cols) matrix with orthonormal rows or columns, as Keras's Orthogonal(gain=1):
// the Q of a QR decomposition of a Gaussian matrix, signs fixed so that diag(R) > 0.
void orthogonal(float* w, std::size_t rows, std::size_t cols, Generator& generator);
// Uniform in [low, high].
void uniform(float* w, std::size_t n, float low, float high, Generator& generator);

}  // namespace recur::detail
