// Every public entry point checks what it is given: one row per bad input, each asserting a
// recur::Error whose message names the call and carries what was expected or given.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include <recur/recur.hpp>

using recur::Sequential;
using recur::Tensor;

namespace {

Sequential compiled_model() {
    Sequential model;
    model.add(recur::SimpleRNN(4).name("rnn").input_shape({5, 1}));
    model.add(recur::Dense(1).name("head"));
    model.compile("adam", "mse");
    return model;
}

Tensor filled(recur::Shape shape, float value) {
    Tensor t(std::move(shape));
    std::fill(t.begin(), t.end(), value);
    return t;
}

struct BadInput {
    const char* what;
    std::function<void()> call;
    const char* message;  // a fragment the error must contain
};

}  // namespace

TEST_CASE("a table of bad inputs, each rejected with a clear message") {
    const Tensor x({10, 5, 1}), y({10});
    const std::vector<float> series{1, 2, 3, 4};
    const BadInput table[] = {
        {"tensor values that do not fill the shape", [] { Tensor({2, 3}, {1, 2}); }, "shape (2, 3) holds 6 values, but 2"},
        {"too few indices", [] { Tensor({2, 3})(1); }, "expected 2 indices for shape (2, 3), got 1"},
        {"an index past the end", [] { Tensor({2, 3})(0, 3); }, "index 3 is out of range for axis 1"},
        {"a slice past the end", [] { Tensor({2, 3})[2]; }, "index 2 is out of range for shape (2, 3)"},
        {"a reshape to another size", [] { Tensor({2, 3}).reshape(recur::Shape{5}); }, "cannot reshape (2, 3)"},
        {"a negative dimension", [] { recur::Shape(2, -3); }, "dimensions must be >= 0, got -3"},
        {"a window of zero", [&] { recur::sliding_windows(series, 0); }, "expected window >= 1, got 0"},
        {"a window as long as the series", [&] { recur::sliding_windows(series, 4); }, "longer than the window (4), got 4"},
        {"zero units", [] { recur::SimpleRNN(0); }, "SimpleRNN: expected units >= 1, got 0"},
        {"zero Dense units", [] { recur::Dense(0); }, "Dense: expected units >= 1, got 0"},
        {"zero embedding size", [] { recur::Embedding(3, 0); }, "Embedding: expected output_dim >= 1, got 0"},
        {"an unknown activation", [] { recur::SimpleRNN(2).activation("swish"); }, "got \"swish\""},
        {"softmax inside the recurrence", [] { recur::SimpleRNN(2).activation("softmax"); }, "got \"softmax\""},
        {"zero LSTM units", [] { recur::LSTM(0); }, "LSTM: expected units >= 1, got 0"},
        {"zero GRU units", [] { recur::GRU(0); }, "GRU: expected units >= 1, got 0"},
        {"softmax as LSTM's recurrent activation", [] { recur::LSTM(2).recurrent_activation("softmax"); },
         "LSTM::recurrent_activation: expected \"tanh\", \"relu\", \"sigmoid\" or \"linear\", got \"softmax\""},
        {"an unknown GRU recurrent activation", [] { recur::GRU(2).recurrent_activation("hard_sigmoid"); },
         "GRU::recurrent_activation"},
        {"an unknown LSTM activation", [] { recur::LSTM(2).activation("swish"); }, "got \"swish\""},
        {"a 1-D input shape for GRU", [] { recur::GRU(2).input_shape({5}); }, "expects 2 dimensions per sample"},
        {"an LSTM with return_state in a model", [] { Sequential m; m.add(recur::LSTM(2).name("l").return_state(true).input_shape({3, 1})); },
         "layer 'l' has return_state on"},
        {"LSTM weights of GRU shapes", [] { Sequential m; m.add(recur::LSTM(4).name("l").input_shape({5, 2})); m.layer(0).set_weights({Tensor({2, 12}), Tensor({4, 12}), Tensor({12})}); },
         "layer 'l' expects kernel of shape (2, 16), got (2, 12)"},
        {"a GRU bias of one row where reset_after needs two", [] { Sequential m; m.add(recur::GRU(4).name("g").input_shape({5, 2})); m.layer(0).set_weights({Tensor({2, 12}), Tensor({4, 12}), Tensor({12})}); },
         "layer 'g' expects bias of shape (2, 12), got (12,)"},
        {"a GRU without its bias", [] { Sequential m; m.add(recur::GRU(4).name("g").reset_after(false).input_shape({5, 2})); m.layer(0).set_weights({Tensor({2, 12}), Tensor({4, 12})}); },
         "layer 'g' expects 3 weights, got 2"},
        {"LSTM weights that are not finite", [] { Sequential m; m.add(recur::LSTM(1).name("l").input_shape({2, 1})); m.layer(0).set_weights({filled({1, 4}, NAN), Tensor({1, 4}), Tensor({4})}); },
         "finite"},
        {"an LSTM option changed once built", [] { recur::LSTM l(2); l(Tensor({1, 3, 1})); l.unit_forget_bias(false); },
         "unit_forget_bias"},
        {"a 1-D input shape for SimpleRNN", [] { recur::SimpleRNN(2).input_shape({5}); }, "expects 2 dimensions per sample"},
        {"a zero timestep count", [] { recur::SimpleRNN(2).input_shape({0, 1}); }, "dimensions >= 1, got (0, 1)"},
        {"a 3-D input shape for Dense", [] { recur::Dense(2).input_shape({1, 2, 3}); }, "expects 1 or 2 dimensions"},
        {"an empty layer name", [] { recur::Dense(2).name(""); }, "Dense::name: expected a non-empty UTF-8 name without '/' or control characters, got \"\""},
        {"a negative learning rate", [] { recur::Adam().learning_rate(-0.1f); }, "Adam::learning_rate: expected a finite value > 0"},
        {"an infinite learning rate", [] { recur::SGD().learning_rate(INFINITY); }, "SGD::learning_rate"},
        {"a NaN learning rate", [] { recur::RMSprop().learning_rate(NAN); }, "RMSprop::learning_rate"},
        {"beta_2 of one", [] { recur::Adam().beta_2(1.0f); }, "Adam::beta_2: expected a value in [0, 1)"},
        {"a zero epsilon", [] { recur::Adam().epsilon(0.0f); }, "Adam::epsilon"},
        {"momentum above one", [] { recur::SGD().momentum(1.5f); }, "SGD::momentum: expected a value in [0, 1]"},
        {"rho of one", [] { recur::RMSprop().rho(1.0f); }, "RMSprop::rho"},
        {"a negative clipvalue", [] { recur::SGD().clipvalue(-1.0f); }, "SGD::clipvalue"},
        {"clipnorm and global_clipnorm", [] { recur::Adam().global_clipnorm(1).clipnorm(1); }, "use one of the two"},
        {"an unknown optimizer", [] { compiled_model().compile("adadelta", "mse"); }, "got \"adadelta\""},
        {"an unknown loss", [] { compiled_model().compile("adam", "hinge"); }, "got \"hinge\""},
        {"an unknown metric", [] { compiled_model().compile("adam", "mse", {"f1"}); }, "(or Keras's long names), got \"f1\""},
        {"a zero Huber delta", [] { recur::Huber().delta(0.0f); }, "Huber::delta"},
        {"fit before compile", [&] { Sequential m; m.add(recur::Dense(1).input_shape({5})); m.fit(Tensor({2, 5}), Tensor({2})); },
         "must be compiled first"},
        {"fit with the wrong features", [&] { compiled_model().fit(Tensor({10, 5, 2}), y); },
         "x has shape (10, 5, 2) but layer 'rnn' expects (None, 5, 1)"},
        {"fit with 2-D x", [&] { compiled_model().fit(Tensor({10, 5}), y); }, "x has shape (10, 5)"},
        {"fit with fewer targets", [&] { compiled_model().fit(x, Tensor({9})); }, "x has 10 samples but y has shape (9,)"},
        {"fit with wide targets", [&] { compiled_model().fit(x, Tensor({10, 2})); }, "y has shape (10, 2)"},
        {"fit with NaN in x", [&] { compiled_model().fit(filled({10, 5, 1}, NAN), y); }, "x must be finite"},
        {"fit with Inf in y", [&] { compiled_model().fit(x, filled({10}, INFINITY)); }, "y must be finite"},
        {"fit with batch_size 0", [&] { compiled_model().fit(x, y, recur::FitOptions().batch_size(0)); },
         "expected batch_size >= 1, got 0"},
        {"fit with validation_split 1", [&] { compiled_model().fit(x, y, recur::FitOptions().validation_split(1.0)); },
         "expected validation_split in [0, 1)"},
        {"fit with a negative validation_split", [&] { compiled_model().fit(x, y, recur::FitOptions().validation_split(-0.1)); },
         "expected validation_split in [0, 1)"},
        {"a validation_split that leaves nothing", [&] { compiled_model().fit(Tensor({1, 5, 1}), Tensor({1}), recur::FitOptions().validation_split(0.5)); },
         "both need at least one"},
        {"validation data of the wrong shape",
         [&] { compiled_model().fit(x, y, recur::FitOptions().validation_data(Tensor({2, 4, 1}), Tensor({2}))); },
         "Sequential::fit (validation_data): x has shape (2, 4, 1)"},
        {"predict with no samples", [] { compiled_model().predict(Tensor({0, 5, 1})); }, "at least one sample"},
        {"predict with batch_size 0", [&] { compiled_model().predict(x, 0); }, "expected batch_size >= 1, got 0"},
        {"evaluate with the wrong targets", [&] { compiled_model().evaluate(x, Tensor({10, 3})); }, "y has shape (10, 3)"},
        {"train_on_batch with NaN", [&] { compiled_model().train_on_batch(filled({10, 5, 1}, NAN), y); },
         "Sequential::train_on_batch: x must be finite"},
        {"a layer index past the end", [] { compiled_model().layer(2); }, "index 2 is out of range for a model with 2 layers"},
        {"set_weights with a wrong shape", [] { auto m = compiled_model(); m.layer(1).set_weights({Tensor({3, 1}), Tensor({1})}); },
         "layer 'head' expects kernel of shape (4, 1), got (3, 1)"},
        {"set_weights with too few", [] { auto m = compiled_model(); m.layer(0).set_weights({Tensor({1, 4})}); },
         "layer 'rnn' expects 3 weights, got 1"},
        {"a layer that does not fit", [] { auto m = compiled_model(); m.add(recur::Dense(1).name("d7").input_shape({7})); },
         "layer 'd7' expects input (None, 7) but layer 'head' gives (None, 1)"},
        {"sparse labels out of range", [] { Sequential m; m.add(recur::Dense(3).activation("softmax").input_shape({2})); m.compile("adam", "sparse_categorical_crossentropy"); m.fit(Tensor({2, 2}), Tensor({2}, {0, 3})); },
         "integer labels in [0, 3), got 3"},
        {"an embedding id out of range", [] { Sequential m; m.add(recur::Embedding(3, 2).name("e").input_shape({2})); m.predict(Tensor({1, 2}, {0, 7})); },
         "layer 'e' expects whole-number ids in [0, 3), got 7"},
        {"a stream of batch 0", [] { compiled_model().stream(0); }, "expected batch >= 1, got 0"},
        {"zero threads", [] { recur::set_num_threads(0); }, "set_num_threads: expected threads >= 1, got 0"},
        {"loading a missing model", [] { recur::load_model("/nonexistent/model.safetensors"); }, "load_model: '/nonexistent/model.safetensors' cannot be opened: No such file or directory"},
        {"reading a missing CSV", [] { recur::read_csv("/nonexistent/data.csv"); }, "read_csv: '/nonexistent/data.csv'"},
        {"a CSV column that is not there", [] { recur::parse_csv("a,b\n1,2\n").column("c"); }, "has no column 'c'"},
        {"a scaler used before fit", [] { recur::MinMaxScaler().transform(std::vector<float>{1.0f}); }, "not fitted"},
    };
    CHECK(std::size(table) >= 40);
    for (const BadInput& row : table) {
        CAPTURE(row.what);
        CHECK_THROWS_WITH_AS(row.call(), doctest::Contains(row.message), recur::Error);
    }
}
