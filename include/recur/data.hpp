#pragma once
#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tensor.hpp"

namespace recur {

// Windows of a series and the value that follows each: X (N, window, 1), Y (N,) with
// N = series.size() - window; X[i] holds series[i .. i + window), Y(i) = series[i + window].
std::pair<Tensor, Tensor> sliding_windows(std::span<const float> series, std::size_t window);

class CsvTable;

// Reads a CSV file (LF or CRLF line ends, blank lines skipped). A missing or empty file,
// a row with more or fewer fields than the header, or an unclosed quote is a recur::Error.
CsvTable read_csv(const std::string& path);
// The same from text in memory; `source` stands for the path in messages.
CsvTable parse_csv(std::string_view text, std::string source = "<text>");

// A CSV file held as text: a header row of column names, then rows of comma-separated
// fields, each optionally in double quotes ("" inside quotes is one quote). Cells are
// parsed as numbers only when a column is asked for, so text columns (dates) cost nothing.
class CsvTable {
public:
    const std::string& path() const { return path_; }
    std::size_t rows() const { return columns_.empty() ? 0 : cells_.size() / columns_.size(); }
    const std::vector<std::string>& columns() const { return columns_; }
    // The column's values as floats; a missing column, or a cell that is not a finite
    // number, is a recur::Error naming the file, the line and the column.
    std::vector<float> column(std::string_view name) const;

private:
    friend CsvTable parse_csv(std::string_view text, std::string source);
    CsvTable() = default;

    std::string path_;
    std::vector<std::string> columns_;
    std::vector<std::string> cells_;  // row-major, rows() x columns().size()
    std::vector<std::size_t> lines_;  // the file line each row starts on, for messages
};

// sklearn's MinMaxScaler with feature_range (0, 1) on one series: x' = (x - min) / (max - min).
// A constant series (a range below 10 float epsilons, as sklearn's _handle_zeros_in_scale)
// divides by 1 instead, so it maps to 0 and back.
class MinMaxScaler {
public:
    MinMaxScaler() = default;
    // Already fitted, e.g. restored from a file.
    MinMaxScaler(float data_min, float data_max);

    // Fit on the training part only, so that nothing about the held-out part leaks in.
    MinMaxScaler& fit(std::span<const float> data);
    std::vector<float> transform(std::span<const float> data) const;
    std::vector<float> inverse_transform(std::span<const float> data) const;

    bool fitted() const { return fitted_; }
    float data_min() const { return data_min_; }
    float data_max() const { return data_max_; }

private:
    void check_fitted(const char* call) const;
    bool fitted_ = false;
    float data_min_ = 0.0f;
    float data_max_ = 0.0f;
};

// sklearn's StandardScaler on one series: x' = (x - mean) / std, with the population
// standard deviation; a constant series divides by 1 instead (it maps to 0).
class StandardScaler {
public:
    StandardScaler() = default;
    StandardScaler(float mean, float scale);  // already fitted

    StandardScaler& fit(std::span<const float> data);
    std::vector<float> transform(std::span<const float> data) const;
    std::vector<float> inverse_transform(std::span<const float> data) const;

    bool fitted() const { return fitted_; }
    float mean() const { return mean_; }
    float scale() const { return scale_; }  // the divisor: the std, or 1 for a constant series

private:
    void check_fitted(const char* call) const;
    bool fitted_ = false;
    float mean_ = 0.0f;
    float scale_ = 1.0f;
};

// The number of the first samples to train on when the last `test_fraction` of n samples
// is held out, as Sequential::fit's validation_split counts: floor(n (1 - test_fraction)).
// Throws unless test_fraction is in [0, 1) and both parts get at least one sample (the
// held-out part may be empty only for test_fraction 0).
std::size_t chronological_split(std::size_t n, double test_fraction);

// Reads an IDX file (the MNIST format), gzip-compressed or not: a big-endian header of
// magic 0x000008NN (unsigned bytes, NN dimensions) and NN sizes, then the bytes. Returns
// them as floats 0..255 with the file's shape: (N, 28, 28) for an images file (magic
// 0x00000803), (N,) for a labels file (0x00000801). A missing or damaged file, another
// element type, or data shorter or longer than the sizes say is a recur::Error.
Tensor read_idx(const std::string& path);

// keras.datasets.*.load_data() in one struct, to unpack in one line:
// auto [x_train, y_train, x_test, y_test] = recur::load_fashion_mnist();
struct TrainTestData {
    Tensor x_train, y_train, x_test, y_test;
};

// Fashion-MNIST from the four IDX files of Debian's dataset-fashion-mnist (or any directory
// holding train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-...; the .gz suffix
// may be left off): x (N, 28, 28) pixels 0..255 and y (N,) labels 0..9, 60000 to train on
// and 10000 to test. Divide x by 255 as with Keras.
TrainTestData load_fashion_mnist(const std::string& dir = "/usr/share/datasets/fashion-mnist");

// Fashion-MNIST's class names, by label.
inline constexpr std::array<const char*, 10> fashion_mnist_classes{
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

}  // namespace recur
