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
        case Act::relu: return x > 0.0 ? x : 0.0;
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
void pack_columns(float* packed, const float* b, std::size_t k, std::size_t n, bool transposed, std::size_t c0,
                  std::size_t c1) {
    for (std::size_t p = 0; p < k; ++p)
        for (std::size_t j = c0; j < c1; ++j) packed[p * n + j] = transposed ? b[j * k + p] : b[p * n + j];
}
void pack(float* packed, const float* b, std::size_t k, std::size_t n, bool transposed) {
    pack_columns(packed, b, k, n, transposed, 0, n);
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

void rnn_step_forward(float* h, const float* a, const float* h_prev, const float* u,
                      std::size_t rows, std::size_t n, Act act) {
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            double sum = a[i * n + j];
            for (std::size_t p = 0; p < n; ++p) sum += double(h_prev[i * n + p]) * u[p * n + j];
            h[i * n + j] = float(apply(act, sum));
        }
}

void rnn_step_backward(float* da, const float* dh, const float* da_next, const float* ut_packed,
                       const float* h, std::size_t rows, std::size_t n, Act act) {
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            double sum = dh ? dh[i * n + j] : 0.0;
            if (da_next)
                for (std::size_t p = 0; p < n; ++p) sum += double(da_next[i * n + p]) * ut_packed[p * n + j];
            da[i * n + j] = float(sum * derivative_from_output(act, h[i * n + j]));
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
                float momentum, bool nesterov) {
    for (std::size_t i = 0; i < n; ++i) {
        if (momentum == 0.0f) {
            p[i] -= lr * g[i];
            continue;
        }
        velocity[i] = momentum * velocity[i] - lr * g[i];
        p[i] += nesterov ? momentum * velocity[i] - lr * g[i] : velocity[i];
    }
}

void adam_update(float* p, const float* g, float* m, float* v, std::size_t n, float lr_t,
                 float beta1, float beta2, float eps) {
    for (std::size_t i = 0; i < n; ++i) {
        m[i] = beta1 * m[i] + (1.0f - beta1) * g[i];
        v[i] = beta2 * v[i] + (1.0f - beta2) * g[i] * g[i];
        p[i] -= lr_t * m[i] / (std::sqrt(v[i]) + eps);
    }
}

void rmsprop_update(float* p, const float* g, float* ms, std::size_t n, float lr, float rho,
                    float eps) {
    for (std::size_t i = 0; i < n; ++i) {
        ms[i] = rho * ms[i] + (1.0f - rho) * g[i] * g[i];
        p[i] -= lr * g[i] / (std::sqrt(ms[i]) + eps);
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
                             rnn_step_forward,
                             rnn_step_forward,
                             rnn_step_backward,
                             rnn_forward_lanes,
                             rnn_backward_lanes,
                             matmul_tn,
                             matmul_tn_packed,
                             column_sums,
                             activation_forward,
                             activation_backward,
                             softmax_forward,
                             softmax_backward,
                             sgd_update,
                             adam_update,
                             rmsprop_update};
    return table;
}

}  // namespace recur::kernels
