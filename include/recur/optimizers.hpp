#pragma once
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace recur {

namespace detail {
class ConfigWriter;
struct OptimizerAccess;
}  // namespace detail

// Keras's LearningRateSchedule: the rate of each optimizer step, given the steps done before
// it (Keras's schedule(optimizer.iterations)). Schedules hold no state, so a checkpoint that
// keeps the step count resumes them exactly.
class LearningRateSchedule {
public:
    virtual ~LearningRateSchedule();
    virtual const char* name() const = 0;  // "ExponentialDecay", ...
    virtual std::unique_ptr<LearningRateSchedule> clone() const = 0;
    virtual float operator()(std::size_t step) const = 0;

protected:
    friend struct detail::OptimizerAccess;
    // Model files: the schedule's settings, under Keras's names.
    virtual void write_config(detail::ConfigWriter& config) const = 0;
};

// initial_learning_rate * decay_rate ^ (step / decay_steps), the exponent floored with staircase.
class ExponentialDecay final : public LearningRateSchedule {
public:
    ExponentialDecay(float initial_learning_rate, std::size_t decay_steps, float decay_rate, bool staircase = false);
    const char* name() const override { return "ExponentialDecay"; }
    std::unique_ptr<LearningRateSchedule> clone() const override { return std::make_unique<ExponentialDecay>(*this); }
    float operator()(std::size_t step) const override;

private:
    void write_config(detail::ConfigWriter& config) const override;
    float initial_, rate_;
    std::size_t decay_steps_;
    bool staircase_;
};

// values[0] up to and including step boundaries[0], values[i] after boundaries[i - 1] up to
// boundaries[i], the last value after the last boundary.
class PiecewiseConstantDecay final : public LearningRateSchedule {
public:
    PiecewiseConstantDecay(std::vector<std::size_t> boundaries, std::vector<float> values);
    const char* name() const override { return "PiecewiseConstantDecay"; }
    std::unique_ptr<LearningRateSchedule> clone() const override { return std::make_unique<PiecewiseConstantDecay>(*this); }
    float operator()(std::size_t step) const override;

private:
    void write_config(detail::ConfigWriter& config) const override;
    std::vector<std::size_t> boundaries_;
    std::vector<float> values_;
};

// Keras's CosineDecay: with warmup_target, a linear rise from initial_learning_rate to it over
// warmup_steps first; then from the peak p, p * ((1 - alpha) * (1 + cos(pi * s / decay_steps)) / 2
// + alpha) for s = min(steps since the warmup, decay_steps).
class CosineDecay final : public LearningRateSchedule {
public:
    CosineDecay(float initial_learning_rate, std::size_t decay_steps, float alpha = 0.0f,
                std::optional<float> warmup_target = std::nullopt, std::size_t warmup_steps = 0);
    const char* name() const override { return "CosineDecay"; }
    std::unique_ptr<LearningRateSchedule> clone() const override { return std::make_unique<CosineDecay>(*this); }
    float operator()(std::size_t step) const override;

private:
    void write_config(detail::ConfigWriter& config) const override;
    float initial_;
    std::size_t decay_steps_;
    float alpha_;
    std::optional<float> warmup_target_;
    std::size_t warmup_steps_;
};

// What Optimizer::apply_gradients did. A step that meets a non-finite value changes nothing:
// one bad batch must not poison the weights or the moments for every later one.
enum class StepOutcome {
    applied,
    nonfinite_gradient,  // a gradient was NaN or Inf: nothing was updated
    nonfinite_update,    // the update made a weight or the state NaN or Inf: undone
};

// An optimizer updates one flat parameter array from one flat gradient array; its state
// (momenta, moments) is flat too, so a step is one loop. Variables are the Keras weights
// laid end to end; their sizes matter only for per-variable clipnorm.
class Optimizer {
public:
    virtual ~Optimizer();
    virtual const char* name() const = 0;  // "Adam", ...
    virtual std::unique_ptr<Optimizer> clone() const = 0;

    // The rate of the next step: the constant one, or the schedule's at iterations().
    float learning_rate() const { return schedule_ ? (*schedule_)(iterations_) : learning_rate_; }
    // The schedule the rate follows; null for a constant rate.
    const LearningRateSchedule* learning_rate_schedule() const { return schedule_.get(); }
    // Changes a constant rate (what Keras's callbacks do to optimizer.learning_rate); a rate that
    // follows a schedule cannot be set, as in Keras.
    void set_learning_rate(float value);
    float clipnorm() const { return clipnorm_; }
    float global_clipnorm() const { return global_clipnorm_; }
    float clipvalue() const { return clipvalue_; }
    // Decoupled weight decay (Keras 3's weight_decay, PyTorch's AdamW): before each update
    // every weight is multiplied by 1 - learning_rate * weight_decay. 0: off.
    float weight_decay() const { return weight_decay_; }
    std::size_t iterations() const { return iterations_; }

    // Clips the gradients as configured, then updates the parameters in place. Unless it
    // returns applied, the parameters, the state and the step count are as they were.
    StepOutcome apply_gradients(std::span<float> params, std::span<float> grads,
                                std::span<const std::size_t> variable_sizes);
    // Forgets all state (momenta, moments, the step count).
    void reset();
    // The flat state (empty before the first step) and the step count, to save a
    // checkpoint and to restore one. A state of the wrong size for `params` parameters
    // (state_floats(params), or empty) is a recur::Error.
    std::span<const float> state() const { return state_; }
    std::size_t state_floats(std::size_t params) const { return state_per_param() * params; }
    void set_state(std::span<const float> state, std::size_t iterations, std::size_t params);

protected:
    explicit Optimizer(float learning_rate) : learning_rate_(learning_rate) {}
    friend struct detail::OptimizerAccess;
    // Model files: the optimizer's own settings (its name and the shared ones are written for
    // it). A class that does not write them cannot be saved: this default says so.
    virtual void write_config(detail::ConfigWriter& config) const;
    void use_learning_rate(float value);  // a constant rate, replacing any schedule
    void use_learning_rate(const LearningRateSchedule& schedule);
    void set_clipnorm(float value);
    void set_global_clipnorm(float value);
    void set_clipvalue(float value);
    void set_weight_decay(float value);
    // Whether steps were taken: settings that lay out the state differently are then fixed.
    bool has_state() const { return !state_.empty(); }
    // The number of state floats per parameter (Adam: 2).
    virtual std::size_t state_per_param() const = 0;
    // What the state holds before the first step (Adagrad's initial accumulator).
    virtual float initial_state() const { return 0.0f; }
    // Where the state's running means of squared gradients start (Adam's v, RMSprop's), which
    // a restored state must hold as values >= 0; the state's end when there are none.
    virtual std::size_t squares_offset(std::size_t params) const { return state_floats(params); }
    // What one step of an update needs besides the arrays.
    struct Step {
        std::size_t count;  // counting from 1
        float lr;           // the rate of this step
        float keep;         // 1 - lr * weight_decay
    };
    // One update of n parameters; state holds state_per_param() * n floats.
    virtual void update(float* params, const float* grads, float* state, std::size_t n, const Step& step) const = 0;

private:
    void clip(std::span<float> grads, std::span<const std::size_t> variable_sizes) const;

    float learning_rate_;
    std::shared_ptr<const LearningRateSchedule> schedule_;  // immutable, so copies share it
    float clipnorm_ = 0.0f;         // 0: off
    float global_clipnorm_ = 0.0f;  // 0: off
    float clipvalue_ = 0.0f;        // 0: off
    float weight_decay_ = 0.0f;     // 0: off
    std::size_t iterations_ = 0;
    std::vector<float> state_;
    std::vector<float> saved_params_, saved_state_;  // before the step in progress, to undo it
};

// Chained setters that return the concrete optimizer: Adam().learning_rate(0.01f).clipnorm(1).
template <class Derived>
class OptimizerBase : public Optimizer {
public:
    using Optimizer::clipnorm;
    using Optimizer::clipvalue;
    using Optimizer::global_clipnorm;
    using Optimizer::learning_rate;
    using Optimizer::weight_decay;
    Derived& learning_rate(float value) { use_learning_rate(value); return self(); }
    Derived& weight_decay(float value) { set_weight_decay(value); return self(); }
    Derived& learning_rate(const LearningRateSchedule& schedule) { use_learning_rate(schedule); return self(); }
    Derived& clipnorm(float value) { set_clipnorm(value); return self(); }
    Derived& global_clipnorm(float value) { set_global_clipnorm(value); return self(); }
    Derived& clipvalue(float value) { set_clipvalue(value); return self(); }
    std::unique_ptr<Optimizer> clone() const override {
        return std::make_unique<Derived>(static_cast<const Derived&>(*this));
    }

protected:
    using Optimizer::Optimizer;

private:
    Derived& self() { return static_cast<Derived&>(*this); }
};

// Keras SGD: v = momentum v - lr g; p += v (nesterov: p += momentum v - lr g).
class SGD final : public OptimizerBase<SGD> {
public:
    SGD() : OptimizerBase(0.01f) {}
    SGD& momentum(float value);
    SGD& nesterov(bool on) { nesterov_ = on; return *this; }
    float momentum() const { return momentum_; }
    bool nesterov() const { return nesterov_; }
    const char* name() const override { return "SGD"; }

private:
    void write_config(detail::ConfigWriter& config) const override;
    std::size_t state_per_param() const override { return momentum_ > 0.0f ? 1 : 0; }
    void update(float* params, const float* grads, float* state, std::size_t n, const Step& step) const override;
    float momentum_ = 0.0f;
    bool nesterov_ = false;
};

// Keras Adam: p -= lr sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon); with
// amsgrad the largest v so far takes v's place. Adam and AdamW share it.
template <class Derived>
class AdamFamily : public OptimizerBase<Derived> {
public:
    Derived& beta_1(float value);
    Derived& beta_2(float value);
    Derived& epsilon(float value);
    // Fixed once the optimizer has taken steps (its state is laid out for the setting).
    Derived& amsgrad(bool on);
    float beta_1() const { return beta_1_; }
    float beta_2() const { return beta_2_; }
    float epsilon() const { return epsilon_; }
    bool amsgrad() const { return amsgrad_; }

protected:
    using OptimizerBase<Derived>::OptimizerBase;
    using Step = Optimizer::Step;

private:
    void write_config(detail::ConfigWriter& config) const override;
    std::size_t state_per_param() const override { return amsgrad_ ? 3 : 2; }
    std::size_t squares_offset(std::size_t params) const override { return params; }
    void update(float* params, const float* grads, float* state, std::size_t n, const Step& step) const override;
    float beta_1_ = 0.9f;
    float beta_2_ = 0.999f;
    float epsilon_ = 1e-7f;
    bool amsgrad_ = false;
};

class Adam final : public AdamFamily<Adam> {
public:
    Adam() : AdamFamily(0.001f) {}
    const char* name() const override { return "Adam"; }
};

// Keras AdamW: Adam with weight_decay 0.004 by default.
class AdamW final : public AdamFamily<AdamW> {
public:
    AdamW() : AdamFamily(0.001f) { set_weight_decay(0.004f); }
    const char* name() const override { return "AdamW"; }
};

extern template class AdamFamily<Adam>;
extern template class AdamFamily<AdamW>;

// Keras 3's RMSprop (not centered, no momentum): ms = rho ms + (1 - rho) g^2;
// p -= lr g / sqrt(ms + epsilon).
class RMSprop final : public OptimizerBase<RMSprop> {
public:
    RMSprop() : OptimizerBase(0.001f) {}
    RMSprop& rho(float value);
    RMSprop& epsilon(float value);
    float rho() const { return rho_; }
    float epsilon() const { return epsilon_; }
    const char* name() const override { return "RMSprop"; }

private:
    void write_config(detail::ConfigWriter& config) const override;
    std::size_t state_per_param() const override { return 1; }
    std::size_t squares_offset(std::size_t) const override { return 0; }
    void update(float* params, const float* grads, float* state, std::size_t n, const Step& step) const override;
    float rho_ = 0.9f;
    float epsilon_ = 1e-7f;
};

// Keras Adagrad: acc += g^2 (acc starting at initial_accumulator_value); p -= lr g / sqrt(acc + epsilon).
class Adagrad final : public OptimizerBase<Adagrad> {
public:
    Adagrad() : OptimizerBase(0.001f) {}
    Adagrad& initial_accumulator_value(float value);
    Adagrad& epsilon(float value);
    float initial_accumulator_value() const { return initial_accumulator_; }
    float epsilon() const { return epsilon_; }
    const char* name() const override { return "Adagrad"; }

private:
    void write_config(detail::ConfigWriter& config) const override;
    std::size_t state_per_param() const override { return 1; }
    std::size_t squares_offset(std::size_t) const override { return 0; }
    float initial_state() const override { return initial_accumulator_; }
    void update(float* params, const float* grads, float* state, std::size_t n, const Step& step) const override;
    float initial_accumulator_ = 0.1f;
    float epsilon_ = 1e-7f;
};

// Keras Nadam: Adam with Nesterov momentum under the schedule u_t = beta_1 (1 - 0.96^t / 2):
// p -= lr (u_{t+1} m / (1 - u_1..u_{t+1}) + (1 - u_t) g / (1 - u_1..u_t)) / (sqrt(v / (1 - beta_2^t)) + epsilon).
class Nadam final : public OptimizerBase<Nadam> {
public:
    Nadam() : OptimizerBase(0.001f) {}
    Nadam& beta_1(float value);
    Nadam& beta_2(float value);
    Nadam& epsilon(float value);
    float beta_1() const { return beta_1_; }
    float beta_2() const { return beta_2_; }
    float epsilon() const { return epsilon_; }
    const char* name() const override { return "Nadam"; }

private:
    void write_config(detail::ConfigWriter& config) const override;
    std::size_t state_per_param() const override { return 2; }
    std::size_t squares_offset(std::size_t params) const override { return params; }
    void update(float* params, const float* grads, float* state, std::size_t n, const Step& step) const override;
    float beta_1_ = 0.9f;
    float beta_2_ = 0.999f;
    float epsilon_ = 1e-7f;
};

// "adam", "adamw", "sgd", "rmsprop", "adagrad", "nadam" with Keras's defaults.
std::unique_ptr<Optimizer> make_optimizer(std::string_view name);

}  // namespace recur
