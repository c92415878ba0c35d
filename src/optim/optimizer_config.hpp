#pragma once
// Optimizers in model files: the name, the settings every optimizer shares, and each kind's own.
#include <memory>

#include <nlohmann/json.hpp>
#include <recur/optimizers.hpp>

namespace recur::detail {

// A recur::Error for an optimizer that cannot be recorded (a class of the caller's own).
nlohmann::json optimizer_config(const Optimizer& optimizer);
// Every value checked before the optimizer is made.
std::unique_ptr<Optimizer> optimizer_from_config(const nlohmann::json& config);
// A learning-rate schedule from {"class_name": ..., "config": {...}}, checked likewise.
std::unique_ptr<LearningRateSchedule> schedule_from_config(const nlohmann::json& config);

}  // namespace recur::detail
