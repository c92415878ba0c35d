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

// A uniform float in [0, 1) that depends only on seed and index (SplitMix64's mixing of the
// index-th element of the seed's sequence): masks drawn element by element come out the same
// whatever order or thread draws them.
inline float uniform_at(std::uint64_t seed, std::uint64_t index) {
    std::uint64_t z = seed + (index + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return static_cast<float>(z >> 40) * 0x1.0p-24f;  // 24 bits: every value exact in a float
}

// Seeds for several users of one step's seed (each layer of a model), distinct and unrelated.
inline std::uint64_t mix_seed(std::uint64_t seed, std::uint64_t salt) {
    std::uint64_t z = seed ^ (salt * 0xd1b54a32d192ed03ull + 0x8cb92ba72f3d8dd7ull);
    z = (z ^ (z >> 33)) * 0xff51afd7ed558ccdull;
    return z ^ (z >> 33);
}

}  // namespace recur::detail
