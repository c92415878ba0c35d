#pragma once
// Reading the JSON configs of model files strictly. A file may come from anywhere: every
// value must be present, of the right type and in range, or the file is refused with the
// key named, before anything is built or allocated from it.
#include <cstddef>
#include <string>

#include <nlohmann/json.hpp>

#include <recur/tensor.hpp>

namespace recur::detail {

class ConfigReader {
public:
    // `where` names the config in messages: "layer 1", "the optimizer".
    ConfigReader(const nlohmann::json& config, std::string where);

    bool has(const char* key) const;
    // A whole number in [min, max] (no fraction, no sign, no string).
    std::size_t count(const char* key, std::size_t min, std::size_t max) const;
    bool boolean(const char* key) const;
    std::string string(const char* key) const;
    // A finite number that a float holds.
    float number(const char* key) const;
    // A list of whole numbers from 1 to kMaxDimension, at most Shape::kMaxRank of them.
    Shape shape(const char* key) const;

private:
    const nlohmann::json& at(const char* key) const;
    [[noreturn]] void refuse(const char* key, const std::string& expected) const;
    const nlohmann::json& config_;
    std::string where_;
};

}  // namespace recur::detail
