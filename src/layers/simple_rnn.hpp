#pragma once
// SimpleRNN as a pair of free functions over flat, time-major buffers.
//   x:  T x B x D inputs          w: D x H kernel    u: H x H recurrent kernel    b: H bias
//   hs: (T + 1) x B x H states, hs[0] the initial state, hs[t + 1] the output of step t
//   a:  T x B x H pre-activations x_t w + b (forward), then dA_t (backward)
#include <cstddef>

#include "kernels/kernels.hpp"

namespace recur::detail {

struct RnnDims {
    std::size_t batch, timesteps, features, units;
};

// 1. a = x w + b for all T x B rows at once; 2. hs[t + 1] = act(a_t + hs[t] u) step by step.
// hs[0] must already hold the initial state. b may be null.
void simple_rnn_forward(float* hs, float* a, const float* x, const float* w, const float* u,
                        const float* b, const RnnDims& dims, kernels::Act act);

// 3. dA_t = (dh_t + dA_{t+1} u^T) * act'(hs[t + 1]) for t = T-1..0 (into a);
// 4. dw = x^T dA, du = hs[0..T-1]^T dA, db = sum of dA, each one call over all T x B rows;
//    dx = dA w^T when dx is not null.
// dh holds T x B x H gradients when dh_every_step, else only B x H for the last step.
// scratch holds H x H + H x D floats (u and w transposed). db may be null.
void simple_rnn_backward(float* dx, float* dw, float* du, float* db, float* a, float* scratch,
                         const float* dh, bool dh_every_step, const float* hs, const float* x,
                         const float* w, const float* u, const RnnDims& dims, kernels::Act act);

// Row pieces for the time loops: whole 4-row tiles, never dependent on the thread count.
inline constexpr std::size_t kBatchPiece = 8;

}  // namespace recur::detail
