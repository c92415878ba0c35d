// recur-bench: the kernels and whole training steps, with GFLOP/s and the share of the
// machine's measured single-core FMA peak.
//
//   recur-bench                          everything
//   recur-bench --benchmark_filter=Step  training steps only
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include <recur/recur.hpp>

#include "kernels/kernels.hpp"
#include "layers/products.hpp"

double fma_peak_gflops_avx512();
double fma_peak_gflops_avx2();

// The single-thread FMA peak on the widest vectors this CPU has (peak.cpp); 0 (unknown) on a
// CPU without FMA.
double measured_fma_peak_gflops() {
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) return fma_peak_gflops_avx512();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return fma_peak_gflops_avx2();
    return 0.0;
}

namespace {

double peak_gflops() {
    static const double peak = measured_fma_peak_gflops();
    return peak;
}

// flop/s and % of the single-core peak from a count of floating-point operations per iteration.
void report_flops(benchmark::State& state, double flops) {
    const double total = flops * static_cast<double>(state.iterations());
    state.counters["GFLOP/s"] = benchmark::Counter(total * 1e-9, benchmark::Counter::kIsRate);
    if (peak_gflops() > 0)
        state.counters["%peak1"] = benchmark::Counter(total * 1e-9 / peak_gflops() * 100.0, benchmark::Counter::kIsRate);
}

std::vector<float> random_vector(std::size_t n, unsigned seed) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> dist(-0.5f, 0.5f);
    std::vector<float> v(n);
    for (float& x : v) x = dist(gen);
    return v;
}

void FmaPeak(benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(peak_gflops());
    state.counters["GFLOP/s"] = peak_gflops();
}
BENCHMARK(FmaPeak)->Iterations(1);

// ---- kernels, single thread: B rows, H units ----

void RnnStepForward(benchmark::State& state) {
    const std::size_t B = state.range(0), H = state.range(1);
    auto a = random_vector(B * H, 1), h = random_vector(B * H, 2), u = random_vector(H * H, 3);
    std::vector<float> out(B * H), u_packed(recur::kernels::packed_floats(H, H));
    const auto& k = recur::kernels::active();
    k.pack(u_packed.data(), u.data(), H, H, H, false);  // once per optimizer step in training
    for (auto _ : state) {
        k.recurrent_forward(out.data(), a.data(), H, h.data(), H, u_packed.data(), B, H, H, recur::kernels::Act::tanh);
        benchmark::ClobberMemory();
    }
    report_flops(state, 2.0 * B * H * H);
}
// 1040 beside 1024: rows 4 KB apart against rows that are not (4K aliasing).
BENCHMARK(RnnStepForward)->Args({10, 10})->Args({32, 128})->Args({64, 512})->Args({128, 1024})->Args({128, 1040});

void RnnStepBackward(benchmark::State& state) {
    const std::size_t B = state.range(0), H = state.range(1);
    auto dh = random_vector(B * H, 1), next = random_vector(B * H, 2), u = random_vector(H * H, 3),
         h = random_vector(B * H, 4);
    std::vector<float> out(B * H), ut_packed(recur::kernels::packed_floats(H, H));
    const auto& k = recur::kernels::active();
    k.pack(ut_packed.data(), u.data(), H, H, H, true);
    for (auto _ : state) {
        k.recurrent_backward(out.data(), H, dh.data(), next.data(), H, ut_packed.data(), h.data(), B, H, H,
                             recur::kernels::Act::tanh);
        benchmark::ClobberMemory();
    }
    report_flops(state, 2.0 * B * H * H);
}
BENCHMARK(RnnStepBackward)->Args({10, 10})->Args({32, 128})->Args({64, 512})->Args({128, 1024})->Args({128, 1040});

// T forward steps of B rows and H units: one row per vector (the row kernel, step by step)
// against the batch in the lanes (the lanes kernel, a group of rows at a time).
void RecurrenceRows(benchmark::State& state) {
    const std::size_t B = state.range(0), H = state.range(1), T = state.range(2);
    auto a = random_vector(T * B * H, 1), u = random_vector(H * H, 3);
    std::vector<float> hs((T + 1) * B * H), u_packed(recur::kernels::packed_floats(H, H));
    const auto& k = recur::kernels::active();
    k.pack(u_packed.data(), u.data(), H, H, H, false);
    for (auto _ : state) {
        for (std::size_t t = 0; t < T; ++t)
            k.recurrent_forward(hs.data() + (t + 1) * B * H, a.data() + t * B * H, H, hs.data() + t * B * H, H,
                                u_packed.data(), B, H, H, recur::kernels::Act::tanh);
        benchmark::ClobberMemory();
    }
    report_flops(state, 2.0 * T * B * H * H);
}
BENCHMARK(RecurrenceRows)->Args({64, 4, 50});

void RecurrenceLanes(benchmark::State& state) {
    const std::size_t B = state.range(0), H = state.range(1), T = state.range(2);
    const auto& k = recur::kernels::active();
    const std::size_t L = k.lanes, groups = (B + L - 1) / L;
    auto a = random_vector(groups * T * H * L, 1), u = random_vector(H * H, 3);
    std::vector<float> hs(groups * (T + 1) * H * L);
    for (auto _ : state) {
        for (std::size_t g = 0; g < groups; ++g)
            k.rnn_forward_lanes(hs.data() + g * (T + 1) * H * L, a.data() + g * T * H * L, u.data(), L, H, T,
                                recur::kernels::Act::tanh);
        benchmark::ClobberMemory();
    }
    report_flops(state, 2.0 * T * B * H * H);
}
BENCHMARK(RecurrenceLanes)->Args({64, 4, 50});

// The input projection x W + b over all T x B rows: rows, D, H.
void InputProjection(benchmark::State& state) {
    const std::size_t rows = state.range(0), D = state.range(1), H = state.range(2);
    auto x = random_vector(rows * D, 1), w = random_vector(D * H, 2), b = random_vector(H, 3);
    std::vector<float> out(rows * H), w_packed(recur::kernels::packed_floats(D, H));
    const auto& k = recur::kernels::active();
    k.pack(w_packed.data(), w.data(), D, H, H, false);
    for (auto _ : state) {
        k.linear_forward_packed(out.data(), x.data(), w_packed.data(), b.data(), rows, D, H);
        benchmark::ClobberMemory();
    }
    report_flops(state, 2.0 * rows * D * H);
}
BENCHMARK(InputProjection)->Args({896, 28, 128})->Args({6400, 64, 512});

// The weight gradient H_prev^T dA over all T x B rows: rows, H.
// dU = hs^T dA over `rows` rows as the layer makes it (detail::weight_gradient, slab by slab).
void WeightGradient(benchmark::State& state) {
    const std::size_t rows = state.range(0), H = state.range(1);
    auto a = random_vector(rows * H, 1), b = random_vector(rows * H, 2);
    std::vector<float> out(H * H), scratch(recur::detail::weight_gradient_floats(H, H));
    for (auto _ : state) {
        recur::detail::weight_gradient({{out.data(), a.data(), H, H}}, H, b.data(), H, rows, H, scratch.data());
        benchmark::ClobberMemory();
    }
    report_flops(state, 2.0 * rows * H * H);
}
BENCHMARK(WeightGradient)->Args({896, 128})->Args({6400, 512})->Args({6400, 1024});

void DenseForward(benchmark::State& state) {
    const std::size_t rows = state.range(0), in = state.range(1), units = state.range(2);
    auto x = random_vector(rows * in, 1), w = random_vector(in * units, 2), b = random_vector(units, 3);
    std::vector<float> out(rows * units);
    const auto& k = recur::kernels::active();
    for (auto _ : state) {
        k.linear_forward(out.data(), x.data(), w.data(), b.data(), rows, in, units);
        benchmark::ClobberMemory();
    }
    report_flops(state, 2.0 * rows * in * units);
}
BENCHMARK(DenseForward)->Args({32, 128, 10})->Args({64, 512, 1});

void AdamUpdate(benchmark::State& state) {
    const std::size_t n = state.range(0);
    auto p = random_vector(n, 1), g = random_vector(n, 2), m = random_vector(n, 3), v = random_vector(n, 4);
    for (float& x : v) x = std::abs(x);
    const auto& k = recur::kernels::active();
    for (auto _ : state) {
        k.adam_update(p.data(), g.data(), m.data(), v.data(), nullptr, n, 1e-3f, 0.9f, 0.999f, 1e-7f, 1.0f);
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * n * 7 * sizeof(float)));
}
BENCHMARK(AdamUpdate)->Arg(131)->Arg(296'449);

// ---- whole steps through the public API: a recurrent layer of H units + Dense(O) + MSE, Adam ----

struct Config {
    const char* name;
    std::size_t B, T, D, H, O;
};
// S, M, L, XL, and N: narrow units over a batch of several vectors (the batch-in-lanes loop).
const Config kConfigs[] = {{"S", 10, 5, 1, 10, 1}, {"M", 32, 28, 28, 128, 10}, {"L", 64, 100, 64, 512, 1},
                           {"XL", 128, 50, 256, 1024, 1}, {"N", 64, 50, 1, 4, 1}};

enum class Cell { simple, lstm, gru };

// Gate blocks per step: the recurrent matrices are H x gates*H.
double gates(Cell cell) { return cell == Cell::lstm ? 4.0 : cell == Cell::gru ? 3.0 : 1.0; }

double predict_flops(const Config& c, Cell cell) {
    return 2.0 * c.T * c.B * (c.D + c.H) * gates(cell) * c.H + 2.0 * c.B * c.H * c.O;
}

// Forward, then backward: the head twice, the state gradient through U and the two weight
// gradients (the first layer's input gradient is not needed).
double step_flops(const Config& c, Cell cell) {
    const double head = 2.0 * c.B * c.H * c.O;
    const double backward = 2.0 * c.T * c.B * (2.0 * c.H + c.D) * gates(cell) * c.H + 2.0 * head;
    return predict_flops(c, cell) + backward;
}

struct Fixture {
    recur::Sequential model;
    recur::Tensor x, y;
    Fixture(const Config& c, Cell cell) : x({c.B, c.T, c.D}), y({c.B, c.O}) {
        recur::manual_seed(1);
        if (cell == Cell::lstm) model.add(recur::LSTM(c.H).input_shape({c.T, c.D}));
        else if (cell == Cell::gru) model.add(recur::GRU(c.H).input_shape({c.T, c.D}));
        else model.add(recur::SimpleRNN(c.H).input_shape({c.T, c.D}));
        model.add(recur::Dense(c.O));
        model.compile(recur::Adam(), recur::MSE());
        auto xs = random_vector(x.size(), 5), ys = random_vector(y.size(), 6);
        std::copy(xs.begin(), xs.end(), x.data());
        std::copy(ys.begin(), ys.end(), y.data());
    }
};

void train_step(benchmark::State& state, Cell cell) {
    const Config& c = kConfigs[state.range(0)];
    state.SetLabel(c.name);
    Fixture f(c, cell);
    f.model.train_on_batch(f.x, f.y);  // a fit's steps after the first: workspace and optimizer state exist
    for (auto _ : state) benchmark::DoNotOptimize(f.model.train_on_batch(f.x, f.y));
    report_flops(state, step_flops(c, cell));
}

void predict(benchmark::State& state, Cell cell) {
    const Config& c = kConfigs[state.range(0)];
    state.SetLabel(c.name);
    Fixture f(c, cell);
    f.model.predict(f.x, c.B);  // as a model serving predictions: its workspace exists
    for (auto _ : state) benchmark::DoNotOptimize(f.model.predict(f.x, c.B));
    report_flops(state, predict_flops(c, cell));
}

void TrainStep(benchmark::State& state) { train_step(state, Cell::simple); }
void Predict(benchmark::State& state) { predict(state, Cell::simple); }
void TrainStepLSTM(benchmark::State& state) { train_step(state, Cell::lstm); }
void PredictLSTM(benchmark::State& state) { predict(state, Cell::lstm); }
void TrainStepGRU(benchmark::State& state) { train_step(state, Cell::gru); }
void PredictGRU(benchmark::State& state) { predict(state, Cell::gru); }
BENCHMARK(TrainStep)->DenseRange(0, 4)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(Predict)->DenseRange(0, 4)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(TrainStepLSTM)->DenseRange(0, 4)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(PredictLSTM)->DenseRange(0, 4)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(TrainStepGRU)->DenseRange(0, 4)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(PredictGRU)->DenseRange(0, 4)->Unit(benchmark::kMillisecond)->UseRealTime();

// ---- padding: a masked batch whose lengths spread evenly over 1..T against the same batch unpadded ----
// B 64, T 100, D 32, H 128, O 1. Arguments: the cell (0 SimpleRNN, 1 LSTM, 2 GRU) and whether
// the batch is masked (Masking first, sample b holding 1 + b (T - 1) / (B - 1) real steps and
// zeros after) or every sample runs all T steps (no Masking layer).
void MaskedTrainStep(benchmark::State& state) {
    constexpr std::size_t B = 64, T = 100, D = 32, H = 128;
    const Cell cell = static_cast<Cell>(state.range(0));
    const bool masked = state.range(1) != 0;
    state.SetLabel(std::string(cell == Cell::lstm ? "LSTM" : cell == Cell::gru ? "GRU" : "SimpleRNN") +
                   (masked ? " masked, lengths 1..T" : " all T steps"));
    recur::manual_seed(1);
    recur::Sequential model;
    if (masked) model.add(recur::Masking().input_shape({T, D}));
    const recur::Shape input{T, D};
    if (cell == Cell::lstm) model.add(recur::LSTM(H).input_shape(input));
    else if (cell == Cell::gru) model.add(recur::GRU(H).input_shape(input));
    else model.add(recur::SimpleRNN(H).input_shape(input));
    model.add(recur::Dense(1));
    model.compile(recur::Adam(), recur::MSE());
    recur::Tensor x({B, T, D}), y({B, 1});
    const auto xs = random_vector(x.size(), 5), ys = random_vector(y.size(), 6);
    std::copy(xs.begin(), xs.end(), x.data());
    std::copy(ys.begin(), ys.end(), y.data());
    std::size_t real_steps = B * T;
    if (masked) {
        real_steps = 0;
        for (std::size_t b = 0; b < B; ++b) {
            const std::size_t length = 1 + b * (T - 1) / (B - 1);
            real_steps += length;
            std::fill(x.data() + (b * T + length) * D, x.data() + (b + 1) * T * D, 0.0f);
        }
    }
    model.train_on_batch(x, y);
    for (auto _ : state) benchmark::DoNotOptimize(model.train_on_batch(x, y));
    state.counters["real_steps"] = static_cast<double>(real_steps);
}
BENCHMARK(MaskedTrainStep)->ArgsProduct({{0, 1, 2}, {0, 1}})->Unit(benchmark::kMillisecond)->UseRealTime();

// The seed notebook's whole fit: 50 epochs of one batch of 10.
void SeedFit50Epochs(benchmark::State& state) {
    std::vector<float> series;
    for (int i = 0; i < 15; ++i) series.push_back(i / 10.0f);
    auto [X, Y] = recur::sliding_windows(series, 5);
    for (auto _ : state) {
        recur::manual_seed(42);
        recur::Sequential model;
        model.add(recur::SimpleRNN(10).input_shape({5, 1}));
        model.add(recur::Dense(1));
        model.compile("adam", "mse");
        benchmark::DoNotOptimize(model.fit(X, Y, recur::FitOptions().epochs(50).verbose(0)));
    }
}
BENCHMARK(SeedFit50Epochs)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    std::printf("kernels: %s, threads: %zu, measured FMA peak (1 core): %.0f GFLOP/s\n",
                recur::kernels::active().isa, recur::num_threads(), peak_gflops());
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
}
