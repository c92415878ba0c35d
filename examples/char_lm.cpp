// recur-char-lm: a character-level language model. Embedding -> SimpleRNN (or, with --cell,
// LSTM or GRU) [-> Dropout, with --dropout] -> softmax over the characters, trained to predict the next character of a
// text whose last 10% is held out; scored in bits per character beside a bigram count model,
// and sampled after every epoch.
// Exits 1 if it ends no better than the bigram on the held-out text.
//
//   recur-char-lm [TEXT] [--cell simple|lstm|gru] [--epochs N] [--dropout RATE] [--temperature T] [--units H]
//                 [--prompt TEXT]
//
// Characters are bytes, so a UTF-8 text is modelled byte by byte.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <recur/recur.hpp>

#include "cells.hpp"
#include "flags.hpp"

namespace {

constexpr std::size_t kSteps = 64;    // characters per training sequence
constexpr std::size_t kStride = 32;   // training sequences overlap by half
constexpr std::size_t kEmbedding = 32;

// The training text's characters get ids 0 .. n-1; anything else shares the id n.
struct Vocabulary {
    std::array<int, 256> id;
    std::string chars;  // by id; the last, for "other", prints as '?'

    explicit Vocabulary(const std::string& text) {
        std::array<bool, 256> seen{};
        for (unsigned char c : text) seen[c] = true;
        for (int c = 0; c < 256; ++c)
            if (seen[c]) chars += static_cast<char>(c);
        id.fill(static_cast<int>(chars.size()));
        for (std::size_t i = 0; i < chars.size(); ++i) id[static_cast<unsigned char>(chars[i])] = static_cast<int>(i);
        chars += '?';
    }
    std::size_t size() const { return chars.size(); }
    int operator()(char c) const { return id[static_cast<unsigned char>(c)]; }
};

// Sequences of kSteps characters starting every `stride`, as ids, and the same shifted by one:
// x (N, kSteps), y (N, kSteps), y(i, t) being the character after x(i, t).
std::pair<recur::Tensor, recur::Tensor> sequences(const std::string& text, const Vocabulary& vocab, std::size_t stride) {
    const std::size_t n = (text.size() - 1 - kSteps) / stride + 1;
    recur::Tensor x({n, kSteps}), y({n, kSteps});
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t t = 0; t < kSteps; ++t) {
            x(i, t) = static_cast<float>(vocab(text[i * stride + t]));
            y(i, t) = static_cast<float>(vocab(text[i * stride + t + 1]));
        }
    return {std::move(x), std::move(y)};
}

// Add-one (Laplace) smoothed bigram: p(b | a) = (count(a, b) + 1) / (count(a) + V), fitted on
// the training text; returns the mean bits per character over the targets y given inputs x.
double bigram_bits(const std::string& train, const Vocabulary& vocab, const recur::Tensor& x, const recur::Tensor& y) {
    const std::size_t v = vocab.size();
    std::vector<double> pair(v * v, 0.0), first(v, 0.0);
    for (std::size_t i = 0; i + 1 < train.size(); ++i) {
        pair[vocab(train[i]) * v + vocab(train[i + 1])] += 1;
        first[vocab(train[i])] += 1;
    }
    double bits = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
        const auto a = static_cast<std::size_t>(x.data()[i]), b = static_cast<std::size_t>(y.data()[i]);
        bits -= std::log2((pair[a * v + b] + 1) / (first[a] + static_cast<double>(v)));
    }
    return bits / static_cast<double>(y.size());
}

// Feeds the prompt one character at a time, then draws `length` characters, each from the
// model's next-character distribution sharpened by the temperature: p_i^(1/T), renormalised.
std::string sample(const recur::Sequential& model, const Vocabulary& vocab, const std::string& prompt,
                   std::size_t length, double temperature, std::mt19937& rng) {
    recur::Stream stream = model.stream(1);
    recur::TensorView p;
    for (char c : prompt) {
        const float id = static_cast<float>(vocab(c));
        p = stream.step(&id);
    }
    std::string out = prompt;
    std::vector<double> weights(vocab.size());
    for (std::size_t i = 0; i < length; ++i) {
        for (std::size_t k = 0; k < weights.size(); ++k) weights[k] = std::pow(double(p.data()[k]), 1.0 / temperature);
        const auto next = static_cast<std::size_t>(std::discrete_distribution<std::size_t>(weights.begin(), weights.end())(rng));
        out += vocab.chars[next];
        const float id = static_cast<float>(next);
        p = stream.step(&id);
    }
    return out;
}

// Two spaces before every line, to set samples apart from the log.
std::string indented(const std::string& text) {
    std::string out = "  ";
    for (char c : text) out += c == '\n' ? std::string("\n  ") : std::string(1, c);
    return out;
}

}  // namespace

int main(int argc, char** argv) try {
    std::string path = "/usr/share/common-licenses/GPL-3", prompt = "The ";
    std::size_t epochs = 10, units = 128;
    std::string cell = "simple";
    double temperature = 0.7;
    float learning_rate = 0.01f, dropout = 0.0f;
    CLI::App app{"A character-level language model: a recurrent layer over embedded characters, scored in bits per "
                 "character",
                 "recur-char-lm"};
    app.add_option("text", path, "Text file to learn (the last 10% is held out)")->capture_default_str();
    app.add_option("--epochs", epochs, "Epochs")->capture_default_str()->check(recur_examples::count);
    app.add_option("--cell", cell, "The recurrent layer: simple (SimpleRNN), lstm or gru")
        ->capture_default_str()
        ->check(recur_examples::cell_flag);
    app.add_option("--units", units, "Units of the recurrent layer")->capture_default_str()->check(recur_examples::count);
    app.add_option("--dropout", dropout, "Dropout rate on the recurrent layer's output, in training (0: none)")
        ->capture_default_str()
        ->check(CLI::Range(0.0f, 0.95f));
    app.add_option("--lr", learning_rate, "Adam's learning rate")->capture_default_str()->check(recur_examples::positive);
    app.add_option("--temperature", temperature, "Sampling temperature")->capture_default_str()->check(recur_examples::positive);
    app.add_option("--prompt", prompt, "Text the sample starts from")->capture_default_str()->check(
        [](const std::string& text) { return text.empty() ? std::string("expected a non-empty prompt") : std::string(); });
    CLI11_PARSE(app, argc, argv);

    std::ifstream file(path, std::ios::binary);
    if (!file) throw recur::Error("cannot read '" + path + "'");
    const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    const std::size_t split = recur::chronological_split(text.size(), 0.1);
    const std::string train = text.substr(0, split), held_out = text.substr(split);
    if (held_out.size() <= kSteps) throw recur::Error("'" + path + "' is too short: the held-out 10% needs more than 64 characters");

    const Vocabulary vocab(train);
    const auto [x, y] = sequences(train, vocab, kStride);
    // Held-out sequences do not overlap, so every held-out character is scored once; each
    // starts from a zero state, as in training.
    const auto [x_held, y_held] = sequences(held_out, vocab, kSteps);
    std::printf("%s: %zu characters, %zu distinct; training on the first %zu (%zu sequences of %zu), "
                "holding out the last %zu\n",
                path.c_str(), text.size(), vocab.size() - 1, train.size(), x.shape()[0], kSteps, held_out.size());

    recur::manual_seed(1);
    recur::Sequential model;
    model.add(recur::Embedding(vocab.size(), kEmbedding).input_shape({kSteps}));
    model.add(*recur_examples::recurrent_layer(cell, units, true));
    if (dropout > 0.0f) model.add(recur::Dropout(dropout));
    model.add(recur::Dense(vocab.size()).activation("softmax"));
    // Clipping the gradient's norm guards against the exploding gradients of 64 tanh steps.
    model.compile(recur::Adam().learning_rate(learning_rate).global_clipnorm(1.0f), recur::SparseCategoricalCrossentropy(),
                  {"accuracy"});
    model.summary();

    const double bigram = bigram_bits(train, vocab, x_held, y_held);
    std::printf("\nheld-out bits per character: bigram (add-one) %.3f\n\n", bigram);

    std::mt19937 rng(1);
    double bits = 0;
    for (std::size_t epoch = 1; epoch <= epochs; ++epoch) {
        const auto start = std::chrono::steady_clock::now();
        const recur::History h = model.fit(x, y, recur::FitOptions().initial_epoch(epoch - 1).epochs(epoch).verbose(0));
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const auto held = model.evaluate_dict(x_held, y_held);
        bits = held.at("loss") / std::log(2.0);
        std::printf("epoch %zu/%zu (%.1f s): training %.3f bpc, held-out %.3f bpc, next-character accuracy %.3f\n",
                    epoch, epochs, seconds, h.loss.back() / std::log(2.0), bits, double(held.at("accuracy")));
        std::printf("%s\n\n", indented(sample(model, vocab, prompt, 200, temperature, rng)).c_str());
    }
    std::printf("held-out bits per character: %s(%zu) %.3f, bigram %.3f\n", recur_examples::cell_class(cell).c_str(), units,
                bits, bigram);
    return bits < bigram ? 0 : 1;
} catch (const std::exception& e) {
    std::fprintf(stderr, "recur-char-lm: %s\n", e.what());
    return 1;
}
