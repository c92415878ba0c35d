#include <recur/threads.hpp>

#include <omp.h>

#include <recur/error.hpp>

namespace recur {

void set_num_threads(std::size_t n) {
    if (n == 0) throw Error("set_num_threads: expected at least 1 thread, got 0");
    omp_set_num_threads(static_cast<int>(n));
}

std::size_t num_threads() { return static_cast<std::size_t>(omp_get_max_threads()); }

}  // namespace recur
