#pragma once
// The safetensors format: an 8-byte little-endian header length, a JSON header naming
// each tensor's dtype, shape and byte range, then the raw little-endian data.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <recur/tensor.hpp>

namespace recur::detail {

struct Safetensors {
    std::vector<std::pair<std::string, Tensor>> tensors;  // in file order
    std::map<std::string, std::string> metadata;

    // The tensor with this name; throws naming the file's path when it is missing.
    const Tensor& at(const std::string& name) const;
    std::string path;
};

// Reads a file of F32 tensors. Every length, offset and shape is checked against the file's
// size before anything is allocated, so a damaged or hostile file gives a recur::Error
// naming `call` and the path.
Safetensors read_safetensors(const std::string& path, const std::string& call);

// Writes atomically, as write_file does; `call` names the user's call in messages.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                       const std::map<std::string, std::string>& metadata, const std::string& call);

}  // namespace recur::detail
