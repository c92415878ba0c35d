#include "layers/registry.hpp"

#include <string>

#include "config.hpp"
#include "layers/layer_pass.hpp"
#include "text.hpp"

namespace recur::detail {

namespace {

struct LayerKind {
    const char* type;
    std::unique_ptr<Layer> (*from_config)(const ConfigReader&);
};

// One line per kind of layer that model files can hold.
constexpr LayerKind kLayerKinds[] = {
    {"SimpleRNN", &LayerAccess::from_config<SimpleRNN>},
    {"LSTM", &LayerAccess::from_config<LSTM>},
    {"GRU", &LayerAccess::from_config<GRU>},
    {"Dense", &LayerAccess::from_config<Dense>},
    {"Embedding", &LayerAccess::from_config<Embedding>},
    {"Masking", &LayerAccess::from_config<Masking>},
    {"Dropout", &LayerAccess::from_config<Dropout>},
    {"Bidirectional", &LayerAccess::from_config<Bidirectional>},
};

}  // namespace

// As Keras writes a regularizer: {"class_name": "L1L2", "config": {"l1": ..., "l2": ...}}.
nlohmann::json regularizer_config(const std::optional<Regularizer>& r) {
    if (!r) return nullptr;
    return {{"class_name", "L1L2"}, {"config", {{"l1", r->l1()}, {"l2", r->l2()}}}};
}
Regularizer regularizer_from_config(const nlohmann::json& json, const std::string& where) {
    const ConfigReader outer(json, where);
    const std::string name = outer.string("class_name");
    const ConfigReader c(outer.object("config"), where);
    outer.check_all_read();
    std::optional<Regularizer> r;
    if (name == "L1") r = L1(c.number("l1"));
    else if (name == "L2") r = L2(c.number("l2"));
    else if (name == "L1L2") r = L1L2(c.number("l1"), c.number("l2"));
    else throw Error(where + ": expected \"L1\", \"L2\" or \"L1L2\", got \"" + printable(name).substr(0, 60) + "\"");
    c.check_all_read();
    return *r;
}

nlohmann::json layer_config(const Layer& layer) {
    nlohmann::json input_shape = nlohmann::json::array();
    for (std::size_t d : layer.input_shape()) input_shape.push_back(d == None ? nlohmann::json(nullptr) : nlohmann::json(d));
    nlohmann::json config{{"type", layer.type_name()}, {"name", layer.name()}, {"input_shape", input_shape}};
    ConfigWriter writer(config);
    LayerAccess::write_config(layer, writer);
    for (const auto& [option, weight] : LayerAccess::regularizable(layer))
        writer.set(option.c_str(), regularizer_config(layer.regularizer(weight)));
    return config;
}

std::unique_ptr<Layer> layer_from_config(const nlohmann::json& config, const std::string& where) {
    const ConfigReader c(config, where);
    const std::string type = c.string("type");
    // Every layer of a saved model records its input shape, so that its weight count is
    // known before anything is allocated for it.
    const Shape input = c.shape("input_shape");
    if (input.rank() == 0) throw Error(where + ": expected a non-empty \"input_shape\"");
    for (const LayerKind& kind : kLayerKinds)
        if (type == kind.type) {
            std::unique_ptr<Layer> layer = kind.from_config(c);
            LayerAccess::set_name(*layer, c.string("name"));
            // Files from before regularizers have none.
            for (const auto& [option, weight] : LayerAccess::regularizable(*layer))
                if (c.has(option.c_str()) && !c.holds_null(option.c_str()))
                    LayerAccess::set_regularizer(*layer, weight,
                                                 regularizer_from_config(c.object(option.c_str()), where + " " + option));
            LayerAccess::set_input_shape(*layer, input, std::string(kind.type) + "::input_shape");
            c.check_all_read();
            return layer;
        }
    std::string known;
    for (const LayerKind& kind : kLayerKinds) known += std::string(known.empty() ? "" : ", ") + kind.type;
    throw Error(where + ": expected \"type\" to be one of " + known + ", got \"" + printable(type).substr(0, 60) + "\"");
}

}  // namespace recur::detail
