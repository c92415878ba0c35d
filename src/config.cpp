#include "config.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <vector>

#include <recur/error.hpp>

#include "tensor/sizes.hpp"
#include "text.hpp"

namespace recur::detail {

nlohmann::json parse_json(std::string_view text, const std::string& what) {
    std::vector<std::set<std::string>> keys;  // the keys seen in each object being read
    const auto strict = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        using Event = nlohmann::json::parse_event_t;
        if (event == Event::object_start) keys.emplace_back();
        else if (event == Event::object_end) keys.pop_back();
        else if (event == Event::key && !keys.back().insert(parsed.get<std::string>()).second)
            throw Error(what + " names \"" + printable(parsed.get<std::string>()).substr(0, 60) +
                        "\" twice in one object; expected each key once");
        return true;
    };
    try {
        return nlohmann::json::parse(text, strict);
    } catch (const nlohmann::json::exception& e) {
        std::string explanation = e.what();  // "[json.exception.parse_error.101] parse error at ..."
        if (const auto tag = explanation.find("] "); explanation.starts_with("[json.") && tag != std::string::npos)
            explanation.erase(0, tag + 2);
        throw Error(what + " is not valid JSON: " + explanation);
    }
}

ConfigReader::ConfigReader(const nlohmann::json& config, std::string where) : config_(config), where_(std::move(where)) {
    if (!config_.is_object()) throw Error(where_ + ": expected a JSON object, got " + config_.type_name());
}

bool ConfigReader::has(const char* key) const {
    if (!config_.contains(key)) return false;
    read_.insert(key);
    return true;
}

const nlohmann::json& ConfigReader::at(const char* key) const {
    if (!config_.contains(key)) throw Error(where_ + ": expected a value for \"" + key + "\", found none");
    read_.insert(key);
    return config_.at(key);
}

void ConfigReader::check_all_read() const {
    for (const auto& [key, value] : config_.items())
        if (!read_.contains(key)) {
            std::string known;
            for (const std::string& k : read_) known += (known.empty() ? "\"" : ", \"") + k + "\"";
            throw Error(where_ + ": unknown key \"" + printable(key).substr(0, 60) + "\"; expected only " + known);
        }
}

void ConfigReader::refuse(const char* key, const std::string& expected) const {
    // As JSON in ASCII, safe in any message; a list only when it holds nothing but scalars,
    // since a nested one could be deeper than a recursive printer's stack.
    const nlohmann::json& value = at(key);
    const bool flat = value.is_primitive() ||
                      (value.is_array() && std::all_of(value.begin(), value.end(), [](const auto& v) { return v.is_primitive(); }));
    std::string given = flat ? value.dump(-1, ' ', true) : value.is_array() ? "a nested list" : "an object";
    if (given.size() > 60) given = given.substr(0, 60) + "...";
    throw Error(where_ + ": expected \"" + key + "\" to be " + expected + ", got " + given);
}

std::size_t ConfigReader::count(const char* key, std::size_t min, std::size_t max) const {
    const nlohmann::json& value = at(key);
    const std::string expected = "a whole number from " + std::to_string(min) + " to " + std::to_string(max);
    if (!value.is_number_unsigned()) refuse(key, expected);
    const auto n = value.get<std::uint64_t>();
    if (n < min || n > max) refuse(key, expected);
    return static_cast<std::size_t>(n);
}

bool ConfigReader::boolean(const char* key) const {
    if (!at(key).is_boolean()) refuse(key, "true or false");
    return at(key).get<bool>();
}

std::string ConfigReader::string(const char* key) const {
    if (!at(key).is_string()) refuse(key, "a string");
    return at(key).get<std::string>();
}

float ConfigReader::number(const char* key) const {
    const nlohmann::json& value = at(key);
    if (!value.is_number()) refuse(key, "a number");
    const double x = value.get<double>();
    if (!std::isfinite(x) || std::abs(x) > std::numeric_limits<float>::max()) refuse(key, "a finite float");
    return static_cast<float>(x);
}

const nlohmann::json& ConfigReader::object(const char* key) const {
    if (!at(key).is_object()) refuse(key, "an object");
    return at(key);
}

const nlohmann::json& ConfigReader::list(const char* key) const {
    if (!at(key).is_array()) refuse(key, "a list");
    return at(key);
}

Shape ConfigReader::shape(const char* key) const {
    const nlohmann::json& value = at(key);
    const std::string expected = "a list of at most " + std::to_string(Shape::kMaxRank) +
                                 " whole numbers from 1 to " + std::to_string(kMaxDimension) + " or null (None)";
    if (!value.is_array() || value.size() > Shape::kMaxRank) refuse(key, expected);
    std::vector<std::size_t> dims;
    for (const auto& d : value) {
        if (d.is_null()) {  // as Keras writes None; the layer says where it may stand
            dims.push_back(None);
            continue;
        }
        if (!d.is_number_unsigned() || d.get<std::uint64_t>() == 0 || d.get<std::uint64_t>() > kMaxDimension)
            refuse(key, expected);
        dims.push_back(static_cast<std::size_t>(d.get<std::uint64_t>()));
    }
    return Shape(dims);
}

}  // namespace recur::detail
