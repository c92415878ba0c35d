#pragma once
// The matrix products every layer's passes are made of, split over threads in fixed pieces
// (so that 1, 2 or 8 threads give the same bits): packing weights for the kernels, a batch of
// rows times a matrix, and weight gradients a^T b over many rows (biases' among them).
#include <algorithm>
#include <cstddef>
#include <initializer_list>

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

// Rows of a and b the weight gradients lay out for the kernels at a time: long enough that a
// tile's partial sums, waiting in the output between slabs, are reloaded rarely.
inline constexpr std::size_t kGradientSlab = 512;

// One block of rows of a weight gradient: out (m rows) = a^T b, a rows x m with row stride
// lda. A null a stands for a column of ones (m = 1): out gets the column sums of b, a bias's
// gradient. A null out leaves the part out (a layer without bias).
struct GradientPart {
    float* out;
    const float* a;
    std::size_t lda, m;
};

// Floats of the scratch weight_gradient needs for parts of m rows in all and n columns.
std::size_t weight_gradient_floats(std::size_t m, std::size_t n);

// Every part's out (row stride ldout) = its a^T b over `rows` rows, b rows x n with row stride
// ldb, in one pass over b: a slab of kGradientSlab rows at a time, b's slab packed once for
// all parts and wide parts' a copied out in blocks of a few columns (each row read in one run;
// block by block, every wide row would be a jump to another page), then fixed blocks of output
// go through it, whatever the thread count. Each output is a sum over the rows in order, so a
// bias's gradient has the bits of a plain column sum. scratch holds
// weight_gradient_floats(sum of m, n).
void weight_gradient(std::initializer_list<GradientPart> parts, std::size_t ldout, const float* b, std::size_t ldb,
                     std::size_t rows, std::size_t n, float* scratch);

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
