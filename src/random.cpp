#include "random.hpp"

#include <mutex>

#include <recur/random.hpp>

namespace recur {

namespace {
struct Shared {
    std::mutex mutex;
    detail::Generator engine{std::random_device{}()};
};
Shared& shared() {
    static Shared instance;
    return instance;
}
}  // namespace

namespace detail {
std::uint64_t draw_seed() {
    Shared& s = shared();
    std::lock_guard lock(s.mutex);
    return s.engine();
}
}  // namespace detail

void manual_seed(std::uint64_t seed) {
    Shared& s = shared();
    std::lock_guard lock(s.mutex);
    s.engine.seed(seed);
}

}  // namespace recur
