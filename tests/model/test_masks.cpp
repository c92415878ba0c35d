// Masks as Keras's: a masked step leaves the state as it was, and padding changes nothing.
// The expected values come from the unmasked path (itself checked against PyTorch): a padded,
// masked sample must give what the same sample gives alone, unpadded, in a model of any
// length; a masked batch's SGD step must be the mean of its samples' own steps.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include <recur/recur.hpp>

#include "support/weights.hpp"

using recur::Dense;
using recur::Embedding;
using recur::Error;
using recur::GRU;
using recur::LSTM;
using recur::Masking;
using recur::None;
using recur::Sequential;
using recur::Shape;
using recur::SimpleRNN;
using recur::Tensor;

namespace {

constexpr std::size_t kT = 7, kD = 3;
const std::vector<std::size_t> kLengths = {7, 1, 4, 0, 6, 2};  // 0: every step padding

float value(std::size_t b, std::size_t t, std::size_t f) {
    return 0.3f * std::sin(1.7f * static_cast<float>(b) + 0.9f * static_cast<float>(t) + 0.5f * static_cast<float>(f)) + 0.05f;
}

// Samples of kLengths real steps, padded at the end with zeros (the Masking value).
Tensor padded(const std::vector<std::size_t>& lengths) {
    Tensor x({lengths.size(), kT, kD});
    for (std::size_t b = 0; b < lengths.size(); ++b)
        for (std::size_t t = 0; t < lengths[b]; ++t)
            for (std::size_t f = 0; f < kD; ++f) x(b, t, f) = value(b, t, f);
    return x;
}
Tensor alone(std::size_t b, std::size_t length) {
    Tensor x({1, length, kD});
    for (std::size_t t = 0; t < length; ++t)
        for (std::size_t f = 0; f < kD; ++f) x(0, t, f) = value(b, t, f);
    return x;
}

void copy_weights(Sequential& to, const Sequential& from, std::size_t skip_from = 0) {
    for (std::size_t l = 0; l < to.layers().size(); ++l) to.layer(l).set_weights(from.layer(l + skip_from).get_weights());
}

// The head's output for a zero state: what a sample without a real step gives.
std::vector<float> head(Sequential& model) {
    auto& dense = static_cast<Dense&>(model.layer(2));
    const Tensor y = dense(Tensor(dense.input_shape().rank() == 2 ? Shape{1, 1, 5} : Shape{1, 5}));
    return {y.begin(), y.end()};
}

bool close(float a, float b) { return std::abs(a - b) <= 1e-6f + 1e-5f * std::abs(b); }

// Masking -> recurrent layer(s) -> Dense, against the same layers without Masking on each
// sample alone.
template <class MakeCell>
void check_masked_like_unpadded(MakeCell cell, bool sequences) {
    Sequential masked;
    masked.add(Masking().input_shape({kT, kD}));
    masked.add(cell(Shape{kT, kD}).return_sequences(true));
    masked.add(cell(Shape{kT, 5}).return_sequences(sequences));
    masked.add(Dense(2));
    Sequential plain;
    plain.add(cell(Shape{None, kD}).return_sequences(true));
    plain.add(cell(Shape{None, 5}).return_sequences(sequences));
    plain.add(Dense(2));
    copy_weights(plain, masked, 1);

    const Tensor y = masked.predict(padded(kLengths));
    for (std::size_t b = 0; b < kLengths.size(); ++b) {
        CAPTURE(b);
        const std::size_t L = kLengths[b];
        if (!sequences) {
            // A sample without a real step gives the head's output of the zero state.
            std::vector<float> expected = head(plain);
            if (L) {
                const Tensor out = plain.predict(alone(b, L));
                expected.assign(out.begin(), out.end());
            }
            for (std::size_t o = 0; o < 2; ++o) CHECK(close(y(b, o), expected[o]));
            continue;
        }
        // Per step: the step's output while the sequence runs; after it, the last real output.
        const Tensor expected = L ? plain.predict(alone(b, L)) : Tensor();
        for (std::size_t t = 0; t < kT; ++t)
            for (std::size_t o = 0; o < 2; ++o) {
                const float want = L == 0 ? head(plain)[o] : expected(0, std::min(t, L - 1), o);
                CHECK(close(y(b, t, o), want));
            }
    }

    // Training: one SGD step on the masked batch moves the weights by the mean of the steps
    // each sample takes alone (the loss is a mean over samples, or over real steps).
    if (sequences) return;
    masked.compile(recur::SGD().learning_rate(0.1f), "mse");
    Tensor targets({kLengths.size(), 2});
    for (std::size_t i = 0; i < targets.size(); ++i) targets.data()[i] = 0.1f * static_cast<float>(i % 5) - 0.2f;
    const std::vector<float> before = recur::testing::all_weights(plain);
    std::vector<double> mean_delta(before.size(), 0.0);
    for (std::size_t b = 0; b < kLengths.size(); ++b) {
        if (kLengths[b] == 0) continue;  // its recurrent weights get no gradient; its head's is below
        Sequential one;
        one.add(cell(Shape{None, kD}).return_sequences(true));
        one.add(cell(Shape{None, 5}).return_sequences(false));
        one.add(Dense(2));
        copy_weights(one, plain);
        one.compile(recur::SGD().learning_rate(0.1f), "mse");
        Tensor target({1, 2});
        target(0, 0) = targets(b, 0);
        target(0, 1) = targets(b, 1);
        one.train_on_batch(alone(b, kLengths[b]), target);
        const std::vector<float> after = recur::testing::all_weights(one);
        for (std::size_t i = 0; i < before.size(); ++i) mean_delta[i] += (double(after[i]) - before[i]) / kLengths.size();
    }
    // The all-padding sample: its prediction is the head on a zero state, which moves only the head's bias.
    const std::vector<float> zero_out = head(plain);
    const std::size_t bias_start = before.size() - 2;
    const std::size_t empty = 3;
    for (std::size_t o = 0; o < 2; ++o)
        mean_delta[bias_start + o] += -0.1 * 2.0 * (double(zero_out[o]) - targets(empty, o)) / 2.0 / kLengths.size();
    masked.train_on_batch(padded(kLengths), targets);
    const std::vector<float> after = recur::testing::all_weights(masked);
    for (std::size_t i = 0; i < before.size(); ++i) {
        CAPTURE(i);
        CHECK(std::abs((double(after[i]) - before[i]) - mean_delta[i]) <= 5e-7 + 1e-4 * std::abs(mean_delta[i]));
    }
}

}  // namespace

TEST_CASE("Masking: a padded, masked sample gives what it gives alone, unpadded (SimpleRNN, LSTM, GRU)") {
    for (bool sequences : {false, true}) {
        CAPTURE(sequences);
        SUBCASE("SimpleRNN") { check_masked_like_unpadded([](Shape in) { return SimpleRNN(5).input_shape(in); }, sequences); }
        SUBCASE("LSTM") { check_masked_like_unpadded([](Shape in) { return LSTM(5).input_shape(in); }, sequences); }
        SUBCASE("GRU") { check_masked_like_unpadded([](Shape in) { return GRU(5).input_shape(in); }, sequences); }
        SUBCASE("GRU, reset_after off") {
            check_masked_like_unpadded([](Shape in) { return GRU(5).reset_after(false).input_shape(in); }, sequences);
        }
    }
}

TEST_CASE("Masking: a masked step inside a sequence is skipped, the state carried over") {
    Sequential masked;
    masked.add(Masking(-1.0f).input_shape({5, 2}));
    masked.add(LSTM(4).return_sequences(true));
    Sequential plain;
    plain.add(LSTM(4).return_sequences(true).input_shape({None, 2}));
    copy_weights(plain, masked, 1);
    Tensor x({1, 5, 2}), real({1, 3, 2});
    const float steps[5][2] = {{0.2f, -0.1f}, {-1.0f, -1.0f}, {0.5f, 0.3f}, {-1.0f, -1.0f}, {-0.4f, 0.1f}};
    for (std::size_t t = 0, k = 0; t < 5; ++t) {
        x(0, t, 0) = steps[t][0];
        x(0, t, 1) = steps[t][1];
        if (steps[t][0] != -1.0f) real(0, k, 0) = steps[t][0], real(0, k++, 1) = steps[t][1];
    }
    const Tensor y = masked.predict(x), expected = plain.predict(real);
    const std::size_t source[5] = {0, 0, 1, 1, 2};  // the real step whose output each step shows
    for (std::size_t t = 0; t < 5; ++t)
        for (std::size_t u = 0; u < 4; ++u) CHECK(close(y(0, t, u), expected(0, source[t], u)));

    // go_backwards: the real steps in reverse; outputs in processing order, as Keras.
    Sequential backwards;
    backwards.add(Masking(-1.0f).input_shape({5, 2}));
    backwards.add(GRU(3).go_backwards(true).return_sequences(true));
    Sequential reversed;
    reversed.add(GRU(3).return_sequences(true).input_shape({None, 2}));
    copy_weights(reversed, backwards, 1);
    Tensor flipped({1, 3, 2});
    for (std::size_t k = 0; k < 3; ++k)
        for (std::size_t f = 0; f < 2; ++f) flipped(0, k, f) = real(0, 2 - k, f);
    const Tensor yb = backwards.predict(x), eb = reversed.predict(flipped);
    const std::size_t shown[5] = {0, 0, 1, 1, 2};  // processing order: t = 4 (real), 3, 2 (real), 1, 0 (real)
    for (std::size_t p = 0; p < 5; ++p)
        for (std::size_t u = 0; u < 3; ++u) CHECK(close(yb(0, p, u), eb(0, shown[p], u)));
}

TEST_CASE("Embedding(mask_zero): id 0 is padding, and losses and metrics leave masked steps out") {
    Sequential masked;
    masked.add(Embedding(6, 4).mask_zero(true).input_shape({5}));
    masked.add(GRU(3).return_sequences(true));
    masked.add(Dense(2).activation("softmax"));
    masked.compile("adam", "sparse_categorical_crossentropy", {"accuracy"});
    Sequential plain;
    plain.add(Embedding(6, 4).input_shape({None}));
    plain.add(GRU(3).return_sequences(true));
    plain.add(Dense(2).activation("softmax"));
    copy_weights(plain, masked);

    Tensor ids({2, 5}), labels({2, 5});
    const float rows[2][5] = {{3, 1, 5, 0, 0}, {2, 0, 4, 0, 1}};  // 0 pads
    for (std::size_t b = 0; b < 2; ++b)
        for (std::size_t t = 0; t < 5; ++t) {
            ids(b, t) = rows[b][t];
            labels(b, t) = static_cast<float>((b + t) % 2);
        }
    // The loss by hand: the mean of -log p(label) over the 6 real steps only.
    double sum = 0.0, hits = 0.0;
    for (std::size_t b = 0; b < 2; ++b) {
        std::vector<float> real;
        std::vector<std::size_t> at;
        for (std::size_t t = 0; t < 5; ++t)
            if (rows[b][t] != 0) real.push_back(rows[b][t]), at.push_back(t);
        Tensor one(Shape{1, real.size()});
        for (std::size_t k = 0; k < real.size(); ++k) one(0, k) = real[k];
        const Tensor p = plain.predict(one);
        for (std::size_t k = 0; k < real.size(); ++k) {
            const std::size_t label = static_cast<std::size_t>(labels(b, at[k]));
            sum -= std::log(double(p(0, k, label)));
            hits += p(0, k, label) > p(0, k, 1 - label) ? 1.0 : 0.0;
        }
    }
    const auto scores = masked.evaluate_dict(ids, labels);
    CHECK(scores.at("loss") == doctest::Approx(sum / 6).epsilon(1e-5));
    CHECK(scores.at("accuracy") == doctest::Approx(hits / 6).epsilon(1e-6));
    CHECK(masked.train_on_batch(ids, labels) == doctest::Approx(sum / 6).epsilon(1e-5));
}

TEST_CASE("masks: what is refused, and saved settings") {
    Sequential model;
    model.add(Dense(3).input_shape({4, 2}));
    CHECK_THROWS_WITH_AS(model.add(Masking()), doctest::Contains("(Masking) reads the mask from the model's input, so it can "
                                                                 "only be the first layer"), Error);
    CHECK_THROWS_WITH_AS(Masking(std::nanf("")), doctest::Contains("expected a finite mask_value"), Error);

    Sequential masked;
    masked.add(Masking(0.5f).input_shape({None, 2}));
    masked.add(SimpleRNN(3));
    CHECK_THROWS_WITH_AS(masked.stream(1), doctest::Contains("(Masking) masks steps of whole sequences"), Error);
    Sequential embedded;
    embedded.add(Embedding(5, 2).mask_zero(true).input_shape({3}));
    embedded.add(GRU(2));
    CHECK_THROWS_WITH_AS(embedded.stream(1), doctest::Contains("has mask_zero on"), Error);

    // Saved and loaded with their settings: the loaded model masks as the original.
    const std::string path = "recur_masks_test.safetensors";
    masked.save(path);
    const Sequential loaded = recur::load_model(path);
    std::remove(path.c_str());
    CHECK(dynamic_cast<const Masking&>(loaded.layer(0)).mask_value() == 0.5f);
    Tensor x({2, 4, 2});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = i % 3 == 0 ? 0.5f : 0.1f * static_cast<float>(i);
    const Tensor a = masked.predict(x), b = loaded.predict(x);
    CHECK(std::equal(a.begin(), a.end(), b.begin(), b.end()));
    embedded.save(path);
    const Sequential loaded_embedding = recur::load_model(path);
    std::remove(path.c_str());
    CHECK(dynamic_cast<const Embedding&>(loaded_embedding.layer(0)).mask_zero());
}
