#include <doctest/doctest.h>

#include <cmath>
#include <thread>
#include <vector>

#include <recur/recur.hpp>

// Counts every global operator new, to prove that a stream step allocates nothing.
#include "support/count_allocations.hpp"

using recur::testing::allocations;

using recur::Sequential;
using recur::Tensor;

namespace {

Tensor wave(std::size_t n, std::size_t T, std::size_t D) {
    Tensor x({n, T, D});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.13f * static_cast<float>(i));
    return x;
}

// Steps through x (n, T, D) for all n sequences at once; returns the output after the last step.
std::vector<float> stream_all(recur::Stream& stream, const Tensor& x, long* allocations_in_steps = nullptr) {
    const std::size_t n = x.shape()[0], T = x.shape()[1], D = x.shape()[2];
    std::vector<float> step_input(n * D);
    recur::TensorView out;
    const long before = allocations;
    for (std::size_t t = 0; t < T; ++t) {
        for (std::size_t b = 0; b < n; ++b)
            for (std::size_t d = 0; d < D; ++d) step_input[b * D + d] = x(b, t, d);
        out = stream.step(step_input.data());
    }
    if (allocations_in_steps) *allocations_in_steps = allocations - before;
    return {out.begin(), out.end()};
}

}  // namespace

TEST_CASE("stepping through a sequence gives what predict gives on the whole of it") {
    recur::manual_seed(31);
    Sequential model;
    model.add(recur::SimpleRNN(16).return_sequences(true).input_shape({9, 3}));
    model.add(recur::SimpleRNN(8).activation("relu"));
    model.add(recur::Dense(2).activation("tanh"));
    const Tensor x = wave(5, 9, 3);
    const Tensor expected = model.predict(x);
    recur::Stream stream = model.stream(5);
    CHECK(stream.batch() == 5);
    CHECK(stream.input_features() == 3);
    long allocated = -1;
    const std::vector<float> got = stream_all(stream, x, &allocated);
    CHECK(allocated == 0);
    REQUIRE(got.size() == expected.size());
    CHECK(std::equal(got.begin(), got.end(), expected.begin()));  // the same kernels: bit for bit

    stream.reset();  // the same sequences again from a cleared state
    const std::vector<float> again = stream_all(stream, x);
    CHECK(again == got);
}

TEST_CASE("for every cell, stepping gives predict's outputs bit for bit, allocating nothing") {
    // Wide and narrow units (the narrow SimpleRNN runs predict with the batch in the vector
    // lanes), both GRU variants, LSTM's two states, stacked and sequence-returning layers.
    const auto build = [](int kind, std::size_t units) {
        recur::manual_seed(34);
        Sequential model;
        switch (kind) {
            case 0: model.add(recur::SimpleRNN(units).input_shape({7, 3})); break;
            case 1: model.add(recur::LSTM(units).input_shape({7, 3})); break;
            case 2: model.add(recur::GRU(units).input_shape({7, 3})); break;
            case 3: model.add(recur::GRU(units).reset_after(false).input_shape({7, 3})); break;
            default: model.add(recur::LSTM(units).return_sequences(true).input_shape({7, 3})); model.add(recur::GRU(5));
        }
        model.add(recur::Dense(2).activation("softmax"));
        return model;
    };
    for (int kind = 0; kind < 5; ++kind)
        for (std::size_t units : {2, 19}) {
            CAPTURE(kind);
            CAPTURE(units);
            const Sequential model = build(kind, units);
            const Tensor x = wave(40, 7, 3);
            const Tensor expected = model.predict(x);
            recur::Stream stream = model.stream(40);
            long allocated = -1;
            const std::vector<float> got = stream_all(stream, x, &allocated);
            CHECK(allocated == 0);
            REQUIRE(got.size() == expected.size());
            CHECK(std::equal(got.begin(), got.end(), expected.begin()));
        }
}

TEST_CASE("a stream of a model that starts with an Embedding gives predict's outputs bit for bit") {
    recur::manual_seed(35);
    Sequential model;
    model.add(recur::Embedding(6, 4).input_shape({5}));
    model.add(recur::LSTM(8));
    model.add(recur::Dense(3));
    Tensor ids({3, 5});
    for (std::size_t i = 0; i < ids.size(); ++i) ids.data()[i] = static_cast<float>((i * 7) % 6);
    const Tensor expected = model.predict(ids);
    recur::Stream stream = model.stream(3);
    CHECK(stream.input_features() == 1);
    recur::TensorView out;
    for (std::size_t t = 0; t < 5; ++t) {
        const float step_ids[3] = {ids(0, t), ids(1, t), ids(2, t)};
        out = stream.step(step_ids);
    }
    CHECK(std::equal(out.begin(), out.end(), expected.begin()));
}

TEST_CASE("a stream of a sequence-returning model gives each step's output") {
    recur::manual_seed(32);
    Sequential model;
    model.add(recur::SimpleRNN(6).return_sequences(true).input_shape({4, 1}));
    model.add(recur::Dense(1));
    const Tensor x = wave(2, 4, 1);
    const Tensor expected = model.predict(x);  // (2, 4, 1)
    recur::Stream stream = model.stream(2);
    for (std::size_t t = 0; t < 4; ++t) {
        const float step_input[2] = {x(0, t, 0), x(1, t, 0)};
        const recur::TensorView out = stream.step(step_input);
        CHECK(out.shape() == recur::Shape{2, 1});
        for (std::size_t b = 0; b < 2; ++b) CHECK(std::abs(out(b, 0) - expected(b, t, 0)) <= 1e-6f);
    }
}

TEST_CASE("streams refuse what cannot stream") {
    Sequential backwards;
    backwards.add(recur::SimpleRNN(3).go_backwards(true).name("rev").input_shape({4, 1}));
    CHECK_THROWS_WITH_AS(backwards.stream(1), doctest::Contains("layer 'rev' has go_backwards on"), recur::Error);
    Sequential model;
    model.add(recur::SimpleRNN(3).input_shape({4, 1}));
    CHECK_THROWS_WITH_AS(model.stream(0), doctest::Contains("expected batch >= 1, got 0"), recur::Error);
}

TEST_CASE("predict on a const model is safe from 8 threads at once") {
    recur::manual_seed(33);
    Sequential model;
    model.add(recur::SimpleRNN(32).return_sequences(true).input_shape({10, 4}));
    model.add(recur::SimpleRNN(16));
    model.add(recur::Dense(3));
    const Sequential& shared = model;
    const Tensor x = wave(40, 10, 4);
    const Tensor expected = shared.predict(x);
    std::vector<int> same(8, 0);
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i)
        threads.emplace_back([&, i] {
            bool ok = true;
            for (int round = 0; round < 20; ++round) {
                const Tensor got = shared.predict(x, 7);
                ok = ok && std::equal(got.begin(), got.end(), expected.begin());
            }
            same[i] = ok;
        });
    for (auto& t : threads) t.join();
    for (int ok : same) CHECK(ok == 1);
}
