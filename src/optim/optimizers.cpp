#include <recur/error.hpp>
#include <recur/optimizers.hpp>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "config.hpp"
#include "kernels/kernels.hpp"
#include "optim/optimizer_config.hpp"
#include "text.hpp"
#include "tensor/sizes.hpp"
#include "threads.hpp"

namespace recur {

namespace {
void require(bool ok, const std::string& call, const std::string& expected, float given) {
    if (ok) return;
    char text[32];
    std::snprintf(text, sizeof text, "%g", given);
    throw Error(call + ": expected " + expected + ", got " + text);
}
double squared_norm(const float* g, std::size_t n) {
    double sum = 0.0;
    for (std::size_t i = 0; i < n; ++i) sum += double(g[i]) * g[i];
    return sum;
}
void scale(float* g, std::size_t n, float factor) {
    for (std::size_t i = 0; i < n; ++i) g[i] *= factor;
}
// f(begin, count) over [0, n) in fixed pieces, on several threads for a large model: an
// update is elementwise, so the split cannot change a bit.
template <class F>
void in_pieces(std::size_t n, F&& f) {
    detail::for_each_piece(n, std::size_t{1} << 15, double(n) * detail::kWorkPerFloatMoved, f);
}
}  // namespace

Optimizer::~Optimizer() = default;

void Optimizer::use_learning_rate(float value) {
    require(value > 0.0f && std::isfinite(value), std::string(name()) + "::learning_rate", "a finite value > 0", value);
    learning_rate_ = value;
    schedule_.reset();
}
void Optimizer::use_learning_rate(const LearningRateSchedule& schedule) {
    schedule_ = schedule.clone();
}
void Optimizer::set_learning_rate(float value) {
    if (schedule_)
        throw Error(std::string(name()) + "::set_learning_rate: the rate follows a schedule (" + schedule_->name() +
                    "), which decides it; give the optimizer a constant rate to set it");
    use_learning_rate(value);
}
void Optimizer::set_clipnorm(float value) {
    require(value > 0.0f && std::isfinite(value), std::string(name()) + "::clipnorm", "a finite value > 0", value);
    if (global_clipnorm_ > 0.0f) throw Error(std::string(name()) + "::clipnorm: global_clipnorm is already set; use one of the two");
    clipnorm_ = value;
}
void Optimizer::set_global_clipnorm(float value) {
    require(value > 0.0f && std::isfinite(value), std::string(name()) + "::global_clipnorm", "a finite value > 0", value);
    if (clipnorm_ > 0.0f) throw Error(std::string(name()) + "::global_clipnorm: clipnorm is already set; use one of the two");
    global_clipnorm_ = value;
}
void Optimizer::set_weight_decay(float value) {
    require(value >= 0.0f && std::isfinite(value), std::string(name()) + "::weight_decay", "a finite value >= 0", value);
    weight_decay_ = value;
}
void Optimizer::set_clipvalue(float value) {
    require(value > 0.0f && std::isfinite(value), std::string(name()) + "::clipvalue", "a finite value > 0", value);
    clipvalue_ = value;
}

void Optimizer::reset() {
    iterations_ = 0;
    state_.clear();
}

void Optimizer::set_state(std::span<const float> state, std::size_t iterations, std::size_t params) {
    const std::string call = std::string(name()) + "::set_state";
    if (!state.empty() && state.size() != state_floats(params))
        throw Error(call + ": expected " + std::to_string(state_floats(params)) + " floats of state for " +
                    std::to_string(params) + " parameters (or none), got " + std::to_string(state.size()));
    if (!std::all_of(state.begin(), state.end(), [](float v) { return std::isfinite(v); }))
        throw Error(call + ": expected a finite state, but it holds NaN or Inf");
    if (!state.empty() && !std::all_of(state.begin() + squares_offset(params), state.end(), [](float v) { return v >= 0.0f; }))
        throw Error(call + ": expected running means of squared gradients >= 0, but the state holds a negative one");
    // Adam's bias correction raises its betas to the step count: 2^53 steps are more than
    // any training takes, and a count past them is a corrupt one.
    constexpr std::size_t kMaxIterations = std::size_t{1} << 53;
    if (iterations > kMaxIterations)
        throw Error(call + ": expected a step count <= " + std::to_string(kMaxIterations) + ", got " +
                    std::to_string(iterations));
    state_.assign(state.begin(), state.end());
    iterations_ = iterations;
}

// As Keras: clipnorm rescales each variable's gradient to at most that norm, global_clipnorm
// all of them together; clipvalue then clamps every element.
void Optimizer::clip(std::span<float> grads, std::span<const std::size_t> variable_sizes) const {
    if (clipnorm_ > 0.0f) {
        float* g = grads.data();
        for (std::size_t n : variable_sizes) {
            const double norm = std::sqrt(squared_norm(g, n));
            if (norm > clipnorm_) scale(g, n, static_cast<float>(clipnorm_ / norm));
            g += n;
        }
    }
    if (global_clipnorm_ > 0.0f) {
        const double norm = std::sqrt(squared_norm(grads.data(), grads.size()));
        if (norm > global_clipnorm_) scale(grads.data(), grads.size(), static_cast<float>(global_clipnorm_ / norm));
    }
    if (clipvalue_ > 0.0f)
        for (float& g : grads) g = std::clamp(g, -clipvalue_, clipvalue_);
}

namespace {
bool all_finite(std::span<const float> values) {
    std::atomic<bool> finite{true};
    in_pieces(values.size(), [&](std::size_t i, std::size_t count) {
        // NaN and Inf are the floats whose exponent bits are all ones; the largest magnitude
        // as an integer tells, in a loop the compiler vectorises.
        std::uint32_t largest = 0;
        for (std::size_t j = i; j < i + count; ++j)
            largest = std::max(largest, std::bit_cast<std::uint32_t>(values[j]) & 0x7fffffffu);
        if (largest >= 0x7f800000u) finite.store(false, std::memory_order_relaxed);
    });
    return finite.load(std::memory_order_relaxed);
}
void copy(std::vector<float>& to, std::span<const float> from) {
    to.resize(from.size());
    in_pieces(from.size(), [&](std::size_t i, std::size_t count) { std::copy_n(from.data() + i, count, to.data() + i); });
}
}  // namespace

StepOutcome Optimizer::apply_gradients(std::span<float> params, std::span<float> grads,
                                       std::span<const std::size_t> variable_sizes) {
    if (params.size() != grads.size())
        throw Error(std::string(name()) + "::apply_gradients: expected as many gradients as parameters (" +
                    std::to_string(params.size()) + "), got " + std::to_string(grads.size()));
    std::size_t variables = 0;
    for (std::size_t n : variable_sizes) variables = detail::add(variables, n);
    if (variables != params.size())
        throw Error(std::string(name()) + "::apply_gradients: expected variable sizes that add up to the " +
                    std::to_string(params.size()) + " parameters, got " + std::to_string(variables));
    if (!all_finite(grads)) return StepOutcome::nonfinite_gradient;
    const std::size_t state_size = state_per_param() * params.size();
    if (state_.size() != state_size) state_.assign(state_size, initial_state());
    copy(saved_params_, params);
    copy(saved_state_, state_);
    clip(grads, variable_sizes);
    const float lr = learning_rate();  // a schedule's rate for the steps done before this one
    ++iterations_;
    update(params.data(), grads.data(), state_.data(), params.size(), Step{iterations_, lr, 1.0f - lr * weight_decay_});
    if (all_finite(params) && all_finite(state_)) return StepOutcome::applied;
    std::copy(saved_params_.begin(), saved_params_.end(), params.begin());
    std::swap(state_, saved_state_);
    --iterations_;
    return StepOutcome::nonfinite_update;
}

SGD& SGD::momentum(float value) {
    require(value >= 0.0f && value <= 1.0f, "SGD::momentum", "a value in [0, 1]", value);
    if ((value > 0.0f) != (momentum_ > 0.0f) && has_state())
        throw Error(std::string("SGD::momentum: the optimizer has taken steps with") + (momentum_ > 0.0f ? "" : "out") +
                    " momentum, and its state is laid out for that; make a new optimizer to change it");
    momentum_ = value;
    return *this;
}

void SGD::update(float* params, const float* grads, float* state, std::size_t n, const Step& step) const {
    in_pieces(n, [&](std::size_t i, std::size_t count) {
        kernels::active().sgd_update(params + i, grads + i, state ? state + i : nullptr, count, step.lr,
                                     momentum_, nesterov_, step.keep);
    });
}

template <class Derived>
Derived& AdamFamily<Derived>::amsgrad(bool on) {
    if (on != amsgrad_ && this->has_state())
        throw Error(std::string(this->name()) + "::amsgrad: the optimizer has taken steps, and its state is laid out " +
                    (amsgrad_ ? "with" : "without") + " amsgrad; make a new optimizer to change it");
    amsgrad_ = on;
    return static_cast<Derived&>(*this);
}

template <class Derived>
Derived& AdamFamily<Derived>::beta_1(float value) {
    require(value >= 0.0f && value < 1.0f, std::string(this->name()) + "::beta_1", "a value in [0, 1)", value);
    beta_1_ = value;
    return static_cast<Derived&>(*this);
}
template <class Derived>
Derived& AdamFamily<Derived>::beta_2(float value) {
    require(value >= 0.0f && value < 1.0f, std::string(this->name()) + "::beta_2", "a value in [0, 1)", value);
    beta_2_ = value;
    return static_cast<Derived&>(*this);
}
template <class Derived>
Derived& AdamFamily<Derived>::epsilon(float value) {
    require(value > 0.0f && std::isfinite(value), std::string(this->name()) + "::epsilon", "a finite value > 0", value);
    epsilon_ = value;
    return static_cast<Derived&>(*this);
}

template <class Derived>
void AdamFamily<Derived>::update(float* params, const float* grads, float* state, std::size_t n, const Step& step) const {
    const double t = static_cast<double>(step.count);
    const float lr_t = static_cast<float>(step.lr * std::sqrt(1.0 - std::pow(double(beta_2_), t)) /
                                          (1.0 - std::pow(double(beta_1_), t)));
    float* v_max = amsgrad_ ? state + 2 * n : nullptr;
    in_pieces(n, [&](std::size_t i, std::size_t count) {
        kernels::active().adam_update(params + i, grads + i, state + i, state + n + i, v_max ? v_max + i : nullptr, count,
                                      lr_t, beta_1_, beta_2_, epsilon_, step.keep);
    });
}

RMSprop& RMSprop::rho(float value) {
    require(value >= 0.0f && value < 1.0f, "RMSprop::rho", "a value in [0, 1)", value);
    rho_ = value;
    return *this;
}
RMSprop& RMSprop::epsilon(float value) {
    require(value > 0.0f && std::isfinite(value), "RMSprop::epsilon", "a finite value > 0", value);
    epsilon_ = value;
    return *this;
}

void RMSprop::update(float* params, const float* grads, float* state, std::size_t n, const Step& step) const {
    in_pieces(n, [&](std::size_t i, std::size_t count) {
        kernels::active().rmsprop_update(params + i, grads + i, state + i, count, step.lr, rho_, epsilon_, step.keep);
    });
}

Adagrad& Adagrad::initial_accumulator_value(float value) {
    require(value >= 0.0f && std::isfinite(value), "Adagrad::initial_accumulator_value", "a finite value >= 0", value);
    initial_accumulator_ = value;
    return *this;
}
Adagrad& Adagrad::epsilon(float value) {
    require(value > 0.0f && std::isfinite(value), "Adagrad::epsilon", "a finite value > 0", value);
    epsilon_ = value;
    return *this;
}

void Adagrad::update(float* params, const float* grads, float* state, std::size_t n, const Step& step) const {
    in_pieces(n, [&](std::size_t i, std::size_t count) {
        kernels::active().adagrad_update(params + i, grads + i, state + i, count, step.lr, epsilon_, step.keep);
    });
}

Nadam& Nadam::beta_1(float value) {
    require(value >= 0.0f && value < 1.0f, "Nadam::beta_1", "a value in [0, 1)", value);
    beta_1_ = value;
    return *this;
}
Nadam& Nadam::beta_2(float value) {
    require(value >= 0.0f && value < 1.0f, "Nadam::beta_2", "a value in [0, 1)", value);
    beta_2_ = value;
    return *this;
}
Nadam& Nadam::epsilon(float value) {
    require(value > 0.0f && std::isfinite(value), "Nadam::epsilon", "a finite value > 0", value);
    epsilon_ = value;
    return *this;
}

namespace {
// Keras Nadam's momentum schedule u_i = beta_1 (1 - 0.96^i / 2) and the product u_1 ... u_t.
// Past i = 1000, 0.96^i is below 1e-17 and u_i is beta_1 in double, so the product's tail is
// a power: the step count fixes it, and nothing beyond the moments needs saving.
double nadam_u(double beta_1, std::size_t i) { return beta_1 * (1.0 - 0.5 * std::pow(0.96, double(i))); }
double nadam_u_product(double beta_1, std::size_t t) {
    constexpr std::size_t kExact = 1000;
    double product = 1.0;
    for (std::size_t i = 1; i <= std::min(t, kExact); ++i) product *= nadam_u(beta_1, i);
    if (t > kExact) product *= std::pow(beta_1, double(t - kExact));
    return product;
}
}  // namespace

void Nadam::update(float* params, const float* grads, float* state, std::size_t n, const Step& step) const {
    const std::size_t t = step.count;
    const double u_t = nadam_u(beta_1_, t), u_next = nadam_u(beta_1_, t + 1);
    const double product = nadam_u_product(beta_1_, t);
    const float m_factor = static_cast<float>(u_next / (1.0 - product * u_next));
    const float g_factor = static_cast<float>((1.0 - u_t) / (1.0 - product));
    const float v_factor = static_cast<float>(1.0 / (1.0 - std::pow(double(beta_2_), double(t))));
    in_pieces(n, [&](std::size_t i, std::size_t count) {
        kernels::active().nadam_update(params + i, grads + i, state + i, state + n + i, count, step.lr, beta_1_, beta_2_,
                                       epsilon_, m_factor, g_factor, v_factor, step.keep);
    });
}

void Optimizer::write_config(detail::ConfigWriter&) const {
    throw Error(std::string("the optimizer \"") + name() +
                "\" is a class of its own, which a model file cannot record; compile with one of recur's optimizers to save");
}

void SGD::write_config(detail::ConfigWriter& config) const {
    config.set("momentum", momentum_);
    config.set("nesterov", nesterov_);
}

template <class Derived>
void AdamFamily<Derived>::write_config(detail::ConfigWriter& config) const {
    config.set("beta_1", beta_1_);
    config.set("beta_2", beta_2_);
    config.set("epsilon", epsilon_);
    config.set("amsgrad", amsgrad_);
}

void Adagrad::write_config(detail::ConfigWriter& config) const {
    config.set("initial_accumulator_value", initial_accumulator_);
    config.set("epsilon", epsilon_);
}

void Nadam::write_config(detail::ConfigWriter& config) const {
    config.set("beta_1", beta_1_);
    config.set("beta_2", beta_2_);
    config.set("epsilon", epsilon_);
}

void RMSprop::write_config(detail::ConfigWriter& config) const {
    config.set("rho", rho_);
    config.set("epsilon", epsilon_);
}

namespace detail {

struct OptimizerAccess {
    static void write_config(const Optimizer& optimizer, ConfigWriter& config) { optimizer.write_config(config); }
    static void write_config(const LearningRateSchedule& schedule, ConfigWriter& config) { schedule.write_config(config); }
};

namespace {
// As Keras serialises a schedule in place of the rate: {"class_name": ..., "config": {...}}.
nlohmann::json learning_rate_config(const Optimizer& opt) {
    const LearningRateSchedule* schedule = opt.learning_rate_schedule();
    if (!schedule) return opt.learning_rate();
    nlohmann::json settings = nlohmann::json::object();
    ConfigWriter writer(settings);
    OptimizerAccess::write_config(*schedule, writer);
    return {{"class_name", schedule->name()}, {"config", settings}};
}
}  // namespace

nlohmann::json optimizer_config(const Optimizer& opt) {
    nlohmann::json config{{"name", opt.name()},
                          {"learning_rate", learning_rate_config(opt)},
                          {"clipnorm", opt.clipnorm()},
                          {"global_clipnorm", opt.global_clipnorm()},
                          {"clipvalue", opt.clipvalue()},
                          {"weight_decay", opt.weight_decay()}};
    ConfigWriter writer(config);
    OptimizerAccess::write_config(opt, writer);
    return config;
}

namespace {
// The settings every optimizer shares; a clipping of 0 means off and is left unset.
template <class Concrete>
std::unique_ptr<Optimizer> with_common_settings(Concrete optimizer, const ConfigReader& c) {
    if (c.holds_object("learning_rate"))
        optimizer.learning_rate(*schedule_from_config(c.object("learning_rate")));
    else
        optimizer.learning_rate(c.number("learning_rate"));
    if (const float v = c.number("clipnorm"); v != 0.0f) optimizer.clipnorm(v);
    if (const float v = c.number("global_clipnorm"); v != 0.0f) optimizer.global_clipnorm(v);
    if (const float v = c.number("clipvalue"); v != 0.0f) optimizer.clipvalue(v);
    // Files from before weight decay existed have none.
    optimizer.weight_decay(c.has("weight_decay") ? c.number("weight_decay") : 0.0f);
    c.check_all_read();
    return optimizer.clone();
}
}  // namespace

std::unique_ptr<Optimizer> optimizer_from_config(const nlohmann::json& config) {
    const ConfigReader c(config, "the optimizer");
    const std::string name = c.string("name");
    if (name == "SGD") return with_common_settings(SGD().momentum(c.number("momentum")).nesterov(c.boolean("nesterov")), c);
    auto adam = [&](auto optimizer) {
        optimizer.beta_1(c.number("beta_1")).beta_2(c.number("beta_2")).epsilon(c.number("epsilon"));
        return optimizer.amsgrad(c.has("amsgrad") && c.boolean("amsgrad"));  // files from before amsgrad have none
    };
    if (name == "Adam") return with_common_settings(adam(Adam()), c);
    if (name == "AdamW") return with_common_settings(adam(AdamW()), c);
    if (name == "RMSprop") return with_common_settings(RMSprop().rho(c.number("rho")).epsilon(c.number("epsilon")), c);
    if (name == "Adagrad")
        return with_common_settings(
            Adagrad().initial_accumulator_value(c.number("initial_accumulator_value")).epsilon(c.number("epsilon")), c);
    if (name == "Nadam")
        return with_common_settings(Nadam().beta_1(c.number("beta_1")).beta_2(c.number("beta_2")).epsilon(c.number("epsilon")),
                                    c);
    throw Error("the optimizer: expected \"SGD\", \"Adam\", \"AdamW\", \"RMSprop\", \"Adagrad\" or \"Nadam\", got \"" +
                printable(name).substr(0, 60) + "\"");
}

}  // namespace detail

std::unique_ptr<Optimizer> make_optimizer(std::string_view name) {
    if (name == "adam" || name == "Adam") return std::make_unique<Adam>();
    if (name == "sgd" || name == "SGD") return std::make_unique<SGD>();
    if (name == "rmsprop" || name == "RMSprop") return std::make_unique<RMSprop>();
    if (name == "adamw" || name == "AdamW") return std::make_unique<AdamW>();
    if (name == "adagrad" || name == "Adagrad") return std::make_unique<Adagrad>();
    if (name == "nadam" || name == "Nadam") return std::make_unique<Nadam>();
    throw Error("compile: expected optimizer \"adam\", \"adamw\", \"sgd\", \"rmsprop\", \"adagrad\" or \"nadam\", got \"" +
                std::string(name) + "\"");
}

template class AdamFamily<Adam>;
template class AdamFamily<AdamW>;

}  // namespace recur
