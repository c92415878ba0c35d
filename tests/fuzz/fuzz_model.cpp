// load_model on arbitrary bytes: a recur::Error is a fine answer; a crash, leak, hang or
// an allocation larger than the input is not. A model that loads must also predict.
#include <recur/recur.hpp>

#include "scratch_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const recur::Sequential model = recur::load_model(scratch_file("model", data, size));
        const recur::Shape sample = model.input_shape();
        if (sample.elements() <= 4096) model.predict(recur::Tensor(sample.prepend(1)));
    } catch (const recur::Error&) {
    }
    return 0;
}
