// fit allocates its workspace once: the step loop itself allocates nothing, however many
// steps an epoch has. Every global operator new is counted.
#include <doctest/doctest.h>

#include <algorithm>
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

namespace {

// What README's "Memory" formula gives, in bytes, for one recurrent layer (of `gates` gate
// blocks) + Dense(O), Adam (s = 2), batch B of T steps of D features.
struct Recurrent {
    const char* kind;
    std::size_t gates;
    bool cell_state, reset_before;
    std::size_t kept;  // floats per unit kept per step
};

double formula_bytes(const Recurrent& r, std::size_t B, std::size_t T, std::size_t D, std::size_t H, std::size_t O) {
    auto c = [](std::size_t n) { return (n + 15) / 16 * 16; };
    const std::size_t G = r.gates, GH = G * H;
    const bool gated = G > 1;
    const std::size_t biases = r.kept == 3 ? 2 : 1;  // GRU reset_after: input and recurrent bias
    const std::size_t P = D * GH + H * GH + biases * GH + H * O + O;
    const std::size_t recurrent_packed =
        r.reset_before ? std::max(H * c(2 * H), 2 * H * c(H)) + H * c(H) : std::max(H * c(GH), GH * c(H));
    const std::size_t floats = 7 * P + B * T * D + 3 * B * O                           // weights...; data
                               + (T + 1) * B * H + T * B * GH                          // states, pre-activations
                               + (r.cell_state ? (T + 1) * B * H : 0) + T * B * r.kept * H  // c; kept floats
                               + (gated ? 2 * B * H : 0)                               // carried gradients
                               + B * H                                                 // output gradient
                               + std::max(D * c(GH), GH * c(D)) + recurrent_packed     // W, U packed
                               + 512 * (c(GH) + D + H + 1)                             // gradient slab
                               + 2 * B * O + O * c(H);                                 // Dense(O)
    return 4.0 * double(floats);
}

}  // namespace

TEST_CASE("a training step needs the memory README's formula gives, for every recurrent kind") {
    const std::size_t B = 64, T = 200, D = 32, H = 256, O = 1;
    const Recurrent kinds[] = {{"SimpleRNN", 1, false, false, 0},
                               {"LSTM", 4, true, false, 0},
                               {"GRU", 3, false, false, 3},
                               {"GRU reset_before", 3, false, true, 1}};
    recur::Tensor x({B, T, D}), y({B, O});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.01f * static_cast<float>(i));
    for (const Recurrent& kind : kinds) {
        CAPTURE(kind.kind);
        const double formula = formula_bytes(kind, B, T, D, H, O);
        const long baseline = recur::testing::bytes_held;
        recur::testing::peak_bytes_held = baseline;
        {
            recur::manual_seed(72);
            recur::Sequential model;
            if (kind.gates == 4) model.add(recur::LSTM(H).input_shape({T, D}));
            else if (kind.gates == 3) model.add(recur::GRU(H).reset_after(!kind.reset_before).input_shape({T, D}));
            else model.add(recur::SimpleRNN(H).input_shape({T, D}));
            model.add(recur::Dense(O));
            model.compile("adam", "mse");
            model.fit(x, y, recur::FitOptions().epochs(1).batch_size(B).verbose(0));
        }
        const double peak = double(recur::testing::peak_bytes_held - baseline);
        CAPTURE(formula);
        CAPTURE(peak);
        CHECK(peak <= formula * 1.02 + 256 * 1024);  // the formula bounds what is allocated...
        CHECK(peak >= formula * 0.95);               // ...and is not a loose bound
    }
}
