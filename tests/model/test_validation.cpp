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
        // The training loop's settings.
        {"a dropout rate of one", [] { recur::Dropout(1.0f); }, "Dropout: expected a rate in [0, 1), got 1"},
        {"a negative dropout rate", [] { recur::Dropout(-0.5f); }, "Dropout: expected a rate in [0, 1), got -0.5"},
        {"a NaN dropout rate", [] { (void)recur::Dropout(NAN); }, "Dropout: expected a rate in [0, 1), got nan"},
        {"a negative L2 factor", [] { recur::L2(-0.01f); }, "L2: expected finite factors >= 0, got -0.01"},
        {"an infinite L1 factor", [] { (void)recur::L1L2(INFINITY); }, "L1L2: expected finite factors >= 0, got inf"},
        {"a regularizer on a built layer", [] { recur::Dense d(1); d(Tensor({1, 2})); d.kernel_regularizer(recur::L2()); }, "Dense::kernel_regularizer: layer"},
        {"a negative weight decay", [] { recur::AdamW().weight_decay(-0.1f); }, "AdamW::weight_decay: expected a finite value >= 0"},
        {"a negative Adagrad accumulator", [] { recur::Adagrad().initial_accumulator_value(-1.0f); }, "Adagrad::initial_accumulator_value"},
        {"a Nadam beta of one", [] { recur::Nadam().beta_1(1.0f); }, "Nadam::beta_1"},
        {"a decay over zero steps", [] { recur::ExponentialDecay(0.1f, 0, 0.5f); }, "ExponentialDecay: expected decay_steps from 1 to 2^53, got 0"},
        {"a negative decay rate", [] { recur::ExponentialDecay(0.1f, 10, -0.5f); }, "ExponentialDecay: expected decay_rate to be a finite value > 0"},
        {"piecewise values one short", [] { recur::PiecewiseConstantDecay({5}, {0.1f}); }, "expected one value more than boundaries (2), got 1"},
        {"a cosine alpha above one", [] { recur::CosineDecay(0.1f, 10, 2.0f); }, "CosineDecay: expected alpha in [0, 1], got 2"},
        {"a rate set on a scheduled optimizer", [] { recur::SGD s; s.learning_rate(recur::CosineDecay(0.1f, 10)); s.set_learning_rate(0.1f); }, "follows a schedule (CosineDecay)"},
        {"a plateau factor of one", [] { recur::ReduceLROnPlateau().factor(1.0f); }, "ReduceLROnPlateau::factor: expected a value in (0, 1), got 1"},
        {"a negative plateau factor", [] { recur::ReduceLROnPlateau().factor(-0.1f); }, "ReduceLROnPlateau::factor: expected a value in (0, 1), got -0.1"},
        {"a negative min_lr", [] { recur::ReduceLROnPlateau().min_lr(-1.0f); }, "ReduceLROnPlateau::min_lr: expected a finite value >= 0"},
        {"an unknown monitor mode", [] { recur::EarlyStopping().mode("smallest"); }, "EarlyStopping::mode: expected \"auto\", \"min\" or \"max\", got \"smallest\""},
        {"an unknown monitor", [&] { compiled_model().fit(x, y, recur::FitOptions().verbose(0).validation_split(0.2).callbacks({recur::EarlyStopping().monitor("val_acc")})); },
         "EarlyStopping: monitor \"val_acc\" is not in the epoch logs; they hold learning_rate, loss, val_loss"},
        {"a checkpoint path field no log holds", [&] { compiled_model().fit(x, y, recur::FitOptions().verbose(0).callbacks({recur::ModelCheckpoint("/tmp/m-{val_loss}.safetensors")})); },
         "ModelCheckpoint: filepath field {val_loss} is not in the epoch logs; they hold epoch, learning_rate, loss"},
        {"a checkpoint path with an open field", [] { recur::ModelCheckpoint("m-{epoch.safetensors"); }, "opens a field with '{' it never closes"},
        {"a float field formatted as an integer", [] { recur::ModelCheckpoint("m-{loss:03d}"); }, "has a format spec recur does not read"},
        {"a CSV log in a missing directory", [&] { compiled_model().fit(x, y, recur::FitOptions().verbose(0).callbacks({recur::CSVLogger("/nonexistent/log.csv")})); },
         "CSVLogger: cannot open \"/nonexistent/log.csv\" for writing"},
        {"a CSV log that is a directory", [&] { compiled_model().fit(x, y, recur::FitOptions().verbose(0).callbacks({recur::CSVLogger("/tmp")})); },
         "CSVLogger: \"/tmp\" is not a regular file"},
        {"a checkpoint field wider than a name can be", [] { recur::ModelCheckpoint("m-{epoch:999d}"); }, "a width below 100"},
        {"a top-k accuracy of k 0", [] { recur::TopKCategoricalAccuracy(0); }, "top_k_categorical_accuracy: expected k >= 1, got 0"},
        {"a binary accuracy threshold above one", [] { recur::BinaryAccuracy(2.0f); }, "binary_accuracy: expected a threshold in [0, 1], got 2"},
    };
    CHECK(std::size(table) >= 40);
    for (const BadInput& row : table) {
        CAPTURE(row.what);
        CHECK_THROWS_WITH_AS(row.call(), doctest::Contains(row.message), recur::Error);
    }
}
