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
