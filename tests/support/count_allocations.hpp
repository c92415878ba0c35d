#pragma once
// Replaces the global operator new (plain and aligned) with counting versions, to prove a
// path allocates nothing. Include it in exactly one file of a test program.
#include <atomic>
#include <cstdlib>
#include <new>

namespace recur::testing {
inline std::atomic<long> allocations{0};
}

void* operator new(std::size_t size) {
    ++recur::testing::allocations;
    if (void* p = std::malloc(size ? size : 1)) return p;
    throw std::bad_alloc();
}
void* operator new(std::size_t size, std::align_val_t align) {
    ++recur::testing::allocations;
    const std::size_t a = static_cast<std::size_t>(align);
    if (void* p = std::aligned_alloc(a, (size + a - 1) / a * a)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
