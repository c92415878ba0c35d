#pragma once
// Every hot loop of recur, behind one table of function pointers per instruction set.
// The table in reference.cpp is the plain scalar oracle the SIMD tables are tested against.
// All matrices are row-major float32. Outputs come first. Kernels trust their arguments.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace recur::kernels {

enum class Act { linear, tanh, relu, sigmoid };

struct Table {
    const char* isa;    // "avx512", "avx2", "sse2", "reference"
    std::size_t lanes;  // floats per vector: the group size of the lanes kernels (the oracle's: any)

    // Lays out the k x n matrix B (b holds B, or B^T when `transposed`) as the column panels
    // this table's product kernels stream through, in packed_floats(k, n) floats. Weights are
    // packed once per use of a weight value, not once per product.
    void (*pack)(float* packed, const float* b, std::size_t k, std::size_t n, bool transposed);
    // The same for the panels of columns [c0, c1) only (c0 a multiple of 48, c1 one or n),
    // written where pack puts them: a packing cut into pieces for several threads.
    void (*pack_columns)(float* packed, const float* b, std::size_t k, std::size_t n, bool transposed,
                         std::size_t c0, std::size_t c1);

    // out[rows x n] = in[rows x k] w[k x n] + bias[n] (bias may be null).
    void (*linear_forward)(float* out, const float* in, const float* w, const float* bias,
                           std::size_t rows, std::size_t k, std::size_t n);
    // The same with w packed by `pack`.
    void (*linear_forward_packed)(float* out, const float* in, const float* w_packed,
                                  const float* bias, std::size_t rows, std::size_t k, std::size_t n);
    // The fused recurrence step: h[rows x n] = act(a + h_prev[rows x n] u[n x n]).
    void (*rnn_step_forward)(float* h, const float* a, const float* h_prev, const float* u,
                             std::size_t rows, std::size_t n, Act act);
    // The same with u packed by `pack`.
    void (*rnn_step_forward_packed)(float* h, const float* a, const float* h_prev,
                                    const float* u_packed, std::size_t rows, std::size_t n, Act act);
    // Its backward: da = (dh + da_next u^T) * act'(h), with u^T packed by `pack` (transposed)
    // and act' computed from the step's output h. dh or da_next may be null (read as zero).
    void (*rnn_step_backward)(float* da, const float* dh, const float* da_next,
                              const float* ut_packed, const float* h, std::size_t rows,
                              std::size_t n, Act act);
    // The whole recurrence of a group of `lanes` batch rows with the batch in the vector lanes,
    // for units narrower than a vector, where one row per vector would leave lanes idle. Blocks
    // are unit-major: block t holds n vectors of `lanes` floats, x[t][j][row]. Outputs equal
    // the row kernels' bit for bit (the same FMAs in the same order).
    // hs[t + 1] = act(a[t] + hs[t] u) for t = 0..T-1, with hs[0] the initial state.
    void (*rnn_forward_lanes)(float* hs, const float* a, const float* u, std::size_t lanes,
                              std::size_t n, std::size_t T, Act act);
    // da[t] = (dh[t] + da[t + 1] u^T) * act'(hs[t + 1]) for t = T-1..0, in place: da holds dh
    // on entry (zero blocks where no gradient arrives).
    void (*rnn_backward_lanes)(float* da, const float* hs, const float* u, std::size_t lanes,
                               std::size_t n, std::size_t T, Act act);
    // Weight-gradient shape: out[m x n] = a[rows x m]^T b[rows x n], with leading dimensions,
    // so a block of output rows is a[:, i0:i1]: pass a + i0 and out + i0 * ldout. With
    // `accumulate` the product is added to out, and a sum over many rows taken a block of rows
    // at a time gives the same bits as one call over all of them.
    void (*matmul_tn)(float* out, const float* a, const float* b, std::size_t rows,
                      std::size_t m, std::size_t n, std::size_t lda, std::size_t ldb,
                      std::size_t ldout, bool accumulate);
    // The same product with b laid out for it, as the weight gradients do once per slab of
    // rows: out[m x cols] (+)= a^T b[:, j0:j0 + cols], a k x m with leading dimension lda (read
    // in place: the caller copies wide operands out so that rows do not sit pages apart), b a
    // k x n matrix packed by `pack`, j0 a multiple of 48 (a whole number of panels).
    void (*matmul_tn_packed)(float* out, const float* a, std::size_t lda, const float* b_packed,
                             std::size_t k, std::size_t m, std::size_t n, std::size_t j0,
                             std::size_t cols, std::size_t ldout, bool accumulate);
    // out[n] = sum over rows of a[rows x n], leading dimension lda.
    void (*column_sums)(float* out, const float* a, std::size_t rows, std::size_t n, std::size_t lda);

    // y = act(x) elementwise (in place allowed); dx = dy * act'(y) (in place allowed).
    void (*activation_forward)(float* y, const float* x, std::size_t n, Act act);
    void (*activation_backward)(float* dx, const float* dy, const float* y, std::size_t n, Act act);
    // Row-wise softmax and its backward: dx = y * (dy - sum(dy * y)) per row.
    void (*softmax_forward)(float* y, const float* x, std::size_t rows, std::size_t n);
    void (*softmax_backward)(float* dx, const float* dy, const float* y, std::size_t rows,
                             std::size_t n);

    // Keras SGD: v = momentum v - lr g; p += v, or p += momentum v - lr g with nesterov.
    // velocity is unused (may be null) when momentum is 0: p -= lr g.
    void (*sgd_update)(float* p, const float* g, float* velocity, std::size_t n, float lr,
                       float momentum, bool nesterov);
    // Keras Adam with the bias corrections folded into lr_t:
    // m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= lr_t m / (sqrt(v) + eps).
    void (*adam_update)(float* p, const float* g, float* m, float* v, std::size_t n, float lr_t,
                        float beta1, float beta2, float eps);
    // ms = rho ms + (1 - rho) g^2; p -= lr g / (sqrt(ms) + eps).
    void (*rmsprop_update)(float* p, const float* g, float* ms, std::size_t n, float lr,
                           float rho, float eps);
};

// Floats that Table::pack writes for a k x n matrix, on any table: panels are padded to
// whole vectors, and no vector is wider than 16 floats. Sizes that would wrap give SIZE_MAX,
// which no allocation accepts.
inline std::size_t packed_floats(std::size_t k, std::size_t n) {
    std::size_t floats = 0;
    if (n > SIZE_MAX - 15 || __builtin_mul_overflow(k, (n + 15) / 16 * 16, &floats)) return SIZE_MAX;
    return floats;
}

// The plain scalar oracle.
const Table& reference();
// The table in use: the best this CPU supports, or the one named by RECUR_ISA.
const Table& active();
// Makes `table` the active one, for tests and benchmarks that compare instruction sets;
// not to be called while kernels run.
void set_active(const Table& table);
// Every SIMD table this CPU can run, best first.
std::vector<const Table*> supported();
// The table for an instruction set, or null when it is unknown or this CPU lacks it.
const Table* find(std::string_view isa);

}  // namespace recur::kernels
