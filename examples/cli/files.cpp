#include "files.hpp"

#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <system_error>

#include <recur/error.hpp>

namespace recur_cli {

namespace {

namespace fs = std::filesystem;

// The absolute path with ".", ".." and the symbolic links of its existing part resolved.
fs::path resolved(const std::string& path) {
    std::error_code ec;
    fs::path r = fs::weakly_canonical(fs::absolute(path), ec);
    return ec ? fs::absolute(path).lexically_normal() : r;
}

// The same file: one path resolved to the other, or (both existing) one inode.
bool same_file(const std::string& a, const std::string& b) {
    std::error_code ec;
    if (resolved(a) == resolved(b)) return true;
    return fs::exists(a, ec) && fs::exists(b, ec) && fs::equivalent(a, b, ec);
}

void check_output(const PathArg& out) {
    std::error_code ec;
    // A link to a missing file would be written through once another output had created
    // that file: refused, as a save refuses it.
    if (fs::is_symlink(fs::symlink_status(out.path, ec)) && !fs::exists(out.path, ec))
        throw recur::Error(out.flag + " '" + out.path + "' is a symbolic link to a missing file; expected a file to write");
    const fs::path file = resolved(out.path);
    const fs::file_status status = fs::status(file, ec);
    if (fs::exists(status) && !fs::is_regular_file(status))
        throw recur::Error(out.flag + " '" + out.path + "' exists and is not a regular file; expected a file to write");
    const fs::path dir = file.parent_path();
    if (!fs::is_directory(dir, ec))
        throw recur::Error(out.flag + " '" + out.path + "': the directory '" + dir.string() + "' does not exist");
    if (::access(dir.c_str(), W_OK) != 0)
        throw recur::Error(out.flag + " '" + out.path + "': the directory '" + dir.string() + "' is not writable");
}

// Keys of the model file's metadata.
constexpr const char* kScaler = "scaler";
constexpr const char* kDataMin = "scaler_data_min";
constexpr const char* kDataMax = "scaler_data_max";
constexpr const char* kColumn = "column";

}  // namespace

void check_paths(const std::vector<PathArg>& inputs, const std::vector<PathArg>& outputs) {
    for (std::size_t i = 0; i < outputs.size(); ++i) {
        const PathArg& out = outputs[i];
        if (out.path.empty()) continue;
        for (const PathArg& in : inputs)
            if (!in.path.empty() && same_file(out.path, in.path))
                throw recur::Error(out.flag + " '" + out.path + "' is the same file as " + in.flag + " '" + in.path +
                                   "'; writing it would destroy the input");
        for (std::size_t j = 0; j < i; ++j)
            if (!outputs[j].path.empty() && same_file(out.path, outputs[j].path))
                throw recur::Error(out.flag + " '" + out.path + "' is the same file as " + outputs[j].flag + " '" +
                                   outputs[j].path + "'; give each output a file of its own");
        check_output(out);
    }
}

void store_scaler(recur::Sequential& model, const recur::MinMaxScaler& scaler, const std::string& column) {
    auto& metadata = model.metadata();
    metadata[kScaler] = "MinMaxScaler";
    metadata[kDataMin] = format_float(scaler.data_min());
    metadata[kDataMax] = format_float(scaler.data_max());
    metadata[kColumn] = column;
}

std::pair<recur::MinMaxScaler, std::string> stored_scaler(const recur::Sequential& model, const std::string& path) {
    const auto& metadata = model.metadata();
    const auto number = [&](const char* key) {
        const auto found = metadata.find(key);
        float value = 0;
        if (found != metadata.end()) {
            const std::string& text = found->second;
            const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
            if (ec == std::errc() && end == text.data() + text.size()) return value;
        }
        throw recur::Error("'" + path + "' holds no scaler (metadata \"" + key +
                           "\"); expected a model saved by 'recur train --out'");
    };
    if (!metadata.contains(kScaler) || metadata.at(kScaler) != "MinMaxScaler" || !metadata.contains(kColumn))
        throw recur::Error("'" + path + "' holds no scaler; expected a model saved by 'recur train --out'");
    return {recur::MinMaxScaler(number(kDataMin), number(kDataMax)), metadata.at(kColumn)};
}

std::string format_float(float value) {
    char buf[32];
    const auto result = std::to_chars(buf, buf + sizeof buf, value);
    return std::string(buf, result.ptr);
}

}  // namespace recur_cli
