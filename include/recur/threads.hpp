#pragma once
#include <cstddef>

namespace recur {

// The number of threads recur's kernels may use (default: OpenMP's default). Results do
// not depend on it: work is split into fixed pieces and summed in a fixed order.
void set_num_threads(std::size_t n);
std::size_t num_threads();

}  // namespace recur
