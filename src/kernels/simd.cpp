// The SIMD kernels. This file is compiled once per instruction set (see CMakeLists.txt):
// RECUR_ISA_AVX512, RECUR_ISA_AVX2 or RECUR_ISA_SSE2 picks the xsimd architecture and the
// namespace its table lives in; dispatch.cpp chooses among the tables at start-up.
//
// Every matrix product is the same register-blocked micro-kernel: a tile of R rows by NV
// vectors of output columns stays in registers while the inner loop broadcasts one element
// of the left matrix and FMAs it across the right matrix's row (no horizontal reductions).
// Each output element is always the same sequence of FMAs in k order, whatever the tile,
// so splitting rows among threads cannot change a single bit of the result.
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cmath>

#include "kernels.hpp"

#if defined(RECUR_ISA_AVX512)
#define RECUR_ISA_NAME avx512
using Arch = xsimd::avx512f;
#define RECUR_SCALAR_FMA 1
#elif defined(RECUR_ISA_AVX2)
#define RECUR_ISA_NAME avx2
using Arch = xsimd::fma3<xsimd::avx2>;
#define RECUR_SCALAR_FMA 1
#elif defined(RECUR_ISA_SSE2)
#define RECUR_ISA_NAME sse2
using Arch = xsimd::sse2;
#define RECUR_SCALAR_FMA 0
#else
#error "define RECUR_ISA_AVX512, RECUR_ISA_AVX2 or RECUR_ISA_SSE2"
#endif
#define RECUR_STRINGIFY_(x) #x
#define RECUR_STRINGIFY(x) RECUR_STRINGIFY_(x)

namespace recur::kernels::RECUR_ISA_NAME {
namespace {

using Vec = xsimd::batch<float, Arch>;
constexpr std::size_t W = Vec::size;

// One interface over a SIMD vector and a single float, so that column tails run the same
// template as full vectors. The scalar fma matches the vector one (fused where FMA exists).
template <class V>
V load(const float* p) {
    if constexpr (std::is_same_v<V, float>) return *p;
    else return V::load_unaligned(p);
}
inline void store(float* p, float v) { *p = v; }
inline void store(float* p, Vec v) { v.store_unaligned(p); }
inline float fmadd(float a, float b, float c) {
#if RECUR_SCALAR_FMA
    return std::fma(a, b, c);
#else
    return a * b + c;
#endif
}
inline Vec fmadd(Vec a, Vec b, Vec c) { return xsimd::fma(a, b, c); }
inline float tanh_of(float x) { return std::tanh(x); }
inline Vec tanh_of(Vec x) { return xsimd::tanh(x); }
inline float exp_of(float x) { return std::exp(x); }
inline Vec exp_of(Vec x) { return xsimd::exp(x); }
inline float sqrt_of(float x) { return std::sqrt(x); }
inline Vec sqrt_of(Vec x) { return xsimd::sqrt(x); }
inline float max_of(float a, float b) { return std::max(a, b); }
inline Vec max_of(Vec a, Vec b) { return xsimd::max(a, b); }
inline float positive_mask(float y) { return y > 0.0f ? 1.0f : 0.0f; }
inline Vec positive_mask(Vec y) { return xsimd::select(y > Vec(0.0f), Vec(1.0f), Vec(0.0f)); }

template <Act act, class V>
V activate(V x) {
    if constexpr (act == Act::tanh) return tanh_of(x);
    else if constexpr (act == Act::relu) return max_of(x, V(0.0f));
    else if constexpr (act == Act::sigmoid) return V(1.0f) / (V(1.0f) + exp_of(-x));
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

// Where a tile's accumulators start.
struct ZeroInit {
    template <class V>
    V at(std::size_t, std::size_t) const { return V(0.0f); }
};
struct RowInit {  // a bias row, the same for every output row
    const float* row;
    template <class V>
    V at(std::size_t, std::size_t j) const { return load<V>(row + j); }
};
struct MatrixInit {
    const float* m;
    std::size_t ld;
    template <class V>
    V at(std::size_t i, std::size_t j) const { return load<V>(m + i * ld + j); }
};

// What a tile does with its accumulators.
template <Act act>
struct StoreActivated {
    float* c;
    std::size_t ldc;
    template <class V>
    void put(std::size_t i, std::size_t j, V acc) const { store(c + i * ldc + j, activate<act>(acc)); }
};
template <Act act>
struct StoreTimesDerivative {  // c = acc * act'(y)
    float* c;
    std::size_t ldc;
    const float* y;
    template <class V>
    void put(std::size_t i, std::size_t j, V acc) const {
        store(c + i * ldc + j, acc * derivative<act>(load<V>(y + i * ldc + j)));
    }
};

// C[i][j] = put(init(i, j) + sum_p A(i, p) B[p][j]) where A(i, p) = a[i * a_row + p * a_col]:
// a_row = k, a_col = 1 reads A as stored; a_row = 1, a_col = lda reads it transposed.
struct Operands {
    const float* a;
    std::size_t a_row, a_col;
    const float* b;
    std::size_t ldb;
    std::size_t k;
};

template <std::size_t R, std::size_t NV, class V, class Init, class Out>
inline void tile(const Operands& op, std::size_t i0, std::size_t j0, const Init& init,
                 const Out& out) {
    constexpr std::size_t w = std::is_same_v<V, float> ? 1 : W;
    V acc[R][NV];
    for (std::size_t r = 0; r < R; ++r)
        for (std::size_t v = 0; v < NV; ++v) acc[r][v] = init.template at<V>(i0 + r, j0 + v * w);
    const float* a = op.a + i0 * op.a_row;
    const float* b = op.b + j0;
    for (std::size_t p = 0; p < op.k; ++p) {
        V bv[NV];
        for (std::size_t v = 0; v < NV; ++v) bv[v] = load<V>(b + p * op.ldb + v * w);
        for (std::size_t r = 0; r < R; ++r) {
            const V av(a[r * op.a_row + p * op.a_col]);
            for (std::size_t v = 0; v < NV; ++v) acc[r][v] = fmadd(av, bv[v], acc[r][v]);
        }
    }
    for (std::size_t r = 0; r < R; ++r)
        for (std::size_t v = 0; v < NV; ++v) out.put(i0 + r, j0 + v * w, acc[r][v]);
}

// All rows of one column panel [j0, j0 + NV * w): 4-row tiles, then single rows.
template <std::size_t NV, class V, class Init, class Out>
inline void panel(const Operands& op, std::size_t rows, std::size_t j0, const Init& init,
                  const Out& out) {
    std::size_t i = 0;
    for (; i + 4 <= rows; i += 4) tile<4, NV, V>(op, i, j0, init, out);
    for (; i < rows; ++i) tile<1, NV, V>(op, i, j0, init, out);
}

template <class Init, class Out>
void gemm(const Operands& op, std::size_t rows, std::size_t n, const Init& init, const Out& out) {
    std::size_t j = 0;
    for (; j + 4 * W <= n; j += 4 * W) panel<4, Vec>(op, rows, j, init, out);
    for (; j + W <= n; j += W) panel<1, Vec>(op, rows, j, init, out);
    for (; j < n; ++j) panel<1, float>(op, rows, j, init, out);
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

void linear_forward(float* out, const float* in, const float* w, const float* bias,
                    std::size_t rows, std::size_t k, std::size_t n) {
    const Operands op{in, k, 1, w, n, k};
    const StoreActivated<Act::linear> store_out{out, n};
    if (bias) gemm(op, rows, n, RowInit{bias}, store_out);
    else gemm(op, rows, n, ZeroInit{}, store_out);
}

void rnn_step_forward(float* h, const float* a, const float* h_prev, const float* u,
                      std::size_t rows, std::size_t n, Act act) {
    const Operands op{h_prev, n, 1, u, n, n};
    with_act(act, [&]<Act A>() { gemm(op, rows, n, MatrixInit{a, n}, StoreActivated<A>{h, n}); });
}

void rnn_step_backward(float* da, const float* dh, const float* da_next, const float* ut,
                       const float* h, std::size_t rows, std::size_t n, Act act) {
    const Operands op{da_next, n, 1, ut, n, da_next ? n : 0};
    with_act(act, [&]<Act A>() {
        const StoreTimesDerivative<A> out{da, n, h};
        if (dh) gemm(op, rows, n, MatrixInit{dh, n}, out);
        else gemm(op, rows, n, ZeroInit{}, out);
    });
}

void matmul_tn(float* out, const float* a, const float* b, std::size_t rows, std::size_t m,
               std::size_t n, std::size_t lda, std::size_t ldb, std::size_t ldout) {
    const Operands op{a, 1, lda, b, ldb, rows};
    gemm(op, m, n, ZeroInit{}, StoreActivated<Act::linear>{out, ldout});
}

void column_sums(float* out, const float* a, std::size_t rows, std::size_t n) {
    std::size_t j = 0;
    for (; j + W <= n; j += W) {
        Vec sum(0.0f);
        for (std::size_t r = 0; r < rows; ++r) sum += Vec::load_unaligned(a + r * n + j);
        sum.store_unaligned(out + j);
    }
    for (; j < n; ++j) {
        float sum = 0.0f;
        for (std::size_t r = 0; r < rows; ++r) sum += a[r * n + j];
        out[j] = sum;
    }
}

// Applies f to [0, n) in vectors, then the tail one float at a time.
template <class F>
void elementwise(std::size_t n, F&& f) {
    std::size_t i = 0;
    for (; i + W <= n; i += W) f.template operator()<Vec>(i);
    for (; i < n; ++i) f.template operator()<float>(i);
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
                float momentum, bool nesterov) {
    if (momentum == 0.0f) {
        elementwise(n, [&]<class V>(std::size_t i) { store(p + i, load<V>(p + i) - V(lr) * load<V>(g + i)); });
        return;
    }
    elementwise(n, [&]<class V>(std::size_t i) {
        const V step = V(lr) * load<V>(g + i);
        const V v = V(momentum) * load<V>(velocity + i) - step;
        store(velocity + i, v);
        store(p + i, load<V>(p + i) + (nesterov ? V(momentum) * v - step : v));
    });
}

void adam_update(float* p, const float* g, float* m, float* v, std::size_t n, float lr_t,
                 float beta1, float beta2, float eps) {
    elementwise(n, [&]<class V>(std::size_t i) {
        const V gi = load<V>(g + i);
        const V mi = V(beta1) * load<V>(m + i) + V(1.0f - beta1) * gi;
        const V vi = V(beta2) * load<V>(v + i) + V(1.0f - beta2) * gi * gi;
        store(m + i, mi);
        store(v + i, vi);
        store(p + i, load<V>(p + i) - V(lr_t) * mi / (sqrt_of(vi) + V(eps)));
    });
}

void rmsprop_update(float* p, const float* g, float* ms, std::size_t n, float lr, float rho,
                    float eps) {
    elementwise(n, [&]<class V>(std::size_t i) {
        const V gi = load<V>(g + i);
        const V si = V(rho) * load<V>(ms + i) + V(1.0f - rho) * gi * gi;
        store(ms + i, si);
        store(p + i, load<V>(p + i) - V(lr) * gi / (sqrt_of(si) + V(eps)));
    });
}

}  // namespace

extern const Table table{
    RECUR_STRINGIFY(RECUR_ISA_NAME), linear_forward,  rnn_step_forward,   rnn_step_backward, matmul_tn,
    column_sums,         activation_forward, activation_backward, softmax_forward,
    softmax_backward,    sgd_update,      adam_update,        rmsprop_update};

}  // namespace recur::kernels::RECUR_ISA_NAME
