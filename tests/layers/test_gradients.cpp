// Gradients of every layer, activation and loss against central finite differences of the
// loss, through the same forward and backward passes fit uses.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <random>

#include <recur/recur.hpp>

#include "support/probe.hpp"

using recur::Dense;
using recur::Sequential;
using recur::Shape;
using recur::SimpleRNN;
using recur::Tensor;
using recur::testing::check_gradients;

namespace {

Tensor random_tensor(Shape shape, unsigned seed, float scale = 1.0f) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    Tensor t(std::move(shape));
    for (float& v : t) v = dist(gen);
    return t;
}

}  // namespace

TEST_CASE("SimpleRNN gradients, every activation and option") {
    for (const char* activation : {"tanh", "relu", "sigmoid", "linear"})
        for (bool sequences : {false, true})
            for (bool backwards : {false, true})
                for (bool bias : {true, false}) {
                    CAPTURE(activation); CAPTURE(sequences); CAPTURE(backwards); CAPTURE(bias);
                    recur::manual_seed(11);
                    Sequential model;
                    model.add(SimpleRNN(3).activation(activation).return_sequences(sequences).go_backwards(backwards)
                                  .use_bias(bias).input_shape({4, 2}));
                    model.add(Dense(2));
                    const Tensor x = random_tensor({3, 4, 2}, 1);
                    const Tensor y = random_tensor(sequences ? Shape{3, 4, 2} : Shape{3, 2}, 2);
                    check_gradients(model, recur::MSE(), x, y);
                }
}

TEST_CASE("LSTM gradients, every option and activation") {
    for (const char* activation : {"tanh", "relu"})
        for (const char* recurrent : {"sigmoid", "tanh"})
            for (bool sequences : {false, true})
                for (bool backwards : {false, true})
                    for (bool bias : {true, false}) {
                        CAPTURE(activation); CAPTURE(recurrent); CAPTURE(sequences); CAPTURE(backwards); CAPTURE(bias);
                        recur::manual_seed(13);
                        Sequential model;
                        model.add(recur::LSTM(3).activation(activation).recurrent_activation(recurrent)
                                      .return_sequences(sequences).go_backwards(backwards).use_bias(bias)
                                      .input_shape({4, 2}));
                        model.add(Dense(2));
                        const Tensor x = random_tensor({3, 4, 2}, 5);
                        const Tensor y = random_tensor(sequences ? Shape{3, 4, 2} : Shape{3, 2}, 6);
                        check_gradients(model, recur::MSE(), x, y);
                    }
}

TEST_CASE("GRU gradients, both reset variants, every option and activation") {
    for (bool reset_after : {true, false})
        for (const char* activation : {"tanh", "relu"})
            for (const char* recurrent : {"sigmoid", "tanh"})
                for (bool sequences : {false, true})
                    for (bool backwards : {false, true})
                        for (bool bias : {true, false}) {
                            CAPTURE(reset_after); CAPTURE(activation); CAPTURE(recurrent); CAPTURE(sequences);
                            CAPTURE(backwards); CAPTURE(bias);
                            recur::manual_seed(14);
                            Sequential model;
                            model.add(recur::GRU(3).reset_after(reset_after).activation(activation)
                                          .recurrent_activation(recurrent).return_sequences(sequences)
                                          .go_backwards(backwards).use_bias(bias).input_shape({4, 2}));
                            model.add(Dense(2));
                            const Tensor x = random_tensor({3, 4, 2}, 7);
                            const Tensor y = random_tensor(sequences ? Shape{3, 4, 2} : Shape{3, 2}, 8);
                            check_gradients(model, recur::MSE(), x, y);
                        }
}

TEST_CASE("gradients through a stack of every recurrent cell, from an Embedding to a softmax head") {
    recur::manual_seed(15);
    Sequential model;
    model.add(recur::Embedding(7, 3).input_shape({5}));
    model.add(recur::GRU(4).return_sequences(true));
    model.add(recur::LSTM(3).return_sequences(true));
    model.add(recur::SimpleRNN(4));
    model.add(Dense(3).activation("softmax"));
    Tensor ids({4, 5});
    for (std::size_t i = 0; i < ids.size(); ++i) ids.data()[i] = static_cast<float>((i * 3) % 7);
    Tensor labels({4}, {0, 2, 1, 2});
    check_gradients(model, recur::SparseCategoricalCrossentropy(), ids, labels);
}

TEST_CASE("SimpleRNN gradients with the batch in the vector lanes: narrow units, several groups of rows") {
    // 2 units and 37 rows run the time loop with the batch in the lanes with AVX-512 and AVX2
    // (groups of 16 or 8 rows, the last one partial).
    for (bool sequences : {false, true}) {
        CAPTURE(sequences);
        recur::manual_seed(12);
        Sequential model;
        model.add(SimpleRNN(2).return_sequences(sequences).input_shape({5, 2}));
        model.add(Dense(2));
        const Tensor x = random_tensor({37, 5, 2}, 3);
        const Tensor y = random_tensor(sequences ? Shape{37, 5, 2} : Shape{37, 2}, 4);
        check_gradients(model, recur::MSE(), x, y);
    }
}

TEST_CASE("Dense gradients, every activation, on 2-D and 3-D input") {
    for (const char* activation : {"linear", "tanh", "relu", "sigmoid", "softmax"})
        for (bool sequence : {false, true}) {
            CAPTURE(activation); CAPTURE(sequence);
            recur::manual_seed(12);
            Sequential model;
            model.add(SimpleRNN(4).return_sequences(sequence).input_shape({3, 2}));
            model.add(Dense(5).activation(activation));
            const Tensor x = random_tensor({4, 3, 2}, 3);
            const Tensor y = random_tensor(sequence ? Shape{4, 3, 5} : Shape{4, 5}, 4);
            check_gradients(model, recur::MSE(), x, y);
        }
}

TEST_CASE("loss gradients: MSE, MAE, Huber") {
    std::vector<std::unique_ptr<recur::Loss>> losses;
    losses.push_back(std::make_unique<recur::MSE>());
    losses.push_back(std::make_unique<recur::MAE>());
    losses.push_back(recur::Huber().delta(0.5f).clone());
    for (const auto& loss : losses) {
        CAPTURE(loss->name());
        recur::manual_seed(13);
        Sequential model;
        model.add(SimpleRNN(3).input_shape({3, 2}));
        model.add(Dense(2));
        check_gradients(model, *loss, random_tensor({5, 3, 2}, 5), random_tensor({5, 2}, 6, 2.0f));
    }
}

TEST_CASE("stacked SimpleRNN layers pass gradients down, through go_backwards too") {
    // Central differences are meaningless where a relu unit sits within h of its kink; with
    // seed 14 one does (the analytic gradient is right, the difference quotient is not).
    recur::manual_seed(15);
    Sequential model;
    model.add(SimpleRNN(4).return_sequences(true).input_shape({5, 2}));
    model.add(SimpleRNN(3).return_sequences(true).go_backwards(true));
    model.add(SimpleRNN(3).activation("relu"));
    model.add(Dense(1));
    check_gradients(model, recur::MSE(), random_tensor({3, 5, 2}, 7), random_tensor({3, 1}, 8));
}

TEST_CASE("a SimpleRNN feeding per-step Dense outputs trains on sequences") {
    recur::manual_seed(15);
    Sequential model;
    model.add(SimpleRNN(6).return_sequences(true).input_shape({4, 1}));
    model.add(Dense(1));
    check_gradients(model, recur::MSE(), random_tensor({2, 4, 1}, 9), random_tensor({2, 4, 1}, 10));
}
