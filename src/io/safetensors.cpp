#include "io/safetensors.hpp"

#include <cerrno>
#include <cstdint>
#include <algorithm>
#include <bit>
#include <cstring>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "io/files.hpp"
#include "config.hpp"
#include "text.hpp"

namespace recur::detail {

namespace {

static_assert(std::numeric_limits<float>::is_iec559 && std::endian::native == std::endian::little,
              "tensors are stored as little-endian IEEE 754 float32, copied as they are in memory");


std::uint64_t read_le64(const unsigned char* p) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

}  // namespace

const Tensor& Safetensors::at(const std::string& name) const {
    for (const auto& [key, tensor] : tensors)
        if (key == name) return tensor;
    throw Error("'" + printable(path) + "': expected a tensor named '" + printable(name) + "', found none");
}

Safetensors read_safetensors(const std::string& path, const std::string& call) {
    const auto fail = [&](const std::string& what) { throw Error(call + ": '" + printable(path) + "': " + what); };
    const std::uint64_t file_size = check_readable_file(path, call, "a safetensors file");
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("cannot open the file: " + std::string(std::strerror(errno)));
    unsigned char size_bytes[8];
    if (file_size < 8 || !in.read(reinterpret_cast<char*>(size_bytes), 8))
        fail("expected at least 8 bytes (the header length), the file has " + std::to_string(file_size));
    const std::uint64_t header_size = read_le64(size_bytes);
    if (header_size > file_size - 8)
        fail("the header claims " + std::to_string(header_size) + " bytes but only " + std::to_string(file_size - 8) +
             " follow");
    std::string header(header_size, '\0');
    if (!in.read(header.data(), static_cast<std::streamsize>(header_size))) fail("cannot read the header");
    const std::uint64_t data_size = file_size - 8 - header_size;

    nlohmann::json json;
    try {
        json = parse_json(header, "the header");
    } catch (const Error& e) {
        fail(e.what());
    }
    if (!json.is_object()) fail("the header must be a JSON object");

    Safetensors file;
    file.path = path;
    struct Entry {
        std::string name;
        Shape shape;
        std::uint64_t begin, end;
    };
    std::vector<Entry> entries;
    for (const auto& [key, info] : json.items()) {
        const std::string name = "'" + printable(key).substr(0, 80) + "'";
        if (key == "__metadata__") {
            if (!info.is_object()) fail("__metadata__ must be an object of strings");
            for (const auto& [entry, value] : info.items()) {
                if (!value.is_string()) fail("__metadata__ '" + printable(entry).substr(0, 80) + "' must be a string");
                file.metadata[entry] = value.get<std::string>();
            }
            continue;
        }
        if (!info.is_object() || !info.contains("dtype") || !info.contains("shape") || !info.contains("data_offsets"))
            fail("tensor " + name + " needs dtype, shape and data_offsets");
        const auto& dtype = info["dtype"];
        if (dtype != "F32")  // a short string is named; anything else (perhaps deeply nested) by its kind
            fail("tensor " + name + " has dtype " +
                 (dtype.is_string() && dtype.get<std::string>().size() <= 16 ? "\"" + printable(dtype.get<std::string>()) + "\""
                                                                             : std::string("of JSON type ") + dtype.type_name()) +
                 ", expected \"F32\"");
        const auto& offsets = info["data_offsets"];
        if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
            fail("tensor " + name + " needs data_offsets [begin, end] of non-negative integers");
        const std::uint64_t begin = offsets[0], end = offsets[1];
        if (begin > end || end > data_size)
            fail("tensor " + name + " has data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                 "] outside the " + std::to_string(data_size) + " data bytes");
        const auto& shape = info["shape"];
        if (!shape.is_array()) fail("tensor " + name + " needs a shape array");
        if (shape.size() > Shape::kMaxRank)
            fail("tensor " + name + " has " + std::to_string(shape.size()) + " dimensions, at most " +
                 std::to_string(Shape::kMaxRank) + " are supported");
        std::vector<std::size_t> dims;
        std::uint64_t elements = 1;
        for (const auto& d : shape) {
            if (!d.is_number_unsigned()) fail("tensor " + name + " has a dimension that is not a non-negative integer");
            const std::uint64_t dim = d;
            if (dim != 0 && elements > (data_size / 4) / dim) fail("tensor " + name + " has a shape larger than the file");
            elements *= dim;
            dims.push_back(static_cast<std::size_t>(dim));
        }
        if (elements * 4 != end - begin)
            fail("tensor " + name + " of shape " + Shape(dims).str() + " needs " + std::to_string(elements * 4) +
                 " bytes, its data_offsets give " + std::to_string(end - begin));
        entries.push_back({key, Shape(std::move(dims)), begin, end});
    }
    // As the format requires, the tensors tile the data exactly: no byte is shared by two
    // tensors (one would read another's weights) and none is left over.
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
    std::uint64_t covered = 0;
    for (const Entry& e : entries) {
        if (e.begin != covered)
            fail("tensor '" + printable(e.name).substr(0, 80) + "' starts at data byte " + std::to_string(e.begin) +
                 " where " + std::to_string(covered) + " was expected: the tensors must cover the data exactly, "
                 "without overlaps or gaps");
        covered = e.end;
    }
    if (covered != data_size)
        fail("the tensors cover " + std::to_string(covered) + " of the " + std::to_string(data_size) +
             " data bytes; expected all of them");
    const std::uint64_t data_start = 8 + header_size;
    for (const Entry& e : entries) {
        Tensor t(e.shape);
        in.seekg(static_cast<std::streamoff>(data_start + e.begin));
        if (!in.read(reinterpret_cast<char*>(t.data()), static_cast<std::streamsize>(e.end - e.begin)))
            fail("cannot read the data of tensor '" + printable(e.name).substr(0, 80) + "'");
        file.tensors.emplace_back(e.name, std::move(t));
    }
    return file;
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, const Tensor*>>& tensors,
                       const std::map<std::string, std::string>& metadata, const std::string& call) {
    nlohmann::ordered_json header;
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::uint64_t offset = 0;
    for (const auto& [name, tensor] : tensors) {
        const std::uint64_t bytes = tensor->size() * sizeof(float);
        header[name] = {{"dtype", "F32"}, {"shape", tensor->shape().dims()}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text = header.dump();
    text.append((8 - (8 + text.size()) % 8) % 8, ' ');  // the data starts 8-byte aligned
    unsigned char size_bytes[8];
    for (int i = 0; i < 8; ++i) size_bytes[i] = static_cast<unsigned char>(text.size() >> (8 * i));
    write_file(
        path,
        [&](int fd) {
            bool ok = write_all(fd, size_bytes, 8) && write_all(fd, text.data(), text.size());
            for (const auto& [name, tensor] : tensors) ok = ok && write_all(fd, tensor->data(), tensor->size() * sizeof(float));
            return ok;
        },
        call);
}

}  // namespace recur::detail
