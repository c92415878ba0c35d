#pragma once
// Dense as a pair of free functions over flat buffers: x is rows x in (rows = batch, or
// timesteps x batch for sequences), w is in x units, b is units.
#include <cstddef>

#include <recur/layers.hpp>

namespace recur::detail {

// y = activation(x w + b) for a piece of rows, on the calling thread; b may be null.
void dense_rows(float* y, const float* x, const float* w, const float* b, std::size_t rows, std::size_t in,
                std::size_t units, Activation activation) noexcept;

// The same for all rows, in fixed pieces over the threads.
void dense_forward(float* y, const float* x, const float* w, const float* b, std::size_t rows,
                   std::size_t in, std::size_t units, Activation activation);

// dy is overwritten with d loss / d (x w + b); then dw = x^T dz, db = sum of dz and, when dx
// is not null, dx = dz w^T (wt_packed holds kernels::packed_floats(units, in) floats).
void dense_backward(float* dx, float* dw, float* db, float* dy, float* wt_packed, const float* y,
                    const float* x, const float* w, std::size_t rows, std::size_t in,
                    std::size_t units, Activation activation);

}  // namespace recur::detail
