#pragma once
// Helpers of the hostile-input suite: scratch files, a model to attack, and model files
// rewritten with one value changed.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>
#include <recur/recur.hpp>

#include "io/safetensors.hpp"

namespace recur::testing {

// A path in a directory of this test's own, removed with everything in it at scope exit.
class ScratchDir {
public:
    ScratchDir()
        : dir_(std::filesystem::temp_directory_path() /
               ("recur_hostile_" + std::to_string(::getpid()) + "_" + std::to_string(next()))) {
        std::filesystem::create_directories(dir_);
    }
    ~ScratchDir() { std::filesystem::remove_all(dir_); }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    std::string operator/(const std::string& name) const { return (dir_ / name).string(); }
    const std::filesystem::path& path() const { return dir_; }

private:
    static int next() {
        static int n = 0;
        return n++;
    }
    std::filesystem::path dir_;
};

inline std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

// SimpleRNN(4) + Dense(1) on (5, 1), compiled with Adam and MSE.
inline Sequential small_model(const std::string& rnn = "rnn", const std::string& head = "head") {
    Sequential model;
    model.add(SimpleRNN(4).name(rnn).input_shape({5, 1}));
    model.add(Dense(1).name(head));
    model.compile("adam", "mse");
    return model;
}

// Saves `model` (a checkpoint when asked) to `path`, then rewrites the file with `change`
// applied to its safetensors header: the tensors stay, the metadata JSON texts are parsed
// into objects first ("architecture", "compile", "user_metadata") and written back after.
inline void rewrite_model_file(const Sequential& model, const std::string& path, bool checkpoint,
                               const std::function<void(nlohmann::json& meta)>& change) {
    if (checkpoint) model.save_checkpoint(path);
    else model.save(path);
    detail::Safetensors file = detail::read_safetensors(path, "test");
    nlohmann::json meta = nlohmann::json::object();
    for (const auto& [key, value] : file.metadata) {
        const bool document = key == "architecture" || key == "compile" || key == "user_metadata";
        meta[key] = document ? nlohmann::json::parse(value) : nlohmann::json(value);
    }
    change(meta);
    std::map<std::string, std::string> text;
    for (const auto& [key, value] : meta.items()) text[key] = value.is_string() ? value.get<std::string>() : value.dump();
    std::vector<std::pair<std::string, const Tensor*>> tensors;
    for (const auto& [name, tensor] : file.tensors) tensors.emplace_back(name, &tensor);
    detail::write_safetensors(path, tensors, text, "test");
}

}  // namespace recur::testing
