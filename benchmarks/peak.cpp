// The machine's single-thread float32 FMA peak, measured: independent FMA chains, enough
// of them to cover the FMA latency. Built once per instruction set (RECUR_PEAK_AVX512 or not,
// see CMakeLists.txt); recur-bench runs the widest the CPU has.
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <chrono>

namespace {

// Chains plus the two constants must fit the vector registers (16 on AVX2, 32 on AVX-512),
// or the accumulators spill to memory and the probe measures loads and stores.
template <class Arch, int chains>
__attribute__((noinline)) double fma_peak_gflops(long iterations) {
    using V = xsimd::batch<float, Arch>;
    V acc[chains];
    for (int c = 0; c < chains; ++c) acc[c] = V(1.0f + 0.01f * c);
    const V a(0.999999f), b(1e-7f);
    const auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < iterations; ++i)
        for (int c = 0; c < chains; ++c) acc[c] = xsimd::fma(acc[c], a, b);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    float sink = 0.0f;
    for (int c = 0; c < chains; ++c) sink += xsimd::hadd(acc[c]);
    asm volatile("" : : "r"(sink));
    return 2.0 * V::size * chains * double(iterations) / seconds * 1e-9;
}

}  // namespace

// Best of a few short runs, in GFLOP/s, on this file's instruction set (its build flags).
#if defined(RECUR_PEAK_AVX512)
double fma_peak_gflops_avx512() {
    using Arch = xsimd::avx512f;
    constexpr int chains = 16;
#else
double fma_peak_gflops_avx2() {
    using Arch = xsimd::fma3<xsimd::avx2>;
    constexpr int chains = 12;
#endif
    double best = 0.0;
    for (int run = 0; run < 5; ++run) best = std::max(best, fma_peak_gflops<Arch, chains>(20'000'000));
    return best;
}
