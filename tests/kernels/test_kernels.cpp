// Every SIMD table this CPU runs against the scalar oracle, on sizes that are not
// multiples of any vector width.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernels.hpp"

namespace k = recur::kernels;

namespace {

const std::size_t kSizes[] = {1, 3, 17, 33, 130};
const k::Act kActs[] = {k::Act::linear, k::Act::tanh, k::Act::relu, k::Act::sigmoid};

std::vector<float> random_vector(std::size_t n, unsigned seed, float scale = 1.0f) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> dist(-scale, scale);
    std::vector<float> v(n);
    for (float& x : v) x = dist(gen);
    return v;
}

// max |a - b| / max(1, max |b|): sums of up to 130 products agree to a few float ulps.
void check_close(const std::vector<float>& got, const std::vector<float>& want, float tolerance = 2e-6f) {
    REQUIRE(got.size() == want.size());
    float scale = 1.0f, worst = 0.0f;
    for (float w : want) scale = std::max(scale, std::abs(w));
    for (std::size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::abs(got[i] - want[i]));
    CHECK(worst / scale <= tolerance);
}

std::vector<const k::Table*> simd_tables() {
    auto tables = k::supported();
    REQUIRE(!tables.empty());
    CHECK(std::string(tables.back()->isa) == "sse2");  // every x86-64 CPU has SSE2
    return tables;
}

}  // namespace

TEST_CASE("the active table is one this CPU supports") {
    const k::Table& active = k::active();
    CHECK(k::find(active.isa) == &active);
    CHECK(k::find("no-such-isa") == nullptr);
}

// b (k x n, or n x k when transposed; dense, or with row stride ld) packed by table t.
std::vector<float> packed(const k::Table& t, const std::vector<float>& b, std::size_t kk, std::size_t n,
                          bool transposed = false, std::size_t ld = 0) {
    std::vector<float> p(k::packed_floats(kk, n));
    t.pack(p.data(), b.data(), kk, n, ld ? ld : transposed ? kk : n, transposed);
    return p;
}

TEST_CASE("packing in pieces of columns writes what packing all at once does") {
    std::vector<const k::Table*> tables = simd_tables();
    tables.push_back(&k::reference());
    for (const k::Table* t : tables)
        for (bool transposed : {false, true})
            for (std::size_t n : {1, 17, 130, 300}) {
                CAPTURE(t->isa); CAPTURE(transposed); CAPTURE(n);
                const std::size_t kk = 7;
                const auto b = random_vector(kk * n, 30);
                const auto whole = packed(*t, b, kk, n, transposed);
                std::vector<float> pieces(whole.size());  // zero, as in packed(): tables need not fill the padding
                for (std::size_t c0 = 0; c0 < n; c0 += 48)
                    t->pack_columns(pieces.data(), b.data(), kk, n, transposed ? kk : n, transposed, c0,
                                    std::min(n, c0 + 48));
                CHECK(pieces == whole);
            }
}

TEST_CASE("linear_forward matches the oracle, with w plain or packed") {
    for (const k::Table* t : simd_tables())
        for (std::size_t rows : {1, 5, 17})
            for (std::size_t kk : kSizes)
                for (std::size_t n : kSizes) {
                    CAPTURE(t->isa); CAPTURE(rows); CAPTURE(kk); CAPTURE(n);
                    auto in = random_vector(rows * kk, 1), w = random_vector(kk * n, 2), b = random_vector(n, 3);
                    const auto w_packed = packed(*t, w, kk, n);
                    std::vector<float> got(rows * n), want(rows * n), got_packed(rows * n);
                    for (const float* bias : {static_cast<const float*>(b.data()), static_cast<const float*>(nullptr)}) {
                        t->linear_forward(got.data(), in.data(), w.data(), bias, rows, kk, n);
                        t->linear_forward_packed(got_packed.data(), in.data(), w_packed.data(), bias, rows, kk, n);
                        k::reference().linear_forward(want.data(), in.data(), w.data(), bias, rows, kk, n);
                        check_close(got, want);
                        CHECK(got_packed == got);
                    }
                }
}

TEST_CASE("the recurrent step's product matches the oracle: any k and n, strided rows, in place, any row split") {
    for (const k::Table* t : simd_tables())
        for (k::Act act : kActs)
            for (std::size_t rows : {1, 4, 9, 21})
                for (std::size_t n : kSizes)
                    for (std::size_t kk : {n, std::size_t{7}}) {
                        CAPTURE(t->isa); CAPTURE(static_cast<int>(act)); CAPTURE(rows); CAPTURE(n); CAPTURE(kk);
                        const std::size_t ld = n + 5, ld_in = kk + 3;  // rows of a wider block, as a gate's are
                        auto a = random_vector(rows * ld, 4), h = random_vector(rows * ld_in, 5),
                             u = random_vector(kk * n, 6, 1.0f / std::sqrt(float(kk)));
                        const auto u_packed = packed(*t, u, kk, n);
                        std::vector<float> got(rows * ld), want(rows * ld), split(rows * ld);
                        t->recurrent_forward(got.data(), a.data(), ld, h.data(), ld_in, u_packed.data(), rows, kk, n, act);
                        k::reference().recurrent_forward(want.data(), a.data(), ld, h.data(), ld_in, u.data(), rows, kk, n, act);
                        for (std::size_t r = 0; r < rows; ++r)  // the columns past n are not written
                            for (std::size_t j = n; j < ld; ++j) got[r * ld + j] = want[r * ld + j] = 0.0f;
                        check_close(got, want, 4e-6f);
                        auto in_place = a;
                        t->recurrent_forward(in_place.data(), in_place.data(), ld, h.data(), ld_in, u_packed.data(), rows,
                                             kk, n, act);
                        for (std::size_t r = 0; r < rows; ++r)
                            for (std::size_t j = 0; j < n; ++j) CHECK(in_place[r * ld + j] == got[r * ld + j]);
                        const std::size_t first = rows / 2;  // as a threaded split runs it
                        t->recurrent_forward(split.data(), a.data(), ld, h.data(), ld_in, u_packed.data(), first, kk, n, act);
                        t->recurrent_forward(split.data() + first * ld, a.data() + first * ld, ld, h.data() + first * ld_in,
                                             ld_in, u_packed.data(), rows - first, kk, n, act);
                        for (std::size_t r = 0; r < rows; ++r)
                            for (std::size_t j = 0; j < n; ++j) CHECK(split[r * ld + j] == got[r * ld + j]);
                    }
}

TEST_CASE("the recurrent step's backward matches the oracle, with and without its optional inputs") {
    for (const k::Table* t : simd_tables())
        for (k::Act act : kActs)
            for (std::size_t n : kSizes)
                for (std::size_t kk : {n, std::size_t{4} * n}) {
                    const std::size_t rows = 11, ld = n + 2, ld_next = kk + 6;
                    CAPTURE(t->isa); CAPTURE(static_cast<int>(act)); CAPTURE(n); CAPTURE(kk);
                    auto dh = random_vector(rows * ld, 7), d_next = random_vector(rows * ld_next, 8),
                         u = random_vector(n * kk, 9, 1.0f / std::sqrt(float(kk))), h = random_vector(rows * ld, 10, 0.99f);
                    // u holds the forward's n x kk weights; the backward reads their transpose, kk x n.
                    const auto ut_packed = packed(*t, u, kk, n, true), ut_oracle = packed(k::reference(), u, kk, n, true);
                    std::vector<float> got(rows * ld), want(rows * ld), split(rows * ld);
                    for (int variant = 0; variant < 3; ++variant) {
                        CAPTURE(variant);
                        const float* dh_p = variant == 1 ? nullptr : dh.data();
                        const float* next_p = variant == 2 ? nullptr : d_next.data();
                        // Without an activation the step's output is never read: the gated cells pass none.
                        const float* h_p = act == k::Act::linear ? nullptr : h.data();
                        t->recurrent_backward(got.data(), ld, dh_p, next_p, ld_next, ut_packed.data(), h_p, rows, kk, n,
                                              act);
                        k::reference().recurrent_backward(want.data(), ld, dh_p, next_p, ld_next, ut_oracle.data(),
                                                          h.data(), rows, kk, n, act);
                        for (std::size_t r = 0; r < rows; ++r)
                            for (std::size_t j = n; j < ld; ++j) got[r * ld + j] = want[r * ld + j] = 0.0f;
                        check_close(got, want, 4e-6f);
                        const std::size_t first = 3;  // as a threaded split runs it
                        t->recurrent_backward(split.data(), ld, dh_p, next_p, ld_next, ut_packed.data(), h.data(), first,
                                              kk, n, act);
                        t->recurrent_backward(split.data() + first * ld, ld, dh_p ? dh_p + first * ld : nullptr,
                                              next_p ? next_p + first * ld_next : nullptr, ld_next, ut_packed.data(),
                                              h.data() + first * ld, rows - first, kk, n, act);
                        for (std::size_t r = 0; r < rows; ++r)
                            for (std::size_t j = 0; j < n; ++j) CHECK(split[r * ld + j] == got[r * ld + j]);
                    }
                }
}

// The gate kernels of LSTM and GRU against the oracle, for every pair of activations.
TEST_CASE("LSTM's and GRU's gate math matches the oracle, forward and backward") {
    for (const k::Table* t : simd_tables())
        for (k::Act a : kActs)
            for (k::Act ra : kActs)
                for (std::size_t n : kSizes) {
                    const std::size_t rows = 5;
                    CAPTURE(t->isa); CAPTURE(static_cast<int>(a)); CAPTURE(static_cast<int>(ra)); CAPTURE(n);
                    const auto h_prev = random_vector(rows * n, 20), dh = random_vector(rows * n, 21);
                    {  // LSTM
                        auto z = random_vector(rows * 4 * n, 22), want_z = z;
                        const auto c_prev = random_vector(rows * n, 23);
                        std::vector<float> c(rows * n), h(rows * n), want_c(rows * n), want_h(rows * n);
                        t->lstm_forward(z.data(), c.data(), h.data(), c_prev.data(), rows, n, a, ra);
                        k::reference().lstm_forward(want_z.data(), want_c.data(), want_h.data(), c_prev.data(), rows, n, a, ra);
                        check_close(z, want_z, 4e-6f);
                        check_close(c, want_c, 4e-6f);
                        check_close(h, want_h, 4e-6f);
                        auto dc = random_vector(rows * n, 24), want_dc = dc;
                        auto want_dz = want_z;
                        t->lstm_backward(z.data(), dc.data(), dh.data(), c_prev.data(), want_c.data(), rows, n, a, ra);
                        k::reference().lstm_backward(want_dz.data(), want_dc.data(), dh.data(), c_prev.data(), want_c.data(),
                                                     rows, n, a, ra);
                        check_close(z, want_dz, 2e-5f);
                        check_close(dc, want_dc, 2e-5f);
                    }
                    {  // GRU, reset after the product
                        auto z = random_vector(rows * 3 * n, 25), want_z = z, p = random_vector(rows * 3 * n, 26);
                        auto want_p = p;
                        std::vector<float> h(rows * n), want_h(rows * n);
                        t->gru_forward(z.data(), p.data(), h.data(), h_prev.data(), rows, n, a, ra);
                        k::reference().gru_forward(want_z.data(), want_p.data(), want_h.data(), h_prev.data(), rows, n, a, ra);
                        check_close(z, want_z, 4e-6f);
                        check_close(h, want_h, 4e-6f);
                        auto carry = random_vector(rows * n, 27), want_carry = carry;
                        t->gru_backward(z.data(), p.data(), carry.data(), dh.data(), h_prev.data(), rows, n, a, ra);
                        k::reference().gru_backward(want_z.data(), want_p.data(), want_carry.data(), dh.data(), h_prev.data(),
                                                    rows, n, a, ra);
                        check_close(z, want_z, 2e-5f);
                        check_close(p, want_p, 2e-5f);
                        check_close(carry, want_carry, 2e-5f);
                    }
                    {  // GRU, reset before the product: the elementwise pieces around its two products
                        auto z = random_vector(rows * 3 * n, 28, 0.9f);
                        for (float& v : z) v = std::abs(v);  // activated gates
                        auto want_z = z;
                        std::vector<float> rh(rows * n), want_rh(rows * n), h(rows * n), want_h(rows * n);
                        t->gru_reset(rh.data(), z.data(), h_prev.data(), rows, n);
                        k::reference().gru_reset(want_rh.data(), z.data(), h_prev.data(), rows, n);
                        check_close(rh, want_rh);
                        t->gru_update(h.data(), z.data(), h_prev.data(), rows, n);
                        k::reference().gru_update(want_h.data(), z.data(), h_prev.data(), rows, n);
                        check_close(h, want_h);
                        auto carry = random_vector(rows * n, 29), want_carry = carry;
                        t->gru_update_backward(z.data(), carry.data(), dh.data(), h_prev.data(), rows, n, a, ra);
                        k::reference().gru_update_backward(want_z.data(), want_carry.data(), dh.data(), h_prev.data(), rows,
                                                           n, a, ra);
                        check_close(z, want_z, 2e-5f);
                        check_close(carry, want_carry, 2e-5f);
                        const auto e = random_vector(rows * n, 30);
                        t->gru_reset_backward(z.data(), carry.data(), e.data(), h_prev.data(), rows, n, ra);
                        k::reference().gru_reset_backward(want_z.data(), want_carry.data(), e.data(), h_prev.data(), rows, n,
                                                          ra);
                        check_close(z, want_z, 2e-5f);
                        check_close(carry, want_carry, 2e-5f);
                    }
                }
}

// Rows-major blocks (rows x n) from unit-major ones (n x lanes) and back.
std::vector<float> transpose(const std::vector<float>& in, std::size_t blocks, std::size_t rows, std::size_t cols) {
    std::vector<float> out(in.size());
    for (std::size_t b = 0; b < blocks; ++b)
        for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t c = 0; c < cols; ++c) out[b * rows * cols + c * rows + r] = in[b * rows * cols + r * cols + c];
    return out;
}

TEST_CASE("the batch-in-lanes recurrence matches the oracle, and the row kernels bit for bit") {
    for (const k::Table* t : simd_tables())
        for (k::Act act : kActs)
            for (std::size_t n : {std::size_t{1}, std::size_t{3}, t->lanes - 1})
                for (std::size_t T : {1, 6}) {
                    const std::size_t L = t->lanes, block = n * L;
                    CAPTURE(t->isa); CAPTURE(static_cast<int>(act)); CAPTURE(n); CAPTURE(T);
                    auto a = random_vector(T * block, 11), u = random_vector(n * n, 12, 1.0f / std::sqrt(float(n)));
                    auto hs = random_vector((T + 1) * block, 13), want_hs = hs;
                    t->rnn_forward_lanes(hs.data(), a.data(), u.data(), L, n, T, act);
                    k::reference().rnn_forward_lanes(want_hs.data(), a.data(), u.data(), L, n, T, act);
                    check_close(hs, want_hs, 2e-5f);  // T steps, each within a few ulp

                    // The same steps one at a time through the row kernel, rows x n.
                    const auto a_rows = transpose(a, T, n, L);
                    auto hs_rows = transpose(hs, T + 1, n, L);
                    const auto u_packed = packed(*t, u, n, n);
                    for (std::size_t s = 0; s < T; ++s)
                        t->recurrent_forward(hs_rows.data() + (s + 1) * block, a_rows.data() + s * block, n,
                                             hs_rows.data() + s * block, n, u_packed.data(), L, n, n, act);
                    CHECK(transpose(hs_rows, T + 1, L, n) == hs);

                    auto da = random_vector(T * block, 14), want_da = da;
                    for (float& v : hs) v = std::tanh(v);  // states an activation could give
                    const auto dh_rows = transpose(da, T, n, L);
                    t->rnn_backward_lanes(da.data(), hs.data(), u.data(), L, n, T, act);
                    k::reference().rnn_backward_lanes(want_da.data(), hs.data(), u.data(), L, n, T, act);
                    check_close(da, want_da, 2e-5f);

                    const auto ut_packed = packed(*t, u, n, n, true);
                    const auto h_rows = transpose(hs, T + 1, n, L);
                    std::vector<float> da_rows(T * block);
                    for (std::size_t s = T; s-- > 0;)
                        t->recurrent_backward(da_rows.data() + s * block, n, dh_rows.data() + s * block,
                                              s + 1 < T ? da_rows.data() + (s + 1) * block : nullptr, n, ut_packed.data(),
                                              h_rows.data() + (s + 1) * block, L, n, n, act);
                    CHECK(transpose(da_rows, T, L, n) == da);
                }
}

TEST_CASE("matmul_tn matches the oracle, also on a block of output rows, columns or input rows") {
    for (const k::Table* t : simd_tables())
        for (std::size_t rows : {1, 7, 40, 300})
            for (std::size_t m : kSizes)
                for (std::size_t n : kSizes) {
                    CAPTURE(t->isa); CAPTURE(rows); CAPTURE(m); CAPTURE(n);
                    auto a = random_vector(rows * m, 11), b = random_vector(rows * n, 12);
                    std::vector<float> got(m * n), want(m * n);
                    t->matmul_tn(got.data(), a.data(), b.data(), rows, m, n, m, n, n, false);
                    k::reference().matmul_tn(want.data(), a.data(), b.data(), rows, m, n, m, n, n, false);
                    check_close(got, want);
                    if (m > 2) {  // rows 1 .. m-1 of the output, as a threaded split computes them
                        std::vector<float> block((m - 1) * n);
                        t->matmul_tn(block.data(), a.data() + 1, b.data(), rows, m - 1, n, m, n, n, false);
                        CHECK(std::equal(block.begin(), block.end(), got.begin() + n));
                    }
                    if (rows > 2) {  // the first rows, then the rest added on: the same bits
                        std::vector<float> sum(m * n);
                        const std::size_t first = rows / 3;
                        t->matmul_tn(sum.data(), a.data(), b.data(), first, m, n, m, n, n, false);
                        t->matmul_tn(sum.data(), a.data() + first * m, b.data() + first * n, rows - first, m, n, m,
                                     n, n, true);
                        CHECK(sum == got);
                    }
                    if (n > 2) {  // columns 1 .. n-1 of the output, written in place
                        std::vector<float> block(m * n, 0.0f);
                        t->matmul_tn(block.data() + 1, a.data(), b.data() + 1, rows, m, n - 1, m, n, n, false);
                        for (std::size_t i = 0; i < m; ++i)
                            CHECK(std::equal(block.begin() + i * n + 1, block.begin() + (i + 1) * n, got.begin() + i * n + 1));
                    }
                }
}

TEST_CASE("matmul_tn_packed matches the oracle and matmul_tn's bits, on any block of panels") {
    for (const k::Table* t : simd_tables())
        for (std::size_t rows : {1, 40, 256})
            for (std::size_t m : kSizes)
                for (std::size_t n : {std::size_t{1}, std::size_t{17}, std::size_t{130}}) {
                    CAPTURE(t->isa); CAPTURE(rows); CAPTURE(m); CAPTURE(n);
                    auto a = random_vector(rows * m, 21), b = random_vector(rows * n, 22);
                    const auto b_packed = packed(*t, b, rows, n);
                    std::vector<float> got(m * n), want(m * n), plain(m * n);
                    t->matmul_tn_packed(got.data(), a.data(), m, b_packed.data(), rows, m, n, 0, n, n, false);
                    k::reference().matmul_tn_packed(want.data(), a.data(), m, b.data(), rows, m, n, 0, n, n, false);
                    check_close(got, want);
                    t->matmul_tn(plain.data(), a.data(), b.data(), rows, m, n, m, n, n, false);
                    CHECK(got == plain);  // the same FMAs in the same order as the unpacked form
                    if (n > 48) {  // columns from 48 on, added onto what is there
                        std::vector<float> block = got;
                        t->matmul_tn_packed(block.data() + 48, a.data(), m, b_packed.data(), rows, m, n, 48, n - 48, n, true);
                        std::vector<float> doubled(m * n);
                        t->matmul_tn(doubled.data(), a.data(), b.data(), rows, m, n, m, n, n, false);
                        t->matmul_tn(doubled.data() + 48, a.data(), b.data() + 48, rows, m, n - 48, m, n, n, true);
                        CHECK(block == doubled);
                    }
                }
}

TEST_CASE("column sums and elementwise activations match the oracle") {
    for (const k::Table* t : simd_tables())
        for (std::size_t n : kSizes) {
            CAPTURE(t->isa); CAPTURE(n);
            auto a = random_vector(7 * n, 13, 3.0f), dy = random_vector(7 * n, 14);
            std::vector<float> got(n), want(n);
            t->column_sums(got.data(), a.data(), 7, n, n);
            k::reference().column_sums(want.data(), a.data(), 7, n, n);
            check_close(got, want);
            if (n > 2) {  // columns 1 .. n-1, as a threaded split computes them
                std::vector<float> block(n - 1);
                t->column_sums(block.data(), a.data() + 1, 7, n - 1, n);
                CHECK(std::equal(block.begin(), block.end(), got.begin() + 1));
            }
            for (k::Act act : kActs) {
                CAPTURE(static_cast<int>(act));
                std::vector<float> y_got(7 * n), y_want(7 * n), d_got(7 * n), d_want(7 * n);
                t->activation_forward(y_got.data(), a.data(), 7 * n, act);
                k::reference().activation_forward(y_want.data(), a.data(), 7 * n, act);
                check_close(y_got, y_want, 4e-6f);
                t->activation_backward(d_got.data(), dy.data(), y_want.data(), 7 * n, act);
                k::reference().activation_backward(d_want.data(), dy.data(), y_want.data(), 7 * n, act);
                check_close(d_got, d_want, 4e-6f);
            }
        }
}

TEST_CASE("the vectorised tanh stays within a few ulp of std::tanh over its whole range") {
    std::vector<float> x;
    for (float v = -12.0f; v <= 12.0f; v += 0.001953125f) x.push_back(v);
    for (const k::Table* t : simd_tables()) {
        CAPTURE(t->isa);
        std::vector<float> y(x.size());
        t->activation_forward(y.data(), x.data(), x.size(), k::Act::tanh);
        float worst_ulps = 0.0f;
        for (std::size_t i = 0; i < x.size(); ++i) {
            const float want = std::tanh(x[i]);
            const float ulp = std::nextafter(std::abs(want), 2.0f) - std::abs(want);
            worst_ulps = std::max(worst_ulps, std::abs(y[i] - want) / ulp);
        }
        CHECK(worst_ulps <= 4.0f);
    }
}

// NaN where the oracle has NaN, and the other values close: a NaN must reach the loss.
void check_same_nans(const std::vector<float>& got, const std::vector<float>& want) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        CAPTURE(i);
        CHECK(std::isnan(got[i]) == std::isnan(want[i]));
        if (std::isinf(want[i])) CHECK(got[i] == want[i]);
        else if (!std::isnan(want[i])) CHECK(std::abs(got[i] - want[i]) <= 4e-6f * std::max(1.0f, std::abs(want[i])));
    }
}

TEST_CASE("activations and the gates carry NaN and infinities as the oracle does") {
    const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
    std::vector<float> x = random_vector(37, 40, 4.0f);  // vectors and a tail on every instruction set
    for (std::size_t i : {0, 9, 18, 36}) x[i] = nan;
    x[5] = inf, x[6] = -inf, x[7] = 100.0f, x[8] = -100.0f;
    for (const k::Table* t : simd_tables())
        for (k::Act act : kActs) {
            CAPTURE(t->isa); CAPTURE(static_cast<int>(act));
            std::vector<float> got(x.size()), want(x.size());
            t->activation_forward(got.data(), x.data(), x.size(), act);
            k::reference().activation_forward(want.data(), x.data(), x.size(), act);
            check_same_nans(got, want);
            for (std::size_t i : {0, 9, 18, 36}) CHECK(std::isnan(got[i]));
        }
    const std::size_t rows = 2, n = 37;
    for (const k::Table* t : simd_tables()) {
        CAPTURE(t->isa);
        auto z = random_vector(rows * 4 * n, 41), c_prev = random_vector(rows * n, 42);
        z[3] = nan, z[n + 12] = nan, z[4 * n + 2 * n + 36] = nan, z[4 * n + 3 * n + 20] = inf;
        auto want_z = z;
        std::vector<float> c(rows * n), h(rows * n), want_c(rows * n), want_h(rows * n);
        t->lstm_forward(z.data(), c.data(), h.data(), c_prev.data(), rows, n, k::Act::tanh, k::Act::sigmoid);
        k::reference().lstm_forward(want_z.data(), want_c.data(), want_h.data(), c_prev.data(), rows, n, k::Act::tanh,
                                    k::Act::sigmoid);
        check_same_nans(h, want_h);
        check_same_nans(c, want_c);
        CHECK(std::isnan(h[3]));
        CHECK(std::isnan(h[n + 36]));

        auto g = random_vector(rows * 3 * n, 43), p = random_vector(rows * 3 * n, 44), h_prev = random_vector(rows * n, 45);
        g[2 * n + 5] = nan, p[3 * n + n + 30] = nan;
        auto want_g = g, want_p = p;
        std::vector<float> gh(rows * n), want_gh(rows * n);
        t->gru_forward(g.data(), p.data(), gh.data(), h_prev.data(), rows, n, k::Act::tanh, k::Act::sigmoid);
        k::reference().gru_forward(want_g.data(), want_p.data(), want_gh.data(), h_prev.data(), rows, n, k::Act::tanh,
                                   k::Act::sigmoid);
        check_same_nans(gh, want_gh);
        CHECK(std::isnan(gh[5]));
        CHECK(std::isnan(gh[n + 30]));
    }
}

TEST_CASE("softmax and its backward match the oracle") {
    for (const k::Table* t : simd_tables())
        for (std::size_t n : kSizes) {
            CAPTURE(t->isa); CAPTURE(n);
            auto x = random_vector(5 * n, 15, 20.0f), dy = random_vector(5 * n, 16);
            std::vector<float> got(5 * n), want(5 * n), d_got(5 * n), d_want(5 * n);
            t->softmax_forward(got.data(), x.data(), 5, n);
            k::reference().softmax_forward(want.data(), x.data(), 5, n);
            check_close(got, want, 4e-6f);
            t->softmax_backward(d_got.data(), dy.data(), want.data(), 5, n);
            k::reference().softmax_backward(d_want.data(), dy.data(), want.data(), 5, n);
            check_close(d_got, d_want, 4e-6f);
        }
}

TEST_CASE("optimizer updates match the oracle") {
    for (const k::Table* t : simd_tables())
        for (std::size_t n : kSizes) {
            CAPTURE(t->isa); CAPTURE(n);
            const auto g = random_vector(n, 17), p0 = random_vector(n, 18), s0 = random_vector(n, 19);
            auto v0 = random_vector(n, 20);
            for (float& v : v0) v = std::abs(v);
            for (float momentum : {0.0f, 0.9f})
                for (bool nesterov : {false, true}) {
                    auto p1 = p0, p2 = p0, s1 = s0, s2 = s0;
                    t->sgd_update(p1.data(), g.data(), s1.data(), n, 0.1f, momentum, nesterov, 0.99f);
                    k::reference().sgd_update(p2.data(), g.data(), s2.data(), n, 0.1f, momentum, nesterov, 0.99f);
                    check_close(p1, p2);
                    check_close(s1, s2);
                }
            for (bool amsgrad : {false, true}) {
                auto p1 = p0, p2 = p0, m1 = s0, m2 = s0, v1 = v0, v2 = v0;
                std::vector<float> h1(n), h2(n);  // v_max, below and above v by turns
                for (std::size_t i = 0; i < n; ++i) h1[i] = h2[i] = v0[i] * (i % 2 ? 0.5f : 2.0f);
                t->adam_update(p1.data(), g.data(), m1.data(), v1.data(), amsgrad ? h1.data() : nullptr, n, 0.01f, 0.9f,
                               0.999f, 1e-7f, 0.999f);
                k::reference().adam_update(p2.data(), g.data(), m2.data(), v2.data(), amsgrad ? h2.data() : nullptr, n,
                                           0.01f, 0.9f, 0.999f, 1e-7f, 0.999f);
                check_close(p1, p2);
                check_close(m1, m2);
                check_close(v1, v2);
                check_close(h1, h2);
            }
            auto q1 = p0, q2 = p0, r1 = v0, r2 = v0;
            t->rmsprop_update(q1.data(), g.data(), r1.data(), n, 0.01f, 0.9f, 1e-7f, 0.98f);
            k::reference().rmsprop_update(q2.data(), g.data(), r2.data(), n, 0.01f, 0.9f, 1e-7f, 0.98f);
            check_close(q1, q2);
            check_close(r1, r2);
            auto a1 = p0, a2 = p0, c1 = v0, c2 = v0;
            t->adagrad_update(a1.data(), g.data(), c1.data(), n, 0.01f, 1e-7f, 0.97f);
            k::reference().adagrad_update(a2.data(), g.data(), c2.data(), n, 0.01f, 1e-7f, 0.97f);
            check_close(a1, a2);
            check_close(c1, c2);
            auto n1 = p0, n2 = p0, nm1 = s0, nm2 = s0, nv1 = v0, nv2 = v0;
            t->nadam_update(n1.data(), g.data(), nm1.data(), nv1.data(), n, 0.01f, 0.9f, 0.999f, 1e-7f, 0.9f, 0.6f, 1.5f, 0.99f);
            k::reference().nadam_update(n2.data(), g.data(), nm2.data(), nv2.data(), n, 0.01f, 0.9f, 0.999f, 1e-7f, 0.9f, 0.6f,
                                        1.5f, 0.99f);
            check_close(n1, n2);
            check_close(nm1, nm2);
            check_close(nv1, nv2);
        }
}
