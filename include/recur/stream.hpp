#pragma once
#include <cstddef>
#include <memory>

#include "tensor.hpp"

namespace recur {

class Sequential;

// Runs a model one timestep at a time, for real-time loops: step() takes the inputs of one
// timestep for `batch` sequences and returns the model's output as if the sequences ended
// there (what predict would give on the whole sequence so far). After construction a step
// allocates nothing. A Stream reads the weights of the model it came from: training them
// further changes its outputs; once the model is rebuilt (a layer added), replaced or
// destroyed, step and reset throw a recur::Error. A stream is not thread-safe (one Stream
// per thread), but several Streams may run on one model at once.
class Stream {
public:
    Stream(Stream&&) noexcept;
    Stream& operator=(Stream&&) noexcept;
    ~Stream();

    // x_t holds batch x features floats, row-major (batch ids for a model that starts with an
    // Embedding). Non-finite inputs and ids out of range are a recur::Error. The view stays
    // valid until the next step or reset.
    TensorView step(const float* x_t);
    // Back to the start of the sequences: every hidden state to zero.
    void reset();

    std::size_t batch() const;
    std::size_t input_features() const;

private:
    friend class Sequential;
    struct Impl;
    explicit Stream(std::unique_ptr<Impl> impl);
    Impl& impl(const char* call) const;  // throws when moved from
    std::unique_ptr<Impl> impl_;
};

}  // namespace recur
