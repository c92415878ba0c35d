// One bad batch must not poison training: a non-finite gradient or update leaves the
// weights, the optimizer's state and its step count exactly as they were, whatever the
// optimizer and clipping, and the batches after it train as if it had never come.
#include <cmath>
#include <limits>
#include <memory>
#include <sstream>

#include "hostile/hostile.hpp"
#include "support/weights.hpp"

using recur::Error;
using recur::Sequential;
using recur::Tensor;
using recur::testing::all_weights;

namespace {

// MSE whose gradient, while `spike` holds a value, has that value in its first element: a
// finite loss with a NaN, an Inf or a huge gradient, as overflow in a long backward pass gives.
class SpikedMSE : public recur::Loss {
public:
    explicit SpikedMSE(std::shared_ptr<float> spike) : spike_(std::move(spike)) {}
    const char* name() const override { return "spiked_mse"; }
    std::unique_ptr<recur::Loss> clone() const override { return std::make_unique<SpikedMSE>(*this); }
    float compute(const float* y_pred, const float* y_true, float* grad, std::size_t rows,
                  std::size_t features) const override {
        const float value = recur::MSE().compute(y_pred, y_true, grad, rows, features);
        if (grad && *spike_ != 0.0f) grad[0] = *spike_;
        return value;
    }

private:
    std::shared_ptr<float> spike_;
};

std::pair<Tensor, Tensor> batch(int k) {
    Tensor x({8, 5, 1}), y({8});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.3f * static_cast<float>(i + 7 * k));
    for (std::size_t i = 0; i < y.size(); ++i) y.data()[i] = std::cos(0.5f * static_cast<float>(i + k));
    return {x, y};
}

Sequential model_with(const recur::Optimizer& optimizer, std::shared_ptr<float> spike) {
    recur::manual_seed(5);
    Sequential model;
    model.add(recur::SimpleRNN(4).name("rnn").input_shape({5, 1}));
    model.add(recur::Dense(1).name("head"));
    model.compile(optimizer, SpikedMSE(std::move(spike)));
    return model;
}

std::vector<float> state_of(const Sequential& model) {
    const auto state = model.optimizer().state();
    return {state.begin(), state.end()};
}

std::vector<std::unique_ptr<recur::Optimizer>> every_optimizer() {
    std::vector<std::unique_ptr<recur::Optimizer>> all;
    all.push_back(recur::SGD().learning_rate(0.05f).clone());
    all.push_back(recur::SGD().learning_rate(0.05f).momentum(0.9f).clone());
    all.push_back(recur::SGD().learning_rate(0.05f).momentum(0.9f).nesterov(true).clipnorm(0.5f).clone());
    all.push_back(recur::Adam().clone());
    all.push_back(recur::Adam().global_clipnorm(0.5f).clone());
    all.push_back(recur::Adam().clipvalue(0.1f).clone());
    all.push_back(recur::RMSprop().clone());
    all.push_back(recur::RMSprop().clipnorm(0.5f).clone());
    return all;
}

}  // namespace

TEST_CASE("a non-finite gradient leaves weights and optimizer state untouched, for every optimizer and clipping") {
    for (const auto& optimizer : every_optimizer())
        for (float poison : {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                             std::numeric_limits<float>::quiet_NaN()}) {
            CAPTURE(optimizer->name());
            CAPTURE(optimizer->clipnorm());
            CAPTURE(optimizer->clipvalue());
            CAPTURE(poison);
            auto spike = std::make_shared<float>(0.0f);
            Sequential hit = model_with(*optimizer, spike), clean = model_with(*optimizer, std::make_shared<float>(0.0f));
            for (int k = 0; k < 2; ++k) {
                auto [x, y] = batch(k);
                hit.train_on_batch(x, y);
                clean.train_on_batch(x, y);
            }
            const std::vector<float> weights = all_weights(hit), state = state_of(hit);
            const std::size_t steps = hit.optimizer().iterations();
            *spike = poison;
            auto [x, y] = batch(9);
            CHECK(std::isnan(hit.train_on_batch(x, y)));
            CHECK(all_weights(hit) == weights);
            CHECK(state_of(hit) == state);
            CHECK(hit.optimizer().iterations() == steps);
            *spike = 0.0f;
            for (int k = 2; k < 4; ++k) {  // the batches after it train as if it had never come
                auto [xk, yk] = batch(k);
                CHECK(std::isfinite(hit.train_on_batch(xk, yk)));
                clean.train_on_batch(xk, yk);
            }
            CHECK(all_weights(hit) == all_weights(clean));
            CHECK(state_of(hit) == state_of(clean));
        }
}

TEST_CASE("an update that would overflow the moments is undone, and training goes on") {
    // A huge but finite gradient: Adam's v and RMSprop's mean square, g^2, overflow to Inf
    // (the step itself would be 0, leaving that weight frozen for good). Clipping first tames
    // the gradient into a normal step. (SGD's step is lr g: from a finite gradient at a sane
    // rate it cannot overflow.)
    for (const auto& optimizer : every_optimizer()) {
        if (std::string(optimizer->name()) == "SGD") continue;
        CAPTURE(optimizer->name());
        auto spike = std::make_shared<float>(0.0f);
        Sequential hit = model_with(*optimizer, spike), clean = model_with(*optimizer, std::make_shared<float>(0.0f));
        auto [x0, y0] = batch(0);
        hit.train_on_batch(x0, y0);
        clean.train_on_batch(x0, y0);
        const std::vector<float> weights = all_weights(hit), state = state_of(hit);
        *spike = 1e21f;
        auto [x, y] = batch(9);
        const float result = hit.train_on_batch(x, y);
        if (optimizer->clipnorm() > 0 || optimizer->global_clipnorm() > 0 || optimizer->clipvalue() > 0) {
            CHECK(std::isfinite(result));
            continue;
        }
        CHECK(std::isnan(result));
        CHECK(all_weights(hit) == weights);
        CHECK(state_of(hit) == state);
        *spike = 0.0f;
        for (int k = 1; k < 3; ++k) {
            auto [xk, yk] = batch(k);
            CHECK(std::isfinite(hit.train_on_batch(xk, yk)));
            clean.train_on_batch(xk, yk);
        }
        CHECK(all_weights(hit) == all_weights(clean));
        CHECK(state_of(hit) == state_of(clean));
    }
}

TEST_CASE("fit stops on a bad batch saying what became non-finite; a checkpoint then holds the clean state") {
    auto spike = std::make_shared<float>(std::numeric_limits<float>::infinity());
    Sequential model = model_with(recur::Adam(), spike);
    auto [x, y] = batch(0);
    std::ostringstream errors;
    std::streambuf* saved = std::cerr.rdbuf(errors.rdbuf());
    const recur::History history = model.fit(x, y, recur::FitOptions().epochs(3).verbose(0));
    std::cerr.rdbuf(saved);
    CHECK(history.terminated_on_nan);
    CHECK(errors.str() == "Sequential::fit: the gradient of 'rnn/kernel' became nan at epoch 1, batch 1; training stopped "
                          "with the weights and optimizer state from before that batch\n");

    *spike = 1e21f;  // finite, but Adam's second moment overflows
    errors.str("");
    saved = std::cerr.rdbuf(errors.rdbuf());
    model.fit(x, y, recur::FitOptions().epochs(1).verbose(0));
    std::cerr.rdbuf(saved);
    CHECK(errors.str().starts_with("Sequential::fit: the Adam update (learning rate 0.001) would have made a weight or the "
                                   "optimizer's state NaN or Inf, so it was undone at epoch 1, batch 1"));

    // A later fit on clean data trains normally, and a checkpoint stores finite state.
    *spike = 0.0f;
    const recur::History clean = model.fit(x, y, recur::FitOptions().epochs(2).verbose(0));
    CHECK_FALSE(clean.terminated_on_nan);
    CHECK(clean.loss.size() == 2);
    recur::testing::ScratchDir dir;
    model.compile(recur::Adam(), "mse");  // a loss of recur's own, so that the file can record it
    model.train_on_batch(x, y);
    model.save_checkpoint(dir / "after.safetensors");
    const Sequential restored = recur::load_model(dir / "after.safetensors");
    for (float v : restored.optimizer().state()) CHECK(std::isfinite(v));
}

TEST_CASE("apply_gradients refuses sizes that do not add up") {
    recur::Adam adam;
    std::vector<float> params(4), grads(4);
    const std::vector<std::size_t> sizes{2, 3};
    CHECK_THROWS_WITH_AS(adam.apply_gradients(params, grads, sizes),
                         "Adam::apply_gradients: expected variable sizes that add up to the 4 parameters, got 5", Error);
    CHECK_THROWS_WITH_AS(adam.apply_gradients(params, std::span<float>(grads).first(3), sizes),
                         "Adam::apply_gradients: expected as many gradients as parameters (4), got 3", Error);
    CHECK_THROWS_WITH_AS(adam.set_state(std::vector<float>(3), 1, 4),
                         "Adam::set_state: expected 8 floats of state for 4 parameters (or none), got 3", Error);
    CHECK_THROWS_WITH_AS(adam.set_state(std::vector<float>(8, std::numeric_limits<float>::infinity()), 1, 4),
                         "Adam::set_state: expected a finite state, but it holds NaN or Inf", Error);
}

TEST_CASE("apply_gradients refuses variable sizes whose sum wraps around") {
    recur::Adam adam;
    adam.clipnorm(1.0f);
    std::vector<float> params(3), grads(3);
    const std::vector<std::size_t> sizes{SIZE_MAX, 4};
    CHECK_THROWS_WITH_AS(adam.apply_gradients(params, grads, sizes),
                         "Adam::apply_gradients: expected variable sizes that add up to the 3 parameters, got 18446744073709551615",
                         Error);
}
