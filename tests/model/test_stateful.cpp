// Stateful layers and initial states, as Keras's: a long sequence fed in consecutive chunks
// to a stateful model gives what the whole sequence gives at once (the unmasked path, itself
// checked against PyTorch), and a layer started from the states another call ended with
// continues that call.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <recur/recur.hpp>

#include "support/weights.hpp"

using recur::Dense;
using recur::Error;
using recur::GRU;
using recur::LSTM;
using recur::Sequential;
using recur::Shape;
using recur::SimpleRNN;
using recur::Tensor;

namespace {

constexpr std::size_t kB = 3, kT = 12, kD = 2, kChunk = 4;

Tensor series() {
    Tensor x({kB, kT, kD});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = 0.4f * std::sin(0.37f * static_cast<float>(i)) + 0.05f;
    return x;
}
Tensor steps(const Tensor& x, std::size_t from, std::size_t count) {
    Tensor out({x.shape()[0], count, x.shape()[2]});
    for (std::size_t b = 0; b < x.shape()[0]; ++b)
        for (std::size_t t = 0; t < count; ++t)
            for (std::size_t f = 0; f < x.shape()[2]; ++f) out(b, t, f) = x(b, from + t, f);
    return out;
}
bool close(float a, float b) { return std::abs(a - b) <= 1e-6f + 1e-5f * std::abs(b); }

template <class MakeCell>
void check_chunks(MakeCell cell) {
    Sequential stateful;
    stateful.add(cell().stateful(true).return_sequences(true).input_shape({kChunk, kD}));
    stateful.add(Dense(2));
    Sequential whole;
    whole.add(cell().return_sequences(true).input_shape({kT, kD}));
    whole.add(Dense(2));
    for (std::size_t l = 0; l < 2; ++l) whole.layer(l).set_weights(stateful.layer(l).get_weights());
    const Tensor x = series(), expected = whole.predict(x);
    for (int round = 0; round < 2; ++round) {  // reset_states starts the series over
        for (std::size_t c = 0; c < kT / kChunk; ++c) {
            const Tensor y = stateful.predict(steps(x, c * kChunk, kChunk), kB);
            for (std::size_t b = 0; b < kB; ++b)
                for (std::size_t t = 0; t < kChunk; ++t)
                    for (std::size_t o = 0; o < 2; ++o) CHECK(close(y(b, t, o), expected(b, c * kChunk + t, o)));
        }
        stateful.reset_states();
    }
    // A stateful layer after reset trains exactly as one that is not (zero initial states).
    Sequential plain;
    plain.add(cell().return_sequences(true).input_shape({kChunk, kD}));
    plain.add(Dense(2));
    for (std::size_t l = 0; l < 2; ++l) plain.layer(l).set_weights(stateful.layer(l).get_weights());
    stateful.compile(recur::SGD().learning_rate(0.1f), "mse");
    plain.compile(recur::SGD().learning_rate(0.1f), "mse");
    const Tensor first = steps(x, 0, kChunk), target({kB, kChunk, 2});
    CHECK(stateful.train_on_batch(first, target) == plain.train_on_batch(first, target));
    CHECK(recur::testing::all_weights(stateful) == recur::testing::all_weights(plain));
    // The next chunk starts from where the first ended: its loss is the whole sequence's on those steps.
    Sequential eight;
    eight.add(cell().return_sequences(true).input_shape({2 * kChunk, kD}));
    eight.add(Dense(2));
    for (std::size_t l = 0; l < 2; ++l) eight.layer(l).set_weights(plain.layer(l).get_weights());
    const Tensor out = eight.predict(steps(x, 0, 2 * kChunk));
    double loss = 0.0;
    for (std::size_t b = 0; b < kB; ++b)
        for (std::size_t t = kChunk; t < 2 * kChunk; ++t)
            for (std::size_t o = 0; o < 2; ++o) loss += double(out(b, t, o)) * out(b, t, o) / (kB * kChunk * 2);
    // (The first chunk's states came from the weights before the step: run it again after.)
    stateful.reset_states();
    stateful.predict(first, kB);
    CHECK(stateful.train_on_batch(steps(x, kChunk, kChunk), target) == doctest::Approx(loss).epsilon(1e-5));
}

}  // namespace

TEST_CASE("stateful: consecutive chunks of a series give what the whole series gives (SimpleRNN, LSTM, GRU)") {
    SUBCASE("SimpleRNN") { check_chunks([] { return SimpleRNN(5); }); }
    SUBCASE("LSTM") { check_chunks([] { return LSTM(5); }); }
    SUBCASE("GRU") { check_chunks([] { return GRU(5); }); }
}

TEST_CASE("stateful: fit keeps the sample order and the batch size; reset_states frees it") {
    Sequential model;
    model.add(LSTM(3).stateful(true).input_shape({kChunk, kD}).name("lstm"));
    model.add(Dense(1));
    model.compile("adam", "mse");
    const Tensor x = steps(series(), 0, kChunk), y({kB, 1});
    CHECK_THROWS_WITH_AS(model.fit(x, y, recur::FitOptions().verbose(0)), doctest::Contains("give shuffle(false)"), Error);
    CHECK_THROWS_WITH_AS(model.fit(x, y, recur::FitOptions().verbose(0).shuffle(false).batch_size(2)),
                         doctest::Contains("3 samples must come in whole batches of 2"), Error);
    CHECK_NOTHROW(model.fit(x, y, recur::FitOptions().verbose(0).shuffle(false).epochs(2)));
    CHECK_THROWS_WITH_AS(model.predict(x, 1),
                         doctest::Contains("layer 'lstm' is stateful and carries the states of a batch of 3 samples, got a batch of 1"),
                         Error);
    model.reset_states();
    CHECK(model.predict(x, 1).shape() == Shape{kB, 1});

    // Saved and loaded stateful (the states themselves are not kept, as Keras's).
    const std::string path = "recur_stateful_test.safetensors";
    model.save(path);
    const Sequential loaded = recur::load_model(path);
    std::remove(path.c_str());
    CHECK(static_cast<const LSTM&>(loaded.layer(0)).stateful());
    CHECK_THROWS_WITH_AS(recur::Bidirectional(GRU(2).stateful(true)), doctest::Contains("is stateful; a Bidirectional"), Error);
}

TEST_CASE("initial_state: a layer called from the states another call ended with continues it") {
    const Tensor x = series();
    SUBCASE("LSTM") {
        LSTM layer = LSTM(4).return_sequences(true).return_state(true);
        const std::vector<Tensor> whole = layer(x);
        const std::vector<Tensor> first = layer(steps(x, 0, 5));
        const std::vector<Tensor> rest = layer(steps(x, 5, kT - 5), {first[1], first[2]});
        for (std::size_t b = 0; b < kB; ++b)
            for (std::size_t u = 0; u < 4; ++u) {
                CHECK(close(rest[0](b, kT - 6, u), whole[0](b, kT - 1, u)));
                CHECK(close(rest[2](b, u), whole[2](b, u)));
            }
        CHECK_THROWS_WITH_AS(layer(x, {first[1]}), doctest::Contains("takes an initial_state of 2 tensors (h, c), got 1"), Error);
        CHECK_THROWS_WITH_AS(layer(x, {first[1], Tensor(Shape{kB, 3})}), doctest::Contains("expects initial states of shape (3, 4), got (3, 3)"), Error);
        Tensor bad = first[1];
        bad(0, 0) = std::nanf("");
        CHECK_THROWS_WITH_AS(layer(x, {bad, first[2]}), doctest::Contains("expects finite initial states"), Error);
    }
    SUBCASE("GRU") {
        GRU layer = GRU(4).return_state(true);
        const std::vector<Tensor> whole = layer(x);
        const std::vector<Tensor> first = layer(steps(x, 0, 7));
        const std::vector<Tensor> rest = layer(steps(x, 7, kT - 7), {first[1]});
        for (std::size_t b = 0; b < kB; ++b)
            for (std::size_t u = 0; u < 4; ++u) CHECK(close(rest[0](b, u), whole[0](b, u)));
    }
}
