#pragma once
#include <cstdint>
#include <random>

namespace recur::detail {

// Every model, and every layer called on its own, draws from a generator of its own, seeded
// once from the generator manual_seed seeds. So its weights and shuffles depend only on the
// seed and the order in which models are made, not on what other threads draw meanwhile.
using Generator = std::mt19937_64;

// The next seed from the shared generator; safe to call from any thread.
std::uint64_t draw_seed();

}  // namespace recur::detail
