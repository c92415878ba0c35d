#pragma once
// SimpleRNN as a pair of free functions over flat, time-major buffers.
//   x:  T x B x D inputs          w: D x H kernel    u: H x H recurrent kernel    b: H bias
//   hs: (T + 1) x B x H states, hs[0] the initial state, hs[t + 1] the output of step t
//   a:  T x B x H pre-activations x_t w + b (forward), then dA_t (backward)
#include <algorithm>
#include <cstddef>

#include "kernels/kernels.hpp"
#include "tensor/sizes.hpp"

namespace recur::detail {

struct RnnDims {
    std::size_t batch, timesteps, features, units;
};

// Rows of x, hs and dA the weight gradients lay out for the kernels at a time.
inline constexpr std::size_t kGradientSlab = 256;

// Floats the passes below lay operands out in for the kernels: u (or u^T) and w (or w^T)
// packed, and one slab of the weight gradients' operands (dA packed; x or hs in column blocks).
inline std::size_t simple_rnn_packed_floats(std::size_t features, std::size_t units) {
    return add(kernels::packed_floats(units, units),
               std::max(kernels::packed_floats(features, units), kernels::packed_floats(units, features)),
               kernels::packed_floats(kGradientSlab, units), mul(kGradientSlab, std::max(features, units)));
}

// The widest vector any kernel table has, in floats.
inline constexpr std::size_t kMaxLanes = 16;

// Whether the time loop runs with the batch in the vector lanes, for a table whose vectors
// hold `lanes` floats: when the units fill less than a vector and a step then takes at most a
// quarter of the vectors (H per group of `lanes` rows) that one row per vector would (B).
// Less would not pay for moving a and hs between the two layouts.
inline bool batch_in_lanes(std::size_t batch, std::size_t units, std::size_t lanes) {
    return lanes > 1 && units < lanes && 4 * units * ((batch + lanes - 1) / lanes) <= batch;
}

// Floats of the unit-major copies of hs and a that the batch-in-lanes time loop works in:
// (2T + 1) H per row, the batch rounded up to whole groups of the widest vector; none where
// batch_in_lanes can never hold (H > 4).
inline std::size_t simple_rnn_lanes_floats(std::size_t batch, std::size_t timesteps, std::size_t units) {
    if (4 * units > kMaxLanes) return 0;
    return mul(2 * timesteps + 1, units, round_up(batch, kMaxLanes));
}

// 1. a = x w + b for all T x B rows at once; 2. hs[t + 1] = act(a_t + hs[t] u) step by step.
// hs[0] must already hold the initial state. b may be null. packed holds
// simple_rnn_packed_floats(D, H) floats: w and u packed for the kernels; lanes holds
// simple_rnn_lanes_floats(B, T, H), kept from the forward pass for the backward one.
void simple_rnn_forward(float* hs, float* a, float* packed, float* lanes, const float* x, const float* w,
                        const float* u, const float* b, const RnnDims& dims, kernels::Act act);

// 3. dA_t = (dh_t + dA_{t+1} u^T) * act'(hs[t + 1]) for t = T-1..0 (into a);
// 4. dw = x^T dA, du = hs[1..T-1]^T dA[1..T-1] (hs[0], the initial state, is zero), db = sum
//    of dA, each one call over all the rows;
//    dx = dA w^T when dx is not null.
// dh holds T x B x H gradients when dh_every_step, else only B x H for the last step.
// packed and lanes are as for the forward pass (u^T and w^T go there). db may be null.
void simple_rnn_backward(float* dx, float* dw, float* du, float* db, float* a, float* packed, float* lanes,
                         const float* dh, bool dh_every_step, const float* hs, const float* x,
                         const float* w, const float* u, const RnnDims& dims, kernels::Act act);

// out[m x n] = a^T b over `rows` rows (a rows x m, b rows x n), as the weight gradients are
// made: a slab of kGradientSlab rows at a time, the slab of b packed and (for m > 128) that
// of a copied out in column blocks, both reading each row in one run (block by block, every
// wide row would be a jump to another page), then fixed blocks of output, whatever the thread
// count, go through it. scratch holds packed_floats(kGradientSlab, n) + kGradientSlab * m floats.
void weight_gradient(float* out, const float* a, const float* b, std::size_t rows, std::size_t m, std::size_t n,
                     float* scratch);

// Rows of the batch that one thread carries through a time loop. While u fits in a core's L2
// (H <= 512: 1 MB of its 2 MB) each step's pass over it is cheap and small pieces spread the
// work. Beyond that every pass comes from L3 and should serve as many rows as it can: one
// piece per thread, up to 128 rows. Rows never share a sum, so the split cannot change a bit.
inline std::size_t batch_piece(std::size_t batch, std::size_t units, std::size_t threads) {
    if (units <= 512) return 8;
    return std::clamp((batch / std::max<std::size_t>(threads, 1) + 7) / 8 * 8, std::size_t{8}, std::size_t{128});
}

}  // namespace recur::detail
