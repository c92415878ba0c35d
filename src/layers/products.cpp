#include "layers/products.hpp"

#include <cstring>
#include <utility>

#include "threads.hpp"

namespace recur::detail {

void pack_weights(float* packed, const float* b, std::size_t k, std::size_t n, std::size_t ld, bool transposed) {
    constexpr std::size_t columns = 192;  // whole panels on every instruction set
    const auto& kern = kernels::active();
    for_each_piece(n, columns, double(k) * n * kWorkPerFloatMoved, [&](std::size_t c0, std::size_t count) {
        kern.pack_columns(packed, b, k, n, ld, transposed, c0, c0 + count);
    });
}

void rows_times_matrix(float* out, const float* in, const float* w_packed, const float* bias, std::size_t rows,
                       std::size_t k, std::size_t n) {
    const auto& kern = kernels::active();
    for_each_piece(rows, 64, double(rows) * k * n, [&](std::size_t r0, std::size_t count) {
        kern.linear_forward_packed(out + r0 * n, in + r0 * k, w_packed, bias, count, k, n);
    });
}

void column_sums(float* out, const float* a, std::size_t rows, std::size_t n, std::size_t lda) {
    const auto& kern = kernels::active();
    for_each_piece(n, 64, double(rows) * n, [&](std::size_t j0, std::size_t count) {
        kern.column_sums(out + j0, a + j0, rows, count, lda);
    });
}

void weight_gradient(float* out, std::size_t ldout, const float* a, std::size_t lda, const float* b, std::size_t ldb,
                     std::size_t rows, std::size_t m, std::size_t n, float* scratch) {
    // Large blocks let each thread read less of the slab; at least two row blocks for dw.
    const std::size_t block_rows = m >= 512 ? 256 : m < 128 ? 32 : 64, block_cols = n >= 512 ? 384 : 192;
    const std::size_t row_blocks = (m + block_rows - 1) / block_rows, col_blocks = (n + block_cols - 1) / block_cols;
    // Rows of a of at most 512 bytes read well in place (eight or more to a page); wider ones
    // are copied out.
    const bool a_in_place = m <= 128;
    float* b_packed = scratch;
    float* a_blocks = scratch + kernels::packed_floats(kGradientSlab, n);  // block i0: slab rows x its width, at i0 * rows
    const auto& k = kernels::active();
    auto slab = [&](std::size_t round) {
        const std::size_t r0 = round * kGradientSlab;
        return std::pair{r0, std::min(kGradientSlab, rows - r0)};
    };
    for_each_piece_in_rounds(
        (rows + kGradientSlab - 1) / kGradientSlab, 2, row_blocks * col_blocks, double(rows) * m * n,
        [&](std::size_t round, std::size_t part) {
            const auto [r0, count] = slab(round);
            if (part == 0) return k.pack(b_packed, b + r0 * ldb, count, n, ldb, false);
            if (a_in_place) return;
            for (std::size_t p = 0; p < count; ++p)
                for (std::size_t i0 = 0; i0 < m; i0 += block_rows) {
                    const std::size_t width = std::min(block_rows, m - i0);
                    std::memcpy(a_blocks + i0 * count + p * width, a + (r0 + p) * lda + i0, width * sizeof(float));
                }
        },
        [&](std::size_t round, std::size_t block) {
            const auto [r0, count] = slab(round);
            const std::size_t i0 = block / col_blocks * block_rows, j0 = block % col_blocks * block_cols;
            const std::size_t width = std::min(block_rows, m - i0);
            const float* a_block = a_in_place ? a + r0 * lda + i0 : a_blocks + i0 * count;
            k.matmul_tn_packed(out + i0 * ldout + j0, a_block, a_in_place ? lda : width, b_packed, count, width, n, j0,
                               std::min(block_cols, n - j0), ldout, round > 0);
        });
}

}  // namespace recur::detail
