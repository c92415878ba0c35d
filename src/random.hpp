#pragma once
#include <random>

namespace recur::detail {

// The one generator behind initialisation and shuffling; recur::manual_seed seeds it.
std::mt19937_64& generator();

}  // namespace recur::detail
