// Model files from elsewhere: every value of the architecture, the compile settings and a
// checkpoint can be negative, fractional, huge, of the wrong type or missing, and the file
// itself may not be a file. load_model refuses each with a message naming the value.
#include <sys/stat.h>

#include <cmath>
#include <limits>

#include "hostile/hostile.hpp"

using nlohmann::json;
using recur::Error;
using recur::Sequential;
using recur::Tensor;
using recur::testing::rewrite_model_file;
using recur::testing::ScratchDir;
using recur::testing::small_model;

namespace {

struct Case {
    const char* what;
    std::function<void(json& meta)> change;
    const char* message;
};

void check_cases(const Sequential& model, bool checkpoint, std::initializer_list<Case> cases) {
    ScratchDir dir;
    const std::string path = dir / "hostile.safetensors";
    for (const Case& c : cases) {
        CAPTURE(c.what);
        rewrite_model_file(model, path, checkpoint, c.change);
        CHECK_THROWS_WITH_AS(recur::load_model(path), doctest::Contains(c.message), Error);
    }
}

json& layer(json& meta, std::size_t i) { return meta["architecture"]["layers"][i]; }

}  // namespace

TEST_CASE("hostile numbers and types in a model file's architecture are refused before anything is built") {
    const Sequential model = small_model();
    const std::uint64_t huge = std::numeric_limits<std::uint64_t>::max();
    check_cases(model, false, {
        {"negative units", [](json& m) { layer(m, 0)["units"] = -1; },
         "layer 0: expected \"units\" to be a whole number from 1 to 1099511627776, got -1"},
        {"fractional units", [](json& m) { layer(m, 0)["units"] = 1.5; }, "expected \"units\" to be a whole number from 1 to 1099511627776, got 1.5"},
        {"units as text", [](json& m) { layer(m, 1)["units"] = "1"; }, "layer 1: expected \"units\" to be a whole number from 1 to 1099511627776, got \"1\""},
        {"null units", [](json& m) { layer(m, 0)["units"] = nullptr; }, "got null"},
        {"zero units", [](json& m) { layer(m, 0)["units"] = 0; }, "got 0"},
        {"units past 2^40", [&](json& m) { layer(m, 0)["units"] = huge; }, "got 18446744073709551615"},
        {"missing units", [](json& m) { layer(m, 0).erase("units"); }, "layer 0: expected a value for \"units\", found none"},
        {"units too large for the file", [](json& m) { layer(m, 0)["units"] = 4000000; },
         "the architecture needs 16000008000005 weights but the file holds 29"},
        {"a negative input dimension", [](json& m) { layer(m, 0)["input_shape"] = json::array({-1, 1}); },
         "expected \"input_shape\" to be a list of at most 8 whole numbers from 1 to 1099511627776 or null (None), got [-1,1]"},
        {"None for the features", [](json& m) { layer(m, 0)["input_shape"] = json::array({5, nullptr}); },
         "layer 'rnn' takes None (any length) only for the time axis, the first of a sequence's, got (5, None)"},
        {"None for a Dense layer's only axis", [](json& m) { layer(m, 1)["input_shape"] = json::array({nullptr}); },
         "takes None (any length) only for the time axis"},
        {"a fractional timestep count", [](json& m) { layer(m, 0)["input_shape"] = json::array({2.5, 1}); }, "got [2.5,1]"},
        {"a zero dimension", [](json& m) { layer(m, 0)["input_shape"] = json::array({0, 1}); }, "got [0,1]"},
        {"nine dimensions", [](json& m) { layer(m, 1)["input_shape"] = json::array({1, 1, 1, 1, 1, 1, 1, 1, 1}); }, "got [1,1,1,1,1,1,1,1,1]"},
        {"a nested input shape", [](json& m) { layer(m, 0)["input_shape"] = json::array({json::array({5}), 1}); }, "got a nested list"},
        {"no input shape", [](json& m) { layer(m, 1)["input_shape"] = json::array(); }, "layer 1: expected a non-empty \"input_shape\""},
        {"an input shape that does not follow", [](json& m) { layer(m, 1)["input_shape"] = json::array({3}); },
         "layer 'head' expects input (None, 3) but layer 'rnn' gives (None, 4)"},
        {"a flag as text", [](json& m) { layer(m, 0)["use_bias"] = "yes"; }, "expected \"use_bias\" to be true or false, got \"yes\""},
        {"a flag as a number", [](json& m) { layer(m, 0)["return_sequences"] = 1; }, "expected \"return_sequences\" to be true or false, got 1"},
        // Keras settings recur does not have would change what the layer computes.
        {"a bias the architecture turned off", [](json& m) { layer(m, 0)["use_bias"] = false; },
         "the file holds a tensor 'rnn/bias' that the architecture does not use; expected only its layers' weights"},
        {"a layer renamed away from its weights", [](json& m) { layer(m, 1)["name"] = "other"; },
         "expected a tensor named 'other/kernel', found none"},
        {"an unknown setting", [](json& m) { layer(m, 0)["unroll"] = true; }, "layer 0: unknown key \"unroll\"; expected only"},
        {"a misspelt setting", [](json& m) { layer(m, 1)["activaton"] = "relu"; }, "layer 1: unknown key \"activaton\""},
        {"an unknown model setting", [](json& m) { m["architecture"]["time_major"] = true; },
         "the architecture: unknown key \"time_major\"; expected only \"layers\", \"name\""},
        {"an unknown activation", [](json& m) { layer(m, 0)["activation"] = "gelu"; }, "got \"gelu\""},
        {"softmax in the recurrence", [](json& m) { layer(m, 0)["activation"] = "softmax"; }, "got \"softmax\""},
        {"an unknown layer type", [](json& m) { layer(m, 0)["type"] = "Conv1D"; }, "layer 0: expected \"type\" to be one of SimpleRNN, LSTM, GRU, Dense, Embedding, Masking, Dropout, Bidirectional, got \"Conv1D\""},
        {"a layer that is not an object", [](json& m) { layer(m, 0) = "SimpleRNN"; }, "layer 0: expected a JSON object, got string"},
        {"an empty layer name", [](json& m) { layer(m, 0)["name"] = ""; }, "expected a non-empty UTF-8 name without '/'"},
        {"a layer name with a slash", [](json& m) { layer(m, 0)["name"] = "rnn/kernel"; }, "got \"rnn/kernel\""},
        {"two layers of one name", [](json& m) { layer(m, 1)["name"] = "rnn"; }, "the model already has a layer named 'rnn'"},
        {"no layers", [](json& m) { m["architecture"]["layers"] = json::array(); }, "expected a non-empty list of \"layers\""},
        {"layers that are not a list", [](json& m) { m["architecture"]["layers"] = json::object(); },
         "the architecture: expected \"layers\" to be a list, got an object"},
        {"a key named twice", [](json& m) { m["architecture"] = "{\"name\": \"a\", \"name\": \"b\", \"layers\": []}"; },
         "the architecture names \"name\" twice in one object; expected each key once"},
        {"no format version", [](json& m) { m.erase("format_version"); }, "expected format_version \"1\", found none"},
        {"a newer format version", [](json& m) { m["format_version"] = "2"; },
         "expected format_version \"1\", found \"2\"; a newer recur wrote it"},
        {"a model name that is not text", [](json& m) { m["architecture"]["name"] = 3; }, "expected \"name\" to be a string, got 3"},
        {"an architecture that is not JSON", [](json& m) { m["architecture"] = "{\"layers\": ["; },
         "the architecture is not valid JSON: parse error at line 1, column 13"},
        {"no format marker", [](json& m) { m.erase("format"); }, "expected a recur model"},
    });
}

TEST_CASE("an Embedding anywhere but first, and hostile Embedding sizes, are refused") {
    Sequential model;
    model.add(recur::Embedding(5, 3).name("ids").input_shape({4}));
    model.add(recur::SimpleRNN(2).name("rnn"));
    check_cases(model, false, {
        {"a negative input_dim", [](json& m) { layer(m, 0)["input_dim"] = -5; }, "expected \"input_dim\" to be a whole number from 1 to 1099511627776, got -5"},
        {"an output_dim too large for the file", [](json& m) { layer(m, 0)["output_dim"] = 1 << 20; }, "the architecture needs"},
        {"the Embedding second", [](json& m) { std::swap(layer(m, 0), layer(m, 1)); }, "can only be the first layer"},
        {"mask_zero as a number", [](json& m) { layer(m, 0)["mask_zero"] = 1; }, "expected \"mask_zero\" to be true or false, got 1"},
    });
}

TEST_CASE("a Masking layer anywhere but first, or with a mask value that is no finite number, is refused") {
    Sequential model;
    model.add(recur::Masking(-1.0f).name("mask").input_shape({recur::None, 2}));
    model.add(recur::LSTM(2).name("lstm"));
    check_cases(model, false, {
        {"a mask value as text", [](json& m) { layer(m, 0)["mask_value"] = "0"; }, "expected \"mask_value\" to be a number, got \"0\""},
        {"a mask value beyond float", [](json& m) { layer(m, 0)["mask_value"] = 1e300; }, "expected \"mask_value\" to be a finite float"},
        {"no mask value", [](json& m) { layer(m, 0).erase("mask_value"); }, "expected a value for \"mask_value\""},
        {"Masking second", [](json& m) {
             layer(m, 1) = layer(m, 0);
             layer(m, 1)["name"] = "mask2";
         },
         "layer 'mask2' (Masking) reads the mask from the model's input, so it can only be the first layer"},
    });
}

TEST_CASE("a Bidirectional layer around something else, or with a hostile merge mode, is refused") {
    Sequential model;
    model.add(recur::Bidirectional(recur::GRU(2).name("gru")).name("both").input_shape({4, 3}));
    model.add(recur::Dense(1).name("head"));
    check_cases(model, false, {
        {"a Dense layer inside", [](json& m) { layer(m, 0)["layer"] = layer(m, 1); }, "Bidirectional: expected a recurrent layer (SimpleRNN, LSTM or GRU), got \"Dense\""},
        {"a Bidirectional inside", [](json& m) { layer(m, 0)["layer"] = layer(m, 0); }, "expected a recurrent layer (SimpleRNN, LSTM or GRU), got \"Bidirectional\""},
        {"Bidirectional layers nested 100,000 deep", [](json& m) {  // written as text: a JSON printer recurses
             std::string nested = layer(m, 0)["layer"].dump();
             const std::string open = R"({"type":"Bidirectional","name":"b","input_shape":[4,3],"merge_mode":"sum","layer":)";
             std::string text;
             for (int i = 0; i < 100000; ++i) text += open;
             text += nested + std::string(100000, '}');
             json outer = layer(m, 0);
             outer.erase("layer");
             std::string first = outer.dump();
             first.insert(first.size() - 1, R"(,"layer":)" + text);
             m["architecture"] = R"({"name":"s","layers":[)" + first + "," + layer(m, 1).dump() + "]}";
         },
         "got \"Bidirectional\""},
        {"an inner layer of another input shape", [](json& m) { layer(m, 0)["layer"]["input_shape"] = json::array({5, 3}); },
         "the layer in it has input_shape (5, 3) but the Bidirectional (4, 3); expected the same"},
        {"no layer inside", [](json& m) { layer(m, 0).erase("layer"); }, "expected a value for \"layer\""},
        {"an unknown merge mode", [](json& m) { layer(m, 0)["merge_mode"] = "max"; }, "expected \"concat\", \"sum\", \"mul\" or \"ave\", got \"max\""},
        {"bad units inside", [](json& m) { layer(m, 0)["layer"]["units"] = -2; }, "the layer in a Bidirectional: expected \"units\" to be a whole number"},
        {"an unknown key inside", [](json& m) { layer(m, 0)["layer"]["unroll"] = true; }, "the layer in a Bidirectional: unknown key \"unroll\""},
        {"return_state inside", [](json& m) { layer(m, 0)["layer"]["return_state"] = true; }, "wraps a layer with return_state on"},
    });
}

TEST_CASE("hostile compile settings are refused with the setting named") {
    const Sequential model = small_model();
    check_cases(model, false, {
        {"a negative learning rate", [](json& m) { m["compile"]["optimizer"]["learning_rate"] = -1; },
         "Adam::learning_rate: expected a finite value > 0, got -1"},
        {"a learning rate as text", [](json& m) { m["compile"]["optimizer"]["learning_rate"] = "0.1"; },
         "the optimizer: expected \"learning_rate\" to be a number, got \"0.1\""},
        {"a learning rate beyond float", [](json& m) { m["compile"]["optimizer"]["learning_rate"] = 1e300; },
         "expected \"learning_rate\" to be a finite float, got 1e+300"},
        {"a beta of 1", [](json& m) { m["compile"]["optimizer"]["beta_1"] = 1; }, "Adam::beta_1: expected a value in [0, 1), got 1"},
        {"a missing epsilon", [](json& m) { m["compile"]["optimizer"].erase("epsilon"); }, "expected a value for \"epsilon\""},
        {"a negative clipnorm", [](json& m) { m["compile"]["optimizer"]["clipnorm"] = -2; }, "Adam::clipnorm: expected a finite value > 0, got -2"},
        {"an unknown optimizer", [](json& m) { m["compile"]["optimizer"]["name"] = "Adadelta"; },
         "expected \"SGD\", \"Adam\", \"AdamW\", \"RMSprop\", \"Adagrad\" or \"Nadam\", got \"Adadelta\""},
        {"a negative weight decay", [](json& m) { m["compile"]["optimizer"]["weight_decay"] = -0.1; },
         "Adam::weight_decay: expected a finite value >= 0, got -0.1"},
        {"an amsgrad that is not a boolean", [](json& m) { m["compile"]["optimizer"]["amsgrad"] = "yes"; },
         "expected \"amsgrad\" to be true or false"},
        {"an unknown schedule", [](json& m) { m["compile"]["optimizer"]["learning_rate"] = json{{"class_name", "InverseTimeDecay"}, {"config", json::object()}}; },
         "the learning-rate schedule: expected \"ExponentialDecay\", \"PiecewiseConstantDecay\" or \"CosineDecay\", got \"InverseTimeDecay\""},
        {"a schedule of zero decay steps", [](json& m) {
             m["compile"]["optimizer"]["learning_rate"] = json{{"class_name", "ExponentialDecay"},
                 {"config", {{"initial_learning_rate", 0.1}, {"decay_steps", 0}, {"decay_rate", 0.5}, {"staircase", false}}}}; },
         "expected \"decay_steps\" to be a whole number from 1"},
        {"a schedule with an unknown setting", [](json& m) {
             m["compile"]["optimizer"]["learning_rate"] = json{{"class_name", "CosineDecay"},
                 {"config", {{"initial_learning_rate", 0.1}, {"decay_steps", 10}, {"alpha", 0}, {"warmup_target", nullptr},
                             {"warmup_steps", 0}, {"name", "x"}}}}; },
         "unknown key \"name\""},
        {"piecewise values out of order with the boundaries", [](json& m) {
             m["compile"]["optimizer"]["learning_rate"] = json{{"class_name", "PiecewiseConstantDecay"},
                 {"config", {{"boundaries", {10, 5}}, {"values", {1.0, 0.5, 0.1}}}}}; },
         "PiecewiseConstantDecay: expected strictly increasing boundaries"},
        {"an unknown loss", [](json& m) { m["compile"]["loss"]["name"] = "hinge"; }, "got \"hinge\""},
        {"an unknown metric", [](json& m) { m["compile"]["metrics"] = json::array({"auc"}); }, "(or Keras's long names), got \"auc\""},
        {"metrics that are not a list", [](json& m) { m["compile"]["metrics"] = "accuracy"; },
         "the compile settings: expected \"metrics\" to be a list, got \"accuracy\""},
        {"no loss", [](json& m) { m["compile"].erase("loss"); }, "the compile settings: expected a value for \"loss\", found none"},
        {"an unknown optimizer setting", [](json& m) { m["compile"]["optimizer"]["use_ema"] = true; },
         "the optimizer: unknown key \"use_ema\""},
        {"an unknown loss setting", [](json& m) { m["compile"]["loss"]["label_smoothing"] = 0.1; },
         "the loss: unknown key \"label_smoothing\""},
        {"an unknown compile setting", [](json& m) { m["compile"]["weighted_metrics"] = json::array(); },
         "the compile settings: unknown key \"weighted_metrics\""},
        {"a metric that is not text", [](json& m) { m["compile"]["metrics"] = json::array({1}); }, "expected metric names as strings"},
        {"user metadata that is not an object", [](json& m) { m["user_metadata"] = json::array({1}); }, "expected an object of strings"},
        {"user metadata that is not text", [](json& m) { m["user_metadata"] = json{{"k", 1}}; }, "expected \"k\" to be a string"},
    });
}

TEST_CASE("a hostile checkpoint is refused: counters, generator and optimizer state") {
    Sequential model = small_model();
    Tensor x({6, 5, 1}), y({6});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.3f * static_cast<float>(i));
    model.fit(x, y, recur::FitOptions().epochs(1).verbose(0));
    check_cases(model, true, {
        {"a negative epoch count", [](json& m) { m["epochs_done"] = "-1"; },
         "the checkpoint is malformed: expected the checkpoint counter \"epochs_done\" to be a whole number, got \"-1\""},
        {"an epoch count past 2^64", [](json& m) { m["epochs_done"] = "18446744073709551616"; }, "got \"18446744073709551616\""},
        {"a fractional step count", [](json& m) { m["optimizer_iterations"] = "2.5"; }, "\"optimizer_iterations\" to be a whole number, got \"2.5\""},
        {"a missing step count", [](json& m) { m.erase("optimizer_iterations"); }, "expected a checkpoint counter \"optimizer_iterations\", found none"},
        {"a damaged generator", [](json& m) { m["generator"] = "12 abc"; }, "the generator's state is malformed"},
        {"a checkpoint without compile settings", [](json& m) { m.erase("compile"); }, "a checkpoint must hold compile settings"},
        {"an optimizer state in a plain model file", [](json& m) { m.erase("epochs_done"); },
         "the file holds a tensor 'optimizer/state' that the architecture does not use"},
        {"a step count past 2^53", [](json& m) { m["optimizer_iterations"] = "18446744073709551615"; },
         "Adam::set_state: expected a step count <= 9007199254740992, got 18446744073709551615"},
    });
}

TEST_CASE("a checkpoint whose optimizer state does not fit the model, or weights that are not finite, are refused") {
    ScratchDir dir;
    Sequential model = small_model();
    Tensor x({6, 5, 1}), y({6});
    model.fit(x, y, recur::FitOptions().epochs(1).verbose(0));
    const std::string good = dir / "good.safetensors", bad = dir / "bad.safetensors";
    model.save_checkpoint(good);
    auto rewrite = [&](const std::string& name, const Tensor& replacement) {
        recur::detail::Safetensors file = recur::detail::read_safetensors(good, "test");
        std::vector<std::pair<std::string, const Tensor*>> tensors;
        for (const auto& [key, tensor] : file.tensors) tensors.emplace_back(key, key == name ? &replacement : &tensor);
        recur::detail::write_safetensors(bad, tensors, file.metadata, "test");
    };
    rewrite("optimizer/state", Tensor(recur::Shape{7}));
    CHECK_THROWS_WITH_AS(recur::load_model(bad),
                         doctest::Contains("Adam::set_state: expected 58 floats of state for 29 parameters (or none), got 7"), Error);
    // Adam's second moments (the state's second half) are means of squares.
    Tensor state = recur::detail::read_safetensors(good, "test").at("optimizer/state");
    state.data()[40] = -1.0f;
    rewrite("optimizer/state", state);
    CHECK_THROWS_WITH_AS(recur::load_model(bad),
                         doctest::Contains("Adam::set_state: expected running means of squared gradients >= 0"), Error);
    state.data()[40] = 1.0f;
    state.data()[3] = -1.0f;  // a first moment may be negative
    rewrite("optimizer/state", state);
    CHECK_NOTHROW(recur::load_model(bad));
    Tensor kernel = model.layer(0).get_weights()[0];
    kernel(0, 2) = std::numeric_limits<float>::quiet_NaN();
    rewrite("rnn/kernel", kernel);
    CHECK_THROWS_WITH_AS(recur::load_model(bad),
                         doctest::Contains("Layer::set_weights: layer 'rnn' expects finite values, but kernel holds nan at index 2"),
                         Error);
}

TEST_CASE("load_model refuses what is not a regular file without blocking or reading forever") {
    ScratchDir dir;
    const std::string fifo = dir / "pipe";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK_THROWS_WITH_AS(recur::load_model(fifo), doctest::Contains(("load_model: '" + fifo + "' is a FIFO; expected a safetensors file").c_str()), Error);
    CHECK_THROWS_WITH_AS(recur::load_model("/dev/zero"), doctest::Contains("'/dev/zero' is a character device"), Error);
    CHECK_THROWS_WITH_AS(recur::load_model(dir.path().string()), doctest::Contains("is a directory"), Error);
    CHECK_THROWS_WITH_AS(recur::load_model(""), "load_model: expected a file path, got an empty one", Error);
    CHECK_THROWS_WITH_AS(recur::load_model("/proc/self/status"),
                         doctest::Contains("expected at least 8 bytes (the header length), the file has 0"), Error);
    CHECK_THROWS_WITH_AS(recur::read_csv(fifo), doctest::Contains(("read_csv: '" + fifo + "' is a FIFO; expected a CSV file").c_str()), Error);
    CHECK_THROWS_WITH_AS(recur::read_csv("/dev/zero"), doctest::Contains("is a character device"), Error);
    CHECK_THROWS_WITH_AS(recur::read_idx(fifo), doctest::Contains("expected an IDX file"), Error);
}

TEST_CASE("a safetensors header with hostile lengths and shapes is refused") {
    ScratchDir dir;
    const std::string path = dir / "bytes.safetensors";
    auto load_bytes = [&](const std::string& bytes) {
        std::ofstream(path, std::ios::binary) << bytes;
        return recur::load_model(path);
    };
    auto with_header = [](const std::string& header) {
        std::string out(8, '\0');
        for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(header.size() >> (8 * i));
        return out + header;
    };
    CHECK_THROWS_WITH_AS(load_bytes(std::string("\xff\xff\xff\xff\xff\xff\xff\xff{}", 10)),
                         doctest::Contains("the header claims 18446744073709551615 bytes but only 2 follow"), Error);
    CHECK_THROWS_WITH_AS(load_bytes(with_header(R"({"t":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}})") + "abcd"),
                         doctest::Contains("tensor 't' has 9 dimensions, at most 8 are supported"), Error);
    CHECK_THROWS_WITH_AS(load_bytes(with_header(R"({"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})") + "abcd"),
                         doctest::Contains("has a dimension that is not a non-negative integer"), Error);
    CHECK_THROWS_WITH_AS(load_bytes(with_header(R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})") + "abcd"),
                         doctest::Contains("has data_offsets [4, 0] outside the 4 data bytes"), Error);
    CHECK_THROWS_WITH_AS(load_bytes(with_header(R"({"__metadata__":{"format":3}})")),
                         doctest::Contains("__metadata__ 'format' must be a string"), Error);
    CHECK_THROWS_WITH_AS(load_bytes(with_header(std::string(100000, '[') + std::string(100000, ']'))),
                         doctest::Contains("the header must be a JSON object"), Error);
}

TEST_CASE("tensors that overlap or leave bytes over, an optimizer state of the wrong rank and a damaged generator are refused") {
    ScratchDir dir;
    const std::string path = dir / "bytes.safetensors";
    auto load_bytes = [&](const std::string& header, const std::string& data) {
        std::string out(8, '\0');
        for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(header.size() >> (8 * i));
        std::ofstream(path, std::ios::binary) << out + header + data;
        return recur::load_model(path);
    };
    CHECK_THROWS_WITH_AS(load_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                                    "abcd"),
                         doctest::Contains("tensor 'b' starts at data byte 0 where 4 was expected: the tensors must cover the "
                                           "data exactly, without overlaps or gaps"),
                         Error);
    CHECK_THROWS_WITH_AS(load_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", "abcdefgh"),
                         doctest::Contains("the tensors cover 4 of the 8 data bytes; expected all of them"), Error);
    CHECK_THROWS_WITH_AS(load_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                                    "abcd"),
                         doctest::Contains("the header names \"a\" twice in one object; expected each key once"), Error);
    std::string nested = "\"t\":{\"dtype\":" + std::string(100000, '[') + std::string(100000, ']') + ",\"shape\":[1],\"data_offsets\":[0,4]}";
    CHECK_THROWS_WITH_AS(load_bytes("{" + nested + "}", "abcd"),
                         doctest::Contains("tensor 't' has dtype of JSON type array, expected \"F32\""), Error);
    CHECK_THROWS_WITH_AS(load_bytes(R"({"t":{"dtype":")" + std::string(10000, 'x') + R"(","shape":[1],"data_offsets":[0,4]}})", "abcd"),
                         doctest::Contains("tensor 't' has dtype of JSON type string, expected \"F32\""), Error);

    Sequential model = recur::testing::small_model();
    model.train_on_batch(Tensor({2, 5, 1}), Tensor({2}));
    const std::string good = dir / "good.safetensors", bad = dir / "bad.safetensors";
    model.save_checkpoint(good);
    recur::detail::Safetensors file = recur::detail::read_safetensors(good, "test");
    const Tensor& state = file.at("optimizer/state");
    const Tensor square = state.reshape(recur::Shape{2, state.size() / 2});
    std::vector<std::pair<std::string, const Tensor*>> tensors;
    for (const auto& [key, tensor] : file.tensors) tensors.emplace_back(key, key == "optimizer/state" ? &square : &tensor);
    recur::detail::write_safetensors(bad, tensors, file.metadata, "test");
    CHECK_THROWS_WITH_AS(recur::load_model(bad), doctest::Contains("expected 'optimizer/state' to be a flat list, found shape (2, 29)"),
                         Error);
    for (const std::string& generator : {file.metadata.at("generator") + " 7", std::string(313 * 2, ' ')}) {
        auto metadata = file.metadata;
        metadata["generator"] = generator;
        tensors.clear();
        for (const auto& [key, tensor] : file.tensors) tensors.emplace_back(key, &tensor);
        recur::detail::write_safetensors(bad, tensors, metadata, "test");
        CHECK_THROWS_WITH_AS(recur::load_model(bad), doctest::Contains("the generator's state is malformed"), Error);
    }
    std::string zeros;
    for (int i = 0; i < 312; ++i) zeros += "0 ";
    auto metadata = file.metadata;
    metadata["generator"] = zeros + "312";
    recur::detail::write_safetensors(bad, tensors, metadata, "test");
    CHECK_THROWS_WITH_AS(recur::load_model(bad), doctest::Contains("the generator's state is malformed (all zero)"), Error);
}
