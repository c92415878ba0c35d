#pragma once
// Checks for the example programs' command-line flags (CLI11). Numbers from a flag are
// refused unless they are what the flag means: CLI11 alone would read "-1" into an unsigned
// option as 2^64 - 1, "2.5" as 2, 10^20 as 2^64 - 1, and take "inf", "nan" or 1e-50 (0 as a
// float) for a learning rate.
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <system_error>

#include <CLI/CLI.hpp>

namespace recur_examples {

// Digits only, and a value an unsigned 64-bit option holds (CLI11 would saturate a larger one).
inline bool whole(const std::string& text) {
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos && ec == std::errc() &&
           end == text.data() + text.size();
}

// A whole number >= 0 (a seed).
inline const CLI::Validator whole_number(
    [](std::string& text) {
        return whole(text) ? std::string() : "expected a whole number from 0 to 18446744073709551615, got " + text;
    },
    "WHOLE");

// A whole number > 0 (a count: epochs, units, a window).
inline const CLI::Validator count(
    [](std::string& text) {
        return whole(text) && text.find_first_not_of('0') != std::string::npos
                   ? std::string()
                   : "expected a whole number from 1 to 18446744073709551615, got " + text;
    },
    "COUNT");

// A number > 0 that a float holds without becoming 0 or Inf (a rate, a temperature).
inline const CLI::Validator positive(
    [](std::string& text) {
        char* end = nullptr;
        const double value = std::strtod(text.c_str(), &end);
        return end != text.c_str() && *end == '\0' && value >= std::numeric_limits<float>::min() &&
                       value <= std::numeric_limits<float>::max()
                   ? std::string()
                   : "expected a number from 1.2e-38 to 3.4e+38, got " + text;
    },
    "POSITIVE");

}  // namespace recur_examples
