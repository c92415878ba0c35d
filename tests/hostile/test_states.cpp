// Objects put into states they cannot work in: options changed on built layers, layers
// called on empty batches, moved-from models, streams and tensors, and streams whose model
// changed under them. Each is refused with a clear error (or, as Keras, gives an empty result).
#include <cmath>
#include <cstdint>
#include <limits>
#include <sstream>

#include "hostile/hostile.hpp"

using recur::Dense;
using recur::Error;
using recur::Sequential;
using recur::Shape;
using recur::SimpleRNN;
using recur::Tensor;

TEST_CASE("a built layer refuses every option change, in a model or on its own") {
    Sequential model = recur::testing::small_model();
    auto& rnn = dynamic_cast<SimpleRNN&>(model.layer(0));
    auto& head = dynamic_cast<Dense&>(model.layer(1));
    const std::string fixed = "is built, so its options are fixed (its weights were laid out for them); make a new layer";
    CHECK_THROWS_WITH_AS(head.use_bias(false), ("Dense::use_bias: layer 'head' " + fixed).c_str(), Error);
    CHECK_THROWS_WITH_AS(head.activation("relu"), doctest::Contains("Dense::activation: layer 'head' is built"), Error);
    CHECK_THROWS_WITH_AS(head.name("other"), doctest::Contains("Dense::name: layer 'head' is built"), Error);
    CHECK_THROWS_WITH_AS(rnn.use_bias(false), doctest::Contains("SimpleRNN::use_bias: layer 'rnn' is built"), Error);
    CHECK_THROWS_WITH_AS(rnn.return_sequences(true), doctest::Contains("SimpleRNN::return_sequences: layer 'rnn' is built"), Error);
    CHECK_THROWS_WITH_AS(rnn.return_state(true), doctest::Contains("SimpleRNN::return_state"), Error);
    CHECK_THROWS_WITH_AS(rnn.go_backwards(true), doctest::Contains("SimpleRNN::go_backwards"), Error);
    CHECK_THROWS_WITH_AS(rnn.activation("relu"), doctest::Contains("SimpleRNN::activation"), Error);
    CHECK_THROWS_WITH_AS(rnn.input_shape({6, 1}), doctest::Contains("SimpleRNN::input_shape: layer 'rnn' is built"), Error);
    // The weights still fit their buffer and the model still works.
    head.set_weights(head.get_weights());
    CHECK(model.predict(Tensor({2, 5, 1})).shape() == Shape{2, 1});

    Dense alone(3);
    alone(Tensor({2, 4}));  // built by its first call
    CHECK_THROWS_WITH_AS(alone.use_bias(false), doctest::Contains("is built, so its options are fixed"), Error);
}

TEST_CASE("a layer called on its own: an empty batch gives an empty result, zero timesteps or features an error") {
    SimpleRNN rnn(3);
    rnn.return_state(true);
    const auto empty = rnn(Tensor({0, 5, 2}));
    REQUIRE(empty.size() == 2);
    CHECK(empty[0].shape() == Shape{0, 3});
    CHECK(empty[1].shape() == Shape{0, 3});
    CHECK(rnn.built());
    CHECK(rnn(Tensor({2, 5, 2}))[0].shape() == Shape{2, 3});  // built for the empty batch's features,
    CHECK(rnn(Tensor({2, 9, 2}))[0].shape() == Shape{2, 3});  // and, as Keras's, any number of steps
    CHECK(rnn.input_shape() == Shape{recur::None, 2});
    CHECK_THROWS_WITH_AS(rnn(Tensor({2, 5, 3})), doctest::Contains("expects input of shape (None, None, 2), got (2, 5, 3)"), Error);
    CHECK_THROWS_WITH_AS(SimpleRNN(3).name("r")(Tensor({2, 0, 2})),
                         "SimpleRNN: layer 'r' expects sequences of at least one timestep, got shape (2, 0, 2)", Error);
    CHECK_THROWS_WITH_AS(SimpleRNN(3).name("r")(Tensor({2, 4, 0})), doctest::Contains("expects dimensions >= 1, got (None, 0)"), Error);
    CHECK_THROWS_WITH_AS(Dense(2).name("d")(Tensor({3, 0})), "Dense: layer 'd' expects dimensions >= 1, got (0,)", Error);
    CHECK(Dense(2)(Tensor({0, 3})).shape() == Shape{0, 2});
    CHECK(recur::Embedding(4, 2)(Tensor({0, 3})).shape() == Shape{0, 3, 2});
    CHECK_THROWS_WITH_AS(recur::Embedding(4, 2).name("e")(Tensor({2, 0})), doctest::Contains("at least one timestep"), Error);
    CHECK_THROWS_WITH_AS(SimpleRNN(3)(Tensor({2, 5})), doctest::Contains("expects input of shape (batch, timesteps, features)"), Error);
    // Values that are not finite, as predict refuses them.
    Tensor bad({2, 3, 2});
    bad(1, 2, 0) = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH_AS(recur::LSTM(3).name("l")(bad), "LSTM: x must be finite, but it holds NaN or Inf", Error);
    bad(1, 2, 0) = std::numeric_limits<float>::infinity();
    CHECK_THROWS_WITH_AS(recur::GRU(3)(bad), doctest::Contains("x must be finite"), Error);
    CHECK_THROWS_WITH_AS(Dense(2)(bad), doctest::Contains("x must be finite"), Error);
}

TEST_CASE("a layer of absurd size is refused when it is made or built, before anything is allocated") {
    CHECK_THROWS_WITH_AS(SimpleRNN(std::size_t{1} << 41), "SimpleRNN: expected units <= 1099511627776, got 2199023255552", Error);
    CHECK_THROWS_WITH_AS(Dense(static_cast<std::size_t>(-1)), doctest::Contains("Dense: expected units <= 1099511627776"), Error);
    CHECK_THROWS_WITH_AS(recur::Embedding(std::size_t{1} << 50, 2), doctest::Contains("Embedding: expected input_dim <="), Error);
    CHECK_THROWS_WITH_AS(SimpleRNN(2).input_shape({std::size_t{1} << 41, 1}), doctest::Contains("expects dimensions <= 1099511627776"),
                         Error);
    Sequential model;
    CHECK_THROWS_WITH_AS(model.add(Dense(std::size_t{1} << 40).input_shape({std::size_t{1} << 40})),
                         doctest::Contains("Sequential::add: the model cannot be built: Layer::count_params: layer"), Error);
    CHECK(model.layers().empty());
    CHECK_THROWS_WITH_AS(model.add(SimpleRNN(std::size_t{1} << 22).input_shape({3, 1})),
                         doctest::Contains("Sequential::add: the model cannot be built: Tensor: cannot allocate 17592194433024 floats"),
                         Error);
}

TEST_CASE("tensors: overflowing shapes, moved-from tensors and empty views are safe") {
    CHECK_THROWS_WITH_AS(Tensor(Shape{(std::size_t{1} << 62) + 1, std::size_t{4}}),
                         "Shape: (4611686018427387905, 4) has more elements than a size_t can count", Error);
    CHECK_THROWS_WITH_AS(Tensor(Shape{(std::size_t{1} << 62) + 1}),
                         "Tensor: cannot allocate 4611686018427387905 floats (1.72e+10 GiB) for shape (4611686018427387905,): "
                         "more than memory can address",
                         Error);
    // 2^45 floats: beyond any machine's address space, so the allocation itself fails.
    CHECK_THROWS_WITH_AS(Tensor(Shape{std::size_t{1} << 45}),
                         doctest::Contains("Tensor: cannot allocate 35184372088832 floats (1.31e+05 GiB) for shape (35184372088832,): out of memory"),
                         Error);
    Tensor a({2, 3});
    Tensor b = std::move(a);
    CHECK(a.shape() == Shape{0});  // NOLINT: the moved-from state is what is tested
    CHECK(a.size() == 0);
    CHECK_THROWS_WITH_AS(a(0), doctest::Contains("index 0 is out of range for axis 0 of shape (0,)"), Error);
    Sequential model = recur::testing::small_model();
    CHECK_THROWS_WITH_AS(model.predict(a), doctest::Contains("x must be a batch with at least one sample"), Error);
    const recur::TensorView empty;
    CHECK(empty.size() == 0);
    CHECK_THROWS_WITH_AS(empty(0), doctest::Contains("out of range"), Error);
}

TEST_CASE("a moved-from Sequential throws a clear error from every call") {
    Sequential model = recur::testing::small_model();
    Sequential moved = std::move(model);
    const std::string message = "this model was moved from; use the model it was moved to";
    const Tensor x({2, 5, 1}), y({2});
    CHECK_THROWS_WITH_AS(model.predict(x), ("Sequential::predict: " + message).c_str(), Error);
    CHECK_THROWS_WITH_AS(model.fit(x, y), ("Sequential::fit: " + message).c_str(), Error);
    CHECK_THROWS_WITH_AS(model.evaluate(x, y), ("Sequential::evaluate: " + message).c_str(), Error);
    CHECK_THROWS_WITH_AS(model.train_on_batch(x, y), ("Sequential::train_on_batch: " + message).c_str(), Error);
    CHECK_THROWS_WITH_AS(model.add(Dense(1)), ("Sequential::add: " + message).c_str(), Error);
    CHECK_THROWS_WITH_AS(model.compile("adam", "mse"), ("Sequential::compile: " + message).c_str(), Error);
    CHECK_THROWS_WITH_AS(model.summary(), ("Sequential::summary: " + message).c_str(), Error);
    CHECK_THROWS_WITH_AS(model.save("never.safetensors"), ("Sequential::save: " + message).c_str(), Error);
    CHECK_THROWS_WITH_AS(model.stream(1), ("Sequential::stream: " + message).c_str(), Error);
    CHECK_THROWS_WITH_AS(model.layers(), ("Sequential::layers: " + message).c_str(), Error);
    CHECK_THROWS_WITH_AS(model.layer(0), ("Sequential::layer: " + message).c_str(), Error);
    CHECK_THROWS_WITH_AS(model.count_params(), ("Sequential::count_params: " + message).c_str(), Error);
    CHECK_THROWS_WITH_AS(model.name(), ("Sequential::name: " + message).c_str(), Error);
    CHECK_THROWS_WITH_AS(model.metadata(), ("Sequential::metadata: " + message).c_str(), Error);
    CHECK(moved.predict(x).shape() == Shape{2, 1});
    model = std::move(moved);  // assigning a model makes it usable again
    CHECK(model.predict(x).shape() == Shape{2, 1});
}

TEST_CASE("a stream refuses to run once its model changed (trained, given weights, rebuilt, replaced, destroyed)") {
    const float x_t[1] = {0.5f};
    const std::string changed = "the model this stream was made from has changed since (trained, given other weights, "
                                "rebuilt or destroyed); make a new stream from it";
    Sequential model;
    model.add(SimpleRNN(4).name("rnn").input_shape({5, 1}));
    recur::Stream stream = model.stream(1);
    stream.step(x_t);
    model.add(Dense(2).name("head"));  // a new layer: the weights move to a new buffer
    CHECK_THROWS_WITH_AS(stream.step(x_t), ("Stream::step: " + changed).c_str(), Error);
    CHECK_THROWS_WITH_AS(stream.reset(), ("Stream::reset: " + changed).c_str(), Error);

    recur::Stream current = model.stream(1);
    CHECK(current.step(x_t).shape() == Shape{1, 2});
    model = recur::testing::small_model();  // replaced by another model
    CHECK_THROWS_WITH_AS(current.step(x_t), doctest::Contains("Stream::step: the model this stream"), Error);

    auto held = std::make_unique<Sequential>(recur::testing::small_model());
    recur::Stream orphan = held->stream(1);
    held.reset();  // destroyed
    CHECK_THROWS_WITH_AS(orphan.step(x_t), doctest::Contains("Stream::step: the model this stream"), Error);

    Sequential trained = recur::testing::small_model();
    recur::Stream before_training = trained.stream(1), before_weights = trained.stream(1);
    trained.train_on_batch(Tensor({2, 5, 1}, std::vector<float>(10, 0.5f)), Tensor({2}, {1.0f, -1.0f}));
    CHECK_THROWS_WITH_AS(before_training.step(x_t), doctest::Contains("has changed since"), Error);
    recur::Stream after = trained.stream(1);
    trained.layer(1).set_weights(trained.layer(1).get_weights());
    CHECK_THROWS_WITH_AS(after.step(x_t), doctest::Contains("has changed since"), Error);
    CHECK_NOTHROW(trained.stream(1).step(x_t));  // a stream made now has the weights as they are

    recur::Stream source = model.stream(1);
    recur::Stream target = std::move(source);
    CHECK(target.step(x_t).shape() == Shape{1, 1});
    CHECK_THROWS_WITH_AS(source.step(x_t), "Stream::step: this stream was moved from; use the stream it was moved to", Error);
    CHECK_THROWS_WITH_AS(source.batch(), doctest::Contains("Stream::batch: this stream was moved from"), Error);
}

TEST_CASE("a stream step refuses a null pointer, inputs that are not finite and ids out of range") {
    Sequential model = recur::testing::small_model();
    recur::Stream stream = model.stream(2);
    CHECK_THROWS_WITH_AS(stream.step(nullptr), "Stream::step: expected the inputs of one timestep, got a null pointer", Error);
    const float nan_input[2] = {0.5f, std::numeric_limits<float>::quiet_NaN()};
    CHECK_THROWS_WITH_AS(stream.step(nan_input), "Stream::step: x must be finite, but it holds NaN or Inf", Error);

    Sequential ids;
    ids.add(recur::Embedding(3, 2).name("e").input_shape({4}));
    ids.add(SimpleRNN(2));
    recur::Stream text = ids.stream(2);
    for (float bad : {3.0f, -1.0f, 1.5f, std::numeric_limits<float>::quiet_NaN(), 1e30f}) {
        CAPTURE(bad);
        const float step_ids[2] = {0.0f, bad};
        CHECK_THROWS_WITH_AS(text.step(step_ids), doctest::Contains("Stream::step: layer 'e' expects whole-number ids in [0, 3), got"),
                             Error);
    }
    CHECK_THROWS_WITH_AS(model.stream(std::size_t{1} << 41), "Sequential::stream: expected batch <= 1099511627776, got 2199023255552",
                         Error);
}

TEST_CASE("layer and model names must be UTF-8 text without '/'; metadata must be UTF-8 to be saved") {
    CHECK_THROWS_WITH_AS(Dense(1).name("bad\xff\xfename"),
                         "Dense::name: expected a non-empty UTF-8 name without '/' or control characters, got \"bad\\xFF\\xFEname\"", Error);
    CHECK_THROWS_WITH_AS(SimpleRNN(1).name("a/b"), doctest::Contains("got \"a/b\""), Error);
    CHECK_THROWS_WITH_AS(Sequential("\xc3"), "Sequential: expected a non-empty UTF-8 name, got \"\\xC3\"", Error);
    CHECK_THROWS_WITH_AS(Dense(1).name("x\n\x1b[2J"), doctest::Contains("got \"x\\x0A\\x1B[2J\""), Error);
    CHECK_NOTHROW(Dense(1).name("dichte_schicht_\xc3\xa4"));  // UTF-8 is fine
    recur::testing::ScratchDir dir;
    Sequential model = recur::testing::small_model();
    model.metadata()["column"] = "caf\xe9";  // Latin-1, not UTF-8
    CHECK_THROWS_WITH_AS(model.save(dir / "m.safetensors"),
                         "Sequential::save: metadata \"column\" is not valid UTF-8 text; a model file stores text only", Error);
    CHECK_FALSE(std::filesystem::exists(dir / "m.safetensors"));
}

TEST_CASE("a layer in a model keeps the options the model checked, even before the model is built") {
    Sequential model;
    model.add(SimpleRNN(2).name("rnn"));
    model.add(Dense(1).name("head"));
    CHECK_FALSE(model.built());
    auto& head = dynamic_cast<Dense&>(model.layer(1));
    CHECK_THROWS_WITH_AS(head.name("rnn"),
                         "Dense::name: layer 'head' belongs to a model, so its options are fixed (the model was checked with "
                         "them); add a new layer to a new model instead",
                         Error);
    CHECK_THROWS_WITH_AS(dynamic_cast<SimpleRNN&>(model.layer(0)).return_state(true), doctest::Contains("belongs to a model"), Error);
    CHECK_THROWS_WITH_AS(dynamic_cast<SimpleRNN&>(model.layer(0)).input_shape({3, 1}), doctest::Contains("belongs to a model"), Error);
    model.compile("adam", "mse");
    model.fit(Tensor({4, 3, 1}), Tensor({4}), recur::FitOptions().verbose(0));  // builds from x as before
    CHECK(model.layer(0).input_shape() == Shape{3, 1});
}

TEST_CASE("fit: epoch counts at the ends of size_t, a checkpoint path checked before training, targets wider than the output") {
    Sequential model = recur::testing::small_model();
    const Tensor x({4, 5, 1}), y({4});
    const auto weights = model.layer(0).get_weights()[0];
    CHECK(model.fit(x, y, recur::FitOptions().epochs(3).initial_epoch(SIZE_MAX).verbose(0)).loss.empty());
    CHECK(model.fit(x, y, recur::FitOptions().epochs(SIZE_MAX).initial_epoch(SIZE_MAX - 1).verbose(0)).loss.size() == 1);
    CHECK(model.epochs_done() == SIZE_MAX);

    Sequential fresh = recur::testing::small_model();
    const auto before = fresh.layer(0).get_weights()[0];
    CHECK_THROWS_WITH_AS(fresh.fit(x, y, recur::FitOptions().checkpoint("/nonexistent/dir/ckpt.safetensors").verbose(0)),
                         "Sequential::fit (checkpoint): '/nonexistent/dir/ckpt.safetensors': its directory '/nonexistent/dir' "
                         "does not exist",
                         Error);
    CHECK(fresh.layer(0).get_weights()[0](0, 0) == before(0, 0));  // nothing trained

    struct Wide : recur::Loss {  // claims more targets per row than the output has
        const char* name() const override { return "wide"; }
        std::unique_ptr<recur::Loss> clone() const override { return std::make_unique<Wide>(*this); }
        float compute(const float* p, const float* y, float* g, std::size_t rows, std::size_t n) const override {
            return recur::MSE().compute(p, y, g, rows, n);
        }
        std::size_t target_features(std::size_t) const override { return 1000; }
    };
    fresh.compile(recur::Adam(), Wide());
    CHECK_THROWS_WITH_AS(fresh.fit(x, Tensor({4, 1000})),
                         "Sequential::fit: loss wide asks for 1000 target values per output row, but the "
                         "model's output has 1; expected from 1 to that many",
                         Error);
    CHECK_THROWS_WITH_AS(fresh.evaluate(x, Tensor({4, 1000})), doctest::Contains("Sequential::evaluate: loss"), Error);
}

TEST_CASE("indices, shapes, summaries and ids at their edges") {
    Tensor t({2, 3});
    CHECK_THROWS_WITH_AS(t(-1, 0), "Tensor element access: index -1 is negative", Error);
    CHECK_THROWS_WITH_AS(Shape().back(), "Shape::back: the shape () has no axes", Error);
    std::ostringstream out;
    out << std::right;
    recur::testing::small_model().summary(out);
    CHECK((out.flags() & std::ios::adjustfield) == std::ios::right);  // the caller's stream keeps its flags
    // Ids above 2^24 are whole floats too, compared exactly.
    Sequential ids;
    ids.add(recur::Embedding(16777217, 1).input_shape({1}));
    CHECK(ids.predict(Tensor({1, 1}, {16777216.0f})).shape() == Shape{1, 1, 1});
    CHECK_THROWS_WITH_AS(ids.predict(Tensor({1, 1}, {1e30f})), doctest::Contains("expects whole-number ids in [0, 16777217)"),
                         Error);
}

TEST_CASE("a stream of a model that starts with an Embedding reads one id per sequence, whatever T") {
    Sequential model;
    model.add(recur::Embedding(5, 3).input_shape({4}));
    model.add(SimpleRNN(2));
    CHECK(model.stream(2).input_features() == 1);
    Sequential single;
    single.add(recur::Embedding(5, 3).input_shape({1}));
    single.add(SimpleRNN(2));
    recur::Stream stream = single.stream(1);
    const float id = 3.0f;
    const Tensor expected = single.predict(Tensor({1, 1}, {3.0f}));
    const recur::TensorView out = stream.step(&id);
    CHECK(out(0, 0) == doctest::Approx(expected(0, 0)));
}
