#pragma once
#include <vector>

#include <recur/recur.hpp>

namespace recur::testing {

// Every weight of a model, layer by layer in Keras order, end to end.
inline std::vector<float> all_weights(const Sequential& model) {
    std::vector<float> out;
    for (const auto& layer : model.layers())
        for (const Tensor& w : layer->get_weights()) out.insert(out.end(), w.begin(), w.end());
    return out;
}

}  // namespace recur::testing
