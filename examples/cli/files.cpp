#include "files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>
#include <recur/error.hpp>

namespace recur_cli {

void write_atomically(const std::string& path, std::string_view text) {
    const std::string temp = path + ".tmp" + std::to_string(::getpid());
    const auto fail = [&](const char* what) {
        const std::string reason = std::strerror(errno);
        ::unlink(temp.c_str());
        throw recur::Error("cannot " + std::string(what) + " '" + path + "': " + reason);
    };
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail("create");
    for (std::size_t done = 0; done < text.size();) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { ::close(fd); fail("write"); }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) { ::close(fd); fail("write"); }
    if (::close(fd) != 0) fail("write");
    if (::rename(temp.c_str(), path.c_str()) != 0) fail("write");
}

std::string scaler_path(const std::string& model_path) { return model_path + ".json"; }

void write_scaler(const std::string& model_path, const recur::MinMaxScaler& scaler, const std::string& column) {
    // nlohmann writes floats in their shortest round-trip form, so predict gets the same scaler.
    const nlohmann::json sidecar = {{"scaler", "MinMaxScaler"},
                                    {"data_min", scaler.data_min()},
                                    {"data_max", scaler.data_max()},
                                    {"column", column}};
    write_atomically(scaler_path(model_path), sidecar.dump(2) + "\n");
}

recur::MinMaxScaler read_scaler(const std::string& model_path) {
    const std::string path = scaler_path(model_path);
    std::ifstream in(path);
    if (!in)
        throw recur::Error("cannot open '" + path + "', the scaler that 'recur train --out' writes beside the model: " +
                           std::strerror(errno));
    try {
        const nlohmann::json sidecar = nlohmann::json::parse(in);
        if (sidecar.at("scaler") != "MinMaxScaler") throw recur::Error("expected scaler MinMaxScaler");
        return recur::MinMaxScaler(sidecar.at("data_min").get<float>(), sidecar.at("data_max").get<float>());
    } catch (const std::exception& e) {
        throw recur::Error("'" + path + "' is not a scaler written by 'recur train --out': " + e.what());
    }
}

std::string format_float(float value) {
    char buf[32];
    const auto result = std::to_chars(buf, buf + sizeof buf, value);
    return std::string(buf, result.ptr);
}

}  // namespace recur_cli
