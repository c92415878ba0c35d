// One step of each optimizer against values worked out by hand from Keras's update rules.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <recur/recur.hpp>

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

TEST_CASE("RMSprop: ms = rho ms + (1 - rho) g^2; p -= lr g / (sqrt(ms) + eps)") {
    recur::RMSprop rms;
    CHECK(rms.learning_rate() == doctest::Approx(1e-3));
    CHECK(rms.rho() == doctest::Approx(0.9));
    rms.learning_rate(0.01f);
    Step s{{1.0f}, {2.0f}};
    apply(rms, s);
    const double ms = 0.1 * 4.0;
    CHECK(s.params[0] == doctest::Approx(1.0 - 0.01 * 2.0 / (std::sqrt(ms) + 1e-7)).epsilon(1e-6));
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
    CHECK_THROWS_WITH_AS(recur::make_optimizer("adamw"), doctest::Contains("got \"adamw\""), recur::Error);
}
