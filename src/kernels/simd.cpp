// The SIMD kernels. This file is compiled once per instruction set (see CMakeLists.txt):
// RECUR_ISA_AVX512, RECUR_ISA_AVX2 or RECUR_ISA_SSE2 picks the xsimd architecture and the
// namespace its table lives in; dispatch.cpp chooses among the tables at start-up.
//
// Every matrix product is the same register-blocked micro-kernel: a tile of MR rows by NV
// vectors of output columns stays in registers while the inner loop broadcasts one element
// of the left matrix and FMAs it across a row of the right one (no horizontal reductions).
// The right matrix is read as column panels NV vectors wide, each stored k-major so that
// the inner loop streams one contiguous block: weights are packed so once per use, other
// operands one k block of KC rows at a time into a buffer, partial sums waiting in the
// output between blocks.
// Each output element is always the same sequence of FMAs in k order, whatever tile, panel
// or block it falls in, so splitting rows or columns among threads cannot change a bit.
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "kernels.hpp"

#if defined(RECUR_ISA_AVX512)
#define RECUR_ISA_NAME avx512
using Arch = xsimd::avx512f;
#elif defined(RECUR_ISA_AVX2)
#define RECUR_ISA_NAME avx2
using Arch = xsimd::fma3<xsimd::avx2>;
#elif defined(RECUR_ISA_SSE2)
#define RECUR_ISA_NAME sse2
using Arch = xsimd::sse2;
#else
#error "define RECUR_ISA_AVX512, RECUR_ISA_AVX2 or RECUR_ISA_SSE2"
#endif
#define RECUR_STRINGIFY_(x) #x
#define RECUR_STRINGIFY(x) RECUR_STRINGIFY_(x)

namespace recur::kernels::RECUR_ISA_NAME {
namespace {

using Vec = xsimd::batch<float, Arch>;
constexpr std::size_t W = Vec::size;

// The register tile: MR x NV accumulators, NV vectors of the right matrix and one broadcast
// must fit in the register file (32 vectors with AVX-512, 16 otherwise).
#if defined(RECUR_ISA_AVX512)
constexpr std::size_t MR = 8, NV = 3;
#else
constexpr std::size_t MR = 4, NV = 3;
#endif
constexpr std::size_t NR = NV * W;  // panel width in floats
constexpr std::size_t KC = 128;     // k block of an operand copied on the fly

constexpr std::size_t round_up(std::size_t n, std::size_t m) { return (n + m - 1) / m * m; }

// One interface over a SIMD vector and a single float, so that elementwise tails run the
// same template as full vectors.
template <class V>
V load(const float* p) {
    if constexpr (std::is_same_v<V, float>) return *p;
    else return V::load_unaligned(p);
}
inline void store(float* p, float v) { *p = v; }
inline void store(float* p, Vec v) { v.store_unaligned(p); }

// Applies f to [0, n) in vectors, then the tail one float at a time.
template <class F>
void elementwise(std::size_t n, F&& f) {
    std::size_t i = 0;
    for (; i + W <= n; i += W) f.template operator()<Vec>(i);
    for (; i < n; ++i) f.template operator()<float>(i);
}

// The first `count` lanes (1..W) of a vector at p; the other lanes read as zero and are
// never written, so a matrix's last columns need no scalar loop.
inline Vec load_first(const float* p, std::size_t count) {
    if (count == W) return Vec::load_unaligned(p);
#if defined(RECUR_ISA_AVX512)
    return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << count) - 1), p);
#elif defined(RECUR_ISA_AVX2)
    return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)),
                                                    _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
#else
    alignas(16) float lanes[W];
    for (std::size_t i = 0; i < W; ++i) lanes[i] = i < count ? p[i] : 0.0f;
    return Vec::load_aligned(lanes);
#endif
}
inline void store_first(float* p, Vec v, std::size_t count) {
    if (count == W) return v.store_unaligned(p);
#if defined(RECUR_ISA_AVX512)
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << count) - 1), v);
#elif defined(RECUR_ISA_AVX2)
    _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)),
                                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)), v);
#else
    alignas(16) float lanes[W];
    v.store_aligned(lanes);
    for (std::size_t i = 0; i < count; ++i) p[i] = lanes[i];
#endif
}

// a * b + c, fused where the instruction set has FMA. xsimd 8 has no AVX-512 fma (its
// generic one is a multiply and an add), so that one is called directly.
inline Vec fmadd(Vec a, Vec b, Vec c) {
#if defined(RECUR_ISA_AVX512)
    return _mm512_fmadd_ps(a, b, c);
#else
    return xsimd::fma(a, b, c);
#endif
}

// e^x for x in [-87, 0], after Cephes's expf: x = n ln2 + r with |r| <= ln2 / 2, e^r by a
// polynomial, 2^n put straight into the exponent bits.
inline Vec exp_nonpositive(Vec x) {
    using Int = xsimd::batch<std::int32_t, Arch>;
    const Vec shifter(12582912.0f);  // 1.5 * 2^23: adding it rounds to an integer, kept in the low bits
    const Vec k = fmadd(x, Vec(1.44269504088896341f), shifter);
    const Vec n = k - shifter;
    const Vec r = fmadd(n, Vec(2.12194440e-4f), fmadd(n, Vec(-0.693359375f), x));
    Vec p(1.9875691500e-4f);
    p = fmadd(p, r, Vec(1.3981999507e-3f));
    p = fmadd(p, r, Vec(8.3334519073e-3f));
    p = fmadd(p, r, Vec(4.1665795894e-2f));
    p = fmadd(p, r, Vec(1.6666665459e-1f));
    p = fmadd(p, r, Vec(5.0000001201e-1f));
    const Vec e = fmadd(p, r * r, r + Vec(1.0f));
    const Int two_to_n = (xsimd::bitwise_cast<Int>(k) << 23) + Int(127 << 23);
    return e * xsimd::bitwise_cast<Vec>(two_to_n);
}

// 1 / x to about an ulp: the hardware's estimate refined by one Newton step, two FMAs where a
// division would hold the divider for ten cycles or more per vector.
inline Vec reciprocal(Vec x) {
#if defined(RECUR_ISA_AVX512)
    const Vec r = _mm512_rcp14_ps(x);
#elif defined(RECUR_ISA_AVX2)
    const Vec r = _mm256_rcp_ps(x);
#else
    const Vec r = _mm_rcp_ps(x);
#endif
    return fmadd(r, xsimd::fnma(x, r, Vec(1.0f)), r);
}

// NaN where x is NaN: the branch-free formulas below would turn it into a number (a max
// with a bound returns the bound), and a NaN must reach the loss as the oracle's does.
inline Vec keep_nan(Vec x, Vec y) { return xsimd::select(xsimd::isnan(x), x, y); }

inline float tanh_of(float x) { return std::tanh(x); }
// tanh within a few ulp, with no branch: an odd polynomial below |x| = 0.625 (Cephes's, as in
// xsimd), where 1 - e would cancel; (1 - e) / (1 + e) with e = exp(-2|x|) above it.
inline Vec tanh_of(Vec x) {
    const Vec ax = xsimd::abs(x), x2 = ax * ax;
    Vec p(-5.70498872745e-3f);
    p = fmadd(p, x2, Vec(2.06390887954e-2f));
    p = fmadd(p, x2, Vec(-5.37397155531e-2f));
    p = fmadd(p, x2, Vec(1.33314422036e-1f));
    p = fmadd(p, x2, Vec(-3.33332819422e-1f));
    const Vec small = fmadd(p * x2, ax, ax);
    const Vec e = exp_nonpositive(xsimd::max(Vec(-2.0f) * ax, Vec(-87.0f)));
    const Vec large = (Vec(1.0f) - e) * reciprocal(Vec(1.0f) + e);
    return keep_nan(x, xsimd::copysign(xsimd::select(ax < Vec(0.625f), small, large), x));
}
inline float sigmoid_of(float x) { return 1.0f / (1.0f + std::exp(-x)); }
inline Vec sigmoid_of(Vec x) { return Vec(1.0f) / (Vec(1.0f) + xsimd::exp(-x)); }
inline float exp_of(float x) { return std::exp(x); }
inline Vec exp_of(Vec x) { return xsimd::exp(x); }
inline float sqrt_of(float x) { return std::sqrt(x); }
inline Vec sqrt_of(Vec x) { return xsimd::sqrt(x); }
// max(x, 0), NaN staying NaN.
inline float relu_of(float x) { return x < 0.0f ? 0.0f : x; }
inline Vec relu_of(Vec x) { return keep_nan(x, xsimd::max(x, Vec(0.0f))); }
inline float positive_mask(float y) { return y > 0.0f ? 1.0f : 0.0f; }
inline Vec positive_mask(Vec y) { return xsimd::select(y > Vec(0.0f), Vec(1.0f), Vec(0.0f)); }

template <Act act, class V>
V activate(V x) {
    if constexpr (act == Act::tanh) return tanh_of(x);
    else if constexpr (act == Act::relu) return relu_of(x);
    else if constexpr (act == Act::sigmoid) return sigmoid_of(x);
    else return x;
}

// act'(x) from y = act(x).
template <Act act, class V>
V derivative(V y) {
    if constexpr (act == Act::tanh) return V(1.0f) - y * y;
    else if constexpr (act == Act::relu) return positive_mask(y);
    else if constexpr (act == Act::sigmoid) return y * (V(1.0f) - y);
    else return V(1.0f);
}

template <class F>
void with_act(Act act, F&& f) {
    switch (act) {
        case Act::tanh: f.template operator()<Act::tanh>(); return;
        case Act::relu: f.template operator()<Act::relu>(); return;
        case Act::sigmoid: f.template operator()<Act::sigmoid>(); return;
        case Act::linear: f.template operator()<Act::linear>(); return;
    }
}

// ---- matrix products: out = finish(start + A B) ----

// A k block of the left operand: A(i, p) = a[i * row + p * col], p counted from the block's start.
struct LeftBlock {
    const float* a;
    std::size_t row, col;
};

// The left operand as stored: rows x k, leading dimension ld.
struct RowMajor {
    static constexpr std::size_t k_block = SIZE_MAX;
    const float* a;
    std::size_t ld;
    LeftBlock block(std::size_t k0, std::size_t) const { return {a + k0, ld, 1}; }
};

// The left operand stored transposed (k x m, leading dimension ld), as the weight gradients
// read it. Each k block is copied out contiguous: in place its rows would sit a leading
// dimension apart, which for a power of two crowds them into a few L1 sets.
class Transposed {
public:
    static constexpr std::size_t k_block = KC, max_rows = 64;  // max_rows: m per product
    Transposed(const float* a, std::size_t ld, std::size_t m) : a_(a), ld_(ld), m_(m) {}
    LeftBlock block(std::size_t k0, std::size_t kc) {
        for (std::size_t p = 0; p < kc; ++p)
            for (std::size_t i = 0; i < m_; i += W)
                store(buffer_ + p * m_ + i, load_first(a_ + (k0 + p) * ld_ + i, std::min(W, m_ - i)));
        return {buffer_, 1, m_};
    }

private:
    const float* a_;
    std::size_t ld_, m_;
    alignas(64) float buffer_[KC * max_rows + W];  // + W: a block row may end in a partial vector
};

// The left operand stored transposed (k x m, leading dimension ld), read in place.
struct InPlaceTransposed {
    static constexpr std::size_t k_block = SIZE_MAX;
    const float* a;
    std::size_t ld;
    LeftBlock block(std::size_t k0, std::size_t) const { return {a + k0 * ld, 1, ld}; }
};

// What a product starts its accumulators from and does with them at the end, per vector of
// `count` valid lanes at row i, column j; out is also where partial sums wait between k blocks.
struct Plain {  // out = bias + A B, or out += A B when accumulating (bias may be null)
    float* out;
    std::size_t ldo;
    const float* bias;
    bool accumulate = false;
    Vec start(std::size_t i, std::size_t j, std::size_t count) const {
        if (accumulate) return load_first(out + i * ldo + j, count);
        return bias ? load_first(bias + j, count) : Vec(0.0f);
    }
    Vec finish(std::size_t, std::size_t, std::size_t, Vec acc) const { return acc; }
};
template <Act act>
struct StepForward {  // h = act(a + h_prev u)
    float* out;
    std::size_t ldo;
    const float* a;
    Vec start(std::size_t i, std::size_t j, std::size_t count) const { return load_first(a + i * ldo + j, count); }
    Vec finish(std::size_t, std::size_t, std::size_t, Vec acc) const { return activate<act>(acc); }
};
template <Act act>
struct StepBackward {  // da = (dh + da_next u^T) * act'(h), dh may be null
    float* out;
    std::size_t ldo;
    const float* dh;
    const float* h;
    Vec start(std::size_t i, std::size_t j, std::size_t count) const {
        return dh ? load_first(dh + i * ldo + j, count) : Vec(0.0f);
    }
    Vec finish(std::size_t i, std::size_t j, std::size_t count, Vec acc) const {
        if constexpr (act == Act::linear) return acc;  // h may be null: the gated cells' products
        else return acc * derivative<act>(load_first(h + i * ldo + j, count));
    }
};

// acc[r][v] += sum over p < k of A(r, p) b[p][v], b a panel block `width` floats wide.
template <std::size_t R, std::size_t V>
inline void multiply_add(Vec (&acc)[R][V], const float* a, std::size_t a_row, std::size_t a_col,
                         const float* b, std::size_t width, std::size_t k) {
    for (std::size_t p = 0; p < k; ++p, a += a_col, b += width) {
        Vec bv[V];
        for (std::size_t v = 0; v < V; ++v) bv[v] = Vec::load_unaligned(b + v * W);
        for (std::size_t r = 0; r < R; ++r) {
            const Vec av(a[r * a_row]);
            for (std::size_t v = 0; v < V; ++v) acc[r][v] = fmadd(av, bv[v], acc[r][v]);
        }
    }
}

// Rows [i0, i0 + R) by the panel's columns [j0, j0 + cols) over one k block of kc.
template <std::size_t R, std::size_t V, class Ops>
inline void tile(const Ops& ops, const LeftBlock& a, const float* b, std::size_t width, std::size_t kc,
                 std::size_t i0, std::size_t j0, std::size_t cols, bool first, bool last) {
    Vec acc[R][V];
    for (std::size_t r = 0; r < R; ++r)
        for (std::size_t v = 0; v < V; ++v) {
            const std::size_t j = j0 + v * W, count = std::min(W, cols - v * W);
            acc[r][v] = first ? ops.start(i0 + r, j, count) : load_first(ops.out + (i0 + r) * ops.ldo + j, count);
        }
    multiply_add(acc, a.a + i0 * a.row, a.row, a.col, b, width, kc);
    for (std::size_t r = 0; r < R; ++r)
        for (std::size_t v = 0; v < V; ++v) {
            const std::size_t j = j0 + v * W, count = std::min(W, cols - v * W);
            store_first(ops.out + (i0 + r) * ops.ldo + j, last ? ops.finish(i0 + r, j, count, acc[r][v]) : acc[r][v],
                        count);
        }
}

// Every row of one panel block: MR-row tiles, then the rest in tiles of 4, 2 and 1 rows, so
// that a few rows over a long k still run several chains of FMAs side by side.
template <std::size_t V, class Ops>
void tiles(const Ops& ops, const LeftBlock& a, const float* b, std::size_t width, std::size_t kc,
           std::size_t rows, std::size_t j0, std::size_t cols, bool first, bool last) {
    std::size_t i = 0;
    for (; i + MR <= rows; i += MR) tile<MR, V>(ops, a, b, width, kc, i, j0, cols, first, last);
    if constexpr (MR > 4)
        if (i + 4 <= rows) tile<4, V>(ops, a, b, width, kc, i, j0, cols, first, last), i += 4;
    if (i + 2 <= rows) tile<2, V>(ops, a, b, width, kc, i, j0, cols, first, last), i += 2;
    if (i < rows) tile<1, V>(ops, a, b, width, kc, i, j0, cols, first, last);
}

// Panel j0 of a k x n matrix holds columns [j0, j0 + cols) in `width` floats per row.
std::size_t panel_columns(std::size_t n, std::size_t j0) { return std::min(NR, n - j0); }

// The right operand already packed (Table::pack): panels one after another, k rows each,
// all but the last NR wide, so panel j0 starts at j0 * k.
struct Packed {
    static constexpr std::size_t k_block = 1024;  // all of k up to H = 1024: partial sums never leave the registers
    const float* packed;
    std::size_t k;
    const float* panel(std::size_t j0, std::size_t, std::size_t width, std::size_t k0, std::size_t) const {
        return packed + j0 * k + k0 * width;
    }
};

// A plain row-major right operand, packed one panel block at a time into a buffer.
class Unpacked {
public:
    static constexpr std::size_t k_block = KC;
    Unpacked(const float* b, std::size_t ld) : b_(b), ld_(ld) {}
    const float* panel(std::size_t j0, std::size_t cols, std::size_t width, std::size_t k0, std::size_t kc) {
        for (std::size_t p = 0; p < kc; ++p)
            for (std::size_t c = 0; c < width; c += W)
                store(buffer_ + p * width + c, load_first(b_ + (k0 + p) * ld_ + j0 + c, std::min(W, cols - c)));
        return buffer_;
    }

private:
    const float* b_;
    std::size_t ld_;
    alignas(64) float buffer_[KC * NR];
};

template <class F>
void with_vectors(std::size_t count, F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        ((count == I + 1 ? f.template operator()<I + 1>() : void()), ...);
    }(std::make_index_sequence<NV>{});
}

// out[rows x n] = finish(start + A B) for A rows x k: k blocks outermost, so that a block
// of A serves every panel while it is in cache; partial sums wait in out. Blocks are as
// long as the operands allow: reloading partial sums costs more than the cache it saves.
template <class Ops, class Left, class Right>
void product(const Ops& ops, Left&& A, Right&& B, std::size_t rows, std::size_t k, std::size_t n) {
    constexpr std::size_t k_block = std::min(std::decay_t<Left>::k_block, std::decay_t<Right>::k_block);
    std::size_t k0 = 0;
    do {
        const std::size_t kc = std::min(k_block, k - k0);
        const LeftBlock a = A.block(k0, kc);
        const bool first = k0 == 0, last = k0 + kc == k;
        for (std::size_t j0 = 0; j0 < n; j0 += NR) {
            const std::size_t cols = panel_columns(n, j0), width = round_up(cols, W);
            const float* b = B.panel(j0, cols, width, k0, kc);
            with_vectors(width / W, [&]<std::size_t V>() { tiles<V>(ops, a, b, width, kc, rows, j0, cols, first, last); });
        }
        k0 += kc;
    } while (k0 < k);
}

// b is read in its storage order, a row (or, transposed, a column) at a time: panel by panel,
// every row would be a jump of a leading dimension, a new page each for wide matrices.
void pack_columns(float* packed, const float* b, std::size_t k, std::size_t n, std::size_t ld, bool transposed,
                  std::size_t c0, std::size_t c1) {
    if (transposed) {
        for (std::size_t j0 = c0; j0 < c1; j0 += NR) {
            const std::size_t cols = panel_columns(n, j0), width = round_up(cols, W);
            float* panel = packed + j0 * k;
            for (std::size_t p = 0; p < k; ++p, panel += width)
                for (std::size_t c = 0; c < width; ++c) panel[c] = c < cols ? b[(j0 + c) * ld + p] : 0.0f;
        }
        return;
    }
    for (std::size_t p = 0; p < k; ++p)
        for (std::size_t j0 = c0; j0 < c1; j0 += NR) {
            const std::size_t cols = panel_columns(n, j0), width = round_up(cols, W);
            float* row = packed + j0 * k + p * width;
            for (std::size_t c = 0; c < width; c += W) store(row + c, load_first(b + p * ld + j0 + c, std::min(W, cols - c)));
        }
}

void pack(float* packed, const float* b, std::size_t k, std::size_t n, std::size_t ld, bool transposed) {
    pack_columns(packed, b, k, n, ld, transposed, 0, n);
}

void linear_forward(float* out, const float* in, const float* w, const float* bias,
                    std::size_t rows, std::size_t k, std::size_t n) {
    product(Plain{out, n, bias}, RowMajor{in, k}, Unpacked(w, n), rows, k, n);
}

void linear_forward_packed(float* out, const float* in, const float* w_packed, const float* bias,
                           std::size_t rows, std::size_t k, std::size_t n) {
    product(Plain{out, n, bias}, RowMajor{in, k}, Packed{w_packed, k}, rows, k, n);
}

void recurrent_forward(float* out, const float* a, std::size_t ld, const float* in, std::size_t ld_in,
                       const float* w_packed, std::size_t rows, std::size_t k, std::size_t n, Act act) {
    with_act(act, [&]<Act A>() {
        product(StepForward<A>{out, ld, a}, RowMajor{in, ld_in}, Packed{w_packed, k}, rows, k, n);
    });
}

void recurrent_backward(float* out, std::size_t ld, const float* dh, const float* d_next, std::size_t ld_next,
                        const float* wt_packed, const float* y, std::size_t rows, std::size_t k, std::size_t n,
                        Act act) {
    // Without d_next there is no product: k = 0, and the left operand is never read.
    const std::size_t depth = d_next ? k : 0;
    with_act(act, [&]<Act A>() {
        product(StepBackward<A>{out, ld, dh, y}, RowMajor{d_next ? d_next : out, ld_next}, Packed{wt_packed, k}, rows,
                depth, n);
    });
}

// ---- the gates of LSTM and GRU, row by row ----

// f<V>(row, j) over the units of every row: vectors, then a float tail.
template <class F>
void per_unit(std::size_t rows, std::size_t n, F&& f) {
    for (std::size_t r = 0; r < rows; ++r)
        elementwise(n, [&]<class V>(std::size_t j) { f.template operator()<V>(r, j); });
}

// f.template operator()<A, RA>() for the activation and the recurrent one.
template <class F>
void with_acts(Act a, Act ra, F&& f) {
    with_act(a, [&]<Act A>() { with_act(ra, [&]<Act RA>() { f.template operator()<A, RA>(); }); });
}

void lstm_forward(float* z, float* c, float* h, const float* c_prev, std::size_t rows, std::size_t n, Act a,
                  Act ra) {
    with_acts(a, ra, [&]<Act A, Act RA>() {
        per_unit(rows, n, [&]<class V>(std::size_t r, std::size_t j) {
            float* zr = z + r * 4 * n;
            const V i = activate<RA>(load<V>(zr + j)), f = activate<RA>(load<V>(zr + n + j));
            const V g = activate<A>(load<V>(zr + 2 * n + j)), o = activate<RA>(load<V>(zr + 3 * n + j));
            const V ct = f * load<V>(c_prev + r * n + j) + i * g;
            store(zr + j, i), store(zr + n + j, f), store(zr + 2 * n + j, g), store(zr + 3 * n + j, o);
            store(c + r * n + j, ct);
            store(h + r * n + j, o * activate<A>(ct));
        });
    });
}

void lstm_backward(float* z, float* dc, const float* dh, const float* c_prev, const float* c, std::size_t rows,
                   std::size_t n, Act a, Act ra) {
    with_acts(a, ra, [&]<Act A, Act RA>() {
        per_unit(rows, n, [&]<class V>(std::size_t r, std::size_t j) {
            float* zr = z + r * 4 * n;
            const V i = load<V>(zr + j), f = load<V>(zr + n + j), g = load<V>(zr + 2 * n + j), o = load<V>(zr + 3 * n + j);
            const V d = load<V>(dh + r * n + j), ac = activate<A>(load<V>(c + r * n + j));
            const V dct = load<V>(dc + r * n + j) + d * o * derivative<A>(ac);
            store(zr + j, dct * g * derivative<RA>(i));
            store(zr + n + j, dct * load<V>(c_prev + r * n + j) * derivative<RA>(f));
            store(zr + 2 * n + j, dct * i * derivative<A>(g));
            store(zr + 3 * n + j, d * ac * derivative<RA>(o));
            store(dc + r * n + j, dct * f);
        });
    });
}

void gru_forward(float* z, const float* p, float* h, const float* h_prev, std::size_t rows, std::size_t n, Act a,
                 Act ra) {
    with_acts(a, ra, [&]<Act A, Act RA>() {
        per_unit(rows, n, [&]<class V>(std::size_t r, std::size_t j) {
            float* zr = z + r * 3 * n;
            const float* pr = p + r * 3 * n;
            const V u = activate<RA>(load<V>(zr + j) + load<V>(pr + j));
            const V rr = activate<RA>(load<V>(zr + n + j) + load<V>(pr + n + j));
            const V hh = activate<A>(load<V>(zr + 2 * n + j) + rr * load<V>(pr + 2 * n + j));
            store(zr + j, u), store(zr + n + j, rr), store(zr + 2 * n + j, hh);
            const V hp = load<V>(h_prev + r * n + j);
            store(h + r * n + j, u * hp + (V(1.0f) - u) * hh);
        });
    });
}

void gru_backward(float* z, float* p, float* carry, const float* dh, const float* h_prev, std::size_t rows,
                  std::size_t n, Act a, Act ra) {
    with_acts(a, ra, [&]<Act A, Act RA>() {
        per_unit(rows, n, [&]<class V>(std::size_t r, std::size_t j) {
            float* zr = z + r * 3 * n;
            float* pr = p + r * 3 * n;
            const V u = load<V>(zr + j), rr = load<V>(zr + n + j), hh = load<V>(zr + 2 * n + j);
            const V d = load<V>(dh + r * n + j) + load<V>(carry + r * n + j);
            const V dhh = d * (V(1.0f) - u) * derivative<A>(hh);
            const V dz = d * (load<V>(h_prev + r * n + j) - hh) * derivative<RA>(u);
            const V dr = dhh * load<V>(pr + 2 * n + j) * derivative<RA>(rr);
            store(zr + j, dz), store(zr + n + j, dr), store(zr + 2 * n + j, dhh);
            store(pr + j, dz), store(pr + n + j, dr), store(pr + 2 * n + j, dhh * rr);
            store(carry + r * n + j, d * u);
        });
    });
}

void gru_reset(float* rh, const float* z, const float* h_prev, std::size_t rows, std::size_t n) {
    per_unit(rows, n, [&]<class V>(std::size_t r, std::size_t j) {
        store(rh + r * n + j, load<V>(z + r * 3 * n + n + j) * load<V>(h_prev + r * n + j));
    });
}

void gru_update(float* h, const float* z, const float* h_prev, std::size_t rows, std::size_t n) {
    per_unit(rows, n, [&]<class V>(std::size_t r, std::size_t j) {
        const V u = load<V>(z + r * 3 * n + j), hh = load<V>(z + r * 3 * n + 2 * n + j);
        store(h + r * n + j, u * load<V>(h_prev + r * n + j) + (V(1.0f) - u) * hh);
    });
}

void gru_update_backward(float* z, float* carry, const float* dh, const float* h_prev, std::size_t rows,
                         std::size_t n, Act a, Act ra) {
    with_acts(a, ra, [&]<Act A, Act RA>() {
        per_unit(rows, n, [&]<class V>(std::size_t r, std::size_t j) {
            float* zr = z + r * 3 * n;
            const V u = load<V>(zr + j), hh = load<V>(zr + 2 * n + j);
            const V d = load<V>(dh + r * n + j) + load<V>(carry + r * n + j);
            store(zr + j, d * (load<V>(h_prev + r * n + j) - hh) * derivative<RA>(u));
            store(zr + 2 * n + j, d * (V(1.0f) - u) * derivative<A>(hh));
            store(carry + r * n + j, d * u);
        });
    });
}

void gru_reset_backward(float* z, float* carry, const float* e, const float* h_prev, std::size_t rows, std::size_t n,
                        Act ra) {
    with_act(ra, [&]<Act RA>() {
        per_unit(rows, n, [&]<class V>(std::size_t r, std::size_t j) {
            float* zr = z + r * 3 * n;
            const V rr = load<V>(zr + n + j), ej = load<V>(e + r * n + j);
            store(zr + n + j, ej * load<V>(h_prev + r * n + j) * derivative<RA>(rr));
            store(carry + r * n + j, load<V>(carry + r * n + j) + ej * rr);
        });
    });
}

// ---- the recurrence with the batch in the lanes ----
// Units are taken U at a time, so that each vector of the previous state loaded serves U FMAs
// and U chains of them overlap. u is read as stored: its elements are broadcast.

template <Act act, std::size_t U>
inline void lanes_forward_units(float* h, const float* a, const float* h_prev, const float* u, std::size_t n,
                                std::size_t j) {
    Vec acc[U];
    for (std::size_t q = 0; q < U; ++q) acc[q] = Vec::load_unaligned(a + (j + q) * W);
    for (std::size_t k = 0; k < n; ++k) {
        const Vec hk = Vec::load_unaligned(h_prev + k * W);
        for (std::size_t q = 0; q < U; ++q) acc[q] = fmadd(hk, Vec(u[k * n + j + q]), acc[q]);
    }
    for (std::size_t q = 0; q < U; ++q) store(h + (j + q) * W, activate<act>(acc[q]));
}

template <Act act, std::size_t U>
inline void lanes_backward_units(float* da, const float* da_next, const float* h, const float* u, std::size_t n,
                                 std::size_t j) {
    Vec acc[U];
    for (std::size_t q = 0; q < U; ++q) acc[q] = Vec::load_unaligned(da + (j + q) * W);
    if (da_next)
        for (std::size_t k = 0; k < n; ++k) {
            const Vec dk = Vec::load_unaligned(da_next + k * W);
            for (std::size_t q = 0; q < U; ++q) acc[q] = fmadd(dk, Vec(u[(j + q) * n + k]), acc[q]);
        }
    for (std::size_t q = 0; q < U; ++q)
        store(da + (j + q) * W, acc[q] * derivative<act>(Vec::load_unaligned(h + (j + q) * W)));
}

// f.template operator()<U>(j) over units [0, n): four at a time, then two, then one.
template <class F>
void in_unit_blocks(std::size_t n, F&& f) {
    std::size_t j = 0;
    for (; j + 4 <= n; j += 4) f.template operator()<4>(j);
    if (j + 2 <= n) f.template operator()<2>(j), j += 2;
    if (j < n) f.template operator()<1>(j);
}

void rnn_forward_lanes(float* hs, const float* a, const float* u, std::size_t, std::size_t n, std::size_t T,
                       Act act) {
    const std::size_t block = n * W;
    with_act(act, [&]<Act A>() {
        for (std::size_t t = 0; t < T; ++t)
            in_unit_blocks(n, [&]<std::size_t U>(std::size_t j) {
                lanes_forward_units<A, U>(hs + (t + 1) * block, a + t * block, hs + t * block, u, n, j);
            });
    });
}

void rnn_backward_lanes(float* da, const float* hs, const float* u, std::size_t, std::size_t n, std::size_t T,
                        Act act) {
    const std::size_t block = n * W;
    with_act(act, [&]<Act A>() {
        for (std::size_t t = T; t-- > 0;)
            in_unit_blocks(n, [&]<std::size_t U>(std::size_t j) {
                lanes_backward_units<A, U>(da + t * block, t + 1 < T ? da + (t + 1) * block : nullptr,
                                           hs + (t + 1) * block, u, n, j);
            });
    });
}

void matmul_tn(float* out, const float* a, const float* b, std::size_t rows, std::size_t m,
               std::size_t n, std::size_t lda, std::size_t ldb, std::size_t ldout, bool accumulate) {
    for (std::size_t i0 = 0; i0 < m; i0 += Transposed::max_rows) {
        const std::size_t count = std::min(Transposed::max_rows, m - i0);
        product(Plain{out + i0 * ldout, ldout, nullptr, accumulate}, Transposed(a + i0, lda, count), Unpacked(b, ldb),
                count, rows, n);
    }
}

void matmul_tn_packed(float* out, const float* a, std::size_t lda, const float* b_packed, std::size_t k,
                      std::size_t m, std::size_t, std::size_t j0, std::size_t cols, std::size_t ldout,
                      bool accumulate) {
    product(Plain{out, ldout, nullptr, accumulate}, InPlaceTransposed{a, lda}, Packed{b_packed + j0 * k, k}, m, k,
            cols);
}

// Four vectors of columns at a time, so that four chains of adds overlap.
void column_sums(float* out, const float* a, std::size_t rows, std::size_t n, std::size_t lda) {
    constexpr std::size_t chains = 4;
    for (std::size_t j0 = 0; j0 < n; j0 += chains * W) {
        std::size_t count[chains];
        Vec sum[chains];
        for (std::size_t v = 0; v < chains; ++v) {
            const std::size_t j = j0 + v * W;
            count[v] = j < n ? std::min(W, n - j) : 0;
            sum[v] = Vec(0.0f);
        }
        for (std::size_t r = 0; r < rows; ++r)
            for (std::size_t v = 0; v < chains; ++v)
                if (count[v]) sum[v] += load_first(a + r * lda + j0 + v * W, count[v]);
        for (std::size_t v = 0; v < chains; ++v)
            if (count[v]) store_first(out + j0 + v * W, sum[v], count[v]);
    }
}

void activation_forward(float* y, const float* x, std::size_t n, Act act) {
    with_act(act, [&]<Act A>() {
        elementwise(n, [&]<class V>(std::size_t i) { store(y + i, activate<A>(load<V>(x + i))); });
    });
}

void activation_backward(float* dx, const float* dy, const float* y, std::size_t n, Act act) {
    with_act(act, [&]<Act A>() {
        elementwise(n, [&]<class V>(std::size_t i) {
            store(dx + i, load<V>(dy + i) * derivative<A>(load<V>(y + i)));
        });
    });
}

void softmax_forward(float* y, const float* x, std::size_t rows, std::size_t n) {
    for (std::size_t r = 0; r < rows; ++r) {
        const float* xr = x + r * n;
        float* yr = y + r * n;
        const float max = *std::max_element(xr, xr + n);
        float sum = 0.0f;
        elementwise(n, [&]<class V>(std::size_t i) {
            const V e = exp_of(load<V>(xr + i) - V(max));
            store(yr + i, e);
            if constexpr (std::is_same_v<V, float>) sum += e;
            else sum += xsimd::hadd(e);
        });
        const float inv = 1.0f / sum;
        elementwise(n, [&]<class V>(std::size_t i) { store(yr + i, load<V>(yr + i) * V(inv)); });
    }
}

void softmax_backward(float* dx, const float* dy, const float* y, std::size_t rows, std::size_t n) {
    for (std::size_t r = 0; r < rows; ++r) {
        const float* dyr = dy + r * n;
        const float* yr = y + r * n;
        float dot = 0.0f;
        for (std::size_t j = 0; j < n; ++j) dot += dyr[j] * yr[j];
        elementwise(n, [&]<class V>(std::size_t i) {
            store(dx + r * n + i, load<V>(yr + i) * (load<V>(dyr + i) - V(dot)));
        });
    }
}

void sgd_update(float* p, const float* g, float* velocity, std::size_t n, float lr,
                float momentum, bool nesterov, float keep) {
    if (momentum == 0.0f) {
        elementwise(n, [&]<class V>(std::size_t i) {
            store(p + i, load<V>(p + i) * V(keep) - V(lr) * load<V>(g + i));
        });
        return;
    }
    elementwise(n, [&]<class V>(std::size_t i) {
        const V step = V(lr) * load<V>(g + i);
        const V v = V(momentum) * load<V>(velocity + i) - step;
        store(velocity + i, v);
        store(p + i, load<V>(p + i) * V(keep) + (nesterov ? V(momentum) * v - step : v));
    });
}

inline float max_of(float a, float b) { return std::max(a, b); }
inline Vec max_of(Vec a, Vec b) { return xsimd::max(a, b); }

// Adam's and Nadam's running moments at i, stored and returned: m = b1 m + (1 - b1) g,
// v = b2 v + (1 - b2) g^2.
template <class V>
std::pair<V, V> moments(V gi, float* m, float* v, std::size_t i, float beta1, float beta2) {
    const V mi = V(beta1) * load<V>(m + i) + V(1.0f - beta1) * gi;
    const V vi = V(beta2) * load<V>(v + i) + V(1.0f - beta2) * gi * gi;
    store(m + i, mi);
    store(v + i, vi);
    return {mi, vi};
}

void adam_update(float* p, const float* g, float* m, float* v, float* v_max, std::size_t n, float lr_t,
                 float beta1, float beta2, float eps, float keep) {
    elementwise(n, [&]<class V>(std::size_t i) {
        const V gi = load<V>(g + i);
        const auto [mi, vi] = moments(gi, m, v, i, beta1, beta2);
        V second = vi;
        if (v_max) {
            second = max_of(load<V>(v_max + i), vi);
            store(v_max + i, second);
        }
        store(p + i, load<V>(p + i) * V(keep) - V(lr_t) * mi / (sqrt_of(second) + V(eps)));
    });
}

void rmsprop_update(float* p, const float* g, float* ms, std::size_t n, float lr, float rho,
                    float eps, float keep) {
    elementwise(n, [&]<class V>(std::size_t i) {
        const V gi = load<V>(g + i);
        const V si = V(rho) * load<V>(ms + i) + V(1.0f - rho) * gi * gi;
        store(ms + i, si);
        store(p + i, load<V>(p + i) * V(keep) - V(lr) * gi / sqrt_of(si + V(eps)));
    });
}

void adagrad_update(float* p, const float* g, float* acc, std::size_t n, float lr, float eps, float keep) {
    elementwise(n, [&]<class V>(std::size_t i) {
        const V gi = load<V>(g + i);
        const V ai = load<V>(acc + i) + gi * gi;
        store(acc + i, ai);
        store(p + i, load<V>(p + i) * V(keep) - V(lr) * gi / sqrt_of(ai + V(eps)));
    });
}

void nadam_update(float* p, const float* g, float* m, float* v, std::size_t n, float lr, float beta1,
                  float beta2, float eps, float m_factor, float g_factor, float v_factor, float keep) {
    elementwise(n, [&]<class V>(std::size_t i) {
        const V gi = load<V>(g + i);
        const auto [mi, vi] = moments(gi, m, v, i, beta1, beta2);
        const V m_hat = V(m_factor) * mi + V(g_factor) * gi;
        store(p + i, load<V>(p + i) * V(keep) - V(lr) * m_hat / (sqrt_of(vi * V(v_factor)) + V(eps)));
    });
}

}  // namespace

extern const Table table{RECUR_STRINGIFY(RECUR_ISA_NAME),
                         W,
                         pack,
                         pack_columns,
                         linear_forward,
                         linear_forward_packed,
                         recurrent_forward,
                         recurrent_backward,
                         rnn_forward_lanes,
                         rnn_backward_lanes,
                         lstm_forward,
                         lstm_backward,
                         gru_forward,
                         gru_backward,
                         gru_reset,
                         gru_update,
                         gru_update_backward,
                         gru_reset_backward,
                         matmul_tn,
                         matmul_tn_packed,
                         column_sums,
                         activation_forward,
                         activation_backward,
                         softmax_forward,
                         softmax_backward,
                         sgd_update,
                         adam_update,
                         rmsprop_update,
                         adagrad_update,
                         nadam_update};

}  // namespace recur::kernels::RECUR_ISA_NAME
