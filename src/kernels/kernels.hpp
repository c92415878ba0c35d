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

    // Lays out the k x n matrix B (b holds B, or B^T when `transposed`, with row stride ld)
    // as the column panels this table's product kernels stream through, in
    // packed_floats(k, n) floats. Weights are packed once per use of a weight value, not once
    // per product; ld lets a block of a wider matrix be packed (one gate's weights).
    void (*pack)(float* packed, const float* b, std::size_t k, std::size_t n, std::size_t ld, bool transposed);
    // The same for the panels of columns [c0, c1) only (c0 a multiple of 48, c1 one or n),
    // written where pack puts them: a packing cut into pieces for several threads.
    void (*pack_columns)(float* packed, const float* b, std::size_t k, std::size_t n, std::size_t ld,
                         bool transposed, std::size_t c0, std::size_t c1);

    // out[rows x n] = in[rows x k] w[k x n] + bias[n] (bias may be null).
    void (*linear_forward)(float* out, const float* in, const float* w, const float* bias,
                           std::size_t rows, std::size_t k, std::size_t n);
    // The same with w packed by `pack`.
    void (*linear_forward_packed)(float* out, const float* in, const float* w_packed,
                                  const float* bias, std::size_t rows, std::size_t k, std::size_t n);
    // The recurrent product of one step, fused with what follows it:
    // out[rows x n] = act(a + in[rows x k] w), w packed by `pack`; out and a have row stride
    // ld (out may be a: in place), in has row stride ld_in.
    void (*recurrent_forward)(float* out, const float* a, std::size_t ld, const float* in, std::size_t ld_in,
                              const float* w_packed, std::size_t rows, std::size_t k, std::size_t n, Act act);
    // Its backward: out[rows x n] = (dh + d_next[rows x k] wt) * act'(y), wt (the transposed
    // weights) packed by `pack`, act' computed from the step's output y; out, dh and y have row
    // stride ld, d_next ld_next. dh or d_next may be null (read as zero); y is read only when
    // act is not linear.
    void (*recurrent_backward)(float* out, std::size_t ld, const float* dh, const float* d_next,
                               std::size_t ld_next, const float* wt_packed, const float* y, std::size_t rows,
                               std::size_t k, std::size_t n, Act act);
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
    // The gate math of a step, row by row; a is the activation, ra the recurrent activation,
    // and a row holds its gates side by side, n units each. LSTM (gates i, f, c, o, Keras's
    // order): z holds the pre-activations and becomes i = ra(z_i), f = ra(z_f), g = a(z_c),
    // o = ra(z_o); then c = f c_prev + i g and h = o a(c).
    void (*lstm_forward)(float* z, float* c, float* h, const float* c_prev, std::size_t rows, std::size_t n,
                         Act a, Act ra);
    // Its backward: z holds the gates and becomes the gradients of their pre-activations; dh
    // is the gradient of h; dc holds that of c from the step after and becomes that of c_prev.
    void (*lstm_backward)(float* z, float* dc, const float* dh, const float* c_prev, const float* c,
                          std::size_t rows, std::size_t n, Act a, Act ra);
    // GRU with the reset gate applied after the recurrent product (Keras's reset_after, as
    // PyTorch's GRU; gates z, r, h): z holds x W + b_in and becomes zz = ra(z_z + p_z),
    // rr = ra(z_r + p_r), hh = a(z_h + rr p_h); p holds h_prev U + b_rec (kept for the
    // backward pass); h = zz h_prev + (1 - zz) hh.
    void (*gru_forward)(float* z, const float* p, float* h, const float* h_prev, std::size_t rows, std::size_t n,
                        Act a, Act ra);
    // Its backward, with d = dh + carry the gradient of h: z becomes the gradients of the
    // input side's pre-activations (dz, dr, dhh), p those of the recurrent side's
    // (dz, dr, dhh rr), and carry d zz, the part of h_prev's gradient through the update gate.
    void (*gru_backward)(float* z, float* p, float* carry, const float* dh, const float* h_prev, std::size_t rows,
                         std::size_t n, Act a, Act ra);
    // GRU with the reset gate applied before the product (reset_after off), whose z and r
    // (and then hh) the recurrent products activate: rh = rr h_prev, the product's input ...
    void (*gru_reset)(float* rh, const float* z, const float* h_prev, std::size_t rows, std::size_t n);
    // ... and h = zz h_prev + (1 - zz) hh once hh is there.
    void (*gru_update)(float* h, const float* z, const float* h_prev, std::size_t rows, std::size_t n);
    // Its backward, first through the update: with d = dh + carry, z's z part becomes dz and
    // its h part dhh (pre-activation gradients), carry becomes d zz ...
    void (*gru_update_backward)(float* z, float* carry, const float* dh, const float* h_prev, std::size_t rows,
                                std::size_t n, Act a, Act ra);
    // ... then through the reset, given e = dhh U_h^T: z's r part becomes dr = e h_prev ra'(rr)
    // and carry gains e rr.
    void (*gru_reset_backward)(float* z, float* carry, const float* e, const float* h_prev, std::size_t rows,
                               std::size_t n, Act ra);

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

    // The optimizer updates. Each first scales p by keep = 1 - lr * weight_decay (decoupled
    // weight decay, as Keras 3 and PyTorch's AdamW; keep 1 leaves p exactly as it is).
    // Keras SGD: v = momentum v - lr g; p += v, or p += momentum v - lr g with nesterov.
    // velocity is unused (may be null) when momentum is 0: p -= lr g.
    void (*sgd_update)(float* p, const float* g, float* velocity, std::size_t n, float lr,
                       float momentum, bool nesterov, float keep);
    // Keras Adam with the bias corrections folded into lr_t:
    // m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2; p -= lr_t m / (sqrt(v) + eps). With
    // amsgrad (v_max not null) v_max = max(v_max, v) takes v's place in the step.
    void (*adam_update)(float* p, const float* g, float* m, float* v, float* v_max, std::size_t n,
                        float lr_t, float beta1, float beta2, float eps, float keep);
    // Keras 3's RMSprop: ms = rho ms + (1 - rho) g^2; p -= lr g / sqrt(ms + eps).
    void (*rmsprop_update)(float* p, const float* g, float* ms, std::size_t n, float lr,
                           float rho, float eps, float keep);
    // Keras Adagrad: acc += g^2; p -= lr g / sqrt(acc + eps).
    void (*adagrad_update)(float* p, const float* g, float* acc, std::size_t n, float lr,
                           float eps, float keep);
    // Keras Nadam with its momentum schedule folded into two factors:
    // m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
    // p -= lr (m_factor m + g_factor g) / (sqrt(v * v_factor) + eps).
    void (*nadam_update)(float* p, const float* g, float* m, float* v, std::size_t n, float lr,
                         float beta1, float beta2, float eps, float m_factor, float g_factor,
                         float v_factor, float keep);
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
