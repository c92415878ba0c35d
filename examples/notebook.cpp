// The seed tutorial's notebook, cell by cell: ten windows of five numbers, a SimpleRNN(10)
// and a Dense(1) trained with Adam on MSE to predict the next number. Shared by recur-demo
// and `recur demo`.
#include "notebook.hpp"

#include <recur/recur.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <vector>

namespace recur_examples {

int seed_notebook() {
    recur::manual_seed(42);

    std::cout << "== Data: windows of five values, the target is the value after them\n";
    std::vector<float> series;
    for (int i = 0; i < 15; ++i) series.push_back(static_cast<float>(i) / 10.0f);
    auto [X, Y] = recur::sliding_windows(series, 5);
    std::cout << "X " << X.shape() << "  Y " << Y.shape() << "\n";
    std::cout << X[0] << " " << Y(0) << "\n\n" << X[1] << " " << Y(1) << "\n\n" << Y << "\n\n";

    std::cout << "== return_sequences=True: every step's hidden state\n";
    recur::Sequential sequences;
    sequences.add(recur::SimpleRNN(10).return_sequences(true).input_shape({5, 1}));
    sequences.summary();

    std::cout << "\n== return_sequences=False with a Dense head, Adam on MSE\n";
    recur::Sequential model;
    model.add(recur::SimpleRNN(10).input_shape({5, 1}));
    model.add(recur::Dense(1));
    model.compile(recur::Adam().learning_rate(0.01f), recur::MSE());
    model.summary();

    std::cout << "\n== Training\n";
    const recur::History history = model.fit(X, Y, recur::FitOptions().epochs(500).verbose(2));
    std::printf("loss: %.6f -> %.6f over %zu epochs\n\n", history.loss.front(), history.loss.back(),
                history.loss.size());

    std::cout << "== Predictions\n";
    const recur::Tensor pred = model.predict(X);
    float worst = 0.0f;
    std::printf("%-28s %8s %10s %9s\n", "window", "target", "predicted", "error");
    for (std::size_t i = 0; i < X.shape()[0]; ++i) {
        char window[64];
        std::snprintf(window, sizeof window, "%.1f %.1f %.1f %.1f %.1f", X(i, 0, 0), X(i, 1, 0), X(i, 2, 0),
                      X(i, 3, 0), X(i, 4, 0));
        const float error = pred(i, 0) - Y(i);
        worst = std::max(worst, std::abs(error));
        std::printf("%-28s %8.3f %10.4f %+9.4f\n", window, Y(i), pred(i, 0), error);
    }
    std::printf("\nlargest error %.4f: %s\n", worst,
                worst < 0.05f ? "every prediction within 0.05 of its target" : "NOT within 0.05");
    return worst < 0.05f ? 0 : 1;
}

}  // namespace recur_examples
