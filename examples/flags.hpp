#pragma once
// Checks for the example programs' command-line flags (CLI11). Numbers from a flag are
// refused unless they are what the flag means: CLI11 alone would read "-1" into an unsigned
// option as 2^64 - 1, "2.5" as 2, and take "inf" and "nan" for a learning rate.
#include <cmath>
#include <cstdlib>
#include <string>

#include <CLI/CLI.hpp>

namespace recur_examples {

inline bool all_digits(const std::string& text) {
    return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
}

// A whole number >= 0 (a seed).
inline const CLI::Validator whole_number(
    [](std::string& text) { return all_digits(text) ? std::string() : "expected a whole number >= 0, got " + text; },
    "WHOLE");

// A whole number > 0 (a count: epochs, units, a window).
inline const CLI::Validator count(
    [](std::string& text) {
        return all_digits(text) && text.find_first_not_of('0') != std::string::npos
                   ? std::string()
                   : "expected a whole number > 0, got " + text;
    },
    "COUNT");

// A finite number > 0 (a rate, a temperature).
inline const CLI::Validator positive(
    [](std::string& text) {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        return end != text.c_str() && *end == '\0' && std::isfinite(value) && value > 0
                   ? std::string()
                   : "expected a finite number > 0, got " + text;
    },
    "POSITIVE");

}  // namespace recur_examples
