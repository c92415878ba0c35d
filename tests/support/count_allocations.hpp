#pragma once
// Replaces the global operator new and delete (plain and aligned, throwing and nothrow) with
// counting versions:
// how many allocations, and how many bytes are held now and at most. Include it in exactly
// one file of a test program.
#include <malloc.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace recur::testing {
inline std::atomic<long> allocations{0};
inline std::atomic<long> bytes_held{0};
inline std::atomic<long> peak_bytes_held{0};

// p counted; null stays null (the nothrow forms return it, the others throw).
inline void* counted_or_null(void* p) {
    if (!p) return nullptr;
    ++allocations;
    const long held = bytes_held += static_cast<long>(malloc_usable_size(p));
    long peak = peak_bytes_held;
    while (held > peak && !peak_bytes_held.compare_exchange_weak(peak, held)) {
    }
    return p;
}
inline void* counted(void* p) {
    if (!counted_or_null(p)) throw std::bad_alloc();
    return p;
}
inline void* aligned(std::size_t size, std::align_val_t align) {
    const std::size_t a = static_cast<std::size_t>(align);
    if (size > SIZE_MAX - a) return nullptr;  // rounding up would wrap
    return std::aligned_alloc(a, (size + a - 1) / a * a);
}
inline void released(void* p) {
    if (p) bytes_held -= static_cast<long>(malloc_usable_size(p));
    std::free(p);
}
}  // namespace recur::testing

void* operator new(std::size_t size) { return recur::testing::counted(std::malloc(size ? size : 1)); }
void* operator new(std::size_t size, std::align_val_t align) {
    return recur::testing::counted(recur::testing::aligned(size, align));
}
// The array and nothrow forms too: a sanitizer runtime defines its own, which would bypass
// the above (and free what they allocate with a delete it does not know).
void* operator new[](std::size_t size) { return operator new(size); }
void* operator new[](std::size_t size, std::align_val_t align) { return operator new(size, align); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
    return recur::testing::counted_or_null(std::malloc(size ? size : 1));
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept { return operator new(size, tag); }
void* operator new(std::size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
    return recur::testing::counted_or_null(recur::testing::aligned(size, align));
}
void* operator new[](std::size_t size, std::align_val_t align, const std::nothrow_t& tag) noexcept {
    return operator new(size, align, tag);
}
void operator delete(void* p) noexcept { recur::testing::released(p); }
void operator delete[](void* p) noexcept { recur::testing::released(p); }
void operator delete[](void* p, std::size_t) noexcept { recur::testing::released(p); }
void operator delete[](void* p, std::align_val_t) noexcept { recur::testing::released(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { recur::testing::released(p); }
void operator delete(void* p, std::size_t) noexcept { recur::testing::released(p); }
void operator delete(void* p, std::align_val_t) noexcept { recur::testing::released(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { recur::testing::released(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { recur::testing::released(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { recur::testing::released(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { recur::testing::released(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { recur::testing::released(p); }
