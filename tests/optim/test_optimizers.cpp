// One step of each optimizer against values worked out by hand from Keras's update rules.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <recur/recur.hpp>

#include "support/compare.hpp"

namespace {
struct Step {
    std::vector<float> params, grads;
};
void apply(recur::Optimizer& opt, Step& s) {
    const std::vector<std::size_t> sizes{s.params.size()};
    opt.apply_gradients(s.params, s.grads, sizes);
}
}  // namespace

TEST_CASE("SGD: p -= lr g") {
    recur::SGD sgd;
    CHECK(sgd.learning_rate() == doctest::Approx(0.01));  // Keras's default
    sgd.learning_rate(0.1f);
    Step s{{1.0f, -2.0f}, {0.5f, -1.0f}};
    apply(sgd, s);
    CHECK(s.params[0] == doctest::Approx(0.95));
    CHECK(s.params[1] == doctest::Approx(-1.9));
}

TEST_CASE("SGD with momentum: v = m v - lr g; p += v, twice") {
    recur::SGD sgd = recur::SGD().learning_rate(0.1f).momentum(0.9f);
    Step s{{1.0f}, {0.5f}};
    apply(sgd, s);  // v = -0.05, p = 0.95
    CHECK(s.params[0] == doctest::Approx(0.95));
    s.grads = {0.5f};
    apply(sgd, s);  // v = 0.9 * -0.05 - 0.05 = -0.095, p = 0.855
    CHECK(s.params[0] == doctest::Approx(0.855));
}

TEST_CASE("SGD with Nesterov momentum: p += m v - lr g") {
    recur::SGD sgd = recur::SGD().learning_rate(0.1f).momentum(0.9f).nesterov(true);
    Step s{{1.0f}, {0.5f}};
    apply(sgd, s);  // v = -0.05; p += 0.9 * -0.05 - 0.05 = -0.095
    CHECK(s.params[0] == doctest::Approx(0.905));
}

TEST_CASE("Adam: Keras defaults and Keras's epsilon form") {
    recur::Adam adam;
    CHECK(adam.learning_rate() == doctest::Approx(1e-3));
    CHECK(adam.beta_1() == doctest::Approx(0.9));
    CHECK(adam.beta_2() == doctest::Approx(0.999));
    CHECK(adam.epsilon() == doctest::Approx(1e-7));
    adam.learning_rate(0.1f);
    Step s{{1.0f, 2.0f}, {0.2f, -4.0f}};
    apply(adam, s);
    // t = 1: m = 0.1 g, v = 0.001 g^2, lr_t = 0.1 sqrt(0.001) / 0.1; step = lr_t m / (sqrt(v) + eps)
    for (int i = 0; i < 2; ++i) {
        const double g = i == 0 ? 0.2 : -4.0;
        const double m = 0.1 * g, v = 0.001 * g * g, lr_t = 0.1 * std::sqrt(0.001) / 0.1;
        const double want = (i == 0 ? 1.0 : 2.0) - lr_t * m / (std::sqrt(v) + 1e-7);
        CHECK(s.params[i] == doctest::Approx(want).epsilon(1e-6));
    }
    CHECK(adam.iterations() == 1);
    // t = 2 with the same gradient: m = 0.19 g, v = 0.001999 g^2, lr_t = 0.1 sqrt(1 - 0.999^2) / 0.19
    const double before = s.params[0];
    s.grads = {0.2f, -4.0f};
    apply(adam, s);
    const double m = 0.19 * 0.2, v = 0.001999 * 0.04, lr_t = 0.1 * std::sqrt(1 - 0.999 * 0.999) / (1 - 0.81);
    CHECK(s.params[0] == doctest::Approx(before - lr_t * m / (std::sqrt(v) + 1e-7)).epsilon(1e-6));
}

TEST_CASE("RMSprop: ms = rho ms + (1 - rho) g^2; p -= lr g / sqrt(ms + eps), as Keras 3") {
    recur::RMSprop rms;
    CHECK(rms.learning_rate() == doctest::Approx(1e-3));
    CHECK(rms.rho() == doctest::Approx(0.9));
    rms.learning_rate(0.01f);
    Step s{{1.0f}, {2.0f}};
    apply(rms, s);
    const double ms = 0.1 * 4.0;
    CHECK(s.params[0] == doctest::Approx(1.0 - 0.01 * 2.0 / std::sqrt(ms + 1e-7)).epsilon(1e-6));
    // A tiny mean square shows where epsilon sits: sqrt(1e-8 + 1e-7), not 1e-4 + 1e-7.
    recur::RMSprop tiny = recur::RMSprop().learning_rate(0.01f);
    Step t{{1.0f}, {1e-3f}};
    apply(tiny, t);
    CHECK(t.params[0] == doctest::Approx(1.0 - 0.01 * 1e-3 / std::sqrt(0.1 * 1e-6 + 1e-7)).epsilon(1e-6));
}

TEST_CASE("clipnorm rescales each variable by its own norm; clipvalue clamps; global_clipnorm takes all") {
    recur::SGD per_variable = recur::SGD().learning_rate(1.0f).clipnorm(1.0f);
    std::vector<float> p{0, 0, 0}, g{3, 4, 0.5f};
    const std::vector<std::size_t> sizes{2, 1};  // (3, 4) has norm 5 -> (0.6, 0.8); 0.5 stays
    per_variable.apply_gradients(p, g, sizes);
    CHECK(p[0] == doctest::Approx(-0.6));
    CHECK(p[1] == doctest::Approx(-0.8));
    CHECK(p[2] == doctest::Approx(-0.5));

    recur::SGD global = recur::SGD().learning_rate(1.0f).global_clipnorm(1.0f);
    p = {0, 0, 0};
    g = {3, 4, 0};
    global.apply_gradients(p, g, sizes);
    CHECK(p[0] == doctest::Approx(-0.6));
    CHECK(p[1] == doctest::Approx(-0.8));

    recur::SGD by_value = recur::SGD().learning_rate(1.0f).clipvalue(0.5f);
    p = {0, 0, 0};
    g = {3, -4, 0.25f};
    by_value.apply_gradients(p, g, sizes);
    CHECK(p[0] == doctest::Approx(-0.5));
    CHECK(p[1] == doctest::Approx(0.5));
    CHECK(p[2] == doctest::Approx(-0.25));
}

TEST_CASE("bad optimizer settings are rejected with the value named") {
    CHECK_THROWS_WITH_AS(recur::Adam().learning_rate(-1.0f), doctest::Contains("Adam::learning_rate: expected a finite value > 0, got -1"), recur::Error);
    CHECK_THROWS_WITH_AS(recur::Adam().learning_rate(NAN), doctest::Contains("Adam::learning_rate"), recur::Error);
    CHECK_THROWS_WITH_AS(recur::Adam().beta_1(1.0f), doctest::Contains("Adam::beta_1: expected a value in [0, 1)"), recur::Error);
    CHECK_THROWS_WITH_AS(recur::SGD().momentum(1.5f), doctest::Contains("SGD::momentum"), recur::Error);
    CHECK_THROWS_WITH_AS(recur::RMSprop().clipnorm(0.0f), doctest::Contains("RMSprop::clipnorm"), recur::Error);
    CHECK_THROWS_WITH_AS(recur::SGD().clipnorm(1.0f).global_clipnorm(1.0f), doctest::Contains("use one of the two"), recur::Error);
    CHECK_THROWS_WITH_AS(recur::make_optimizer("adadelta"), doctest::Contains("got \"adadelta\""), recur::Error);
    CHECK_THROWS_WITH_AS(recur::Adagrad().initial_accumulator_value(-0.1f), doctest::Contains("Adagrad::initial_accumulator_value"), recur::Error);
    CHECK_THROWS_WITH_AS(recur::Nadam().beta_2(1.0f), doctest::Contains("Nadam::beta_2"), recur::Error);
    CHECK_THROWS_WITH_AS(recur::AdamW().epsilon(0.0f), doctest::Contains("AdamW::epsilon"), recur::Error);
}

TEST_CASE("weight_decay (Keras 3, decoupled): p *= 1 - lr wd before every optimizer's update") {
    // SGD: p = 2 (1 - 0.1 * 0.5) - 0.1 * 1 = 1.8
    recur::SGD sgd = recur::SGD().learning_rate(0.1f).weight_decay(0.5f);
    Step s{{2.0f}, {1.0f}};
    apply(sgd, s);
    CHECK(s.params[0] == doctest::Approx(1.8).epsilon(1e-6));
    // RMSprop: p = 1 (1 - 0.01 * 0.1) - 0.01 * 2 / (sqrt(0.4) + eps)
    recur::RMSprop rms = recur::RMSprop().learning_rate(0.01f).weight_decay(0.1f);
    Step r{{1.0f}, {2.0f}};
    apply(rms, r);
    CHECK(r.params[0] == doctest::Approx(0.999 - 0.01 * 2.0 / std::sqrt(0.4 + 1e-7)).epsilon(1e-6));
    // AdamW's default is 0.004; a first step moves p by lr m / (sqrt(v) + eps) ~ lr sign(g).
    recur::AdamW adamw;
    CHECK(adamw.weight_decay() == doctest::Approx(0.004));
    adamw.learning_rate(0.1f);
    Step a{{3.0f}, {0.5f}};
    apply(adamw, a);
    const double step = 0.1 * std::sqrt(0.001) / 0.1 * 0.05 / (std::sqrt(0.001 * 0.25) + 1e-7);
    CHECK(a.params[0] == doctest::Approx(3.0 * (1 - 0.1 * 0.004) - step).epsilon(1e-6));
    CHECK_THROWS_AS(recur::SGD().weight_decay(-1.0f), recur::Error);
    CHECK_THROWS_AS(recur::SGD().weight_decay(NAN), recur::Error);
}

TEST_CASE("Adam with amsgrad steps with the largest v so far") {
    recur::Adam adam = recur::Adam().learning_rate(0.1f).amsgrad(true);
    Step s{{1.0f}, {4.0f}};
    apply(adam, s);  // t 1: m 0.4, v 0.016, v_max 0.016
    const double after_one = s.params[0];
    s.grads = {0.1f};
    apply(adam, s);  // t 2: m 0.37, v = 0.999 0.016 + 0.001 0.01 = 0.015994 < v_max 0.016
    const double m = 0.9 * 0.4 + 0.1 * 0.1, v_max = 0.016;
    const double lr_t = 0.1 * std::sqrt(1 - 0.999 * 0.999) / (1 - 0.81);
    CHECK(s.params[0] == doctest::Approx(after_one - lr_t * m / (std::sqrt(v_max) + 1e-7)).epsilon(1e-6));
    CHECK(adam.state().size() == 3);  // m, v and v_max
}

TEST_CASE("Adagrad: acc = 0.1 + g^2; p -= lr g / sqrt(acc + eps)") {
    recur::Adagrad adagrad;
    CHECK(adagrad.learning_rate() == doctest::Approx(1e-3));
    CHECK(adagrad.initial_accumulator_value() == doctest::Approx(0.1));
    adagrad.learning_rate(0.5f);
    Step s{{1.0f, -1.0f}, {0.3f, 2.0f}};
    apply(adagrad, s);
    CHECK(s.params[0] == doctest::Approx(1.0 - 0.5 * 0.3 / std::sqrt(0.1 + 0.09 + 1e-7)).epsilon(1e-6));
    CHECK(s.params[1] == doctest::Approx(-1.0 - 0.5 * 2.0 / std::sqrt(0.1 + 4.0 + 1e-7)).epsilon(1e-6));
    s.grads = {0.3f, 2.0f};
    const double before = s.params[0];
    apply(adagrad, s);
    CHECK(s.params[0] == doctest::Approx(before - 0.5 * 0.3 / std::sqrt(0.1 + 0.18 + 1e-7)).epsilon(1e-6));
}

TEST_CASE("Nadam: Keras's momentum schedule u_t = b1 (1 - 0.96^t / 2), two steps by hand") {
    recur::Nadam nadam = recur::Nadam().learning_rate(0.1f);
    Step s{{1.0f}, {0.5f}};
    const double b1 = 0.9, b2 = 0.999, eps = 1e-7;
    auto u = [&](int t) { return b1 * (1 - 0.5 * std::pow(0.96, t)); };
    double p = 1.0, m = 0.0, v = 0.0, product = 1.0;
    for (int t = 1; t <= 2; ++t) {
        const double g = t == 1 ? 0.5 : -0.25;
        s.grads = {float(g)};
        apply(nadam, s);
        product *= u(t);
        m = b1 * m + (1 - b1) * g;
        v = b2 * v + (1 - b2) * g * g;
        const double m_hat = u(t + 1) * m / (1 - product * u(t + 1)) + (1 - u(t)) * g / (1 - product);
        const double v_hat = v / (1 - std::pow(b2, t));
        p -= 0.1 * m_hat / (std::sqrt(v_hat) + eps);
        CHECK(s.params[0] == doctest::Approx(p).epsilon(1e-6));
    }
}

TEST_CASE("the new optimizers by name, in model files, and resumed from checkpoints bit for bit") {
    for (const char* name : {"adamw", "adagrad", "nadam"}) CHECK_NOTHROW(recur::make_optimizer(name));
    const std::string path = std::filesystem::temp_directory_path() / ("recur_optimizers_" + std::to_string(::getpid()) + ".safetensors");
    const recur::Tensor x(recur::Shape{4, 3, 1}, {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f, 1.0f, 0.9f, 0.8f});
    const recur::Tensor y(recur::Shape{4, 1}, {0.4f, 0.7f, 1.0f, 0.7f});
    const std::vector<std::unique_ptr<recur::Optimizer>> optimizers = [] {
        std::vector<std::unique_ptr<recur::Optimizer>> list;
        list.push_back(recur::AdamW().amsgrad(true).weight_decay(0.01f).clone());
        list.push_back(recur::Adagrad().initial_accumulator_value(0.2f).epsilon(1e-6f).clone());
        list.push_back(recur::Nadam().learning_rate(0.01f).weight_decay(0.001f).clone());
        list.push_back(recur::SGD().momentum(0.5f).weight_decay(0.1f).clone());
        return list;
    }();
    for (const auto& optimizer : optimizers) {
        CAPTURE(optimizer->name());
        auto make = [&] {
            recur::manual_seed(3);
            recur::Sequential model;
            model.add(recur::GRU(3).input_shape({3, 1}));
            model.add(recur::Dense(1));
            model.compile(*optimizer, "mse");
            return model;
        };
        recur::Sequential straight = make(), first = make();
        for (int i = 0; i < 5; ++i) straight.train_on_batch(x, y);
        for (int i = 0; i < 3; ++i) first.train_on_batch(x, y);
        first.save_checkpoint(path);
        recur::Sequential resumed = recur::load_model(path);
        CHECK(std::string(resumed.optimizer().name()) == optimizer->name());
        CHECK(resumed.optimizer().weight_decay() == optimizer->weight_decay());
        for (int i = 0; i < 2; ++i) resumed.train_on_batch(x, y);
        const auto a = straight.get_weights(), b = resumed.get_weights();
        for (std::size_t i = 0; i < a.size(); ++i) CHECK(recur::testing::same_bits(a[i], b[i]));
    }
    std::filesystem::remove(path);
}

TEST_CASE("settings that lay out the state are fixed once an optimizer has taken steps") {
    recur::Adam adam;
    Step s{{1.0f}, {0.5f}};
    apply(adam, s);
    CHECK_THROWS_WITH_AS(adam.amsgrad(true), doctest::Contains("Adam::amsgrad: the optimizer has taken steps"), recur::Error);
    CHECK_NOTHROW(adam.amsgrad(false));
    recur::SGD sgd = recur::SGD().momentum(0.9f);
    apply(sgd, s);
    CHECK_THROWS_WITH_AS(sgd.momentum(0.0f), doctest::Contains("SGD::momentum: the optimizer has taken steps"), recur::Error);
    CHECK_NOTHROW(sgd.momentum(0.5f));
    adam.reset();
    CHECK_NOTHROW(adam.amsgrad(true));
    CHECK_THROWS_AS(recur::PiecewiseConstantDecay({SIZE_MAX - 1}, {0.1f, 0.2f}), recur::Error);
    CHECK_THROWS_AS(recur::ExponentialDecay(1e-3f, SIZE_MAX, 0.5f), recur::Error);
}
