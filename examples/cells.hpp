#pragma once
// The --cell flag of the example programs: which recurrent layer they build, by the name a
// user types (simple, lstm, gru), with Keras's defaults for everything else.
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <recur/recur.hpp>

namespace recur_examples {

inline const std::vector<std::string> kCells{"simple", "lstm", "gru"};

// Accepts one of kCells.
inline const CLI::IsMember cell_flag(kCells);

// Keras's class name of a cell: SimpleRNN, LSTM or GRU.
inline std::string cell_class(const std::string& cell) {
    return cell == "lstm" ? "LSTM" : cell == "gru" ? "GRU" : "SimpleRNN";
}

// The recurrent layer of `units` a --cell names; `input_shape` (T, D) when it comes first.
inline std::unique_ptr<recur::Layer> recurrent_layer(const std::string& cell, std::size_t units, bool return_sequences,
                                                     const recur::Shape& input_shape = {}) {
    auto finish = [&](auto layer) {
        layer.return_sequences(return_sequences);
        if (input_shape.rank() > 0) layer.input_shape(input_shape);
        return layer.clone();
    };
    if (cell == "lstm") return finish(recur::LSTM(units));
    if (cell == "gru") return finish(recur::GRU(units));
    if (cell == "simple") return finish(recur::SimpleRNN(units));
    throw recur::Error("--cell: expected simple, lstm or gru, got '" + cell + "'");
}

}  // namespace recur_examples
