#pragma once
// The subcommands of `recur`. Each reports what a user got wrong by throwing recur::Error
// with a one-line message; main prints it after the command's name.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace recur_cli {

struct TrainArgs {
    std::string csv;
    std::string column;
    std::size_t window = 0;
    std::string cell = "simple";  // the recurrent layer: simple (SimpleRNN), lstm or gru
    std::size_t units = 32;
    std::size_t epochs = 50;
    std::size_t batch_size = 32;
    float learning_rate = 0.001f;
    double val_split = 0.2;
    std::string out;      // the model, with its scaler in its metadata
    std::string history;  // epoch,loss,val_loss CSV
    std::string plot;     // SVG
    std::optional<std::uint64_t> seed;
};

struct PredictArgs {
    std::string model;
    std::string csv;
    std::string column;
    std::string out;  // empty: print to stdout
    bool any_column = false;  // predict another column than the model was trained on
};

void train(const TrainArgs& args);
void predict(const PredictArgs& args);
void summary(const std::string& model_path);
void bench();

}  // namespace recur_cli
