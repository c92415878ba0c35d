#include "layers/products.hpp"

#include <algorithm>
#include <cstdint>
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

namespace {

// Output rows are summed a block of a few at a time: blocks of this many keep the slab's copy
// of a block (kGradientSlab x 16 floats) and the panel of b it meets near the core while each
// output tile is summed.
constexpr std::size_t kGradientBlockRows = 16;
// Rows of a up to this many floats (512 bytes, eight or more to a page) are read in place;
// wider ones are copied out a block at a time.
constexpr std::size_t kInPlaceWidth = 128;
// A column of ones read in place: every row of a at the same float.
constexpr float kOne = 1.0f;

// The parts' output rows in blocks, and where each block's a lies.
class GradientRows {
public:
    struct Block {
        const GradientPart* part;
        std::size_t i0, width;
        std::size_t copied;  // the block's first row among the copied rows; SIZE_MAX: read in place
    };

    explicit GradientRows(std::initializer_list<GradientPart> parts) : parts_(parts) {
        for (const GradientPart& part : parts_) {
            if (!part.out) continue;
            blocks_ += (part.m + kGradientBlockRows - 1) / kGradientBlockRows;
            m_ += part.m;
            if (copied(part)) copied_ += part.m;
        }
    }
    std::size_t blocks() const { return blocks_; }
    std::size_t rows() const { return m_; }
    std::size_t copied_rows() const { return copied_; }

    Block block(std::size_t index) const {
        std::size_t first_copied = 0;
        for (const GradientPart& part : parts_) {
            if (!part.out) continue;
            const std::size_t blocks = (part.m + kGradientBlockRows - 1) / kGradientBlockRows;
            if (index < blocks) {
                const std::size_t i0 = index * kGradientBlockRows;
                return {&part, i0, std::min(kGradientBlockRows, part.m - i0),
                        copied(part) ? first_copied + i0 : SIZE_MAX};
            }
            index -= blocks;
            if (copied(part)) first_copied += part.m;
        }
        return {nullptr, 0, 0, 0};
    }

private:
    static bool copied(const GradientPart& part) { return part.a && part.m > kInPlaceWidth; }

    std::initializer_list<GradientPart> parts_;
    std::size_t blocks_ = 0, m_ = 0, copied_ = 0;
};

}  // namespace

std::size_t weight_gradient_floats(std::size_t m, std::size_t n) {
    return add(kernels::packed_floats(kGradientSlab, n), mul(kGradientSlab, m));
}

void weight_gradient(std::initializer_list<GradientPart> parts, std::size_t ldout, const float* b, std::size_t ldb,
                     std::size_t rows, std::size_t n, float* scratch) {
    const GradientRows out_rows(parts);
    const std::size_t row_blocks = out_rows.blocks();
    if (row_blocks == 0) return;
    if (rows == 0) {
        for (const GradientPart& part : parts)
            for (std::size_t i = 0; part.out && i < part.m; ++i) std::fill_n(part.out + i * ldout, n, 0.0f);
        return;
    }
    // Column blocks of 192 (whole panels on every instruction set): a slab's block of packed b
    // (384 KB) stays in a core's L2 while every row block passes it; the pieces go column
    // block by column block, so that each thread packs and reads a part of b of its own.
    constexpr std::size_t block_cols = 192;
    const std::size_t col_blocks = (n + block_cols - 1) / block_cols;
    float* b_packed = scratch;
    float* a_copy = scratch + kernels::packed_floats(kGradientSlab, n);  // block: slab rows x its width
    const auto& k = kernels::active();
    auto slab = [&](std::size_t round) {
        const std::size_t r0 = round * kGradientSlab;
        return std::pair{r0, std::min(kGradientSlab, rows - r0)};
    };
    // Setup: column block j packs its columns of b; then two halves of the slab's rows copy the
    // wide parts of a, each row in one run.
    constexpr std::size_t copy_parts = 2;
    for_each_piece_in_rounds(
        (rows + kGradientSlab - 1) / kGradientSlab, col_blocks + (out_rows.copied_rows() ? copy_parts : 0),
        col_blocks * row_blocks, double(rows) * out_rows.rows() * n,
        [&](std::size_t round, std::size_t setup) {
            const auto [r0, count] = slab(round);
            if (setup < col_blocks) {
                const std::size_t c0 = setup * block_cols;
                return k.pack_columns(b_packed, b + r0 * ldb, count, n, ldb, false, c0, std::min(n, c0 + block_cols));
            }
            const std::size_t half = (count + 1) / 2, p0 = (setup - col_blocks) * half, p1 = std::min(count, p0 + half);
            for (std::size_t p = p0; p < p1; ++p)
                for (std::size_t i = 0; i < row_blocks; ++i) {
                    const GradientRows::Block block = out_rows.block(i);
                    if (block.copied == SIZE_MAX) continue;
                    const float* row = block.part->a + (r0 + p) * block.part->lda + block.i0;
                    std::copy_n(row, block.width, a_copy + block.copied * count + p * block.width);
                }
        },
        [&](std::size_t round, std::size_t piece) {
            const auto [r0, count] = slab(round);
            const GradientRows::Block block = out_rows.block(piece % row_blocks);
            const GradientPart& part = *block.part;
            const std::size_t j0 = piece / row_blocks * block_cols;
            const float* a = part.a ? part.a + r0 * part.lda + block.i0 : &kOne;
            std::size_t lda = part.a ? part.lda : 0;
            if (block.copied != SIZE_MAX) a = a_copy + block.copied * count, lda = block.width;
            k.matmul_tn_packed(part.out + block.i0 * ldout + j0, a, lda, b_packed, count, block.width, n, j0,
                               std::min(block_cols, n - j0), ldout, round > 0);
        });
}

}  // namespace recur::detail
