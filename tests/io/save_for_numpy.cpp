// Writes a trained model, an input batch and recur's predictions for it, for
// numpy_predict.py to reproduce with NumPy alone: usage save_for_numpy DIR.
#include <cmath>
#include <string>

#include <recur/recur.hpp>

#include "io/safetensors.hpp"

int main(int argc, char** argv) {
    if (argc != 2) return 2;
    const std::string dir = argv[1];
    recur::manual_seed(81);
    recur::Sequential model;
    model.add(recur::SimpleRNN(12).return_sequences(true).input_shape({7, 3}));
    model.add(recur::SimpleRNN(9).activation("relu").go_backwards(true));
    model.add(recur::Dense(4).activation("softmax"));
    model.compile("adam", "sparse_categorical_crossentropy");
    recur::Tensor x({6, 7, 3}), y({6});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.37f * static_cast<float>(i));
    for (std::size_t i = 0; i < y.size(); ++i) y.data()[i] = static_cast<float>(i % 4);
    model.fit(x, y, recur::FitOptions().epochs(5).verbose(0));
    model.save(dir + "/model.safetensors");
    const recur::Tensor prediction = model.predict(x);
    recur::detail::write_safetensors(dir + "/batch.safetensors", {{"x", &x}, {"prediction", &prediction}}, {}, "save_for_numpy");
    return 0;
}
