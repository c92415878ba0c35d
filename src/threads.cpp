#include <recur/threads.hpp>

#include <omp.h>

#include <atomic>

#include "tensor/sizes.hpp"
#include "threads.hpp"

namespace recur {

namespace {
// Set by set_num_threads for every thread that calls into recur; 0 until then: OpenMP's
// default (omp_set_num_threads would set it for the calling thread only).
std::atomic<std::size_t> configured{0};
}  // namespace

void set_num_threads(std::size_t n) {
    detail::check_count(n, detail::kMaxThreads, "set_num_threads", "threads");
    configured.store(n, std::memory_order_relaxed);
}

std::size_t num_threads() {
    const std::size_t n = configured.load(std::memory_order_relaxed);
    return n ? n : static_cast<std::size_t>(omp_get_max_threads());
}

}  // namespace recur
