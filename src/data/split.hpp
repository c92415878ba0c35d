#pragma once
#include <cstddef>

namespace recur::detail {

// The samples kept for training when the last `split` of n are held out, as Keras counts:
// floor(n (1 - split)), never more than n. A split that a float holds exactly (0.2f is
// 0.2000000030) counts as the decimal it was written as (0.2), which Keras computes with.
std::size_t training_count(std::size_t n, double split);

}  // namespace recur::detail
