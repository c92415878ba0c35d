// fit allocates its workspace once: the step loop itself allocates nothing, however many
// steps an epoch has. Every global operator new is counted.
#include <doctest/doctest.h>

#include <cmath>

#include <recur/recur.hpp>

#include "support/count_allocations.hpp"

using recur::testing::allocations;

namespace {

// Allocations made by one epoch of fit over `samples` samples in batches of 16.
long allocations_in_fit(std::size_t samples) {
    recur::manual_seed(71);
    recur::Sequential model;
    model.add(recur::SimpleRNN(24).return_sequences(true).input_shape({6, 3}));
    model.add(recur::SimpleRNN(12));
    model.add(recur::Dense(2));
    model.compile(recur::Adam().clipnorm(1.0f), "mse", {"mae"});
    recur::Tensor x({samples, 6, 3}), y({samples, 2});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.1f * static_cast<float>(i));
    model.train_on_batch(x, y);  // the first step sizes the optimizer's state
    const long before = allocations;
    model.fit(x, y, recur::FitOptions().epochs(1).batch_size(16).verbose(0));
    return allocations - before;
}

}  // namespace

TEST_CASE("the step loop of fit allocates nothing: 4 steps and 64 steps allocate alike") {
    const long few = allocations_in_fit(64), many = allocations_in_fit(1024);
    CHECK(few > 0);  // the counter works: fit's set-up allocates
    CHECK(many == few);
}

TEST_CASE("a training step needs the memory README's formula gives") {
    // SimpleRNN(H) + Dense(1), Adam, batch B of T steps of D features. README, "Memory":
    //   (3 + 2s) P + B T D + 3 B O + (2T + 1) B H + B H + H ceil16(H) + max(D ceil16(H), H ceil16(D))
    //   + 256 (ceil16(H) + max(D, H)) + 2 B O + O ceil16(H), with s = 2 for Adam.
    const std::size_t B = 64, T = 200, D = 32, H = 256, O = 1;
    auto ceil16 = [](std::size_t n) { return (n + 15) / 16 * 16; };
    const std::size_t P = D * H + H * H + H + H * O + O;
    const double formula_bytes =
        4.0 * double(7 * P + B * T * D + 3 * B * O + (2 * T + 1) * B * H + B * H + H * ceil16(H) +
                     std::max(D * ceil16(H), H * ceil16(D)) + 256 * (ceil16(H) + std::max(D, H)) + 2 * B * O +
                     O * ceil16(H));

    recur::Tensor x({B, T, D}), y({B, O});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.01f * static_cast<float>(i));
    const long baseline = recur::testing::bytes_held;
    recur::testing::peak_bytes_held = baseline;
    {
        recur::manual_seed(72);
        recur::Sequential model;
        model.add(recur::SimpleRNN(H).input_shape({T, D}));
        model.add(recur::Dense(O));
        model.compile("adam", "mse");
        model.fit(x, y, recur::FitOptions().epochs(1).batch_size(B).verbose(0));
    }
    const double peak = double(recur::testing::peak_bytes_held - baseline);
    CAPTURE(formula_bytes);
    CAPTURE(peak);
    CHECK(peak <= formula_bytes * 1.02 + 256 * 1024);  // the formula bounds what is allocated...
    CHECK(peak >= formula_bytes * 0.95);               // ...and is not a loose bound
}
