#pragma once
// Deterministic data parallelism: work is cut into pieces whose size never depends on the
// thread count, and every output element is computed by exactly one piece, so 1, 2 or 8
// threads produce bitwise the same numbers.
#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace recur::detail {

// Below this many multiply-adds a parallel region costs more than it saves.
inline constexpr double kMinParallelWork = 1 << 18;

// Calls f(begin, count) for consecutive pieces of [0, n) of `piece` items each (the last
// may be shorter), on OpenMP threads when `work` (multiply-adds in all) pays for them.
template <class F>
void for_each_piece(std::size_t n, std::size_t piece, double work, F&& f) {
    const std::int64_t pieces = static_cast<std::int64_t>((n + piece - 1) / piece);
    if (work < kMinParallelWork || pieces == 1) {  // not even an idle parallel region: it costs
        for (std::size_t begin = 0; begin < n; begin += piece) f(begin, std::min(piece, n - begin));
        return;
    }
#pragma omp parallel for schedule(static)
    for (std::int64_t p = 0; p < pieces; ++p) {
        const std::size_t begin = static_cast<std::size_t>(p) * piece;
        f(begin, std::min(piece, n - begin));
    }
}

}  // namespace recur::detail
