#pragma once
// Losses in model files: the name and each kind's own settings.
#include <memory>

#include <nlohmann/json.hpp>
#include <recur/losses.hpp>

namespace recur::detail {

// A recur::Error for a loss that cannot be recorded (a class of the caller's own).
nlohmann::json loss_config(const Loss& loss);
// Every value checked before the loss is made.
std::unique_ptr<Loss> loss_from_config(const nlohmann::json& config);

}  // namespace recur::detail
