#pragma once
#include <cstdint>

namespace recur {

// Seeds the generator behind weight initialisation and shuffling: the same seed gives
// the same weights, the same shuffles and so the same training run.
void manual_seed(std::uint64_t seed);

}  // namespace recur
