#pragma once
// Layer kinds by name, for model files: a layer's config is its type name, its name, its
// input shape and its own options, which each kind writes and reads for itself.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>
#include <recur/layers.hpp>

namespace recur::detail {

nlohmann::json layer_config(const Layer& layer);

// The layer a config describes, every value checked (ConfigReader) before anything is
// built; `where` names it in messages ("layer 2").
std::unique_ptr<Layer> layer_from_config(const nlohmann::json& config, const std::string& where);

// A regularizer in a layer's config, as Keras writes one (null for none), and back, checked;
// `where` names the setting in messages.
nlohmann::json regularizer_config(const std::optional<Regularizer>& regularizer);
Regularizer regularizer_from_config(const nlohmann::json& config, const std::string& where);

}  // namespace recur::detail
