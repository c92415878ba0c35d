#include "layers/initializers.hpp"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "random.hpp"

namespace recur::detail {

void uniform(float* w, std::size_t n, float low, float high, Generator& generator) {
    std::uniform_real_distribution<float> dist(low, high);
    for (std::size_t i = 0; i < n; ++i) w[i] = dist(generator);
}

void glorot_uniform(float* w, std::size_t fan_in, std::size_t fan_out, Generator& generator) {
    const float limit = std::sqrt(6.0f / static_cast<float>(fan_in + fan_out));
    uniform(w, fan_in * fan_out, -limit, limit, generator);
}

void orthogonal(float* w, std::size_t rows, std::size_t cols, Generator& generator) {
    // Modified Gram-Schmidt on the columns of a (tall x narrow) Gaussian matrix yields the
    // QR decomposition with a positive diagonal in R, which is what Keras's sign fix gives.
    const std::size_t tall = std::max(rows, cols), narrow = std::min(rows, cols);
    std::normal_distribution<double> normal(0.0, 1.0);
    std::vector<double> q(tall * narrow);  // column-major: column c at q[c * tall]
    for (double& v : q) v = normal(generator);
    for (std::size_t c = 0; c < narrow; ++c) {
        double* col = &q[c * tall];
        for (std::size_t prev = 0; prev < c; ++prev) {
            const double* p = &q[prev * tall];
            double dot = 0.0;
            for (std::size_t i = 0; i < tall; ++i) dot += p[i] * col[i];
            for (std::size_t i = 0; i < tall; ++i) col[i] -= dot * p[i];
        }
        double norm = 0.0;
        for (std::size_t i = 0; i < tall; ++i) norm += col[i] * col[i];
        norm = std::sqrt(norm);
        for (std::size_t i = 0; i < tall; ++i) col[i] /= norm;
    }
    // Q is tall x narrow; Keras transposes it when the matrix is wider than tall.
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c)
            w[r * cols + c] = static_cast<float>(rows >= cols ? q[c * tall + r] : q[r * tall + c]);
}

}  // namespace recur::detail
