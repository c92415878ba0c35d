// recur bench: a few seconds' look at training and inference speed on this machine.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include <recur/recur.hpp>

#include "cells.hpp"
#include "commands.hpp"

namespace recur_cli {

namespace {

struct Config {
    const char* name;
    const char* cell;  // simple, lstm or gru
    std::size_t batch, timesteps, features, units, outputs;
};

// The median time of `step` over up to `runs` calls, stopping early after `budget` so that
// the report stays short on a slow or busy machine.
template <class F>
double median_ms(std::size_t runs, std::chrono::duration<double> budget, F&& step) {
    for (int i = 0; i < 10; ++i) step();  // warm up caches and the thread pool
    std::vector<double> ms;
    const auto deadline = std::chrono::steady_clock::now() + budget;
    while (ms.size() < runs && (ms.size() < 5 || std::chrono::steady_clock::now() < deadline)) {
        const auto start = std::chrono::steady_clock::now();
        step();
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    std::nth_element(ms.begin(), ms.begin() + static_cast<std::ptrdiff_t>(ms.size() / 2), ms.end());
    return ms[ms.size() / 2];
}

recur::Tensor random_tensor(recur::Shape shape, std::mt19937& gen) {
    recur::Tensor t(std::move(shape));
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    for (float& v : t) v = uniform(gen);
    return t;
}

}  // namespace

void bench() {
    constexpr std::size_t runs = 300;
    constexpr std::chrono::milliseconds budget(500);
    // The seed tutorial's model, and the README's mid-size benchmark config M for each cell.
    const Config configs[] = {{"S, the seed model", "simple", 10, 5, 1, 10, 1},
                              {"M, SimpleRNN", "simple", 32, 28, 28, 128, 10},
                              {"M, LSTM", "lstm", 32, 28, 28, 128, 10},
                              {"M, GRU", "gru", 32, 28, 28, 128, 10}};
    std::printf("recur bench: medians of up to %zu runs (0.5 s at most each), %zu thread%s\n\n", runs, recur::num_threads(),
                recur::num_threads() == 1 ? "" : "s");
    std::printf("%-20s %-28s %16s %12s\n", "model", "(B, T, D, H, O)", "train_on_batch", "predict");
    recur::manual_seed(0);
    std::mt19937 gen(0);
    for (const Config& c : configs) {
        recur::Sequential model;
        model.add(*recur_examples::recurrent_layer(c.cell, c.units, false, {c.timesteps, c.features}));
        model.add(recur::Dense(c.outputs));
        model.compile("adam", "mse");
        const recur::Tensor x = random_tensor(recur::Shape{c.batch, c.timesteps, c.features}, gen);
        const recur::Tensor y = random_tensor(recur::Shape{c.batch, c.outputs}, gen);
        const double train_ms = median_ms(runs, budget, [&] { model.train_on_batch(x, y); });
        const double predict_ms = median_ms(runs, budget, [&] { (void)model.predict(x, c.batch); });
        char shape[64];
        std::snprintf(shape, sizeof shape, "(%zu, %zu, %zu, %zu, %zu)", c.batch, c.timesteps, c.features, c.units,
                      c.outputs);
        std::printf("%-20s %-28s %13.3f ms %9.3f ms\n", c.name, shape, train_ms, predict_ms);
    }
}

}  // namespace recur_cli
