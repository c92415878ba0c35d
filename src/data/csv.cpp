#include <recur/data.hpp>
#include <recur/error.hpp>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>

#include "io/files.hpp"
#include "text.hpp"

namespace recur {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool blank(std::string_view s) { return trim(s).empty(); }

// Text from the file as a message shows it: control bytes escaped, at most 60 characters.
std::string shown(std::string_view text) {
    std::string out = detail::printable(text);
    return out.size() > 60 ? out.substr(0, 60) + "..." : out;
}

}  // namespace

CsvTable parse_csv(std::string_view text, std::string source) {
    const std::string where = "read_csv: '" + shown(source) + "'";
    // Excel starts its UTF-8 files with a byte-order mark; it is not part of the first name.
    if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);

    CsvTable table;
    table.path_ = std::move(source);
    std::vector<std::string> record;
    std::string field;
    bool quoted = false;       // the current field was opened with a quote
    bool in_quotes = false;    // inside it now
    std::size_t line = 1;      // the line being read
    std::size_t record_line = 1, quote_line = 1;

    const auto end_field = [&] {
        record.push_back(quoted ? field : std::string(trim(field)));
        field.clear();
        quoted = false;
    };
    const auto end_record = [&] {
        const bool was_quoted = quoted;  // "" alone is an empty cell, not a blank line
        end_field();
        const bool blank_line = record.size() == 1 && record[0].empty() && !was_quoted;
        if (!blank_line) {
            if (table.columns_.empty()) {
                std::set<std::string> seen;
                for (const std::string& name : record)
                    if (!seen.insert(name).second)
                        throw Error(where + " line " + std::to_string(record_line) + ": the header names column '" +
                                    shown(name) + "' twice; expected unique column names");
                table.columns_ = std::move(record);
            } else {
                if (record.size() != table.columns_.size())
                    throw Error(where + " line " + std::to_string(record_line) + ": expected " +
                                std::to_string(table.columns_.size()) + " fields (as in the header), found " +
                                std::to_string(record.size()));
                std::move(record.begin(), record.end(), std::back_inserter(table.cells_));
                table.lines_.push_back(record_line);
            }
        }
        record.clear();
        record_line = line + 1;
    };

    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_quotes) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
                field += '"';
                ++i;
            } else if (c == '"') {
                in_quotes = false;
            } else {
                if (c == '\n') ++line;
                field += c;
            }
        } else if (c == ',') {
            end_field();
        } else if (c == '\n' || c == '\r') {
            if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;  // CRLF is one line end
            end_record();
            ++line;
        } else if (quoted) {  // after the closing quote only spaces may come before the separator
            if (c != ' ' && c != '\t')
                throw Error(where + " line " + std::to_string(line) +
                            ": expected ',' or a line end after a quoted field, found '" + shown(std::string(1, c)) + "'");
        } else if (c == '"' && blank(field)) {
            field.clear();
            quoted = in_quotes = true;
            quote_line = line;
        } else {
            field += c;  // a quote inside an unquoted field is taken literally, as pandas does
        }
    }
    if (in_quotes)
        throw Error(where + " line " + std::to_string(quote_line) +
                    ": a quoted field is not closed; expected a closing '\"' before the end of the file");
    if (!field.empty() || quoted || !record.empty()) end_record();  // no line end after the last row
    if (table.columns_.empty()) throw Error(where + " is empty: expected a header row of column names, found no lines");
    return table;
}

CsvTable read_csv(const std::string& path) {
    detail::check_readable_file(path, "read_csv", "a CSV file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("read_csv: '" + shown(path) + "' cannot be opened: " + std::strerror(errno));
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw Error("read_csv: '" + shown(path) + "' cannot be read: " + std::strerror(errno));
    return parse_csv(text, path);
}

namespace {

// A cell as a float: a number that fits. A magnitude below float's smallest reads as 0 or a
// subnormal (as strtof gives it); one above its largest is refused, since it would be Inf.
std::optional<float> number(std::string_view cell) {
    if (cell.starts_with('+')) cell.remove_prefix(1);  // from_chars takes no '+'
    if (cell.empty()) return std::nullopt;
    const char* last = cell.data() + cell.size();
    float value = 0.0f;
    auto [end, ec] = std::from_chars(cell.data(), last, value);
    if (ec == std::errc::result_out_of_range) {  // too large or too small: double tells which
        double wide = 0.0;
        const auto parsed = std::from_chars(cell.data(), last, wide);
        end = parsed.ptr;
        ec = parsed.ec;
        const std::size_t exponent = cell.find_first_of("eE");
        const bool tiny = ec == std::errc() ? std::abs(wide) < 1.0
                                            : exponent != std::string_view::npos && cell.substr(exponent + 1).starts_with('-');
        if (!tiny || end != last) return std::nullopt;
        value = static_cast<float>(ec == std::errc() ? wide : 0.0);
        ec = std::errc();
    }
    if (ec != std::errc() || end != last || !std::isfinite(value)) return std::nullopt;
    return value;
}

}  // namespace

std::vector<float> CsvTable::column(std::string_view name) const {
    std::size_t index = 0;
    while (index < columns_.size() && columns_[index] != name) ++index;
    if (index == columns_.size()) {
        std::string available;
        for (const std::string& column : columns_) available += (available.empty() ? "'" : ", '") + shown(column) + "'";
        throw Error("CsvTable::column: '" + shown(path_) + "' has no column '" + shown(name) + "'; its columns are " +
                    (available.size() > 400 ? available.substr(0, 400) + "..." : available));
    }
    std::vector<float> values(rows());
    for (std::size_t row = 0; row < rows(); ++row) {
        const std::string_view cell = trim(cells_[row * columns_.size() + index]);
        const std::optional<float> value = number(cell);
        // Not a number, trailing text, beyond float's range, NaN or inf: training on it
        // would poison every weight, so say where it is.
        if (!value)
            throw Error("CsvTable::column: '" + shown(path_) + "' line " + std::to_string(lines_[row]) + ", column '" +
                        shown(name) + "': expected a finite number, found " +
                        (cell.empty() ? std::string("an empty cell") : "'" + shown(cell) + "'"));
        values[row] = *value;
    }
    return values;
}

}  // namespace recur
