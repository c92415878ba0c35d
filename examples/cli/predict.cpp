// recur predict and recur summary: use a model saved by `recur train --out`.
#include <iostream>
#include <span>

#include <recur/recur.hpp>

#include "commands.hpp"
#include "files.hpp"

namespace recur_cli {

void predict(const PredictArgs& a) {
    check_paths({{"--model", a.model}, {"--csv", a.csv}}, {{"--out", a.out}});
    const recur::Sequential model = recur::load_model(a.model);
    const recur::Shape in = model.input_shape(), out = model.output_shape();
    if (in.rank() != 2 || in[1] != 1 || out != recur::Shape{1})
        throw recur::Error("'" + a.model + "' maps " + in.str_with_batch() + " to " + out.str_with_batch() +
                           "; expected a model of windows of one series, (None, T, 1), to one value, (None, 1), as "
                           "'recur train' makes");
    const std::size_t window = in[0];
    const auto [scaler, trained_column] = stored_scaler(model, a.model);
    if (a.column != trained_column && !a.any_column)
        throw recur::Error("'" + a.model + "' was trained on column '" + trained_column + "', and its scaler fits that "
                           "column's values; predicting column '" + a.column + "' with it is likely wrong (pass "
                           "--any-column to do it anyway)");
    const std::vector<float> series = recur::read_csv(a.csv).column(a.column);
    if (series.size() < window)
        throw recur::Error("the model reads windows of " + std::to_string(window) + " values; column '" + a.column +
                           "' of '" + a.csv + "' has " + std::to_string(series.size()));

    // Every window, the last one included: its prediction is the value after the series.
    const std::vector<float> scaled = scaler.transform(series);
    const std::size_t n = series.size() - window + 1;
    recur::Tensor x(recur::Shape{n, window, std::size_t{1}});
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t t = 0; t < window; ++t) x(i, t, 0) = scaled[i + t];
    const recur::Tensor y = model.predict(x);
    const std::vector<float> predicted = scaler.inverse_transform(std::span<const float>(y.data(), y.size()));

    // row: the 0-based data row predicted (rows() for the value after the series); actual:
    // that row's value, empty past the end.
    std::string csv = "row,actual,predicted\n";
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t row = i + window;
        csv += std::to_string(row) + "," + (row < series.size() ? format_float(series[row]) : "") + "," +
               format_float(predicted[i]) + "\n";
    }
    if (a.out.empty()) {
        std::cout << csv;
    } else {
        recur::write_file(a.out, csv);
        std::cout << "wrote " << n << " predictions to " << a.out << " (the last one is the value after the series: "
                  << format_float(predicted.back()) << ")\n";
    }
}

void summary(const std::string& model_path) { recur::load_model(model_path).summary(); }

}  // namespace recur_cli
