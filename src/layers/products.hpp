#pragma once
// The matrix products every layer's passes are made of, split over threads in fixed pieces
// (so that 1, 2 or 8 threads give the same bits): packing weights for the kernels, a batch of
// rows times a matrix, weight gradients a^T b over many rows, and column sums.
#include <algorithm>
#include <cstddef>

#include "kernels/kernels.hpp"
#include "tensor/sizes.hpp"

namespace recur::detail {

// kernels::active().pack of the k x n matrix b (row stride ld; transposed: b holds B^T),
// its panels spread over the threads when the matrix is large.
void pack_weights(float* packed, const float* b, std::size_t k, std::size_t n, std::size_t ld, bool transposed);

// out[rows x n] = in[rows x k] w[k x n] + bias, with w packed (bias may be null), in fixed row
// blocks across threads.
void rows_times_matrix(float* out, const float* in, const float* w_packed, const float* bias, std::size_t rows,
                       std::size_t k, std::size_t n);

// out[n] = the sums of the columns of a[rows x n] (row stride lda), in fixed column blocks.
void column_sums(float* out, const float* a, std::size_t rows, std::size_t n, std::size_t lda);

// Rows of a and b the weight gradients lay out for the kernels at a time.
inline constexpr std::size_t kGradientSlab = 256;

// Floats of the scratch weight_gradient needs for an m x n output.
inline std::size_t weight_gradient_floats(std::size_t m, std::size_t n) {
    return add(kernels::packed_floats(kGradientSlab, n), mul(kGradientSlab, m));
}

// out[m x n] (row stride ldout) = a^T b over `rows` rows (a rows x m with row stride lda,
// b rows x n with row stride ldb), as the weight gradients are made: a slab of kGradientSlab
// rows at a time, the slab of b packed and (for m > 128) that of a copied out in column
// blocks, both reading each row in one run (block by block, every wide row would be a jump to
// another page), then fixed blocks of output, whatever the thread count, go through it.
// scratch holds weight_gradient_floats(m, n).
void weight_gradient(float* out, std::size_t ldout, const float* a, std::size_t lda, const float* b, std::size_t ldb,
                     std::size_t rows, std::size_t m, std::size_t n, float* scratch);

// Rows of the batch that one thread carries through a time loop whose recurrent weights hold
// `weights` floats. While they fit in a core's L2 (1 MB of its 2 MB: a 512 x 512 SimpleRNN)
// each step's pass over them is cheap and small pieces spread the work. Beyond that every pass
// comes from L3 and should serve as many rows as it can: one piece per thread, up to 128 rows.
// Rows never share a sum, so the split cannot change a bit.
inline std::size_t batch_piece(std::size_t batch, std::size_t weights, std::size_t threads) {
    if (weights <= 512 * 512) return 8;
    return std::clamp((batch / std::max<std::size_t>(threads, 1) + 7) / 8 * 8, std::size_t{8}, std::size_t{128});
}

}  // namespace recur::detail
