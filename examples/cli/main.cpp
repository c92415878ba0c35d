// recur: train, use and time recurrent forecasters from the command line.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <recur/error.hpp>

#include "cells.hpp"
#include "commands.hpp"
#include "flags.hpp"
#include "notebook.hpp"

namespace {

using recur_examples::count;
using recur_examples::positive;
using recur_examples::whole_number;

// Errors are one line on stderr, whatever the message held.
void print_error(const std::string& who, std::string message, const std::string& hint = "") {
    for (char& c : message)
        if (c == '\n' || c == '\r') c = ' ';
    std::cerr << who << ": " << message << hint << '\n';
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Train and use Keras-style recurrent forecasters (SimpleRNN, LSTM, GRU) on the CPU.", "recur"};
    app.require_subcommand(1);

    CLI::App* demo = app.add_subcommand("demo", "Run the seed tutorial's notebook, cell by cell");

    recur_cli::TrainArgs t;
    std::uint64_t seed = 0;
    CLI::App* train =
        app.add_subcommand("train", "Train a recurrent layer of --units + Dense(1) to predict a CSV column's next value");
    train->add_option("--csv", t.csv, "CSV file with a header row")->required();
    train->add_option("--column", t.column, "Column to forecast")->required();
    train->add_option("--window", t.window, "Values per input window")->required()->check(count);
    train->add_option("--cell", t.cell, "The recurrent layer: simple (SimpleRNN), lstm (LSTM) or gru (GRU)")
        ->capture_default_str()
        ->check(recur_examples::cell_flag);
    train->add_option("--units", t.units, "Units of the recurrent layer")->capture_default_str()->check(count);
    train->add_option("--epochs", t.epochs, "Epochs")->capture_default_str()->check(count);
    train->add_option("--batch-size", t.batch_size, "Batch size")->capture_default_str()->check(count);
    train->add_option("--lr", t.learning_rate, "Adam's learning rate")->capture_default_str()->check(positive);
    train->add_option("--val-split", t.val_split, "Fraction of the last windows held out for validation, in [0, 1)")
        ->capture_default_str();
    train->add_option("--out", t.out, "Save the model and its scaler here (safetensors)");
    train->add_option("--history", t.history, "Write epoch,loss,val_loss as CSV here");
    train->add_option("--plot", t.plot, "Draw the loss curves and the predictions in this SVG file");
    CLI::Option* seed_option =
        train->add_option("--seed", seed, "Seed for the weights and the shuffles")->check(whole_number);

    recur_cli::PredictArgs p;
    CLI::App* predict = app.add_subcommand("predict", "Predict each next value of a CSV column with a saved model");
    predict->add_option("--model", p.model, "Model saved by 'recur train --out'")->required();
    predict->add_option("--csv", p.csv, "CSV file with a header row")->required();
    predict->add_option("--column", p.column, "Column to read")->required();
    predict->add_option("--out", p.out, "Write row,actual,predicted CSV here instead of to stdout");
    predict->add_flag("--any-column", p.any_column, "Predict a column other than the one the model was trained on");

    std::string model_path;
    CLI::App* summary = app.add_subcommand("summary", "Print a saved model's layers and parameter counts");
    summary->add_option("--model", model_path, "Model file")->required();

    CLI::App* bench = app.add_subcommand("bench", "Time train_on_batch and predict for a few models");

    std::string who = "recur";
    try {
        const auto commands = app.get_subcommands([](CLI::App*) { return true; });
        if (argc > 1 && argv[1][0] != '-' &&
            std::none_of(commands.begin(), commands.end(), [&](CLI::App* c) { return c->check_name(argv[1]); })) {
            print_error(who, "unknown command '" + std::string(argv[1]) +
                                 "'; expected demo, train, predict, summary or bench", " (see 'recur --help')");
            return 2;
        }
        app.parse(argc, argv);
        if (!app.get_subcommands().empty()) who += " " + app.get_subcommands().front()->get_name();
        if (*seed_option) t.seed = seed;
        int status = 0;
        if (*demo) status = recur_examples::seed_notebook();
        if (*train) recur_cli::train(t);
        if (*predict) recur_cli::predict(p);
        if (*summary) recur_cli::summary(model_path);
        if (*bench) recur_cli::bench();
        // Output that never arrived (a full disk, a closed pipe) is a failure, not a success.
        if (!std::cout.flush()) {
            print_error(who, "cannot write to the standard output");
            return 1;
        }
        return status;
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // --help
        if (!app.get_subcommands().empty()) who += " " + app.get_subcommands().front()->get_name();
        print_error(who, e.what(), " (see '" + who + " --help')");
        return 2;
    } catch (const std::exception& e) {  // recur::Error above all; anything else is reported the same way
        print_error(who, e.what());
        return 1;
    }
}
