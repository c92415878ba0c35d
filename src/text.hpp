#pragma once
// Text from callers and files, checked before it reaches a JSON header or a message.
#include <string>
#include <string_view>

namespace recur::detail {

// Whether `text` is valid UTF-8, as JSON (and so every model file) requires.
bool valid_utf8(std::string_view text);

// `text` fit for a one-line message: control bytes and bytes that are not valid UTF-8 as \xNN.
std::string printable(std::string_view text);

// A number for a message, as %g writes it ("nan" for any NaN).
std::string as_text(double value);

}  // namespace recur::detail
