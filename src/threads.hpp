#pragma once
// Deterministic data parallelism: work is cut into pieces whose size never depends on the
// thread count, and every output element is computed by exactly one piece, so 1, 2 or 8
// threads produce bitwise the same numbers.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include <recur/threads.hpp>

namespace recur::detail {

// Below this many multiply-adds a parallel region costs more than it saves, above all when
// the other cores are busy and a barrier waits for a time slice.
inline constexpr double kMinParallelWork = 1 << 22;  // ~40 us of one core: less is not worth waking a thread
// More threads than this is a mistake (a negative count converted, a typo), not a machine.
inline constexpr std::size_t kMaxThreads = 1024;
// Work of a float read and written by a copy or an elementwise update, in multiply-adds:
// it comes from memory or the outer caches, not from registers.
inline constexpr double kWorkPerFloatMoved = 8;

// Calls f(begin, count) for consecutive pieces of [0, n) of `piece` items each (the last
// may be shorter), on OpenMP threads when `work` (multiply-adds in all) pays for them.
template <class F>
void for_each_piece(std::size_t n, std::size_t piece, double work, F&& f) {
    const std::int64_t pieces = static_cast<std::int64_t>((n + piece - 1) / piece);
    if (work < kMinParallelWork || pieces == 1) {  // not even an idle parallel region: it costs
        for (std::size_t begin = 0; begin < n; begin += piece) f(begin, std::min(piece, n - begin));
        return;
    }
    const int threads = static_cast<int>(std::min<std::size_t>(num_threads(), static_cast<std::size_t>(pieces)));
#pragma omp parallel for schedule(static) num_threads(threads)
    for (std::int64_t p = 0; p < pieces; ++p) {
        const std::size_t begin = static_cast<std::size_t>(p) * piece;
        f(begin, std::min(piece, n - begin));
    }
}

// Rounds in order; in each, setup(round, part) for parts [0, setup_parts), then f(round, piece)
// for pieces [0, pieces), each batch split over the threads with a barrier after it: a round's
// pieces use what its setup laid out, and the next setup overwrites it. Pieces go to threads
// as they come free (pieces of unequal size would otherwise leave one waiting); each still
// computes its own fixed outputs, so the bits do not depend on who ran it.
template <class Setup, class F>
void for_each_piece_in_rounds(std::size_t rounds, std::size_t setup_parts, std::size_t pieces, double work,
                              Setup&& setup, F&& f) {
    if (work < kMinParallelWork || pieces == 1) {  // even a one-thread team costs an allocation
        for (std::size_t round = 0; round < rounds; ++round) {
            for (std::size_t part = 0; part < setup_parts; ++part) setup(round, part);
            for (std::size_t p = 0; p < pieces; ++p) f(round, p);
        }
        return;
    }
    const auto parts = static_cast<std::int64_t>(setup_parts), count = static_cast<std::int64_t>(pieces);
    const int threads = static_cast<int>(num_threads());
#pragma omp parallel num_threads(threads)
    for (std::size_t round = 0; round < rounds; ++round) {
#pragma omp for schedule(static)
        for (std::int64_t part = 0; part < parts; ++part) setup(round, static_cast<std::size_t>(part));
#pragma omp for schedule(dynamic)
        for (std::int64_t p = 0; p < count; ++p) f(round, static_cast<std::size_t>(p));
    }
}

}  // namespace recur::detail
