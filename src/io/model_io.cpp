// Model files: safetensors with the weights named as Keras names them ("simple_rnn/kernel")
// and, in the metadata, the architecture and compile settings as JSON text. A checkpoint adds
// the optimizer's flat state, the epochs done and the random generator's state.
#include <recur/io.hpp>

#include <sstream>

#include <nlohmann/json.hpp>

#include "io/safetensors.hpp"
#include "model/sequential_impl.hpp"
#include "random.hpp"

namespace recur {

namespace {

using nlohmann::json;
constexpr int kFormatVersion = 1;

json layer_config(const Layer& layer) {
    if (const auto* rnn = dynamic_cast<const SimpleRNN*>(&layer))
        return {{"type", "SimpleRNN"},          {"name", rnn->name()},
                {"units", rnn->units()},        {"activation", activation_name(rnn->activation())},
                {"use_bias", rnn->use_bias()},  {"return_sequences", rnn->return_sequences()},
                {"go_backwards", rnn->go_backwards()}, {"input_shape", rnn->input_shape().dims()}};
    if (const auto* dense = dynamic_cast<const Dense*>(&layer))
        return {{"type", "Dense"},          {"name", dense->name()},
                {"units", dense->units()},  {"activation", activation_name(dense->activation())},
                {"use_bias", dense->use_bias()}, {"input_shape", dense->input_shape().dims()}};
    if (const auto* embedding = dynamic_cast<const Embedding*>(&layer))
        return {{"type", "Embedding"},
                {"name", embedding->name()},
                {"input_dim", embedding->input_dim()},
                {"output_dim", embedding->output_dim()},
                {"input_shape", embedding->input_shape().dims()}};
    throw Error(std::string("Sequential::save: layer type ") + layer.type_name() + " cannot be saved");
}

json optimizer_config(const Optimizer& opt) {
    json config{{"name", opt.name()},
                {"learning_rate", opt.learning_rate()},
                {"clipnorm", opt.clipnorm()},
                {"global_clipnorm", opt.global_clipnorm()},
                {"clipvalue", opt.clipvalue()}};
    if (const auto* sgd = dynamic_cast<const SGD*>(&opt)) {
        config["momentum"] = sgd->momentum();
        config["nesterov"] = sgd->nesterov();
    } else if (const auto* adam = dynamic_cast<const Adam*>(&opt)) {
        config["beta_1"] = adam->beta_1();
        config["beta_2"] = adam->beta_2();
        config["epsilon"] = adam->epsilon();
    } else if (const auto* rms = dynamic_cast<const RMSprop*>(&opt)) {
        config["rho"] = rms->rho();
        config["epsilon"] = rms->epsilon();
    }
    return config;
}

json loss_config(const Loss& loss) {
    json config{{"name", loss.name()}};
    if (const auto* huber = dynamic_cast<const Huber*>(&loss)) config["delta"] = huber->delta();
    if (const auto* sparse = dynamic_cast<const SparseCategoricalCrossentropy*>(&loss)) config["from_logits"] = sparse->from_logits();
    if (const auto* categorical = dynamic_cast<const CategoricalCrossentropy*>(&loss))
        config["from_logits"] = categorical->from_logits();
    if (const auto* binary = dynamic_cast<const BinaryCrossentropy*>(&loss)) config["from_logits"] = binary->from_logits();
    return config;
}

std::map<std::string, std::string> model_metadata(const Sequential& model) {
    json layers = json::array();
    for (const auto& layer : model.layers()) layers.push_back(layer_config(*layer));
    std::map<std::string, std::string> metadata{
        {"format", "recur"},
        {"format_version", std::to_string(kFormatVersion)},
        {"architecture", json{{"name", model.name()}, {"layers", layers}}.dump()}};
    if (model.compiled())
    {
        const auto names = model.metrics_names();  // "loss" first
        metadata["compile"] = json{{"optimizer", optimizer_config(model.optimizer())},
                                   {"loss", loss_config(model.loss())},
                                   {"metrics", std::vector<std::string>(names.begin() + 1, names.end())}}
                                  .dump();
    }
    return metadata;
}

// The settings every optimizer shares; a clipping of 0 means off and is left unset.
template <class Concrete>
std::unique_ptr<Optimizer> with_common_settings(Concrete optimizer, const json& c) {
    optimizer.learning_rate(c.at("learning_rate"));
    if (const float v = c.value("clipnorm", 0.0f); v != 0.0f) optimizer.clipnorm(v);
    if (const float v = c.value("global_clipnorm", 0.0f); v != 0.0f) optimizer.global_clipnorm(v);
    if (const float v = c.value("clipvalue", 0.0f); v != 0.0f) optimizer.clipvalue(v);
    return optimizer.clone();
}

std::unique_ptr<Optimizer> make_optimizer(const json& c) {
    const std::string name = c.at("name");
    if (name == "SGD") return with_common_settings(SGD().momentum(c.at("momentum")).nesterov(c.at("nesterov")), c);
    if (name == "Adam")
        return with_common_settings(Adam().beta_1(c.at("beta_1")).beta_2(c.at("beta_2")).epsilon(c.at("epsilon")), c);
    if (name == "RMSprop") return with_common_settings(RMSprop().rho(c.at("rho")).epsilon(c.at("epsilon")), c);
    throw Error("unknown optimizer \"" + name + "\"");
}

std::unique_ptr<Loss> make_loss(const json& c) {
    std::unique_ptr<Loss> loss = recur::make_loss(c.at("name").get<std::string>());
    if (auto* huber = dynamic_cast<Huber*>(loss.get()); huber && c.contains("delta")) huber->delta(c["delta"]);
    const bool logits = c.value("from_logits", false);
    if (auto* sparse = dynamic_cast<SparseCategoricalCrossentropy*>(loss.get())) sparse->from_logits(logits);
    if (auto* categorical = dynamic_cast<CategoricalCrossentropy*>(loss.get())) categorical->from_logits(logits);
    if (auto* binary = dynamic_cast<BinaryCrossentropy*>(loss.get())) binary->from_logits(logits);
    return loss;
}

std::unique_ptr<Layer> make_layer(const json& c) {
    const std::string type = c.at("type");
    const std::vector<std::size_t> input = c.at("input_shape");
    if (type == "SimpleRNN") {
        SimpleRNN rnn(c.at("units").get<std::size_t>());
        rnn.name(c.at("name")).activation(c.at("activation").get<std::string>()).use_bias(c.at("use_bias"));
        rnn.return_sequences(c.at("return_sequences")).go_backwards(c.at("go_backwards"));
        if (!input.empty()) rnn.input_shape(Shape(input));
        return rnn.clone();
    }
    if (type == "Dense") {
        Dense dense(c.at("units").get<std::size_t>());
        dense.name(c.at("name")).activation(c.at("activation").get<std::string>()).use_bias(c.at("use_bias"));
        if (!input.empty()) dense.input_shape(Shape(input));
        return dense.clone();
    }
    if (type == "Embedding") {
        Embedding embedding(c.at("input_dim").get<std::size_t>(), c.at("output_dim").get<std::size_t>());
        embedding.name(c.at("name"));
        if (!input.empty()) embedding.input_shape(Shape(input));
        return embedding.clone();
    }
    throw Error("unknown layer type \"" + type + "\"");
}

// The number of weights a saved layer config asks for (as a double: no overflow).
double weight_count(const json& c) {
    const std::string type = c.at("type");
    const std::vector<std::size_t> input = c.at("input_shape");
    if (type == "Embedding") return c.at("input_dim").get<double>() * c.at("output_dim").get<double>();
    const double units = c.at("units").get<double>(), bias = c.at("use_bias").get<bool>() ? units : 0.0;
    const double in = input.empty() ? 0.0 : static_cast<double>(input.back());
    return type == "SimpleRNN" ? in * units + units * units + bias : in * units + bias;
}

void write_model(const Sequential& model, const std::string& path, bool checkpoint) {
    if (!model.built()) throw Error("Sequential::save: the model has no input shape yet, so it has no weights to save");
    std::vector<Tensor> weights;  // owned here, written in Keras order
    std::vector<std::pair<std::string, const Tensor*>> tensors;
    for (const auto& layer : model.layers()) {
        const auto names = layer->weight_names();
        auto values = layer->get_weights();
        for (std::size_t i = 0; i < names.size(); ++i) {
            weights.push_back(std::move(values[i]));
            tensors.emplace_back(layer->name() + "/" + names[i], nullptr);
        }
    }
    auto metadata = model_metadata(model);
    Tensor optimizer_state;
    if (checkpoint) {
        const Optimizer& optimizer = model.optimizer();  // throws unless compiled
        const auto state = optimizer.state();
        optimizer_state = Tensor(Shape{state.size()}, std::vector<float>(state.begin(), state.end()));
        tensors.emplace_back("optimizer/state", &optimizer_state);
        std::ostringstream generator;
        generator << detail::generator();
        metadata["epochs_done"] = std::to_string(model.epochs_done());
        metadata["optimizer_iterations"] = std::to_string(optimizer.iterations());
        metadata["generator"] = generator.str();
    }
    for (std::size_t i = 0; i < weights.size(); ++i) tensors[i].second = &weights[i];
    detail::write_safetensors(path, tensors, metadata);
}

}  // namespace

void Sequential::save(const std::string& path) const { write_model(*this, path, false); }
void Sequential::save_checkpoint(const std::string& path) const { write_model(*this, path, true); }

Sequential load_model(const std::string& path) {
    const detail::Safetensors file = detail::read_safetensors(path);
    auto fail = [&](const std::string& what) -> Error { return Error("load_model: '" + path + "': " + what); };
    const auto& meta = file.metadata;
    if (!meta.contains("format") || meta.at("format") != "recur" || !meta.contains("architecture"))
        throw fail("expected a recur model (metadata \"format\": \"recur\" and an architecture), found none");
    json architecture, compile;
    double needed = 0.0;
    try {
        architecture = json::parse(meta.at("architecture"));
        if (meta.contains("compile")) compile = json::parse(meta.at("compile"));
        for (const auto& layer : architecture.at("layers")) needed += weight_count(layer);
    } catch (const json::exception& e) {
        throw fail(std::string("the architecture in the metadata is malformed: ") + e.what());
    }
    // Building allocates the weights: check first that the file holds that many floats, so
    // that a hostile architecture cannot make us allocate more than the file's size.
    double held = 0.0;
    for (const auto& [name, tensor] : file.tensors) held += static_cast<double>(tensor.size());
    if (needed > held)
        throw fail("the architecture needs " + std::to_string(static_cast<unsigned long long>(needed)) +
                   " weights but the file holds " + std::to_string(static_cast<unsigned long long>(held)));
    Sequential model;
    try {
        model = Sequential(architecture.at("name").get<std::string>());
        for (const auto& layer : architecture.at("layers")) model.add(*make_layer(layer));
        if (!compile.is_null())
            model.compile(*make_optimizer(compile.at("optimizer")), *make_loss(compile.at("loss")),
                          compile.value("metrics", std::vector<std::string>{}));
    } catch (const json::exception& e) {
        throw fail(std::string("the architecture in the metadata is malformed: ") + e.what());
    } catch (const Error& e) {
        throw fail(std::string("the architecture cannot be rebuilt: ") + e.what());
    }
    if (!model.built()) throw fail("the architecture has no input shape");
    for (const auto& layer : model.layers()) {
        std::vector<Tensor> weights;
        for (const std::string& name : layer->weight_names()) {
            try {
                weights.push_back(file.at(layer->name() + "/" + name));
            } catch (const Error&) {
                throw fail("expected a tensor named '" + layer->name() + "/" + name + "', found none");
            }
        }
        try {
            layer->set_weights(weights);
        } catch (const Error& e) {
            throw fail(e.what());
        }
    }
    if (meta.contains("epochs_done")) {
        Sequential::Impl& m = *model.impl_;
        if (!m.optimizer) throw fail("a checkpoint must hold compile settings");
        try {
            const Tensor& state = file.at("optimizer/state");
            m.optimizer->set_state({state.data(), state.size()}, std::stoull(meta.at("optimizer_iterations")));
            m.epochs_done = std::stoull(meta.at("epochs_done"));
            std::istringstream generator(meta.at("generator"));
            generator >> detail::generator();
            if (!generator) throw fail("the generator state is malformed");
        } catch (const std::logic_error&) {
            throw fail("the checkpoint's optimizer state or counters are malformed");
        }
    }
    return model;
}

}  // namespace recur
