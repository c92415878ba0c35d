// recur-forecast: next year's sunspot number from the twelve before it, scored on the last
// 20% of the years against two baselines: persistence (next = last) and a least-squares
// linear autoregression on the same window. Training holds out the last fifth of its own
// windows for validation, stops early on it (keeping the best epoch's weights) and lowers
// the learning rate when it stalls. Exits 1 if the network's median RMSE over the seeds does
// not beat persistence.
//
//   recur-forecast [--csv PATH] [--seeds N] [--epochs N]
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <recur/recur.hpp>

#include "flags.hpp"

namespace {

constexpr std::size_t kWindow = 12;

// Rows [begin, end) of a tensor, along its first axis.
recur::Tensor rows(const recur::Tensor& t, std::size_t begin, std::size_t end) {
    const std::size_t row = t.size() / t.shape()[0];
    std::vector<std::size_t> dims = t.shape().dims();
    dims[0] = end - begin;
    return recur::Tensor(recur::Shape(dims), std::vector<float>(t.data() + begin * row, t.data() + end * row));
}

double rmse(std::span<const double> predicted, std::span<const float> truth) {
    double sum = 0;
    for (std::size_t i = 0; i < truth.size(); ++i) sum += (predicted[i] - truth[i]) * (predicted[i] - truth[i]);
    return std::sqrt(sum / static_cast<double>(truth.size()));
}

// Least-squares AR(window): y_t = c + sum_k a_k y_{t-window+k}, fitted by solving the normal
// equations (A^T A) w = A^T y by Gaussian elimination with partial pivoting, in double,
// which is ample for a 13 x 13 system. The fit does not depend on the scaling of the series.
std::vector<double> fit_linear_ar(std::span<const float> series, std::size_t n_windows) {
    constexpr std::size_t p = kWindow + 1;  // the window's values, then the intercept
    std::array<std::array<double, p + 1>, p> m{};  // [A^T A | A^T y]
    for (std::size_t i = 0; i < n_windows; ++i) {
        std::array<double, p> a{};
        for (std::size_t k = 0; k < kWindow; ++k) a[k] = series[i + k];
        a[kWindow] = 1.0;
        for (std::size_t r = 0; r < p; ++r) {
            for (std::size_t c = 0; c < p; ++c) m[r][c] += a[r] * a[c];
            m[r][p] += a[r] * series[i + kWindow];
        }
    }
    for (std::size_t col = 0; col < p; ++col) {
        std::size_t pivot = col;
        for (std::size_t r = col + 1; r < p; ++r)
            if (std::abs(m[r][col]) > std::abs(m[pivot][col])) pivot = r;
        std::swap(m[col], m[pivot]);
        for (std::size_t r = col + 1; r < p; ++r) {
            const double f = m[r][col] / m[col][col];
            for (std::size_t c = col; c <= p; ++c) m[r][c] -= f * m[col][c];
        }
    }
    std::vector<double> w(p);
    for (std::size_t r = p; r-- > 0;) {
        double s = m[r][p];
        for (std::size_t c = r + 1; c < p; ++c) s -= m[r][c] * w[c];
        w[r] = s / m[r][r];
    }
    return w;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t h = v.size() / 2;
    return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

}  // namespace

int main(int argc, char** argv) try {
    std::string csv = RECUR_EXAMPLES_DATA "/sunspots.csv";
    std::size_t seeds = 5, epochs = 2000;
    CLI::App app{"Forecast yearly sunspot numbers with SimpleRNN(32), against persistence and a linear model",
                 "recur-forecast"};
    app.add_option("--csv", csv, "CSV with YEAR and SUNACTIVITY columns")->capture_default_str();
    app.add_option("--seeds", seeds, "Seeds to train and score")->capture_default_str()->check(recur_examples::count);
    app.add_option("--epochs", epochs, "Most epochs per seed (early stopping ends most runs sooner)")
        ->capture_default_str()
        ->check(recur_examples::count);
    CLI11_PARSE(app, argc, argv);

    const recur::CsvTable table = recur::read_csv(csv);
    const std::vector<float> years = table.column("YEAR"), series = table.column("SUNACTIVITY");
    if (series.size() < kWindow + 5)
        throw recur::Error("'" + csv + "' has " + std::to_string(series.size()) + " years; a window of 12 needs 17 or more");

    // Windows [0, n_train) train; the last 20% of them (rounded down) test: for 1700-2008, the
    // targets 1950-2008. Test inputs reach back into training years, as a forecast would.
    const std::size_t n = series.size() - kWindow, n_train = n - n / 5;
    const std::span<const float> truth = std::span<const float>(series).subspan(n_train + kWindow);
    std::printf("%zu years, %.0f-%.0f, from %s\n", series.size(), years.front(), years.back(), csv.c_str());
    std::printf("window %zu: training targets %.0f-%.0f (%zu), test targets %.0f-%.0f (%zu)\n\n", kWindow,
                years[kWindow], years[n_train + kWindow - 1], n_train, years[n_train + kWindow], years.back(),
                truth.size());

    // Baselines, in sunspot units.
    std::vector<double> persistence(truth.size()), linear(truth.size());
    const std::vector<double> w = fit_linear_ar(series, n_train);
    for (std::size_t i = 0; i < truth.size(); ++i) {
        const std::size_t start = n_train + i;
        persistence[i] = series[start + kWindow - 1];
        linear[i] = w[kWindow];
        for (std::size_t k = 0; k < kWindow; ++k) linear[i] += w[k] * series[start + k];
    }

    // The scaler sees only the training windows and their targets, so nothing of the test
    // years leaks into the inputs' scale.
    recur::MinMaxScaler scaler;
    scaler.fit(std::span<const float>(series).first(n_train + kWindow));
    auto [x, y] = recur::sliding_windows(scaler.transform(series), kWindow);
    const recur::Tensor x_train = rows(x, 0, n_train), y_train = rows(y, 0, n_train), x_test = rows(x, n_train, n);

    std::vector<double> scores;
    for (std::size_t seed = 1; seed <= seeds; ++seed) {
        const auto start = std::chrono::steady_clock::now();
        recur::manual_seed(seed);
        recur::Sequential model;
        model.add(recur::SimpleRNN(32).input_shape({kWindow, 1}));
        model.add(recur::Dense(1));
        // Full-batch Adam: every training window in one batch. The last fifth of the training
        // windows (the years just before the test years) decide when to stop and when to slow down.
        model.compile(recur::Adam().learning_rate(0.01f), recur::MSE());
        auto stop = std::make_shared<recur::EarlyStopping>();
        stop->monitor("val_loss").patience(100).restore_best_weights(true);
        const recur::History history = model.fit(
            x_train, y_train,
            recur::FitOptions().epochs(epochs).batch_size(n_train).validation_split(0.2).verbose(0).callbacks(
                {stop, recur::ReduceLROnPlateau().monitor("val_loss").factor(0.5f).patience(40).min_lr(1e-4f)}));

        const recur::Tensor scaled = model.predict(x_test);
        const std::vector<float> unscaled = scaler.inverse_transform(std::span<const float>(scaled.data(), scaled.size()));
        scores.push_back(rmse(std::vector<double>(unscaled.begin(), unscaled.end()), truth));
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("seed %zu: best val_loss %.5f at epoch %zu of %zu (learning rate %.4g by then), test RMSE %.1f (%.1f s)\n",
                    seed, double(*stop->best()), stop->best_epoch() + 1, history.loss.size(),
                    double(history.history.at("learning_rate")[stop->best_epoch()]), scores.back(), seconds);
    }

    const double rnn = median(scores), naive = rmse(persistence, truth), ar = rmse(linear, truth);
    std::printf("\ntest RMSE over %.0f-%.0f, in sunspots:\n", years[n_train + kWindow], years.back());
    std::printf("  persistence (next = last)      %5.1f\n", naive);
    std::printf("  linear AR(%zu), least squares   %5.1f\n", kWindow, ar);
    std::printf("  SimpleRNN(32), median of %-4zu  %5.1f  (%.1f-%.1f)\n", seeds, rnn,
                *std::min_element(scores.begin(), scores.end()), *std::max_element(scores.begin(), scores.end()));
    return rnn < naive ? 0 : 1;
} catch (const std::exception& e) {
    std::fprintf(stderr, "recur-forecast: %s\n", e.what());
    return 1;
}
