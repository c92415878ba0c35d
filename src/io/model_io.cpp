// Model files: safetensors with the weights named as Keras names them ("simple_rnn/kernel")
// and, in the metadata, the architecture and compile settings as JSON text. A checkpoint adds
// the optimizer's flat state, the epochs done and the model's random generator.
#include <recur/io.hpp>

#include <charconv>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "config.hpp"
#include "errors.hpp"
#include "io/safetensors.hpp"
#include "layers/registry.hpp"
#include "losses/loss_config.hpp"
#include "model/metrics.hpp"
#include "model/sequential_impl.hpp"
#include "optim/optimizer_config.hpp"
#include "tensor/sizes.hpp"
#include "text.hpp"

namespace recur {

namespace {

using nlohmann::json;
using detail::ConfigReader;
constexpr int kFormatVersion = 1;

std::map<std::string, std::string> model_metadata(const Sequential& model) {
    json layers = json::array();
    for (const auto& layer : model.layers()) layers.push_back(detail::layer_config(*layer));
    std::map<std::string, std::string> metadata{
        {"format", "recur"},
        {"format_version", std::to_string(kFormatVersion)},
        {"architecture", json{{"name", model.name()}, {"layers", layers}}.dump()}};
    if (model.compiled()) {
        json metrics = json::array();
        for (const Metric& metric : model.metrics()) metrics.push_back(detail::metric_config(metric));
        metadata["compile"] = json{{"optimizer", detail::optimizer_config(model.optimizer())},
                                   {"loss", detail::loss_config(model.loss())},
                                   {"metrics", metrics}}
                                  .dump();
    }
    for (const auto& [key, value] : model.metadata())
        if (!detail::valid_utf8(key) || !detail::valid_utf8(value))
            throw Error("metadata \"" + detail::printable(key) + "\" is not valid UTF-8 text; a model file stores text only");
    if (!model.metadata().empty()) metadata["user_metadata"] = json(model.metadata()).dump();
    return metadata;
}

// A counter of the checkpoint's metadata: decimal digits only (std::stoull would take "-1").
std::size_t counter(const std::map<std::string, std::string>& metadata, const std::string& key) {
    const auto found = metadata.find(key);
    std::size_t value = 0;
    if (found == metadata.end()) throw Error("expected a checkpoint counter \"" + key + "\", found none");
    const std::string& text = found->second;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || end != text.data() + text.size())
        throw Error("expected the checkpoint counter \"" + key + "\" to be a whole number, got \"" +
                    detail::printable(text) + "\"");
    return value;
}

// A model file; a checkpoint when `generator` (the model's generator's state) is given.
// A generator's state as operator<< writes it: all of it, nothing after it, and not the
// all-zero state (from which a Mersenne twister gives zeros forever).
detail::Generator restore_generator(const std::string& text) {
    detail::Generator generator;
    std::istringstream in(text);
    in >> generator;
    if (!in || !(in >> std::ws).eof()) throw Error("the generator's state is malformed");
    detail::Generator probe = generator;
    bool all_zero = true;
    for (int i = 0; i < 16; ++i) all_zero = all_zero && probe() == 0;
    if (all_zero) throw Error("the generator's state is malformed (all zero)");
    return generator;
}

void write_model(const Sequential& model, const std::string& path, const std::optional<std::string>& generator,
                 const std::string& call) {
    const bool checkpoint = generator.has_value();
    if (!model.built()) throw Error(call + ": the model has no input shape yet, so it has no weights to save");
    if (checkpoint && !model.compiled())
        throw Error(call + ": a checkpoint holds the optimizer's state, so the model must be compiled first");
    std::vector<Tensor> weights;  // owned here, written in Keras order
    std::vector<std::pair<std::string, const Tensor*>> tensors;
    std::set<std::string> names_taken;
    for (const auto& layer : model.layers()) {
        if (!names_taken.insert(layer->name()).second)
            throw Error(call + ": two layers are named '" + layer->name() + "'; their weights would share names");
        const auto names = layer->weight_names();
        auto values = layer->get_weights();
        for (std::size_t i = 0; i < names.size(); ++i) {
            weights.push_back(std::move(values[i]));
            tensors.emplace_back(layer->name() + "/" + names[i], nullptr);
        }
    }
    std::map<std::string, std::string> metadata;
    try {
        metadata = model_metadata(model);
    } catch (const Error& e) {
        throw Error(call + ": " + e.what());
    }
    Tensor optimizer_state;
    if (checkpoint) {
        const Optimizer& optimizer = model.optimizer();
        const auto state = optimizer.state();
        optimizer_state = Tensor(Shape{state.size()}, std::vector<float>(state.begin(), state.end()));
        tensors.emplace_back("optimizer/state", &optimizer_state);
        metadata["epochs_done"] = std::to_string(model.epochs_done());
        metadata["optimizer_iterations"] = std::to_string(optimizer.iterations());
        metadata["generator"] = *generator;
    }
    for (std::size_t i = 0; i < weights.size(); ++i) tensors[i].second = &weights[i];
    detail::write_safetensors(path, tensors, metadata, call);
}

}  // namespace

void Sequential::save(const std::string& path) const {
    const std::string call = "Sequential::save";
    const Impl& m = impl("Sequential::save");
    detail::Occupancy::Hold hold(m.occupancy, detail::Access::read, call);
    detail::api_call(call, [&] { write_model(*this, path, std::nullopt, call); });
}

void Sequential::save_checkpoint(const std::string& path) const {
    const std::string call = "Sequential::save_checkpoint";
    const Impl& m = impl("Sequential::save_checkpoint");
    detail::Occupancy::Hold hold(m.occupancy, detail::Access::read, call);
    detail::api_call(call, [&] {
        std::ostringstream generator;  // the model's own, so that shuffles resume where they were
        generator << m.generator;
        write_model(*this, path, generator.str(), call);
    });
}

Sequential load_model(const std::string& path) {
    const std::string call = "load_model";
    return detail::api_call(call, [&] {
        const detail::Safetensors file = detail::read_safetensors(path, call);
        auto fail = [&](const std::string& what) { return Error(call + ": '" + detail::printable(path) + "': " + what); };
        const auto& meta = file.metadata;
        if (!meta.contains("format") || meta.at("format") != "recur" || !meta.contains("architecture"))
            throw fail("expected a recur model (metadata \"format\": \"recur\" and an architecture), found none");
        if (!meta.contains("format_version") || meta.at("format_version") != std::to_string(kFormatVersion))
            throw fail("expected format_version \"" + std::to_string(kFormatVersion) + "\", found " +
                       (meta.contains("format_version")
                            ? "\"" + detail::printable(meta.at("format_version")).substr(0, 20) + "\"; a newer recur wrote it"
                            : std::string("none")));

        // The architecture, layer by layer, with every number checked; no weights yet.
        std::string model_name;
        std::vector<std::unique_ptr<Layer>> layers;
        json compile;
        std::map<std::string, std::string> user_metadata;
        try {
            const json architecture = detail::parse_json(meta.at("architecture"), "the architecture");
            const ConfigReader a(architecture, "the architecture");
            model_name = a.string("name");
            const json& list = a.list("layers");
            if (list.empty()) throw Error("the architecture: expected a non-empty list of \"layers\"");
            for (std::size_t i = 0; i < list.size(); ++i) layers.push_back(detail::layer_from_config(list[i], "layer " + std::to_string(i)));
            a.check_all_read();
            if (meta.contains("compile")) compile = detail::parse_json(meta.at("compile"), "the compile settings");
            if (meta.contains("user_metadata")) {
                const json stored = detail::parse_json(meta.at("user_metadata"), "the user metadata");
                if (!stored.is_object()) throw Error("the user metadata: expected an object of strings");
                for (const auto& [key, value] : stored.items()) {
                    if (!value.is_string())
                        throw Error("the user metadata: expected \"" + detail::printable(key).substr(0, 60) +
                                    "\" to be a string");
                    user_metadata[key] = value.get<std::string>();
                }
            }
        } catch (const Error& e) {
            throw fail(e.what());
        }

        // Building allocates the weights: check first that the file holds that many floats,
        // so that a hostile architecture cannot make us allocate more than the file's size.
        std::size_t needed = 0, held = 0;
        try {
            for (const auto& layer : layers) needed = detail::add(needed, layer->count_params());
        } catch (const Error& e) {
            throw fail(e.what());
        }
        for (const auto& [name, tensor] : file.tensors) held = detail::add(held, tensor.size());
        if (needed > held)
            throw fail("the architecture needs " + std::to_string(needed) + " weights but the file holds " +
                       std::to_string(held));

        Sequential model;
        try {
            model = Sequential(model_name);
            for (const auto& layer : layers) model.add(*layer);
            if (!compile.is_null()) {
                const ConfigReader c(compile, "the compile settings");
                std::vector<Metric> metrics;
                for (const auto& metric : c.list("metrics")) metrics.push_back(detail::metric_from_config(metric));
                model.compile(*detail::optimizer_from_config(c.object("optimizer")),
                              *detail::loss_from_config(c.object("loss")), metrics);
                c.check_all_read();
            }
        } catch (const Error& e) {
            throw fail(std::string("the architecture cannot be rebuilt: ") + e.what());
        }
        std::set<std::string> used{"optimizer/state"};  // a checkpoint's; refused below when not one
        for (const auto& layer : model.layers()) {
            std::vector<Tensor> weights;
            for (const std::string& name : layer->weight_names()) {
                used.insert(layer->name() + "/" + name);
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
        // A tensor the architecture does not ask for (a bias beside use_bias false, a weight of
        // a layer it does not have) means the two disagree: loading would drop it silently.
        for (const auto& [name, tensor] : file.tensors)
            if (!used.contains(name) || (name == "optimizer/state" && !meta.contains("epochs_done")))
                throw fail("the file holds a tensor '" + detail::printable(name).substr(0, 80) +
                           "' that the architecture does not use; expected only its layers' weights" +
                           (meta.contains("epochs_done") ? " and 'optimizer/state'" : ""));
        model.metadata() = std::move(user_metadata);
        if (meta.contains("epochs_done")) {
            Sequential::Impl& m = model.impl("load_model");
            if (!m.optimizer) throw fail("a checkpoint must hold compile settings");
            try {
                const auto found = std::find_if(file.tensors.begin(), file.tensors.end(),
                                                [](const auto& t) { return t.first == "optimizer/state"; });
                if (found == file.tensors.end()) throw Error("expected a tensor named 'optimizer/state', found none");
                const Tensor& state = found->second;
                if (state.rank() != 1)
                    throw Error("expected 'optimizer/state' to be a flat list, found shape " + state.shape().str());
                m.optimizer->set_state({state.data(), state.size()}, counter(meta, "optimizer_iterations"),
                                       m.params.size());
                m.epochs_done = counter(meta, "epochs_done");
                if (!meta.contains("generator")) throw Error("expected the generator's state, found none");
                m.generator = restore_generator(meta.at("generator"));
            } catch (const Error& e) {
                throw fail(std::string("the checkpoint is malformed: ") + e.what());
            }
        }
        return model;
    });
}

}  // namespace recur
