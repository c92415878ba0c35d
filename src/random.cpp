#include "random.hpp"

#include <recur/random.hpp>

namespace recur {

namespace detail {
std::mt19937_64& generator() {
    static std::mt19937_64 engine{std::random_device{}()};
    return engine;
}
}  // namespace detail

void manual_seed(std::uint64_t seed) { detail::generator().seed(seed); }

}  // namespace recur
