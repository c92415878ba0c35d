// Keras's learning-rate schedules, evaluated in double and rounded once to the float rate.
#include <recur/error.hpp>
#include <recur/optimizers.hpp>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "config.hpp"
#include "optim/optimizer_config.hpp"
#include "text.hpp"

namespace recur {

using detail::as_text;

namespace {
void require_rate(float value, const std::string& call, const char* what) {
    if (!(value > 0.0f && std::isfinite(value)))
        throw Error(call + ": expected " + what + " to be a finite value > 0, got " + as_text(value));
}
// Step counts beyond 2^53 (more than any training takes) are what model files refuse as corrupt.
constexpr std::size_t kMaxSteps = std::size_t{1} << 53;
void require_steps(std::size_t steps, const std::string& call, const char* what, std::size_t min = 1) {
    if (steps < min || steps > kMaxSteps)
        throw Error(call + ": expected " + what + " from " + std::to_string(min) + " to 2^53, got " + std::to_string(steps));
}
}  // namespace

LearningRateSchedule::~LearningRateSchedule() = default;

ExponentialDecay::ExponentialDecay(float initial_learning_rate, std::size_t decay_steps, float decay_rate, bool staircase)
    : initial_(initial_learning_rate), rate_(decay_rate), decay_steps_(decay_steps), staircase_(staircase) {
    require_rate(initial_learning_rate, "ExponentialDecay", "initial_learning_rate");
    require_steps(decay_steps, "ExponentialDecay", "decay_steps");
    require_rate(decay_rate, "ExponentialDecay", "decay_rate");
}
float ExponentialDecay::operator()(std::size_t step) const {
    double p = double(step) / double(decay_steps_);
    if (staircase_) p = std::floor(p);
    return static_cast<float>(initial_ * std::pow(double(rate_), p));
}
void ExponentialDecay::write_config(detail::ConfigWriter& config) const {
    config.set("initial_learning_rate", initial_);
    config.set("decay_steps", decay_steps_);
    config.set("decay_rate", rate_);
    config.set("staircase", staircase_);
}

PiecewiseConstantDecay::PiecewiseConstantDecay(std::vector<std::size_t> boundaries, std::vector<float> values)
    : boundaries_(std::move(boundaries)), values_(std::move(values)) {
    const std::string call = "PiecewiseConstantDecay";
    if (values_.size() != boundaries_.size() + 1)
        throw Error(call + ": expected one value more than boundaries (" + std::to_string(boundaries_.size() + 1) +
                    "), got " + std::to_string(values_.size()));
    for (std::size_t b : boundaries_) require_steps(b, call, "boundaries", 0);
    if (!std::is_sorted(boundaries_.begin(), boundaries_.end()) ||
        std::adjacent_find(boundaries_.begin(), boundaries_.end()) != boundaries_.end())
        throw Error(call + ": expected strictly increasing boundaries");
    for (float v : values_) require_rate(v, call, "every value");
}
float PiecewiseConstantDecay::operator()(std::size_t step) const {
    // The first boundary not below step: values_[i] holds for boundaries_[i - 1] < step <= boundaries_[i].
    const auto at = std::lower_bound(boundaries_.begin(), boundaries_.end(), step);
    return values_[static_cast<std::size_t>(at - boundaries_.begin())];
}
void PiecewiseConstantDecay::write_config(detail::ConfigWriter& config) const {
    config.set("boundaries", boundaries_);
    config.set("values", values_);
}

CosineDecay::CosineDecay(float initial_learning_rate, std::size_t decay_steps, float alpha,
                         std::optional<float> warmup_target, std::size_t warmup_steps)
    : initial_(initial_learning_rate), decay_steps_(decay_steps), alpha_(alpha), warmup_target_(warmup_target),
      warmup_steps_(warmup_steps) {
    const std::string call = "CosineDecay";
    // With a warmup the rate may start at 0, as Keras's examples do.
    if (!(initial_learning_rate >= 0.0f && std::isfinite(initial_learning_rate)) ||
        (!warmup_target && initial_learning_rate == 0.0f))
        throw Error(call + ": expected initial_learning_rate to be finite and > 0 (or >= 0 with a warmup), got " +
                    as_text(initial_learning_rate));
    require_steps(decay_steps, call, "decay_steps");
    if (!(alpha >= 0.0f && alpha <= 1.0f)) throw Error(call + ": expected alpha in [0, 1], got " + as_text(alpha));
    if (warmup_target) require_rate(*warmup_target, call, "warmup_target");
    if (warmup_target) require_steps(warmup_steps, call, "warmup_steps (with a warmup_target)");
    if (!warmup_target && warmup_steps != 0)
        throw Error(call + ": warmup_steps " + std::to_string(warmup_steps) + " needs a warmup_target to rise to");
}
float CosineDecay::operator()(std::size_t step) const {
    double peak = initial_;
    if (warmup_target_) {
        if (step < warmup_steps_)
            return static_cast<float>(initial_ + (double(*warmup_target_) - initial_) * double(step) / double(warmup_steps_));
        peak = *warmup_target_;
        step -= warmup_steps_;
    }
    const double done = double(std::min(step, decay_steps_)) / double(decay_steps_);
    const double cosine = 0.5 * (1.0 + std::cos(std::numbers::pi * done));
    return static_cast<float>(peak * ((1.0 - alpha_) * cosine + alpha_));
}
void CosineDecay::write_config(detail::ConfigWriter& config) const {
    config.set("initial_learning_rate", initial_);
    config.set("decay_steps", decay_steps_);
    config.set("alpha", alpha_);
    config.set("warmup_target", warmup_target_ ? nlohmann::json(*warmup_target_) : nlohmann::json(nullptr));
    config.set("warmup_steps", warmup_steps_);
}

namespace detail {

std::unique_ptr<LearningRateSchedule> schedule_from_config(const nlohmann::json& json) {
    const ConfigReader outer(json, "the learning-rate schedule");
    const std::string name = outer.string("class_name");
    const ConfigReader c(outer.object("config"), "the learning-rate schedule " + detail::printable(name).substr(0, 60));
    outer.check_all_read();
    std::unique_ptr<LearningRateSchedule> schedule;
    if (name == "ExponentialDecay") {
        schedule = ExponentialDecay(c.number("initial_learning_rate"), c.count("decay_steps", 1, kMaxSteps),
                                    c.number("decay_rate"), c.boolean("staircase"))
                       .clone();
    } else if (name == "PiecewiseConstantDecay") {
        const nlohmann::json& b = c.list("boundaries");
        const nlohmann::json& v = c.list("values");
        if (b.size() > 4096 || v.size() > 4097)
            throw Error("the learning-rate schedule PiecewiseConstantDecay: expected at most 4096 boundaries");
        std::vector<std::size_t> boundaries;
        std::vector<float> values;
        for (const auto& x : b) {
            if (!x.is_number_unsigned() || x.get<std::uint64_t>() > kMaxSteps)
                throw Error("the learning-rate schedule PiecewiseConstantDecay: expected whole-number boundaries "
                            "from 0 to 2^53");
            boundaries.push_back(x.get<std::size_t>());
        }
        for (const auto& x : v) {
            if (!x.is_number() || !std::isfinite(x.get<double>()))
                throw Error("the learning-rate schedule PiecewiseConstantDecay: expected numbers as values");
            values.push_back(x.get<float>());
        }
        schedule = PiecewiseConstantDecay(std::move(boundaries), std::move(values)).clone();
    } else if (name == "CosineDecay") {
        const float initial = c.number("initial_learning_rate");
        const std::size_t decay_steps = c.count("decay_steps", 1, kMaxSteps);
        const float alpha = c.number("alpha");
        std::optional<float> target;
        if (c.has("warmup_target") && !c.holds_null("warmup_target")) target = c.number("warmup_target");
        schedule = CosineDecay(initial, decay_steps, alpha, target, c.count("warmup_steps", 0, kMaxSteps)).clone();
    } else {
        throw Error("the learning-rate schedule: expected \"ExponentialDecay\", \"PiecewiseConstantDecay\" or "
                    "\"CosineDecay\", got \"" + detail::printable(name).substr(0, 60) + "\"");
    }
    c.check_all_read();
    return schedule;
}

}  // namespace detail
}  // namespace recur
