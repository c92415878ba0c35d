// The scalar oracle: the plainest correct loop for every kernel, accumulating in double.
// Tests compare every SIMD table against this one.
#include <algorithm>
#include <cmath>

#include "kernels.hpp"

namespace recur::kernels {
namespace {

double apply(Act act, double x) {
    switch (act) {
        case Act::tanh: return std::tanh(x);
        case Act::relu: return x < 0.0 ? 0.0 : x;  // NaN stays NaN
        case Act::sigmoid: return 1.0 / (1.0 + std::exp(-x));
        case Act::linear: break;
    }
    return x;
}

// act'(x) written in terms of y = act(x).
double derivative_from_output(Act act, double y) {
    switch (act) {
        case Act::tanh: return 1.0 - y * y;
        case Act::relu: return y > 0.0 ? 1.0 : 0.0;
        case Act::sigmoid: return y * (1.0 - y);
        case Act::linear: break;
    }
    return 1.0;
}

// The oracle's packed layout is the plain row-major one.
void pack_columns(float* packed, const float* b, std::size_t k, std::size_t n, std::size_t ld, bool transposed,
                  std::size_t c0, std::size_t c1) {
    for (std::size_t p = 0; p < k; ++p)
        for (std::size_t j = c0; j < c1; ++j) packed[p * n + j] = transposed ? b[j * ld + p] : b[p * ld + j];
}
void pack(float* packed, const float* b, std::size_t k, std::size_t n, std::size_t ld, bool transposed) {
    pack_columns(packed, b, k, n, ld, transposed, 0, n);
}

void linear_forward(float* out, const float* in, const float* w, const float* bias,
                    std::size_t rows, std::size_t k, std::size_t n) {
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            double sum = bias ? bias[j] : 0.0;
            for (std::size_t p = 0; p < k; ++p) sum += double(in[i * k + p]) * w[p * n + j];
            out[i * n + j] = float(sum);
        }
}

void recurrent_forward(float* out, const float* a, std::size_t ld, const float* in, std::size_t ld_in,
                       const float* w, std::size_t rows, std::size_t k, std::size_t n, Act act) {
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            double sum = a[i * ld + j];
            for (std::size_t p = 0; p < k; ++p) sum += double(in[i * ld_in + p]) * w[p * n + j];
            out[i * ld + j] = float(apply(act, sum));
        }
}

void recurrent_backward(float* out, std::size_t ld, const float* dh, const float* d_next, std::size_t ld_next,
                        const float* wt, const float* y, std::size_t rows, std::size_t k, std::size_t n, Act act) {
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            double sum = dh ? dh[i * ld + j] : 0.0;
            if (d_next)
                for (std::size_t p = 0; p < k; ++p) sum += double(d_next[i * ld_next + p]) * wt[p * n + j];
            out[i * ld + j] = float(act == Act::linear ? sum : sum * derivative_from_output(act, y[i * ld + j]));
        }
}

void rnn_forward_lanes(float* hs, const float* a, const float* u, std::size_t lanes, std::size_t n,
                       std::size_t T, Act act) {
    const std::size_t block = n * lanes;
    for (std::size_t t = 0; t < T; ++t)
        for (std::size_t j = 0; j < n; ++j)
            for (std::size_t r = 0; r < lanes; ++r) {
                double sum = a[t * block + j * lanes + r];
                for (std::size_t p = 0; p < n; ++p) sum += double(hs[t * block + p * lanes + r]) * u[p * n + j];
                hs[(t + 1) * block + j * lanes + r] = float(apply(act, sum));
            }
}

void rnn_backward_lanes(float* da, const float* hs, const float* u, std::size_t lanes, std::size_t n,
                        std::size_t T, Act act) {
    const std::size_t block = n * lanes;
    for (std::size_t t = T; t-- > 0;)
        for (std::size_t j = 0; j < n; ++j)
            for (std::size_t r = 0; r < lanes; ++r) {
                double sum = da[t * block + j * lanes + r];
                if (t + 1 < T)
                    for (std::size_t p = 0; p < n; ++p) sum += double(da[(t + 1) * block + p * lanes + r]) * u[j * n + p];
                da[t * block + j * lanes + r] = float(sum * derivative_from_output(act, hs[(t + 1) * block + j * lanes + r]));
            }
}

void lstm_forward(float* z, float* c, float* h, const float* c_prev, std::size_t rows, std::size_t n, Act a,
                  Act ra) {
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t j = 0; j < n; ++j) {
            float* zr = z + r * 4 * n;
            const double i = apply(ra, zr[j]), f = apply(ra, zr[n + j]), g = apply(a, zr[2 * n + j]),
                         o = apply(ra, zr[3 * n + j]);
            const double ct = f * c_prev[r * n + j] + i * g;
            zr[j] = float(i), zr[n + j] = float(f), zr[2 * n + j] = float(g), zr[3 * n + j] = float(o);
            c[r * n + j] = float(ct);
            h[r * n + j] = float(o * apply(a, ct));
        }
}

void lstm_backward(float* z, float* dc, const float* dh, const float* c_prev, const float* c, std::size_t rows,
                   std::size_t n, Act a, Act ra) {
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t j = 0; j < n; ++j) {
            float* zr = z + r * 4 * n;
            const double i = zr[j], f = zr[n + j], g = zr[2 * n + j], o = zr[3 * n + j];
            const double d = dh[r * n + j], ac = apply(a, c[r * n + j]);
            const double dct = dc[r * n + j] + d * o * derivative_from_output(a, ac);
            zr[j] = float(dct * g * derivative_from_output(ra, i));
            zr[n + j] = float(dct * c_prev[r * n + j] * derivative_from_output(ra, f));
            zr[2 * n + j] = float(dct * i * derivative_from_output(a, g));
            zr[3 * n + j] = float(d * ac * derivative_from_output(ra, o));
            dc[r * n + j] = float(dct * f);
        }
}

void gru_forward(float* z, const float* p, float* h, const float* h_prev, std::size_t rows, std::size_t n, Act a,
                 Act ra) {
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t j = 0; j < n; ++j) {
            float* zr = z + r * 3 * n;
            const float* pr = p + r * 3 * n;
            const double u = apply(ra, double(zr[j]) + pr[j]), rr = apply(ra, double(zr[n + j]) + pr[n + j]);
            const double hh = apply(a, zr[2 * n + j] + rr * pr[2 * n + j]);
            zr[j] = float(u), zr[n + j] = float(rr), zr[2 * n + j] = float(hh);
            h[r * n + j] = float(u * h_prev[r * n + j] + (1.0 - u) * hh);
        }
}

void gru_backward(float* z, float* p, float* carry, const float* dh, const float* h_prev, std::size_t rows,
                  std::size_t n, Act a, Act ra) {
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t j = 0; j < n; ++j) {
            float* zr = z + r * 3 * n;
            float* pr = p + r * 3 * n;
            const double u = zr[j], rr = zr[n + j], hh = zr[2 * n + j];
            const double d = double(dh[r * n + j]) + carry[r * n + j];
            const double dhh = d * (1.0 - u) * derivative_from_output(a, hh);
            const double dz = d * (h_prev[r * n + j] - hh) * derivative_from_output(ra, u);
            const double dr = dhh * pr[2 * n + j] * derivative_from_output(ra, rr);
            zr[j] = float(dz), zr[n + j] = float(dr), zr[2 * n + j] = float(dhh);
            pr[j] = float(dz), pr[n + j] = float(dr), pr[2 * n + j] = float(dhh * rr);
            carry[r * n + j] = float(d * u);
        }
}

void gru_reset(float* rh, const float* z, const float* h_prev, std::size_t rows, std::size_t n) {
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t j = 0; j < n; ++j) rh[r * n + j] = z[r * 3 * n + n + j] * h_prev[r * n + j];
}

void gru_update(float* h, const float* z, const float* h_prev, std::size_t rows, std::size_t n) {
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t j = 0; j < n; ++j) {
            const double u = z[r * 3 * n + j], hh = z[r * 3 * n + 2 * n + j];
            h[r * n + j] = float(u * h_prev[r * n + j] + (1.0 - u) * hh);
        }
}

void gru_update_backward(float* z, float* carry, const float* dh, const float* h_prev, std::size_t rows,
                         std::size_t n, Act a, Act ra) {
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t j = 0; j < n; ++j) {
            float* zr = z + r * 3 * n;
            const double u = zr[j], hh = zr[2 * n + j], d = double(dh[r * n + j]) + carry[r * n + j];
            zr[j] = float(d * (h_prev[r * n + j] - hh) * derivative_from_output(ra, u));
            zr[2 * n + j] = float(d * (1.0 - u) * derivative_from_output(a, hh));
            carry[r * n + j] = float(d * u);
        }
}

void gru_reset_backward(float* z, float* carry, const float* e, const float* h_prev, std::size_t rows, std::size_t n,
                        Act ra) {
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t j = 0; j < n; ++j) {
            float* zr = z + r * 3 * n;
            const double rr = zr[n + j], ej = e[r * n + j];
            zr[n + j] = float(ej * h_prev[r * n + j] * derivative_from_output(ra, rr));
            carry[r * n + j] = float(carry[r * n + j] + ej * rr);
        }
}

void matmul_tn(float* out, const float* a, const float* b, std::size_t rows, std::size_t m,
               std::size_t n, std::size_t lda, std::size_t ldb, std::size_t ldout, bool accumulate) {
    for (std::size_t i = 0; i < m; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            double sum = accumulate ? out[i * ldout + j] : 0.0;
            for (std::size_t r = 0; r < rows; ++r) sum += double(a[r * lda + i]) * b[r * ldb + j];
            out[i * ldout + j] = float(sum);
        }
}

// The oracle's packed b is b itself.
void matmul_tn_packed(float* out, const float* a, std::size_t lda, const float* b_packed, std::size_t k,
                      std::size_t m, std::size_t n, std::size_t j0, std::size_t cols, std::size_t ldout,
                      bool accumulate) {
    matmul_tn(out, a, b_packed + j0, k, m, cols, lda, n, ldout, accumulate);
}

void column_sums(float* out, const float* a, std::size_t rows, std::size_t n, std::size_t lda) {
    for (std::size_t j = 0; j < n; ++j) {
        double sum = 0.0;
        for (std::size_t r = 0; r < rows; ++r) sum += a[r * lda + j];
        out[j] = float(sum);
    }
}

void activation_forward(float* y, const float* x, std::size_t n, Act act) {
    for (std::size_t i = 0; i < n; ++i) y[i] = float(apply(act, x[i]));
}

void activation_backward(float* dx, const float* dy, const float* y, std::size_t n, Act act) {
    for (std::size_t i = 0; i < n; ++i) dx[i] = float(dy[i] * derivative_from_output(act, y[i]));
}

void softmax_forward(float* y, const float* x, std::size_t rows, std::size_t n) {
    for (std::size_t r = 0; r < rows; ++r) {
        const float* xr = x + r * n;
        double max = xr[0];
        for (std::size_t j = 1; j < n; ++j) max = std::max(max, double(xr[j]));
        double sum = 0.0;
        for (std::size_t j = 0; j < n; ++j) sum += std::exp(xr[j] - max);
        for (std::size_t j = 0; j < n; ++j) y[r * n + j] = float(std::exp(xr[j] - max) / sum);
    }
}

void softmax_backward(float* dx, const float* dy, const float* y, std::size_t rows, std::size_t n) {
    for (std::size_t r = 0; r < rows; ++r) {
        double dot = 0.0;
        for (std::size_t j = 0; j < n; ++j) dot += double(dy[r * n + j]) * y[r * n + j];
        for (std::size_t j = 0; j < n; ++j)
            dx[r * n + j] = float(y[r * n + j] * (dy[r * n + j] - dot));
    }
}

void sgd_update(float* p, const float* g, float* velocity, std::size_t n, float lr,
                float momentum, bool nesterov, float keep) {
    for (std::size_t i = 0; i < n; ++i) {
        p[i] *= keep;
        if (momentum == 0.0f) {
            p[i] -= lr * g[i];
            continue;
        }
        velocity[i] = momentum * velocity[i] - lr * g[i];
        p[i] += nesterov ? momentum * velocity[i] - lr * g[i] : velocity[i];
    }
}

void adam_update(float* p, const float* g, float* m, float* v, float* v_max, std::size_t n, float lr_t,
                 float beta1, float beta2, float eps, float keep) {
    for (std::size_t i = 0; i < n; ++i) {
        p[i] *= keep;
        m[i] = beta1 * m[i] + (1.0f - beta1) * g[i];
        v[i] = beta2 * v[i] + (1.0f - beta2) * g[i] * g[i];
        float second = v[i];
        if (v_max) second = v_max[i] = std::max(v_max[i], v[i]);
        p[i] -= lr_t * m[i] / (std::sqrt(second) + eps);
    }
}

void rmsprop_update(float* p, const float* g, float* ms, std::size_t n, float lr, float rho,
                    float eps, float keep) {
    for (std::size_t i = 0; i < n; ++i) {
        p[i] *= keep;
        ms[i] = rho * ms[i] + (1.0f - rho) * g[i] * g[i];
        p[i] -= lr * g[i] / std::sqrt(ms[i] + eps);
    }
}

void adagrad_update(float* p, const float* g, float* acc, std::size_t n, float lr, float eps, float keep) {
    for (std::size_t i = 0; i < n; ++i) {
        p[i] *= keep;
        acc[i] += g[i] * g[i];
        p[i] -= lr * g[i] / std::sqrt(acc[i] + eps);
    }
}

void nadam_update(float* p, const float* g, float* m, float* v, std::size_t n, float lr, float beta1,
                  float beta2, float eps, float m_factor, float g_factor, float v_factor, float keep) {
    for (std::size_t i = 0; i < n; ++i) {
        p[i] *= keep;
        m[i] = beta1 * m[i] + (1.0f - beta1) * g[i];
        v[i] = beta2 * v[i] + (1.0f - beta2) * g[i] * g[i];
        const float m_hat = m_factor * m[i] + g_factor * g[i];
        p[i] -= lr * m_hat / (std::sqrt(v[i] * v_factor) + eps);
    }
}

}  // namespace

const Table& reference() {
    static const Table table{"reference",
                             1,  // any group size: the lanes kernels take it as given
                             pack,
                             pack_columns,
                             linear_forward,
                             linear_forward,  // packed is plain here
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
    return table;
}

}  // namespace recur::kernels
