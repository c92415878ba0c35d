#include "text.hpp"

#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace recur::detail {

// nlohmann's encoder is the UTF-8 validator the model files already depend on.
bool valid_utf8(std::string_view text) {
    try {
        (void)nlohmann::json(std::string(text)).dump();
        return true;
    } catch (const nlohmann::json::exception&) {
        return false;
    }
}

std::string printable(std::string_view text) {
    const bool utf8 = valid_utf8(text);  // then the bytes above ASCII are characters, kept
    std::string out;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f || (byte > 0x7f && !utf8)) {
            char escaped[8];
            std::snprintf(escaped, sizeof escaped, "\\x%02X", byte);
            out += escaped;
        } else {
            out += c;
        }
    }
    return out;
}

std::string as_text(double value) {
    if (std::isnan(value)) return "nan";
    char text[32];
    std::snprintf(text, sizeof text, "%g", value);
    return text;
}

}  // namespace recur::detail
