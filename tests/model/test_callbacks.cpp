// Callbacks against Keras 3's documented rules, worked out by hand in each test. Most tests
// script the monitored value: a Dense(1) model trains with sample weights of zero (so its
// weights never move) and a scripting callback sets its bias b at the start of each epoch;
// the validation sample (x 0, y 0) then makes val_loss exactly b * b.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <recur/recur.hpp>

namespace fs = std::filesystem;
using recur::Callback;
using recur::Dense;
using recur::Error;
using recur::FitOptions;
using recur::Logs;
using recur::Sequential;
using recur::Shape;
using recur::Tensor;

namespace {

// Sets the bias to biases[epoch] when each epoch begins.
struct Script : Callback {
    explicit Script(std::vector<float> b) : biases(std::move(b)) {}
    void on_epoch_begin(std::size_t epoch, const Logs&) override {
        model().set_weights({Tensor(Shape{1, 1}, {1.0f}), Tensor(Shape{1}, {biases.at(epoch)})});
    }
    std::vector<float> biases;
};

Sequential scripted_model(float learning_rate = 0.01f) {
    Sequential model;
    model.add(Dense(1).input_shape({1}));
    model.compile(recur::SGD().learning_rate(learning_rate), "mse");
    return model;
}

// fit on 4 samples with zero weights (the weights stay put) and validation (0 -> 0).
FitOptions scripted_fit(std::size_t epochs, std::vector<recur::CallbackEntry> callbacks) {
    return FitOptions()
        .epochs(epochs)
        .batch_size(2)
        .verbose(0)
        .shuffle(false)
        .sample_weight(Tensor(Shape{4}, {0.0f, 0.0f, 0.0f, 0.0f}))
        .validation_data(Tensor(Shape{1, 1}, {0.0f}), Tensor(Shape{1, 1}, {0.0f}))
        .callbacks(std::move(callbacks));
}
const Tensor kX(Shape{4, 1}, {1.0f, 2.0f, 3.0f, 4.0f});
const Tensor kY(Shape{4, 1}, {0.5f, 1.0f, 1.5f, 2.0f});

float bias_of(const Sequential& model) { return model.get_weights().at(1)(0); }

// Records every hook with its logs' names.
struct Recorder : Callback {
    void on_train_begin(const Logs& logs) override { add("train_begin", logs); }
    void on_train_end(const Logs& logs) override { add("train_end", logs); }
    void on_epoch_begin(std::size_t e, const Logs& logs) override { add("epoch_begin " + std::to_string(e), logs); }
    void on_epoch_end(std::size_t e, const Logs& logs) override {
        add("epoch_end " + std::to_string(e), logs);
        epoch_logs.push_back(logs);
    }
    void on_train_batch_begin(std::size_t b, const Logs& logs) override { add("batch_begin " + std::to_string(b), logs); }
    void on_train_batch_end(std::size_t b, const Logs& logs) override {
        add("batch_end " + std::to_string(b), logs);
        batch_logs.push_back(logs);
    }
    void add(const std::string& hook, const Logs& logs) {
        std::string line = hook;
        for (const auto& [name, value] : logs) line += " " + name;
        calls.push_back(line);
    }
    std::vector<std::string> calls;
    std::vector<Logs> epoch_logs, batch_logs;
};

std::string slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

struct ScratchDir {
    ScratchDir() : path(fs::temp_directory_path() / ("recur_callbacks_" + std::to_string(::getpid()) + "_" + std::to_string(counter++))) {
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~ScratchDir() { fs::remove_all(path); }
    fs::path path;
    static inline int counter = 0;
};

}  // namespace

TEST_CASE("a callback sees Keras's sequence of hooks and logs") {
    Sequential model;
    model.add(Dense(1).input_shape({1}));
    model.compile("sgd", "mse", {"mae"});
    auto recorder = std::make_shared<Recorder>();
    // 5 samples with validation_split 0.2: 4 train in batches of 3 -> 2 batches per epoch.
    const Tensor x(Shape{5, 1}, {0.1f, 0.2f, 0.3f, 0.4f, 0.5f}), y(Shape{5, 1}, {1.0f, 0.0f, 1.0f, 0.0f, 1.0f});
    const recur::History history =
        model.fit(x, y, FitOptions().epochs(2).batch_size(3).verbose(0).validation_split(0.2).callbacks({recorder}));
    const std::string batch = " loss mae", epoch = " learning_rate loss mae val_loss val_mae";
    const std::vector<std::string> expected{
        "train_begin",
        "epoch_begin 0", "batch_begin 0", "batch_end 0" + batch, "batch_begin 1", "batch_end 1" + batch, "epoch_end 0" + epoch,
        "epoch_begin 1", "batch_begin 0", "batch_end 0" + batch, "batch_begin 1", "batch_end 1" + batch, "epoch_end 1" + epoch,
        "train_end" + epoch};
    CHECK(recorder->calls == expected);
    // The epoch's logs are History's; the last batch's running means are the epoch's means.
    REQUIRE(recorder->epoch_logs.size() == 2);
    CHECK(history.epoch == std::vector<std::size_t>{0, 1});
    for (std::size_t e = 0; e < 2; ++e) {
        CHECK(recorder->epoch_logs[e].at("loss") == history.loss[e]);
        CHECK(recorder->epoch_logs[e].at("val_loss") == history.val_loss[e]);
        CHECK(recorder->epoch_logs[e].at("val_mae") == history.metrics.at("val_mae")[e]);
        CHECK(history.history.at("learning_rate")[e] == 0.01f);  // SGD's default rate
        CHECK(recorder->batch_logs[2 * e + 1].at("loss") == recorder->epoch_logs[e].at("loss"));
    }
    CHECK(history.history.at("loss") == history.loss);
}

TEST_CASE("a callback's logs hold the validation loss of the weights at the epoch's end") {
    struct Checker : Callback {
        Tensor xv{Shape{2, 1}, {0.5f, -1.0f}}, yv{Shape{2, 1}, {0.0f, 2.0f}};
        int checked = 0;
        void on_epoch_end(std::size_t, const Logs& logs) override {
            CHECK(logs.at("val_loss") == model().evaluate(xv, yv));  // evaluate from inside fit
            ++checked;
        }
    };
    auto checker = std::make_shared<Checker>();
    Sequential model;
    model.add(Dense(1).input_shape({1}));
    model.compile("adam", "mse");
    model.fit(kX, kY, FitOptions().epochs(3).verbose(0).validation_data(checker->xv, checker->yv).callbacks({checker}));
    CHECK(checker->checked == 3);
}

TEST_CASE("stop_training from a batch hook ends fit after that batch, with its epoch's end") {
    struct Stopper : Recorder {
        void on_train_batch_end(std::size_t b, const Logs& logs) override {
            Recorder::on_train_batch_end(b, logs);
            if (b == 0) model().stop_training(true);
        }
    };
    auto stopper = std::make_shared<Stopper>();
    Sequential model = scripted_model();
    const recur::History history = model.fit(kX, kY, scripted_fit(5, {Script({0.5f, 0.5f}), stopper}));
    const std::vector<std::string> expected{"train_begin", "epoch_begin 0", "batch_begin 0", "batch_end 0 loss",
                                            "epoch_end 0 learning_rate loss val_loss", "train_end learning_rate loss val_loss"};
    CHECK(stopper->calls == expected);
    CHECK(history.loss.size() == 1);
    CHECK(model.stop_training());
}

TEST_CASE("EarlyStopping: patience, restore_best_weights bit for bit (Keras 3's rules)") {
    // val_loss = b^2: 1, 0.25, 0.5625, 0.390625, ... Epoch 1 is the best; epochs 2 and 3 do
    // not improve, so with patience 2 the wait reaches 2 at epoch 3 and training stops there.
    const std::vector<float> b{1.0f, 0.5f, 0.75f, 0.625f, 0.25f, 0.125f};
    auto stop = std::make_shared<recur::EarlyStopping>();
    stop->monitor("val_loss").patience(2).restore_best_weights(true);
    Sequential model = scripted_model();
    const recur::History history = model.fit(kX, kY, scripted_fit(6, {Script(b), stop}));
    CHECK(history.val_loss == std::vector<float>{1.0f, 0.25f, 0.5625f, 0.390625f});
    CHECK(stop->stopped_epoch() == 3);
    CHECK(stop->best_epoch() == 1);
    CHECK(stop->best() == 0.25f);
    CHECK(bias_of(model) == 0.5f);  // epoch 1's weights, restored

    SUBCASE("without restore_best_weights the last weights stay") {
        Sequential other = scripted_model();
        other.fit(kX, kY, scripted_fit(6, {Script(b), recur::EarlyStopping().patience(2)}));
        CHECK(bias_of(other) == 0.625f);
    }
    SUBCASE("patience 0 stops at the first epoch that does not improve (not at epoch 0)") {
        Sequential other = scripted_model();
        const auto h = other.fit(kX, kY, scripted_fit(6, {Script(b), recur::EarlyStopping()}));
        CHECK(h.loss.size() == 3);  // epochs 0, 1 improve; 2 does not
    }
    SUBCASE("min_delta: an improvement must beat the best by more than it") {
        // 0.25 -> 0.2025 (b 0.45) improves by 0.0475 < 0.05: no improvement; patience 1 stops at 2.
        Sequential other = scripted_model();
        auto s = std::make_shared<recur::EarlyStopping>();
        s->min_delta(-0.05f).patience(1);  // the sign is ignored, as Keras's
        const auto h = other.fit(kX, kY, scripted_fit(6, {Script({1.0f, 0.5f, 0.45f, 0.1f}), s}));
        CHECK(h.loss.size() == 3);
        CHECK(s->best() == 0.25f);
    }
    SUBCASE("baseline: improvements that do not beat it leave the wait running") {
        // Baseline 0.1: epochs 0..2 improve (1, 0.5625, 0.25) but none beats 0.1, so the wait
        // is never reset and reaches 3; an improvement returns before the patience check, so
        // the stop comes at epoch 3 (0.390625, no improvement, wait 4 >= 2).
        Sequential other = scripted_model();
        auto s = std::make_shared<recur::EarlyStopping>();
        s->baseline(0.1f).patience(2).restore_best_weights(true);
        const auto h = other.fit(kX, kY, scripted_fit(6, {Script({1.0f, 0.75f, 0.5f, 0.625f, 0.25f, 0.125f}), s}));
        CHECK(h.loss.size() == 4);
        CHECK(s->stopped_epoch() == 3);
        CHECK(bias_of(other) == 0.5f);  // the best epoch (2), restored though it missed the baseline
    }
    SUBCASE("start_from_epoch: epochs before it are not watched") {
        // Watched from epoch 2: 0.5625 best, 0.390625 improves, then 0.5625 and 0.5625 do not: stop at 5.
        Sequential other = scripted_model();
        auto s = std::make_shared<recur::EarlyStopping>();
        s->start_from_epoch(2).patience(2);
        const auto h = other.fit(kX, kY, scripted_fit(8, {Script({1.0f, 2.0f, 0.75f, 0.625f, 0.75f, 0.75f, 0.1f, 0.1f}), s}));
        CHECK(h.loss.size() == 6);
        CHECK(s->stopped_epoch() == 5);
        CHECK(s->best_epoch() == 3);
    }
    SUBCASE("mode max watches a value that should rise") {
        Sequential other = scripted_model();
        auto s = std::make_shared<recur::EarlyStopping>();
        s->mode("max").patience(1).restore_best_weights(true);
        // val_loss 0.25, 1, 0.5625, 0.5625: best at epoch 1, epoch 2 does not rise: stop.
        const auto h = other.fit(kX, kY, scripted_fit(6, {Script({0.5f, 1.0f, 0.75f, 0.75f}), s}));
        CHECK(h.loss.size() == 3);
        CHECK(bias_of(other) == 1.0f);
    }
}

TEST_CASE("ModelCheckpoint: filepath fields, save_best_only, and files load_model opens") {
    ScratchDir dir;
    const std::string pattern = (dir.path / "m-{epoch:02d}-{val_loss:.4f}.safetensors").string();
    // val_loss 1, 0.25, 0.5625, 0.0625: saves at epochs 1, 2 and 4 (counted from 1) only.
    Sequential model = scripted_model();
    model.fit(kX, kY, scripted_fit(4, {Script({1.0f, 0.5f, 0.75f, 0.25f}),
                                       recur::ModelCheckpoint(pattern).monitor("val_loss").save_best_only(true)}));
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(dir.path)) files.push_back(entry.path().filename().string());
    std::sort(files.begin(), files.end());
    CHECK(files == std::vector<std::string>{"m-01-1.0000.safetensors", "m-02-0.2500.safetensors", "m-04-0.0625.safetensors"});
    const Sequential second = recur::load_model((dir.path / "m-02-0.2500.safetensors").string());
    CHECK(bias_of(second) == 0.5f);
    CHECK(second.epochs_done() == 2);  // a checkpoint: it carries the epochs and the optimizer

    SUBCASE("every epoch, and weights only") {
        Sequential other = scripted_model();
        other.fit(kX, kY, scripted_fit(2, {Script({1.0f, 0.5f}),
                                           recur::ModelCheckpoint((dir.path / "all-{epoch}.safetensors").string())
                                               .save_weights_only(true)}));
        CHECK(fs::exists(dir.path / "all-1.safetensors"));
        CHECK(bias_of(recur::load_model((dir.path / "all-2.safetensors").string())) == 0.5f);
    }
    SUBCASE("the format fields as Python writes them") {
        const recur::ModelCheckpoint c("x{{y}}-{epoch:03d}-{loss:.2e}-{val_loss}-{acc:.1%}");
        CHECK(c.path_for(6, {{"loss", 0.000123f}, {"val_loss", 0.5f}, {"acc", 0.25f}}) == "x{y}-007-1.23e-04-0.5-25.0%");
        CHECK(c.path_for(0, {{"loss", 1.0f}, {"val_loss", 0.1f}, {"acc", 1.0f}}) ==
              "x{y}-001-1.00e+00-0.10000000149011612-100.0%");
    }
}

TEST_CASE("LearningRateScheduler sets each epoch's rate from fn(epoch, rate)") {
    // Dense(1) without bias, w 1, one sample (1 -> 0): the mse gradient is 2w, so each SGD
    // step multiplies w by 1 - 2 lr. The rates are 0.05, 0.025, 0.0125.
    Sequential model;
    model.add(Dense(1).use_bias(false).input_shape({1}));
    model.compile(recur::SGD().learning_rate(0.1f), "mse");
    model.set_weights({Tensor(Shape{1, 1}, {1.0f})});
    const auto history = model.fit(Tensor(Shape{1, 1}, {1.0f}), Tensor(Shape{1, 1}, {0.0f}),
                                   FitOptions().epochs(3).verbose(0).callbacks(
                                       {recur::LearningRateScheduler([](std::size_t, float lr) { return lr * 0.5f; })}));
    CHECK(history.history.at("learning_rate") == std::vector<float>{0.05f, 0.025f, 0.0125f});
    CHECK(model.get_weights()[0](0, 0) == doctest::Approx(0.9 * 0.95 * 0.975).epsilon(1e-6));
    CHECK(model.optimizer().learning_rate() == 0.0125f);
}

TEST_CASE("ReduceLROnPlateau: patience, cooldown and min_lr, step by step") {
    // val_loss stays 1. Epoch 0 sets the best; the wait reaches patience 2 at epoch 2 (rate
    // 0.1 -> 0.05, cooldown 1), epoch 3 spends the cooldown and waits 1, epoch 4 reduces to
    // 0.025, epoch 6 to max(0.0125, 0.02) = 0.02, and epoch 8 finds the rate at min_lr.
    Sequential model = scripted_model(0.1f);
    const auto history = model.fit(kX, kY, scripted_fit(9, {Script(std::vector<float>(9, 1.0f)),
                                                            recur::ReduceLROnPlateau().factor(0.5f).patience(2).cooldown(1).min_lr(0.02f)}));
    // The logs carry the rate the epoch ran with, before the callback changes it.
    const std::vector<float> expected{0.1f, 0.1f, 0.1f, 0.05f, 0.05f, 0.025f, 0.025f, 0.02f, 0.02f};
    CHECK(history.history.at("learning_rate") == expected);
    CHECK(model.optimizer().learning_rate() == 0.02f);
}

TEST_CASE("CSVLogger writes Keras's CSV: sorted names, epochs from 0, Python's floats, \\r\\n") {
    ScratchDir dir;
    const std::string path = (dir.path / "log.csv").string();
    Sequential model = scripted_model();
    model.fit(kX, kY, scripted_fit(2, {Script({1.0f, 0.5f}), recur::CSVLogger(path)}));
    // float(np.float32(0.01)) prints as 0.009999999776482582; the zero-weighted loss is 0.0.
    CHECK(slurp(path) == "epoch,learning_rate,loss,val_loss\r\n"
                         "0,0.009999999776482582,0.0,1.0\r\n"
                         "1,0.009999999776482582,0.0,0.25\r\n");
    SUBCASE("append adds rows without a second header; a separator of one's own") {
        model.fit(kX, kY, scripted_fit(1, {Script({0.125f}), recur::CSVLogger(path, ',', true)}));
        CHECK(slurp(path).ends_with("1,0.009999999776482582,0.0,0.25\r\n0,0.009999999776482582,0.0,0.015625\r\n"));
        const std::string other = (dir.path / "semi.csv").string();
        model.fit(kX, kY, scripted_fit(1, {Script({2.0f}), recur::CSVLogger(other, ';')}));
        CHECK(slurp(other) == "epoch;learning_rate;loss;val_loss\r\n0;0.009999999776482582;0.0;4.0\r\n");
    }
}

TEST_CASE("TerminateOnNaN and fit's own stop see the failed batch's NaN loss; the epoch is not recorded") {
    Sequential model;
    model.add(Dense(1).input_shape({1}));
    model.compile(recur::SGD().learning_rate(1e30f), "mse");
    auto recorder = std::make_shared<Recorder>();
    const Tensor x(Shape{4, 1}, {1e10f, 2e10f, 3e10f, 4e10f});
    const auto history =
        model.fit(x, kY, FitOptions().epochs(3).batch_size(1).verbose(0).shuffle(false).callbacks({recur::TerminateOnNaN(), recorder}));
    CHECK(history.terminated_on_nan);
    REQUIRE(!recorder->batch_logs.empty());
    CHECK_FALSE(std::isfinite(recorder->batch_logs.back().at("loss")));
    CHECK(recorder->calls.back().starts_with("train_end"));
    CHECK(history.loss.size() == recorder->epoch_logs.size());
}

TEST_CASE("a callback that throws ends fit; the exception reaches the caller unchanged") {
    struct Thrower : Callback {
        std::vector<Tensor> seen;
        void on_epoch_end(std::size_t epoch, const Logs&) override {
            if (epoch == 1) {
                seen = model().get_weights();
                throw std::runtime_error("boom");
            }
        }
    };
    auto thrower = std::make_shared<Thrower>();
    Sequential model;
    model.add(Dense(1).input_shape({1}));
    model.compile("adam", "mse");
    CHECK_THROWS_WITH_AS(model.fit(kX, kY, FitOptions().epochs(5).verbose(0).callbacks({thrower})), "boom",
                         std::runtime_error);
    const auto weights = model.get_weights();
    CHECK(weights[0](0, 0) == thrower->seen[0](0, 0));
    CHECK(weights[1](0) == thrower->seen[1](0));
    CHECK(model.epochs_done() == 2);
    // The callback is free again, and the model trains on.
    CHECK_NOTHROW(model.fit(kX, kY, FitOptions().epochs(1).verbose(0).callbacks({std::make_shared<Recorder>()})));
}

TEST_CASE("callbacks refuse misuse with a recur::Error") {
    Sequential model = scripted_model();
    SUBCASE("an unknown monitor names the logs") {
        CHECK_THROWS_WITH_AS(model.fit(kX, kY, scripted_fit(2, {Script({1.0f, 1.0f}), recur::EarlyStopping().monitor("val_los")})),
                             "EarlyStopping: monitor \"val_los\" is not in the epoch logs; they hold learning_rate, loss, val_loss",
                             Error);
        CHECK_THROWS_AS(model.fit(kX, kY, scripted_fit(2, {Script({1.0f, 1.0f}), recur::ReduceLROnPlateau().monitor("acc")})), Error);
        CHECK_THROWS_AS(model.fit(kX, kY, scripted_fit(1, {Script({1.0f}), recur::ModelCheckpoint("m-{val_acc}.safetensors")})),
                        Error);
        CHECK_THROWS_WITH_AS(model.fit(kX, kY, scripted_fit(1, {recur::EarlyStopping().monitor("learning_rate")})),
                             "EarlyStopping: cannot tell whether \"learning_rate\" improves up or down; give mode(\"min\") or mode(\"max\")",
                             Error);
        CHECK_NOTHROW(model.fit(kX, kY, scripted_fit(1, {recur::EarlyStopping().monitor("learning_rate").mode("min")})));
    }
    SUBCASE("settings out of range") {
        CHECK_THROWS_AS(recur::EarlyStopping().mode("minimum"), Error);
        CHECK_THROWS_AS(recur::EarlyStopping().baseline(NAN), Error);
        CHECK_THROWS_AS(recur::ReduceLROnPlateau().factor(1.0f), Error);
        CHECK_THROWS_AS(recur::ReduceLROnPlateau().factor(-0.5f), Error);
        CHECK_THROWS_AS(recur::ReduceLROnPlateau().min_lr(-1.0f), Error);
        CHECK_THROWS_AS(recur::ModelCheckpoint("m-{epoch"), Error);
        CHECK_THROWS_AS(recur::ModelCheckpoint("m-{epoch:x}"), Error);
        CHECK_THROWS_AS(recur::ModelCheckpoint("m-{loss:d}"), Error);
        CHECK_THROWS_AS(recur::ModelCheckpoint(""), Error);
        CHECK_THROWS_AS(recur::LearningRateScheduler(nullptr), Error);
        CHECK_THROWS_AS(recur::CSVLogger("", ','), Error);
        CHECK_THROWS_AS(recur::CallbackEntry(std::shared_ptr<Recorder>()), Error);
    }
    SUBCASE("a schedule that gives a bad rate, or a rate set on a scheduled optimizer") {
        CHECK_THROWS_AS(model.fit(kX, kY, scripted_fit(1, {recur::LearningRateScheduler([](std::size_t, float) { return -1.0f; })})),
                        Error);
        Sequential scheduled;
        scheduled.add(Dense(1).input_shape({1}));
        scheduled.compile(recur::SGD().learning_rate(recur::ExponentialDecay(0.1f, 10, 0.5f)), "mse");
        CHECK_THROWS_WITH_AS(scheduled.fit(kX, kY, FitOptions().verbose(0).callbacks(
                                                        {recur::LearningRateScheduler([](std::size_t, float lr) { return lr; })})),
                             "SGD::set_learning_rate: the rate follows a schedule (ExponentialDecay), which decides it; give "
                             "the optimizer a constant rate to set it",
                             Error);
    }
    SUBCASE("a callback may not add, compile or fit the model it is in") {
        struct Meddler : Callback {
            int what = 0;
            void on_epoch_end(std::size_t, const Logs&) override {
                if (what == 0) model().compile("adam", "mse");
                if (what == 1) model().fit(kX, kY, FitOptions().verbose(0));
                if (what == 2) model().train_on_batch(kX, kY);
                if (what == 3) model().add(Dense(1));
            }
        };
        for (int what = 0; what < 4; ++what) {
            auto meddler = std::make_shared<Meddler>();
            meddler->what = what;
            CHECK_THROWS_AS(model.fit(kX, kY, FitOptions().verbose(0).callbacks({meddler})), Error);
        }
        CHECK_NOTHROW(model.fit(kX, kY, FitOptions().verbose(0)));
    }
    SUBCASE("one callback object serves one fit at a time; model() only inside fit") {
        auto recorder = std::make_shared<Recorder>();
        CHECK_THROWS_WITH_AS(model.fit(kX, kY, FitOptions().verbose(0).callbacks({recorder, recorder})),
                             "Sequential::fit: callback 2 is in the list twice", Error);
        CHECK_THROWS_AS(recorder->model(), Error);
        CHECK_NOTHROW(model.fit(kX, kY, FitOptions().verbose(0).callbacks({recorder})));
    }
}

TEST_CASE("the README's translation of a Keras script runs as written") {
    ScratchDir dir;
    Tensor x(Shape{20, 40, 3}), y(Shape{20});
    for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(0.01f * float(i));
    for (std::size_t i = 0; i < y.size(); ++i) y.data()[i] = float(i % 5);
    const std::string checkpoint = (dir.path / "m-{epoch:02d}-{val_loss:.3f}.safetensors").string();
    const std::string log = (dir.path / "log.csv").string();

    recur::Sequential model;
    model.add(recur::LSTM(64).kernel_regularizer(recur::L2(1e-4f)).input_shape({40, 3}));
    model.add(recur::Dropout(0.3f));
    model.add(recur::Dense(5).activation("softmax"));
    recur::CosineDecay lr(0.0f, 2000, 0.0f, 1e-3f, 200);
    model.compile(recur::AdamW().learning_rate(lr).weight_decay(0.01f),
                  "sparse_categorical_crossentropy",
                  {"accuracy", recur::SparseTopKCategoricalAccuracy(2)});
    recur::History history = model.fit(x, y, recur::FitOptions().epochs(3).batch_size(32).validation_split(0.2).verbose(0)
        .callbacks({recur::EarlyStopping().monitor("val_loss").patience(5).restore_best_weights(true),
                    recur::ModelCheckpoint(checkpoint).save_best_only(true),
                    recur::CSVLogger(log)}));
    CHECK(history.history.at("val_loss").size() == 3);
    CHECK(fs::exists(log));
    // Warmup from 0: one step per epoch (16 training samples), so the rates are 1e-3 * 1/200, 2/200, 3/200.
    CHECK(history.history.at("learning_rate")[2] == doctest::Approx(1e-3 * 3 / 200).epsilon(1e-5));
}

TEST_CASE("callbacks cannot break fit: moves, changed options, changed stateful batches") {
    SUBCASE("moving or replacing the model from a callback is refused") {
        struct Mover : Callback {
            bool assign = false;
            void on_epoch_end(std::size_t, const Logs&) override {
                if (assign) model() = Sequential();
                else Sequential taken = std::move(model());
            }
        };
        for (bool assign : {false, true}) {
            Sequential model = scripted_model();
            auto mover = std::make_shared<Mover>();
            mover->assign = assign;
            CHECK_THROWS_WITH_AS(model.fit(kX, kY, FitOptions().epochs(3).verbose(0).callbacks({mover})),
                                 doctest::Contains("is in fit, which is running this callback; it cannot be moved"), Error);
            CHECK_NOTHROW(model.fit(kX, kY, FitOptions().verbose(0)));  // still whole
        }
    }
    SUBCASE("fit keeps its own copy of the options a callback changes") {
        struct Editor : Callback {
            FitOptions* options = nullptr;
            void on_epoch_end(std::size_t, const Logs&) override {
                options->callbacks({});
                options->validation_data(Tensor(Shape{2, 1}, {1.0f, 2.0f}), Tensor(Shape{2, 1}, {0.0f, 0.0f}));
            }
        };
        Sequential model = scripted_model();
        Editor editor;
        FitOptions options = FitOptions().epochs(3).verbose(0).validation_data(kX, kY);
        editor.options = &options;
        options.callbacks({editor});
        const auto history = model.fit(kX, kY, options);
        CHECK(history.val_loss.size() == 3);
    }
    SUBCASE("a stateful model whose carried batch a callback changed is refused, not overrun") {
        Sequential model;
        model.add(recur::LSTM(4).stateful(true).input_shape({3, 2}));
        model.add(Dense(1));
        model.compile("adam", "mse");
        struct Resizer : Callback {
            void on_train_batch_end(std::size_t, const Logs&) override {
                model().reset_states();
                model().predict(Tensor(Shape{2, 3, 2}), 2);
            }
        };
        CHECK_THROWS_WITH_AS(model.fit(Tensor(Shape{8, 3, 2}), Tensor(Shape{8, 1}),
                                       FitOptions().epochs(2).batch_size(4).shuffle(false).verbose(0).callbacks({Resizer()})),
                             doctest::Contains("carries the states of a batch of 2 samples, got a batch of 4"), Error);
    }
    SUBCASE("a stateful model validates in its training batch size") {
        Sequential model;
        model.add(recur::LSTM(4).stateful(true).input_shape({3, 2}));
        model.add(Dense(1));
        model.compile("adam", "mse");
        const auto history = model.fit(Tensor(Shape{2, 3, 2}), Tensor(Shape{2, 1}),
                                       FitOptions().epochs(2).batch_size(32).shuffle(false).verbose(0)
                                           .validation_data(Tensor(Shape{4, 3, 2}), Tensor(Shape{4, 1})));
        CHECK(history.val_loss.size() == 2);
        CHECK_THROWS_AS(model.fit(Tensor(Shape{2, 3, 2}), Tensor(Shape{2, 1}),
                                  FitOptions().batch_size(2).shuffle(false).verbose(0)
                                      .validation_data(Tensor(Shape{3, 3, 2}), Tensor(Shape{3, 1}))),
                        Error);  // 3 validation samples do not come in batches of 2
    }
}

TEST_CASE("stop_training set before a batch still runs that batch, as Keras checks it after each") {
    struct EarlyStop : Recorder {
        void on_epoch_begin(std::size_t e, const Logs& logs) override {
            Recorder::on_epoch_begin(e, logs);
            if (e == 1) model().stop_training(true);
        }
    };
    auto stopper = std::make_shared<EarlyStop>();
    Sequential model = scripted_model();
    const auto history = model.fit(kX, kY, scripted_fit(3, {Script({0.5f, 0.25f, 1.0f}), stopper}));
    REQUIRE(history.val_loss.size() == 2);
    CHECK(history.val_loss[1] == 0.0625f);  // epoch 1 ran its first batch, then stopped
    CHECK(std::count(stopper->calls.begin(), stopper->calls.end(), "batch_end 0 loss") == 2);
    CHECK(std::count(stopper->calls.begin(), stopper->calls.end(), "batch_end 1 loss") == 1);
}

TEST_CASE("ReduceLROnPlateau floors the rate at the smallest normal float instead of failing") {
    Sequential model = scripted_model(0.1f);
    auto reduce = std::make_shared<recur::ReduceLROnPlateau>();
    reduce->monitor("val_loss").patience(1);  // factor 0.1, min_lr 0: 38 reductions reach the floor
    const auto history = model.fit(kX, kY, scripted_fit(90, {Script(std::vector<float>(90, 1.0f)), reduce}));
    CHECK(history.loss.size() == 90);
    CHECK(model.optimizer().learning_rate() == std::numeric_limits<float>::min());
}

TEST_CASE("ModelCheckpoint makes a missing directory and formats fields as Python does") {
    ScratchDir dir;
    Sequential model = scripted_model();
    model.fit(kX, kY, scripted_fit(1, {Script({0.5f}), recur::ModelCheckpoint((dir.path / "a/b/m-{epoch}.safetensors").string())}));
    CHECK(fs::exists(dir.path / "a/b/m-1.safetensors"));
    const recur::ModelCheckpoint c("{loss:.4}|{val_loss:08}|{acc}|{acc:.3}");
    CHECK(c.path_for(0, {{"loss", 1.0f}, {"val_loss", -0.5f}, {"acc", -NAN}}) == "1.0|-00000.5|nan|nan");
    CHECK(c.path_for(0, {{"loss", 12.0f}, {"val_loss", 0.25f}, {"acc", 0.125f}}) == "12.0|00000.25|0.125|0.125");
    CHECK_THROWS_AS(recur::ModelCheckpoint("m-{epoch:.3}"), Error);  // Python: no precision for an integer
}

TEST_CASE("CSVLogger quotes a value holding its separator and refuses a FIFO without waiting on it") {
    ScratchDir dir;
    const std::string path = (dir.path / "dots.csv").string();
    Sequential model = scripted_model();
    model.fit(kX, kY, scripted_fit(1, {Script({0.5f}), recur::CSVLogger(path, '.')}));
    CHECK(slurp(path) == "epoch.learning_rate.loss.val_loss\r\n0.\"0.009999999776482582\".\"0.0\".\"0.25\"\r\n");
    const std::string fifo = (dir.path / "fifo.csv").string();
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    for (bool append : {false, true})
        CHECK_THROWS_WITH_AS(model.fit(kX, kY, scripted_fit(1, {recur::CSVLogger(fifo, ',', append)})),
                             doctest::Contains("is not a regular file"), Error);
}

TEST_CASE("one FitOptions with callbacks by value serves fits on two threads at once") {
    const FitOptions options = FitOptions().epochs(3).verbose(0).callbacks({recur::EarlyStopping().monitor("loss").patience(1)});
    Sequential a = scripted_model(), b = scripted_model();
    std::thread other([&] { a.fit(kX, kY, options); });
    CHECK_NOTHROW(b.fit(kX, kY, options));
    other.join();
}
