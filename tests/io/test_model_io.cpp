#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <recur/recur.hpp>

#include "support/weights.hpp"

#include "io/safetensors.hpp"

using recur::Sequential;
using recur::Tensor;
using recur::testing::all_weights;
namespace fs = std::filesystem;

namespace {

// A file under the build's temporary folder, removed at scope exit.
struct TempPath {
    std::string path;
    explicit TempPath(const std::string& name) : path((fs::temp_directory_path() / ("recur_test_" + name)).string()) {
        fs::remove(path);
    }
    ~TempPath() { fs::remove(path); }
};

std::pair<Tensor, Tensor> sine_windows() {
    std::vector<float> series;
    for (int i = 0; i < 80; ++i) series.push_back(0.5f + 0.4f * std::sin(i * 0.3f));
    return recur::sliding_windows(series, 8);
}

Sequential stacked_model() {
    Sequential model;
    model.add(recur::SimpleRNN(12).return_sequences(true).input_shape({8, 1}));
    model.add(recur::SimpleRNN(6).activation("relu").use_bias(false));
    model.add(recur::Dense(1).activation("sigmoid"));
    model.compile(recur::Adam().learning_rate(0.01f).clipnorm(1.0f), recur::Huber().delta(0.5f));
    return model;
}


std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const std::string& path, const std::string& bytes) {
    std::ofstream(path, std::ios::binary) << bytes;
}

}  // namespace

TEST_CASE("save then load_model rebuilds the model: same layers, settings and bit-identical predictions") {
    recur::manual_seed(21);
    auto [X, Y] = sine_windows();
    Sequential model = stacked_model();
    model.fit(X, Y, recur::FitOptions().epochs(3).verbose(0));
    TempPath file("roundtrip.safetensors");
    model.save(file.path);

    const Sequential loaded = recur::load_model(file.path);
    CHECK(loaded.name() == model.name());
    REQUIRE(loaded.layers().size() == 3);
    for (std::size_t i = 0; i < 3; ++i) CHECK(loaded.layer(i).name() == model.layer(i).name());
    const auto& rnn = dynamic_cast<const recur::SimpleRNN&>(loaded.layer(1));
    CHECK(rnn.activation() == recur::Activation::relu);
    CHECK_FALSE(rnn.use_bias());
    CHECK(std::string(loaded.optimizer().name()) == "Adam");
    CHECK(loaded.optimizer().learning_rate() == doctest::Approx(0.01));
    CHECK(loaded.optimizer().clipnorm() == doctest::Approx(1.0));
    CHECK(dynamic_cast<const recur::Huber&>(loaded.loss()).delta() == doctest::Approx(0.5));
    CHECK(all_weights(loaded) == all_weights(model));
    const Tensor a = model.predict(X), b = loaded.predict(X);
    CHECK(std::equal(a.begin(), a.end(), b.begin()));
}

TEST_CASE("weights are stored under Keras's names with the standard safetensors layout") {
    recur::manual_seed(22);
    Sequential model;
    model.add(recur::SimpleRNN(4).name("simple_rnn").input_shape({3, 2}));
    model.add(recur::Dense(1).name("dense"));
    TempPath file("names.safetensors");
    model.save(file.path);
    const auto stored = recur::detail::read_safetensors(file.path, "test");
    std::vector<std::string> names;
    for (const auto& [name, tensor] : stored.tensors) names.push_back(name);
    CHECK(names == std::vector<std::string>{"simple_rnn/kernel", "simple_rnn/recurrent_kernel", "simple_rnn/bias",
                                            "dense/kernel", "dense/bias"});
    CHECK(stored.at("simple_rnn/recurrent_kernel").shape() == recur::Shape{4, 4});
    CHECK(stored.metadata.at("format") == "recur");
    const std::string bytes = read_bytes(file.path);
    std::uint64_t header = 0;
    for (int i = 7; i >= 0; --i) header = (header << 8) | static_cast<unsigned char>(bytes[i]);
    CHECK((8 + header) % 8 == 0);  // the data starts 8-byte aligned
    CHECK(bytes[8] == '{');
}

TEST_CASE("an interrupted fit resumed from its checkpoint ends bit for bit where an uninterrupted one does") {
    auto [X, Y] = sine_windows();
    recur::manual_seed(23);
    Sequential straight = stacked_model();
    straight.fit(X, Y, recur::FitOptions().epochs(6).batch_size(16).verbose(0));

    recur::manual_seed(23);
    TempPath file("resume.safetensors");
    {
        Sequential first_half = stacked_model();
        first_half.fit(X, Y, recur::FitOptions().epochs(3).batch_size(16).checkpoint(file.path).verbose(0));
    }
    recur::manual_seed(999);  // whatever happened to the generator meanwhile, the checkpoint restores it
    Sequential resumed = recur::load_model(file.path);
    CHECK(resumed.epochs_done() == 3);
    CHECK(resumed.optimizer().iterations() == 3 * 5);
    const auto history =
        resumed.fit(X, Y, recur::FitOptions().epochs(6).batch_size(16).initial_epoch(resumed.epochs_done()).verbose(0));
    CHECK(history.loss.size() == 3);
    CHECK(resumed.epochs_done() == 6);
    CHECK(all_weights(resumed) == all_weights(straight));
}

TEST_CASE("a failed save leaves the previous file intact and no temporary behind") {
    recur::manual_seed(24);
    Sequential model = stacked_model();
    TempPath file("atomic.safetensors");
    model.save(file.path);
    const std::string before = read_bytes(file.path);
    CHECK_THROWS_WITH_AS(model.save(file.path + ".missing-dir/x.safetensors"),
                         doctest::Contains("its directory '/tmp/recur_test_atomic.safetensors.missing-dir' does not exist"),
                         recur::Error);
    fs::create_directory(file.path + ".dir");
    CHECK_THROWS_WITH_AS(model.save(file.path + ".dir"),
                         doctest::Contains("is a directory; save replaces only a regular file"), recur::Error);
    fs::remove_all(file.path + ".dir");
    CHECK(read_bytes(file.path) == before);
    for (const auto& entry : fs::directory_iterator(fs::temp_directory_path()))
        CHECK(entry.path().filename().string().find(".recur_test_atomic.safetensors") == std::string::npos);
}

TEST_CASE("damaged and hostile files are rejected with clear errors") {
    recur::manual_seed(25);
    Sequential model;
    model.add(recur::SimpleRNN(4).name("rnn").input_shape({3, 2}));
    model.add(recur::Dense(1).name("head"));
    TempPath good("good.safetensors"), bad("bad.safetensors");
    model.save(good.path);
    const std::string bytes = read_bytes(good.path);
    std::uint64_t header_size = 0;
    for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | static_cast<unsigned char>(bytes[i]);
    const std::string header = bytes.substr(8, header_size);

    auto load_bad = [&](const std::string& content) {
        write_bytes(bad.path, content);
        return recur::load_model(bad.path);
    };
    auto with_header = [&](const std::string& h) {  // the same data behind another header
        std::string length(8, '\0');
        for (int i = 0; i < 8; ++i) length[i] = static_cast<char>(h.size() >> (8 * i));
        return length + h + bytes.substr(8 + header_size);
    };
    CHECK_THROWS_WITH_AS(recur::load_model(good.path + ".nope"), doctest::Contains("cannot be opened"), recur::Error);
    CHECK_THROWS_WITH_AS(load_bad(bytes.substr(0, 5)), doctest::Contains("expected at least 8 bytes"), recur::Error);
    CHECK_THROWS_WITH_AS(load_bad(bytes.substr(0, 8 + header_size / 2)), doctest::Contains("the header claims"), recur::Error);
    CHECK_THROWS_WITH_AS(load_bad(bytes.substr(0, bytes.size() - 4)), doctest::Contains("outside the"), recur::Error);
    CHECK_THROWS_WITH_AS(load_bad(with_header("{not json")), doctest::Contains("not valid JSON"), recur::Error);
    std::string f16 = header;
    f16.replace(f16.find("F32"), 3, "F16");
    CHECK_THROWS_WITH_AS(load_bad(with_header(f16)), doctest::Contains("expected \"F32\""), recur::Error);
    std::string huge = header;
    huge.replace(huge.find("[2,4]"), 5, "[4294967296,4294967296]");
    CHECK_THROWS_WITH_AS(load_bad(with_header(huge)), doctest::Contains("shape larger than the file"), recur::Error);
    std::string renamed = header;
    renamed.replace(renamed.find("head/kernel"), 11, "head/kernex");
    CHECK_THROWS_WITH_AS(load_bad(with_header(renamed)), doctest::Contains("expected a tensor named 'head/kernel'"),
                         recur::Error);

    // A file whose tensors disagree with its architecture.
    const Tensor wrong({2, 8});
    recur::detail::Safetensors parsed = recur::detail::read_safetensors(good.path, "test");
    std::vector<std::pair<std::string, const Tensor*>> tensors;
    for (auto& [name, tensor] : parsed.tensors) tensors.emplace_back(name, name == "rnn/recurrent_kernel" ? &wrong : &tensor);
    recur::detail::write_safetensors(bad.path, tensors, parsed.metadata, "test");
    CHECK_THROWS_WITH_AS(recur::load_model(bad.path),
                         doctest::Contains("layer 'rnn' expects recurrent_kernel of shape (4, 4), got (2, 8)"), recur::Error);

    // An architecture far larger than the file must be refused before anything is allocated.
    std::string architecture = parsed.metadata.at("architecture");
    architecture.replace(architecture.find("\"units\":4"), 9, "\"units\":4000000");
    parsed.metadata["architecture"] = architecture;
    recur::detail::write_safetensors(bad.path, tensors, parsed.metadata, "test");
    CHECK_THROWS_WITH_AS(recur::load_model(bad.path), doctest::Contains("the architecture needs 16000"), recur::Error);
}
