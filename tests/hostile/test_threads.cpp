// Models used from several threads: each model's shuffles come from its own generator,
// set_num_threads holds for every thread, and a call that would race with a call changing
// the model on another thread is refused instead.
#include <omp.h>

#include <atomic>
#include <cmath>
#include <latch>
#include <thread>

#include "hostile/hostile.hpp"
#include "support/weights.hpp"
#include "threads.hpp"

using recur::Error;
using recur::Sequential;
using recur::Tensor;
using recur::testing::all_weights;

namespace {

std::pair<Tensor, Tensor> data() {
    Tensor x({40, 6, 2}), y({40});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.17f * static_cast<float>(i));
    for (std::size_t i = 0; i < y.size(); ++i) y.data()[i] = std::cos(0.4f * static_cast<float>(i));
    return {x, y};
}

Sequential model() {
    Sequential m;
    m.add(recur::SimpleRNN(8).input_shape({6, 2}));
    m.add(recur::Dense(1));
    m.compile("adam", "mse");
    return m;
}

// MSE that, on its first call, says so and waits to be let go: a fit held inside its step loop.
class HeldMSE : public recur::Loss {
public:
    HeldMSE(std::latch& inside, std::latch& release) : inside_(&inside), release_(&release) {}
    const char* name() const override { return "held_mse"; }
    std::unique_ptr<recur::Loss> clone() const override { return std::make_unique<HeldMSE>(*this); }
    float compute(const float* y_pred, const float* y_true, float* grad, std::size_t rows,
                  std::size_t features) const override {
        if (grad && !held_->exchange(true)) {
            inside_->count_down();
            release_->wait();
        }
        return recur::MSE().compute(y_pred, y_true, grad, rows, features);
    }

private:
    std::latch* inside_;
    std::latch* release_;
    std::shared_ptr<std::atomic<bool>> held_ = std::make_shared<std::atomic<bool>>(false);
};

}  // namespace

TEST_CASE("two models fitted at once on two threads end bitwise where they end one after the other") {
    const auto [x, y] = data();
    const auto options = recur::FitOptions().epochs(4).batch_size(8).verbose(0);  // shuffled every epoch
    recur::manual_seed(17);
    Sequential a = model(), b = model();
    a.fit(x, y, options);
    b.fit(x, y, options);
    for (int round = 0; round < 3; ++round) {
        recur::manual_seed(17);
        Sequential c = model(), d = model();
        std::thread first([&] { c.fit(x, y, options); });
        std::thread second([&] { d.fit(x, y, options); });
        first.join();
        second.join();
        CHECK(all_weights(c) == all_weights(a));
        CHECK(all_weights(d) == all_weights(b));
    }
}

TEST_CASE("set_num_threads holds for recur's work on every thread, not only the one that called it") {
    const std::size_t original = recur::num_threads();
    auto team_size = [] {  // the largest team a parallel piece loop runs on
        std::atomic<int> largest{0};
        recur::detail::for_each_piece(64, 1, 1e9, [&](std::size_t, std::size_t) {
            int n = omp_get_num_threads(), seen = largest.load();
            while (n > seen && !largest.compare_exchange_weak(seen, n)) {
            }
        });
        return largest.load();
    };
    std::thread([] { recur::set_num_threads(1); }).join();
    CHECK(recur::num_threads() == 1);
    CHECK(team_size() == 1);
    int other = 0;
    std::thread([&] { other = team_size(); }).join();
    CHECK(other == 1);
    recur::set_num_threads(3);
    std::thread([&] { other = team_size(); }).join();
    CHECK(other == 3);
    CHECK_THROWS_WITH_AS(recur::set_num_threads(std::size_t{1} << 40),
                         "set_num_threads: expected threads <= 1024, got 1099511627776", Error);
    CHECK_THROWS_WITH_AS(recur::set_num_threads(static_cast<std::size_t>(-1)), doctest::Contains("expected threads <= 1024"), Error);
    recur::set_num_threads(original);
}

TEST_CASE("a call that would race with fit on another thread is refused; reads run together") {
    const auto [x, y] = data();
    std::latch inside(1), release(1);
    Sequential m = model();
    m.compile(recur::Adam(), HeldMSE(inside, release));
    std::thread training([&] { m.fit(x, y, recur::FitOptions().epochs(1).verbose(0)); });
    inside.wait();  // fit is now inside its first step
    const std::string busy = "the model is being changed by a call on another thread (add, compile, fit, train_on_batch "
                             "or a first predict); wait until that call returns";
    CHECK_THROWS_WITH_AS(m.predict(x), ("Sequential::predict: " + busy).c_str(), Error);
    CHECK_THROWS_WITH_AS(m.evaluate(x, y), ("Sequential::evaluate: " + busy).c_str(), Error);
    CHECK_THROWS_WITH_AS(m.save("never.safetensors"), ("Sequential::save: " + busy).c_str(), Error);
    CHECK_THROWS_WITH_AS(m.stream(1), ("Sequential::stream: " + busy).c_str(), Error);
    CHECK_THROWS_WITH_AS(m.train_on_batch(x, y), doctest::Contains("Sequential::train_on_batch: the model is in use by a call on "
                                                                   "another thread"),
                         Error);
    CHECK_THROWS_WITH_AS(m.add(recur::Dense(1)), doctest::Contains("Sequential::add: the model is in use"), Error);
    CHECK_THROWS_WITH_AS(m.compile("sgd", "mse"), doctest::Contains("Sequential::compile: the model is in use"), Error);
    release.count_down();
    training.join();

    // Predictions from many threads at once are allowed, and agree.
    const Tensor expected = m.predict(x);
    std::vector<Tensor> results(4);
    std::vector<std::thread> readers;
    for (auto& result : results) readers.emplace_back([&] { result = m.predict(x); });
    for (auto& reader : readers) reader.join();
    for (const Tensor& result : results) CHECK(std::equal(result.begin(), result.end(), expected.begin()));
}
