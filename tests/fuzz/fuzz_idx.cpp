// read_idx on arbitrary bytes, plain or (when they start with gzip's magic) compressed.
#include <recur/recur.hpp>

#include "scratch_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        recur::read_idx(scratch_file("idx", data, size));
    } catch (const recur::Error&) {
    }
    return 0;
}
