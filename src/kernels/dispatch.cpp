// Chooses the kernel table once, at first use: RECUR_ISA if set, else the best
// instruction set this CPU has. Compiled for baseline x86-64 like the rest of the library.
#include <cstdlib>
#include <string>

#include <recur/error.hpp>

#include "kernels.hpp"

namespace recur::kernels {
namespace avx512 { extern const Table table; }
namespace avx2 { extern const Table table; }
namespace sse2 { extern const Table table; }

namespace {

bool cpu_has(std::string_view isa) {
    __builtin_cpu_init();
    if (isa == "avx512")  // the flags simd.cpp is built with for AVX-512
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (isa == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return isa == "sse2";
}

const Table& choose() {
    if (const char* forced = std::getenv("RECUR_ISA"); forced && *forced) {
        if (const Table* table = find(forced)) return *table;
        throw Error(std::string("RECUR_ISA: expected one of avx512, avx2, sse2 that this CPU supports, got '") +
                    forced + "'");
    }
    return *supported().front();
}

}  // namespace

std::vector<const Table*> supported() {
    std::vector<const Table*> tables;
    for (const Table* table : {&avx512::table, &avx2::table, &sse2::table})
        if (cpu_has(table->isa)) tables.push_back(table);
    return tables;
}

const Table* find(std::string_view isa) {
    for (const Table* table : supported())
        if (isa == table->isa) return table;
    return nullptr;
}

namespace {
const Table*& current() {
    static const Table* table = &choose();
    return table;
}
}  // namespace

const Table& active() { return *current(); }

void set_active(const Table& table) { current() = &table; }

}  // namespace recur::kernels
