// load_model on hostile model files: a recur::Error is a fine answer; a crash, leak, hang,
// an exception of another type or an allocation larger than the input is not. A model that
// loads must also summarise, predict, take a training step, save and load again.
//
// Random bytes rarely get past the JSON parser, so the mutator knows the format: most of the
// time it parses the file, changes one value of the architecture, compile settings, user
// metadata, checkpoint counters or a tensor's header entry to a value chosen to break
// assumptions (negative, fractional, huge, of the wrong type, missing), and writes the file
// back; otherwise it leaves the bytes to libFuzzer's own mutations.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <ostream>
#include <random>
#include <streambuf>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <recur/recur.hpp>

#include "scratch_file.hpp"

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

namespace {

using nlohmann::json;

// A safetensors file taken apart: its header and the bytes after it.
struct File {
    json header;
    std::string data;
};

bool parse(const std::uint8_t* bytes, std::size_t size, File& file) {
    if (size < 8) return false;
    std::uint64_t length = 0;
    for (int i = 7; i >= 0; --i) length = (length << 8) | bytes[i];
    if (length > size - 8) return false;
    file.header = json::parse(bytes + 8, bytes + 8 + length, nullptr, false);
    if (file.header.is_discarded() || !file.header.is_object()) return false;
    file.data.assign(reinterpret_cast<const char*>(bytes) + 8 + length, size - 8 - length);
    return true;
}

std::string serialize(const File& file) {
    std::string text = file.header.dump();
    text.append((8 - (8 + text.size()) % 8) % 8, ' ');
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(static_cast<std::uint64_t>(text.size()) >> (8 * i));
    return out + text + file.data;
}

// Values that break the assumptions a loader makes about a number, a flag or a name.
json hostile_value(std::mt19937_64& rng) {
    static const std::vector<json> values{
        -1, 0, 1, 2, 3, 7, 255, 256, 65535, 65536, 1 << 24, (1ll << 31) - 1, 1ll << 31, (1ll << 32) + 1,
        1ll << 40, (1ll << 40) + 1, 1ll << 53, std::numeric_limits<std::int64_t>::max(),
        std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::uint64_t>::max(), 0.5, 1.5, -0.5, 1e30,
        -1e30, 1e300, 3.4e38, 1e-45, "", "text", "SimpleRNN", "Dense", "Embedding", "softmax", "relu", "a/b",
        nullptr, true, false, json::array(), json::object(), json::array({-1, 1}), json::array({0}),
        json::array({1, 1, 1, 1, 1, 1, 1, 1, 1}), json::array({std::numeric_limits<std::uint64_t>::max(), 1})};
    return values[rng() % values.size()];
}

// Every scalar, list and object in `value`, by JSON pointer.
void leaves(const json& value, const json::json_pointer& at, std::vector<json::json_pointer>& out) {
    out.push_back(at);
    if (value.is_object())
        for (const auto& [key, child] : value.items()) leaves(child, at / key, out);
    else if (value.is_array())
        for (std::size_t i = 0; i < value.size(); ++i) leaves(value[i], at / i, out);
}

// One change to a JSON document: a value replaced, a key removed, or a list element copied.
void mutate_json(json& doc, std::mt19937_64& rng) {
    std::vector<json::json_pointer> all;
    leaves(doc, json::json_pointer(), all);
    const json::json_pointer target = all[rng() % all.size()];
    const unsigned kind = rng() % 8;
    if (kind == 0 && !target.empty()) {
        json& parent = doc[target.parent_pointer()];
        if (parent.is_object()) parent.erase(target.back());
        else if (parent.is_array() && !parent.empty()) parent.erase(parent.size() - 1);
    } else if (kind == 1 && doc[target].is_array() && !doc[target].empty()) {
        doc[target].push_back(doc[target][rng() % doc[target].size()]);
    } else {
        doc[target] = hostile_value(rng);
    }
}

std::size_t mutate(std::uint8_t* data, std::size_t size, std::size_t max_size, unsigned seed) {
    std::mt19937_64 rng(seed);
    File file;
    if (rng() % 8 == 0 || !parse(data, size, file)) return LLVMFuzzerMutate(data, size, max_size);
    json& meta = file.header["__metadata__"];
    std::vector<std::string> documents;  // metadata entries that hold JSON text
    for (const char* key : {"architecture", "compile", "user_metadata"})
        if (meta.is_object() && meta.contains(key) && meta[key].is_string()) documents.push_back(key);
    const unsigned where = rng() % 4;
    if (where <= 1 && !documents.empty()) {  // the architecture and compile settings, most often
        const std::string key = documents[rng() % documents.size()];
        json doc = json::parse(meta[key].get<std::string>(), nullptr, false);
        if (doc.is_discarded()) return LLVMFuzzerMutate(data, size, max_size);
        mutate_json(doc, rng);
        meta[key] = doc.dump();
    } else if (where == 2 && meta.is_object()) {  // checkpoint counters and the format marker
        static const char* keys[] = {"epochs_done", "optimizer_iterations", "generator", "format", "format_version"};
        static const char* texts[] = {"-1", "0", "1", "18446744073709551615", "18446744073709551616", "1.5", "",
                                      "abc", "1e9", " 3", "recur"};
        meta[keys[rng() % 5]] = texts[rng() % 11];
    } else {  // a tensor's dtype, shape or data offsets
        mutate_json(file.header, rng);
    }
    const std::string out = serialize(file);
    if (out.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
    std::memcpy(data, out.data(), out.size());
    return out.size();
}

struct NullBuffer : std::streambuf {
    int overflow(int c) override { return c; }
};

}  // namespace

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size, std::size_t max_size,
                                               unsigned int seed) {
    return mutate(data, size, max_size, seed);
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        recur::Sequential model = recur::load_model(scratch_file("model", data, size));
        NullBuffer null;
        std::ostream out(&null);
        model.summary(out);
        // A time axis of any length (None) gets 3 steps.
        std::vector<std::size_t> dims = model.input_shape().dims();
        std::replace(dims.begin(), dims.end(), recur::None, std::size_t{3});
        const recur::Shape sample(dims);
        if (sample.elements() > 4096 || model.count_params() > 100000) return 0;
        // Zeros are valid input for every first layer (ids included); targets shaped like the output.
        const recur::Tensor x(sample.prepend(2));
        const recur::Tensor y = model.predict(x);
        if (model.compiled()) {
            try {
                model.train_on_batch(x, y);
            } catch (const recur::Error&) {  // the loss may want other targets (class labels)
            }
        }
        // What loads must save, and come back with the same predictions bit for bit.
        const std::string saved = scratch_file("saved", nullptr, 0);
        model.save(saved);
        model.reset_states();  // stateful layers: both from zero states (a file keeps none)
        const recur::Tensor before = model.predict(x), after = recur::load_model(saved).predict(x);
        if (!std::equal(before.begin(), before.end(), after.begin(), after.end())) __builtin_trap();
    } catch (const recur::Error&) {
    }
    return 0;
}
