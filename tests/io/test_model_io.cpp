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

namespace {
// Every recurrent kind with options off their defaults, so that a lost option shows.
Sequential gated_model() {
    Sequential model;
    model.add(recur::LSTM(9).return_sequences(true).unit_forget_bias(false).input_shape({8, 1}));
    model.add(recur::GRU(7).return_sequences(true).go_backwards(true).recurrent_activation("tanh"));
    model.add(recur::GRU(5).reset_after(false).return_sequences(true));
    model.add(recur::LSTM(4).activation("relu"));
    model.add(recur::Dense(1));
    model.compile(recur::RMSprop().learning_rate(0.005f), "mse");
    return model;
}
}  // namespace

TEST_CASE("LSTM and GRU models save and load with their options and bit-identical predictions") {
    recur::manual_seed(31);
    auto [X, Y] = sine_windows();
    Sequential model = gated_model();
    model.fit(X, Y, recur::FitOptions().epochs(2).verbose(0));
    TempPath file("gated.safetensors");
    model.save(file.path);
    const Sequential loaded = recur::load_model(file.path);
    REQUIRE(loaded.layers().size() == 5);
    const auto& lstm = dynamic_cast<const recur::LSTM&>(loaded.layer(0));
    CHECK_FALSE(lstm.unit_forget_bias());
    CHECK(lstm.return_sequences());
    const auto& gru = dynamic_cast<const recur::GRU&>(loaded.layer(1));
    CHECK(gru.go_backwards());
    CHECK(gru.reset_after());
    CHECK(gru.recurrent_activation() == recur::Activation::tanh);
    CHECK_FALSE(dynamic_cast<const recur::GRU&>(loaded.layer(2)).reset_after());
    CHECK(dynamic_cast<const recur::LSTM&>(loaded.layer(3)).activation() == recur::Activation::relu);
    const auto stored = recur::detail::read_safetensors(file.path, "test");
    CHECK(stored.at(model.layer(1).name() + "/bias").shape() == recur::Shape{2, 21});
    CHECK(stored.at(model.layer(2).name() + "/bias").shape() == recur::Shape{15});
    CHECK(all_weights(loaded) == all_weights(model));
    const Tensor a = model.predict(X), b = loaded.predict(X);
    CHECK(std::equal(a.begin(), a.end(), b.begin()));
}

TEST_CASE("an LSTM and GRU fit resumed from its checkpoint ends bit for bit where an uninterrupted one does") {
    auto [X, Y] = sine_windows();
    recur::manual_seed(32);
    Sequential straight = gated_model();
    straight.fit(X, Y, recur::FitOptions().epochs(4).batch_size(16).verbose(0));

    recur::manual_seed(32);
    TempPath file("gated_resume.safetensors");
    {
        Sequential first_half = gated_model();
        first_half.fit(X, Y, recur::FitOptions().epochs(2).batch_size(16).checkpoint(file.path).verbose(0));
    }
    recur::manual_seed(5);
    Sequential resumed = recur::load_model(file.path);
    CHECK(resumed.epochs_done() == 2);
    resumed.fit(X, Y, recur::FitOptions().epochs(4).batch_size(16).initial_epoch(resumed.epochs_done()).verbose(0));
    CHECK(all_weights(resumed) == all_weights(straight));
}

TEST_CASE("Embedding -> GRU -> LSTM -> Dense saves and loads bit for bit") {
    recur::manual_seed(33);
    Sequential model;
    model.add(recur::Embedding(20, 6).input_shape({7}));
    model.add(recur::GRU(8).return_sequences(true));
    model.add(recur::LSTM(5));
    model.add(recur::Dense(3).activation("softmax"));
    model.compile("adam", "sparse_categorical_crossentropy");
    Tensor ids({16, 7}), labels({16});
    for (std::size_t i = 0; i < 16; ++i) {
        for (std::size_t t = 0; t < 7; ++t) ids(i, t) = static_cast<float>((i * 7 + t * 3) % 20);
        labels(i) = static_cast<float>(i % 3);
    }
    model.fit(ids, labels, recur::FitOptions().epochs(2).batch_size(4).verbose(0));
    TempPath file("embedding_gated.safetensors");
    model.save(file.path);
    const Sequential loaded = recur::load_model(file.path);
    CHECK(all_weights(loaded) == all_weights(model));
    const Tensor a = model.predict(ids), b = loaded.predict(ids);
    CHECK(std::equal(a.begin(), a.end(), b.begin()));
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
