#pragma once
// SimpleRNN's cell: h_t = act(x_t W + b + h_{t-1} U), the product and the activation fused in
// one kernel call per step; and, for units narrower than a vector, the whole time loop with
// the batch in the vector lanes.
#include <cstddef>

#include "layers/recurrent.hpp"
#include "tensor/sizes.hpp"

namespace recur::detail {

// The widest vector any kernel table has, in floats.
inline constexpr std::size_t kMaxLanes = 16;

// Whether the time loop runs with the batch in the vector lanes, for a table whose vectors
// hold `lanes` floats: when the units fill less than a vector and a step then takes at most a
// quarter of the vectors (H per group of `lanes` rows) that one row per vector would (B).
// Less would not pay for moving a and hs between the two layouts.
inline bool batch_in_lanes(std::size_t batch, std::size_t units, std::size_t lanes) {
    return lanes > 1 && units < lanes && 4 * units * ((batch + lanes - 1) / lanes) <= batch;
}

class SimpleRnnCell final : public Cell {
public:
    std::size_t gates() const override { return 1; }
    void forward_step(const CellStep& step) const override;
    void backward_step(const CellStep& step) const override;
    // Floats of the unit-major copies of hs and a that the batch-in-lanes time loop works in:
    // (2T + 1) H per row, the batch rounded up to whole groups of the widest vector; none where
    // batch_in_lanes can never hold (H > 4).
    std::size_t lanes_floats(std::size_t batch, std::size_t timesteps, std::size_t units) const override {
        if (4 * units > kMaxLanes) return 0;
        return mul(2 * timesteps + 1, units, round_up(batch, kMaxLanes));
    }
    bool forward_loop(const RecurrentBuffers& buffers, const RecurrentDims& dims, const RecurrentWeights& w,
                      kernels::Act act) const override;
    bool backward_loop(const RecurrentBuffers& buffers, const RecurrentDims& dims, const RecurrentWeights& w,
                       const float* dh, bool dh_every_step, kernels::Act act) const override;
};

}  // namespace recur::detail
