// recur train: a recurrent layer (SimpleRNN, LSTM or GRU) + Dense forecaster of one CSV column's next value.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <span>
#include <sstream>

#include <recur/recur.hpp>

#include "cells.hpp"
#include "commands.hpp"
#include "files.hpp"
#include "plot.hpp"

namespace recur_cli {

namespace {

std::string str(double value) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", value);
    return buf;
}

// Rows [begin, end) of a tensor, along its first axis.
recur::Tensor rows(const recur::Tensor& t, std::size_t begin, std::size_t end) {
    const std::size_t row = t.size() / t.shape()[0];
    std::vector<std::size_t> dims = t.shape().dims();
    dims[0] = end - begin;
    return recur::Tensor(recur::Shape(dims), std::vector<float>(t.data() + begin * row, t.data() + end * row));
}

double rmse(std::span<const float> predicted, std::span<const float> truth) {
    double sum = 0;
    for (std::size_t i = 0; i < truth.size(); ++i) sum += (double(predicted[i]) - truth[i]) * (double(predicted[i]) - truth[i]);
    return std::sqrt(sum / static_cast<double>(truth.size()));
}

std::string history_csv(const recur::History& history) {
    std::string csv = "epoch,loss,val_loss\n";
    for (std::size_t e = 0; e < history.loss.size(); ++e)
        csv += std::to_string(e + 1) + "," + format_float(history.loss[e]) + "," +
               (e < history.val_loss.size() ? format_float(history.val_loss[e]) : "") + "\n";
    return csv;
}

}  // namespace

void train(const TrainArgs& a) {
    if (!(a.val_split >= 0.0 && a.val_split < 1.0))
        throw recur::Error("--val-split must be in [0, 1), got " + str(a.val_split));
    // Before anything runs: an output must never overwrite an input or another output.
    check_paths({{"--csv", a.csv}}, {{"--out", a.out}, {"--history", a.history}, {"--plot", a.plot}});
    const std::vector<float> series = recur::read_csv(a.csv).column(a.column);
    const std::string source = "column '" + a.column + "' of '" + a.csv + "'";
    if (series.size() <= a.window)
        throw recur::Error("--window " + std::to_string(a.window) + " needs a series longer than the window; " + source +
                           " has " + std::to_string(series.size()) + " values");

    // Windows [0, n_train) train, the last ones validate: the future never trains the past.
    const std::size_t n = series.size() - a.window;
    std::size_t n_train = n;
    try {
        n_train = recur::chronological_split(n, a.val_split);
    } catch (const recur::Error&) {
        throw recur::Error("--val-split " + str(a.val_split) + " of the " + std::to_string(n) + " windows of " + source +
                           " leaves " + std::to_string(static_cast<std::size_t>(std::floor(n * (1 - a.val_split)))) +
                           " to train on; training and validation both need at least one window");
    }
    const bool validating = n_train < n;

    // The scaler sees only what training sees (the training windows and their targets), so
    // that the validation score is honest.
    recur::MinMaxScaler scaler;
    scaler.fit(std::span<const float>(series).first(n_train + a.window));
    auto [x, y] = recur::sliding_windows(scaler.transform(series), a.window);
    const recur::Tensor x_train = rows(x, 0, n_train), y_train = rows(y, 0, n_train);
    const recur::Tensor x_val = rows(x, n_train, n), y_val = rows(y, n_train, n);

    if (a.seed) recur::manual_seed(*a.seed);
    recur::Sequential model;
    model.add(*recur_examples::recurrent_layer(a.cell, a.units, false, {a.window, 1}));
    model.add(recur::Dense(1));
    model.compile(recur::Adam().learning_rate(a.learning_rate), recur::MSE());
    model.summary();
    recur::FitOptions options = recur::FitOptions().epochs(a.epochs).batch_size(a.batch_size).verbose(2);
    if (validating) options.validation_data(x_val, y_val);
    const recur::History history = model.fit(x_train, y_train, options);
    if (history.terminated_on_nan)
        throw recur::Error("training diverged (the loss or an update became NaN or Inf; see above), so nothing was "
                           "saved; try a smaller --lr");

    // Scored in the column's own units, beside the persistence forecast (the window's last
    // value): a model that cannot beat it has learnt nothing useful.
    const std::size_t first = validating ? n_train : 0, count = validating ? n - n_train : n_train;
    const recur::Tensor scaled = model.predict(validating ? x_val : x_train);
    const std::vector<float> predicted = scaler.inverse_transform(std::span<const float>(scaled.data(), scaled.size()));
    const std::span<const float> truth = std::span<const float>(series).subspan(first + a.window, count);
    const std::span<const float> persistence = std::span<const float>(series).subspan(first + a.window - 1, count);
    const double model_rmse = rmse(predicted, truth), persistence_rmse = rmse(persistence, truth);
    std::printf("\n%s RMSE over %zu windows%s, in the units of '%s':\n", validating ? "validation" : "training", count,
                validating ? "" : " (--val-split 0 leaves no validation part)", a.column.c_str());
    std::printf("  model        %.6g\n  persistence  %.6g\n", model_rmse, persistence_rmse);

    if (!a.out.empty()) {
        store_scaler(model, scaler, a.column);  // one file: the model and its scaler land together
        model.save(a.out);
        std::printf("saved the model and its scaler to %s\n", a.out.c_str());
    }
    if (!a.history.empty()) {
        recur::write_file(a.history, history_csv(history));
        std::printf("wrote the loss per epoch to %s\n", a.history.c_str());
    }
    if (!a.plot.empty()) {
        Panel losses{"Loss per epoch (MSE on the scaled series)", "epoch", "loss", {}, true, true};
        Line loss{"loss", "#1f77b4", {}, {}}, val_loss{"val_loss", "#ff7f0e", {}, {}, true};
        for (std::size_t e = 0; e < history.loss.size(); ++e) {
            loss.x.push_back(double(e + 1)), loss.y.push_back(history.loss[e]);
            if (e < history.val_loss.size()) val_loss.x.push_back(double(e + 1)), val_loss.y.push_back(history.val_loss[e]);
        }
        losses.lines = {loss, val_loss};
        Panel forecast{std::string(validating ? "Validation" : "Training") + " part: next-value predictions",
                       "row of the series", a.column, {}, true, false};
        Line actual{"actual", "#222222", {}, {}}, guess{"predicted", "#d62728", {}, {}, true};
        for (std::size_t i = 0; i < count; ++i) {
            const double row = double(first + a.window + i);
            actual.x.push_back(row), actual.y.push_back(truth[i]);
            guess.x.push_back(row), guess.y.push_back(predicted[i]);
        }
        forecast.lines = {actual, guess};
        const std::string title = "recur train: '" + a.column + "' from " + a.csv + ", window " + std::to_string(a.window) +
                                  ", " + recur_examples::cell_class(a.cell) + "(" + std::to_string(a.units) + ")";
        recur::write_file(a.plot, svg_figure(title, {losses, forecast}));
        std::printf("drew the curves in %s\n", a.plot.c_str());
    }
}

}  // namespace recur_cli
