// Builds and trains a small SimpleRNN + Dense model against the installed recur, and fails
// unless training lowered the loss and predict gave one finite value per window.
#include <recur/recur.hpp>

#include <cmath>
#include <iostream>
#include <vector>

int main() {
    recur::manual_seed(1);
    std::vector<float> series;
    for (int i = 0; i < 40; ++i) series.push_back(0.5f + 0.4f * std::sin(i * 0.3f));
    auto [X, Y] = recur::sliding_windows(series, /*window=*/6);  // (34, 6, 1), (34,)

    recur::Sequential model;
    model.add(recur::SimpleRNN(8).input_shape({6, 1}));
    model.add(recur::Dense(1));
    model.compile(recur::Adam().learning_rate(0.01f), recur::MSE());
    recur::History history = model.fit(X, Y, recur::FitOptions().epochs(30).verbose(0));
    recur::Tensor pred = model.predict(X);

    const float first = history.loss.front(), last = history.loss.back();
    std::cout << "loss " << first << " -> " << last << ", predict " << pred.shape() << "\n";
    bool ok = history.loss.size() == 30 && last < 0.5f * first && pred.size() == Y.size();
    for (std::size_t i = 0; i < pred.size(); ++i) ok = ok && std::isfinite(pred.data()[i]);

    // recur::Error must cross from the archive into the program like any exception.
    try {
        model.predict(recur::Tensor({2, 3}, {1, 2, 3, 4, 5, 6}));
        ok = false;
    } catch (const recur::Error& e) {
        std::cout << "expected error: " << e.what() << "\n";
    }
    std::cout << (ok ? "ok" : "FAILED") << "\n";
    return ok ? 0 : 1;
}
