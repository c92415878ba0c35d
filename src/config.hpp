#pragma once
// The JSON configs of model files: written by each layer, optimizer and loss for itself, and
// read back strictly. A file may come from anywhere: every value must be present, of the
// right type and in range, or the file is refused with the key named, before anything is
// built or allocated from it.
#include <cstddef>
#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <recur/tensor.hpp>

namespace recur::detail {

// Parses JSON text from a file. Invalid JSON, and an object that names a key twice (which a
// parser would otherwise settle silently by keeping one), are a recur::Error: `what` names
// the text ("the header"), and the message carries the parser's explanation.
nlohmann::json parse_json(std::string_view text, const std::string& what);

// Writes the options of a layer, an optimizer or a loss into its JSON config.
class ConfigWriter {
public:
    explicit ConfigWriter(nlohmann::json& config) : config_(config) {}
    template <class T>
    void set(const char* key, const T& value) {
        config_[key] = value;
    }

private:
    nlohmann::json& config_;
};

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
    // A JSON object or list, as it is (for nested configs).
    const nlohmann::json& object(const char* key) const;
    const nlohmann::json& list(const char* key) const;
    // Whether the value under key is an object (a setting that is a number or a config).
    bool holds_object(const char* key) const { return config_.contains(key) && config_.at(key).is_object(); }
    bool holds_null(const char* key) const { return config_.contains(key) && config_.at(key).is_null(); }
    // Refuses any key nothing has read: a setting this version does not know (Keras's
    // "stateful", a misspelt name) would otherwise be dropped without a word.
    void check_all_read() const;

private:
    const nlohmann::json& at(const char* key) const;
    [[noreturn]] void refuse(const char* key, const std::string& expected) const;
    const nlohmann::json& config_;
    std::string where_;
    mutable std::set<std::string, std::less<>> read_;
};

}  // namespace recur::detail
