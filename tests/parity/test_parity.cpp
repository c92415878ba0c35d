// recur against PyTorch: the fixtures in parity/fixtures hold, for models of a SimpleRNN, or
// a stack of LSTM and GRU layers, then a Dense head and a loss (MSE, and each crossentropy
// with its softmax or sigmoid head), computed by PyTorch in float64 (see make_fixtures.py),
// the forward output, the loss, every weight gradient and the weights after five Adam steps.
// Every instruction set this CPU has, with 1 and 2 threads, must reproduce them.
//
// Tolerance, as max |recur - PyTorch| / max |PyTorch| per tensor: 1e-5 for the output and
// the loss, 1e-4 for gradients and weights. recur computes in float32: a length-K dot product
// carries about sqrt(K) * 6e-8 relative error, and up to 60 timesteps of recurrence compound
// it, which stays below 1e-5 for the forward pass; backward passes and Adam (whose
// m / sqrt(v) amplifies the error of small gradients) lose about one more digit.
//
// Where recur and PyTorch differ by design, the fixtures follow Keras:
// - Keras's SimpleRNN and LSTM have one bias; PyTorch's two are mapped as b = bias_ih + bias_hh,
//   bias_hh = 0. Keras's GRU (reset_after) keeps both, as the rows of its (2, 3 units) bias,
//   and orders its gates z, r, h where PyTorch's are r, z, n.
// - GRU with reset_after off has no PyTorch module: its fixtures come from the same formulas
//   written out in float64 torch tensors, differentiated by autograd (and checked, in the
//   script, against torch.nn.GRU and torch.nn.LSTM where those exist).
// - Keras's Adam puts epsilon outside the bias correction (lr_t m / (sqrt(v) + eps)); the script emulates it.
//   The optimizer_* fixtures step with torch.optim itself (AdamW, Adam with amsgrad, Adagrad, SGD
//   with weight decay or Nesterov momentum), with settings under which Keras's and PyTorch's
//   rules agree (see OPTIMIZER_CONFIGS in the script); Nadam's and RMSprop's steps are Keras's
//   formulas written out (PyTorch 1.13's NAdam miscounts its momentum product, and its RMSprop
//   adds epsilon after the root where Keras 3 adds it under).
// - Keras initialises the recurrent kernel orthogonally; the fixtures carry their own weights instead.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include <recur/recur.hpp>

#include "io/safetensors.hpp"
#include "optim/optimizer_config.hpp"
#include "kernels/kernels.hpp"
#include "support/probe.hpp"

namespace {

float relative_error(const float* got, const recur::Tensor& want) {
    float worst = 0.0f, scale = 0.0f;
    for (std::size_t i = 0; i < want.size(); ++i) {
        worst = std::max(worst, std::abs(got[i] - want.data()[i]));
        scale = std::max(scale, std::abs(want.data()[i]));
    }
    return scale > 0.0f ? worst / scale : worst;
}

// The fixture's loss (see HEADS in make_fixtures.py) as recur spells it.
std::unique_ptr<recur::Loss> make_loss(const std::string& kind) {
    if (kind == "mse") return std::make_unique<recur::MSE>();
    if (kind == "sparse_softmax") return std::make_unique<recur::SparseCategoricalCrossentropy>();
    if (kind == "sparse_logits") return recur::SparseCategoricalCrossentropy().from_logits(true).clone();
    if (kind == "categorical_softmax") return std::make_unique<recur::CategoricalCrossentropy>();
    if (kind == "binary_sigmoid") return std::make_unique<recur::BinaryCrossentropy>();
    throw std::runtime_error("unknown fixture loss " + kind);
}

std::vector<std::filesystem::path> fixture_files() {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(RECUR_PARITY_FIXTURES))
        if (entry.path().extension() == ".safetensors") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    return files;
}

// The fixture's recurrent layers: one SimpleRNN (the metadata's units, activation, ...), or
// the stack its "layers" lists (LSTM, GRU, GRU with reset_after off), named as the file names
// their weights.
std::vector<std::string> add_recurrent_layers(recur::Sequential& model, const std::map<std::string, std::string>& meta) {
    const std::size_t T = std::stoul(meta.at("timesteps")), D = std::stoul(meta.at("features"));
    if (!meta.contains("layers")) {
        model.add(recur::SimpleRNN(std::stoul(meta.at("units")))
                      .name("simple_rnn")
                      .activation(meta.at("activation"))
                      .return_sequences(meta.at("return_sequences") == "true")
                      .go_backwards(meta.at("go_backwards") == "true")
                      .input_shape({T, D}));
        return {"simple_rnn"};
    }
    std::vector<std::string> names;
    const bool masking = meta.contains("masking");  // Keras's Masking(0): x is zero on masked steps
    if (masking) model.add(recur::Masking(0.0f).input_shape({T, D}));
    for (const auto& layer : nlohmann::json::parse(meta.at("layers"))) {
        const std::string cell = layer.at("cell"), name = layer.at("name");
        const std::size_t units = layer.at("units");
        const bool sequences = layer.at("return_sequences"), backwards = layer.at("go_backwards");
        const recur::Shape input = names.empty() && !masking ? recur::Shape{T, D} : recur::Shape{};
        // A Bidirectional layer's weights are <its name>/forward_<cell>/..., then backward_.
        const bool wrapped = layer.contains("merge_mode");
        const std::string own_name = wrapped ? (cell == "lstm" ? "lstm" : "gru") : name;
        std::unique_ptr<recur::Recurrent> recurrent;
        if (cell == "lstm") {
            recur::LSTM lstm(units);
            lstm.name(own_name).return_sequences(sequences).go_backwards(backwards);
            if (input.rank() && !wrapped) lstm.input_shape(input);
            recurrent = std::make_unique<recur::LSTM>(lstm);
        } else {
            recur::GRU gru(units);
            gru.name(own_name).reset_after(cell == "gru").return_sequences(sequences).go_backwards(backwards);
            if (input.rank() && !wrapped) gru.input_shape(input);
            recurrent = std::make_unique<recur::GRU>(gru);
        }
        if (wrapped) {
            recur::Bidirectional both(*recurrent);
            both.name(name).merge_mode(layer.at("merge_mode").get<std::string>());
            if (input.rank()) both.input_shape(input);
            model.add(both);
        } else {
            model.add(*recurrent);
        }
        names.push_back(name);
    }
    return names;
}

void check_fixture(const recur::detail::Safetensors& f) {
    const auto& meta = f.metadata;
    recur::Sequential model;
    const std::vector<std::string> recurrent = add_recurrent_layers(model, meta);
    model.add(recur::Dense(std::stoul(meta.at("dense_units"))).name("dense").activation(meta.at("dense_activation")));
    const std::unique_ptr<recur::Loss> loss = make_loss(meta.at("loss"));
    // Five Keras-form Adam steps ("adam5/"), or five of the optimizer the metadata names ("opt5/").
    const bool other_optimizer = meta.contains("optimizer");
    const std::string steps = other_optimizer ? "opt5/" : "adam5/";
    if (other_optimizer)
        model.compile(*recur::detail::optimizer_from_config(nlohmann::json::parse(meta.at("optimizer"))), *loss);
    else
        model.compile(recur::Adam()
                          .learning_rate(std::stof(meta.at("learning_rate")))
                          .beta_1(std::stof(meta.at("beta_1")))
                          .beta_2(std::stof(meta.at("beta_2")))
                          .epsilon(std::stof(meta.at("epsilon"))),
                      *loss);
    // Every weight of the model in Keras order, as the file names them.
    std::vector<std::string> weight_names;
    for (const auto& layer : model.layers())
        for (const std::string& weight : layer->weight_names()) weight_names.push_back(layer->name() + "/" + weight);
    for (const auto& layer : model.layers()) {
        std::vector<recur::Tensor> values;
        for (const std::string& weight : layer->weight_names()) values.push_back(f.at(layer->name() + "/" + weight));
        layer->set_weights(values);
    }
    const recur::Tensor& x = f.at("x");
    const recur::Tensor& y = f.at("y");

    const recur::Tensor output = model.predict(x, 64);
    CHECK(relative_error(output.data(), f.at("output")) < 1e-5f);

    // With sample weights, the loss and the Adam steps through the public calls (the steps
    // follow the gradients to 1e-4).
    const bool weighted = std::any_of(f.tensors.begin(), f.tensors.end(), [](const auto& t) { return t.first == "sample_weight"; });
    const recur::Tensor weights = weighted ? f.at("sample_weight") : recur::Tensor();
    if (weighted) {
        const float value = model.evaluate(x, y, 64, weights);
        CHECK(relative_error(&value, f.at("loss")) < 1e-5f);
    }
    recur::testing::Probe probe(model, *loss, x, y);
    std::vector<float> grads;
    const float loss_value = probe.loss(&grads);
    if (!weighted) {
        CHECK(relative_error(&loss_value, f.at("loss")) < 1e-5f);
        const float* g = grads.data();
        for (const std::string& name : weight_names) {
            const recur::Tensor& want = f.at("grad/" + name);
            CAPTURE(name);
            CHECK(relative_error(g, want) < 1e-4f);
            g += want.size();
        }
    }

    std::vector<float> losses;
    for (int step = 0; step < 5; ++step) losses.push_back(model.train_on_batch(x, y, weights));
    CHECK(relative_error(losses.data(), f.at(steps + "losses")) < 1e-4f);
    for (const auto& layer : model.layers()) {
        const std::vector<recur::Tensor> after = layer->get_weights();
        const std::vector<std::string> names = layer->weight_names();
        for (std::size_t w = 0; w < after.size(); ++w) {
            const std::string weight = layer->name() + "/" + names[w];
            CAPTURE(weight);
            CHECK(relative_error(after[w].data(), f.at(steps + weight)) < 1e-4f);
        }
    }
}

}  // namespace

TEST_CASE("PyTorch parity on every fixture, every instruction set, 1 and 2 threads") {
    const auto files = fixture_files();
    REQUIRE(files.size() >= 83);
    const std::size_t threads_before = recur::num_threads();
    const recur::kernels::Table& table_before = recur::kernels::active();
    for (const recur::kernels::Table* table : recur::kernels::supported())
        for (std::size_t threads : {1, 2}) {
            recur::kernels::set_active(*table);
            recur::set_num_threads(threads);
            for (const auto& path : files) {
                const std::string isa = table->isa;
                CAPTURE(isa);
                CAPTURE(threads);
                CAPTURE(path.filename().string());
                check_fixture(recur::detail::read_safetensors(path.string(), "test"));
            }
        }
    recur::kernels::set_active(table_before);
    recur::set_num_threads(threads_before);
}
