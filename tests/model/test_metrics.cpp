// Compiled metrics against values worked out by hand from Keras's definitions. A Dense(3)
// with an identity kernel and no bias predicts its input, so the predictions are chosen here.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include <recur/recur.hpp>

using recur::Sequential;
using recur::Shape;
using recur::Tensor;

namespace {
const Tensor kPred(Shape{4, 3}, {0.1f, 0.7f, 0.2f, 0.5f, 0.3f, 0.2f, 0.2f, 0.2f, 0.6f, 0.3f, 0.3f, 0.4f});
const Tensor kOneHot(Shape{4, 3}, {0, 1, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0});
const Tensor kClasses(Shape{4}, {1, 2, 2, 0});

Sequential identity(const char* loss, const std::vector<recur::Metric>& metrics) {
    Sequential model;
    model.add(recur::Dense(3).use_bias(false).input_shape({3}));
    model.set_weights({Tensor(Shape{3, 3}, {1, 0, 0, 0, 1, 0, 0, 0, 1})});
    model.compile("sgd", loss, metrics);
    return model;
}
}  // namespace

TEST_CASE("each metric as Keras computes it, by name and as an object") {
    // argmax of the predictions: 1, 0, 2, 2 against the classes 1, 2, 2, 0.
    Sequential model = identity("mse", {"mse", "rmse", "mae", "categorical_accuracy", recur::TopKCategoricalAccuracy(2)});
    CHECK(model.metrics_names() == std::vector<std::string>{"loss", "mse", "rmse", "mae", "categorical_accuracy",
                                                             "top_k_categorical_accuracy"});
    for (std::size_t batch : {1, 4}) {
        CAPTURE(batch);
        const auto values = model.evaluate(kPred, kOneHot, batch);
        const auto all = model.evaluate_dict(kPred, kOneHot, batch);
        // Squared errors by row: 0.14, 0.98, 0.24, 0.74 over 12 outputs; absolute: 0.6, 1.6, 0.8, 1.4.
        CHECK(all.at("mse") == doctest::Approx(2.1 / 12).epsilon(1e-6));
        CHECK(all.at("loss") == doctest::Approx(2.1 / 12).epsilon(1e-6));
        CHECK(values == doctest::Approx(2.1 / 12).epsilon(1e-6));
        // The root of the mean over everything seen, with batches of 1 too (not a mean of roots).
        CHECK(all.at("rmse") == doctest::Approx(std::sqrt(2.1 / 12)).epsilon(1e-6));
        CHECK(all.at("mae") == doctest::Approx(4.4 / 12).epsilon(1e-6));
        CHECK(all.at("categorical_accuracy") == 0.5f);
        // Top 2: row 1's class 2 (0.2) has 0.5 and 0.3 above it; row 3's class 0 (0.3) only 0.4.
        CHECK(all.at("top_k_categorical_accuracy") == 0.75f);
    }
    // Binary accuracy at two thresholds (one name each, so two models).
    const std::vector<float> in_order = [&] {
        recur::Sequential half = identity("mse", {"binary_accuracy"});
        recur::Sequential quarter = identity("mse", {recur::BinaryAccuracy(0.25f)});
        return std::vector<float>{half.evaluate_dict(kPred, kOneHot).at("binary_accuracy"),
                                  quarter.evaluate_dict(kPred, kOneHot).at("binary_accuracy")};
    }();
    // y_true == (y_pred > t) per output: 3, 2, 3, 2 of 3 at 0.5; 3, 0, 3, 1 of 3 at 0.25.
    CHECK(in_order[0] == doctest::Approx(10.0 / 12).epsilon(1e-6));
    CHECK(in_order[1] == doctest::Approx(7.0 / 12).epsilon(1e-6));
    // A soft target never equals 0 or 1, as in Keras.
    const Tensor soft(Shape{1, 3}, {0.9f, 0.0f, 1.0f}), soft_pred(Shape{1, 3}, {0.95f, 0.1f, 0.8f});
    CHECK(identity("mse", {"binary_accuracy"}).evaluate_dict(soft_pred, soft).at("binary_accuracy") ==
          doctest::Approx(2.0 / 3).epsilon(1e-6));
}

TEST_CASE("sparse accuracies take class indices; top-k ties at the boundary count the class in") {
    Sequential model = identity("sparse_categorical_crossentropy",
                                {"sparse_categorical_accuracy", recur::SparseTopKCategoricalAccuracy(2), "accuracy"});
    const auto all = model.evaluate_dict(kPred, kClasses);
    CHECK(all.at("sparse_categorical_accuracy") == 0.5f);
    CHECK(all.at("sparse_top_k_categorical_accuracy") == 0.75f);
    CHECK(all.at("accuracy") == 0.5f);  // resolved from the loss
    // k 1 with a tie: row (0.4, 0.4, 0.2) and class 1: nothing beats it, so it is in.
    Sequential tie = identity("sparse_categorical_crossentropy", {recur::SparseTopKCategoricalAccuracy(1)});
    CHECK(tie.evaluate_dict(Tensor(Shape{1, 3}, {0.4f, 0.4f, 0.2f}), Tensor(Shape{1}, {1})).at(
              "sparse_top_k_categorical_accuracy") == 1.0f);
}

TEST_CASE("metric objects survive save and load; names and settings are checked") {
    const std::string path =
        std::filesystem::temp_directory_path() / ("recur_metrics_" + std::to_string(::getpid()) + ".safetensors");
    Sequential model = identity("mse", {recur::RootMeanSquaredError(), recur::TopKCategoricalAccuracy(2),
                                        recur::BinaryAccuracy(0.25f), "mae"});
    model.save(path);
    const Sequential loaded = recur::load_model(path);
    CHECK(loaded.metrics_names() == model.metrics_names());
    CHECK(loaded.evaluate_dict(kPred, kOneHot) == model.evaluate_dict(kPred, kOneHot));
    CHECK(loaded.metrics()[1].k() == 2);
    CHECK(loaded.metrics()[2].threshold() == 0.25f);
    std::filesystem::remove(path);
    CHECK_THROWS_AS(recur::TopKCategoricalAccuracy(0), recur::Error);
    CHECK_THROWS_AS(recur::BinaryAccuracy(1.5f), recur::Error);
    CHECK_THROWS_AS(recur::BinaryAccuracy(NAN), recur::Error);
    CHECK_THROWS_AS(recur::Metric("auc"), recur::Error);
}

TEST_CASE("EarlyStopping's mode auto knows each metric's direction") {
    struct Case {
        recur::Metric metric;
        bool maximize;
    };
    for (const Case& c : {Case{"rmse", false}, Case{recur::TopKCategoricalAccuracy(2), true},
                          Case{"binary_accuracy", true}, Case{recur::MeanSquaredError(), false}}) {
        CAPTURE(c.metric.name());
        Sequential model = identity("mse", {c.metric});
        auto stop = std::make_shared<recur::EarlyStopping>();
        stop->monitor(c.metric.name()).patience(100);
        const auto history = model.fit(kPred, kOneHot, recur::FitOptions().epochs(3).verbose(0).callbacks({stop}));
        const std::vector<float>& values = history.metrics.at(c.metric.name());
        REQUIRE(stop->best());
        // The best epoch's value, in the metric's direction.
        CHECK(*stop->best() == (c.maximize ? *std::max_element(values.begin(), values.end())
                                           : *std::min_element(values.begin(), values.end())));
    }
}

TEST_CASE("a metric keeps the name it was given through save and load; a name given twice is refused") {
    Sequential model = identity("mse", {recur::MeanAbsoluteError(), "mean_squared_error"});
    CHECK(model.metrics_names() == std::vector<std::string>{"loss", "mean_absolute_error", "mean_squared_error"});
    const std::string path =
        std::filesystem::temp_directory_path() / ("recur_metric_names_" + std::to_string(::getpid()) + ".safetensors");
    model.save(path);
    CHECK(recur::load_model(path).metrics_names() == model.metrics_names());
    std::filesystem::remove(path);
    CHECK_THROWS_WITH_AS(identity("mse", {"mae", recur::Metric("mae")}), doctest::Contains("metric \"mae\" is named twice"),
                         recur::Error);
    CHECK_THROWS_AS(identity("mse", {"loss"}), recur::Error);
}
