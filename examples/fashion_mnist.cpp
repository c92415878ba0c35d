// recur-fashion-mnist: Keras's classic "RNN on the rows of an image" example. Each 28x28
// image is read as 28 timesteps of 28 pixels (divided by 255) by a SimpleRNN(128) (or, with
// --cell, an LSTM(128) or GRU(128)), then Dense(10, softmax); Adam, sparse categorical
// crossentropy, batch 64, the last 10% of the training set for validation; then the test
// accuracy and confusion matrix on 10000 images.
//
// The learning rate starts at Adam's 1e-3 and is multiplied by 0.8 after every epoch, as
// LearningRateScheduler(lambda epoch: 1e-3 * 0.8**epoch) would in Keras. At a constant 1e-3
// the training loss stalls near 0.42 from epoch 6 on and jumps up and down (84.5% on the
// test set after 10 epochs); gradient clipping does not help, since Adam's step does not
// grow with the gradient's norm, while smaller steps do: 86-87% with the decay.
//
// The data is Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/).
#include <recur/recur.hpp>

#include "cells.hpp"
#include "flags.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Options {
    std::size_t epochs = 10;
    std::size_t threads = 0;  // 0: OpenMP's default
    std::uint64_t seed = 42;
    std::string cell = "simple";
    float learning_rate = 1e-3f;
    float decay = 0.8f;  // the learning rate's factor from one epoch to the next
    std::string data = "/usr/share/datasets/fashion-mnist";
};

// The options, checked as they are parsed; returns std::nullopt after --help or an error
// (already reported, with `exit_code` set).
std::optional<Options> parse(int argc, char** argv, int& exit_code) {
    Options o;
    CLI::App app{"Keras's RNN on the rows of Fashion-MNIST images: SimpleRNN, LSTM or GRU(128) + Dense(10, softmax)",
                 "recur-fashion-mnist"};
    using recur_examples::count, recur_examples::positive, recur_examples::whole_number;
    app.add_option("--cell", o.cell, "The recurrent layer: simple (SimpleRNN), lstm or gru")
        ->capture_default_str()
        ->check(recur_examples::cell_flag);
    app.add_option("--epochs", o.epochs, "Epochs")->capture_default_str()->check(count);
    app.add_option("--threads", o.threads, "Threads (default: OpenMP's)")->check(count);
    app.add_option("--lr", o.learning_rate, "Adam's initial learning rate")->capture_default_str()->check(positive);
    app.add_option("--decay", o.decay, "The learning rate's factor from one epoch to the next")
        ->capture_default_str()
        ->check(positive);
    app.add_option("--seed", o.seed, "Seed for the weights and the shuffles")->capture_default_str()->check(whole_number);
    app.add_option("--data", o.data, "Directory of the four Fashion-MNIST IDX files")->capture_default_str();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        exit_code = app.exit(e);
        return std::nullopt;
    }
    return o;
}

// One line per epoch with its seconds to the hundredth (fit's own verbose output rounds them
// to whole seconds).
struct EpochLine : recur::Callback {
    explicit EpochLine(std::size_t total) : epochs(total) {}
    void on_epoch_begin(std::size_t, const recur::Logs&) override { start = std::chrono::steady_clock::now(); }
    void on_epoch_end(std::size_t epoch, const recur::Logs& logs) override {
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("Epoch %zu/%zu - %.2fs - loss: %.4f - accuracy: %.4f - val_loss: %.4f - val_accuracy: %.4f - lr: %.4e\n",
                    epoch + 1, epochs, seconds, logs.at("loss"), logs.at("accuracy"), logs.at("val_loss"),
                    logs.at("val_accuracy"), logs.at("learning_rate"));
        std::fflush(stdout);
    }
    std::size_t epochs;
    std::chrono::steady_clock::time_point start;
};

void print_confusion(const recur::Tensor& probabilities, const recur::Tensor& labels) {
    const std::size_t classes = recur::fashion_mnist_classes.size();
    std::vector<std::size_t> counts(classes * classes);
    for (std::size_t i = 0; i < labels.size(); ++i) {
        const float* p = probabilities.data() + i * classes;
        const auto predicted = static_cast<std::size_t>(std::max_element(p, p + classes) - p);
        ++counts[static_cast<std::size_t>(labels(i)) * classes + predicted];
    }
    std::printf("\nconfusion matrix (rows: true class, columns: predicted class)\n%14s", "");
    for (std::size_t c = 0; c < classes; ++c) std::printf("%6zu", c);
    for (std::size_t t = 0; t < classes; ++t) {
        std::printf("\n%zu %-12s", t, recur::fashion_mnist_classes[t]);
        for (std::size_t c = 0; c < classes; ++c) std::printf("%6zu", counts[t * classes + c]);
    }
    std::printf("\n");
}

int run(const Options& o) {
    using Clock = std::chrono::steady_clock;
    const auto seconds_since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
    recur::manual_seed(o.seed);
    if (o.threads > 0) recur::set_num_threads(o.threads);

    auto start = Clock::now();
    auto [x_train, y_train, x_test, y_test] = recur::load_fashion_mnist(o.data);
    for (recur::Tensor* x : {&x_train, &x_test})
        for (float& v : *x) v /= 255.0f;
    std::printf("loaded %s: train %s, test %s in %.2fs; %zu threads\n", o.data.c_str(), x_train.shape().str().c_str(),
                x_test.shape().str().c_str(), seconds_since(start), recur::num_threads());

    recur::Sequential model;
    model.add(*recur_examples::recurrent_layer(o.cell, 128, false, {28, 28}));
    model.add(recur::Dense(10).activation("softmax"));
    model.compile(recur::Adam().learning_rate(o.learning_rate), recur::SparseCategoricalCrossentropy(), {"accuracy"});
    model.summary();

    // The rate decays by a factor each epoch, set as each epoch begins (the rate printed is the
    // epoch's). Validation: the last 10% (6000) of the training set.
    const float lr = o.learning_rate, decay = o.decay;
    const auto schedule = [lr, decay](std::size_t epoch, float) { return lr * std::pow(decay, static_cast<float>(epoch)); };
    model.fit(x_train, y_train,
              recur::FitOptions().epochs(o.epochs).batch_size(64).validation_split(0.1).verbose(0).callbacks(
                  {recur::LearningRateScheduler(schedule), std::make_shared<EpochLine>(o.epochs)}));

    const auto test = model.evaluate_dict(x_test, y_test, 256);
    std::printf("\ntest loss: %.4f - test accuracy: %.4f (%zu images)\n", test.at("loss"), test.at("accuracy"),
                y_test.size());
    print_confusion(model.predict(x_test, 256), y_test);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        int exit_code = 0;
        const std::optional<Options> options = parse(argc, argv, exit_code);
        return options ? run(*options) : exit_code;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "recur-fashion-mnist: %s\n", e.what());
        return 1;
    }
}
