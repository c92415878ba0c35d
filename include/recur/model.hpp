#pragma once
#include <cstddef>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "callbacks.hpp"
#include "layers.hpp"
#include "losses.hpp"
#include "metrics.hpp"
#include "optimizers.hpp"
#include "stream.hpp"
#include "tensor.hpp"

namespace recur {

// Options of Sequential::fit, with Keras's names and defaults.
class FitOptions {
public:
    FitOptions& epochs(std::size_t n) { epochs_ = n; return *this; }
    FitOptions& batch_size(std::size_t n) { batch_size_ = n; return *this; }
    FitOptions& shuffle(bool on) { shuffle_ = on; return *this; }
    // The last fraction of the samples (before shuffling) is held out for validation.
    FitOptions& validation_split(double fraction) { validation_split_ = fraction; return *this; }
    FitOptions& validation_data(Tensor x, Tensor y) {
        validation_data_ = std::make_pair(std::move(x), std::move(y));
        return *this;
    }
    // 0: silent, 1: a progress bar per epoch, 2: one line per epoch (fit refuses others).
    FitOptions& verbose(int level) { verbose_ = level; return *this; }
    // As Keras: train epochs initial_epoch + 1 .. epochs (to resume an interrupted run).
    FitOptions& initial_epoch(std::size_t n) { initial_epoch_ = n; return *this; }
    // Writes a checkpoint (Sequential::save_checkpoint) to this path after every epoch.
    FitOptions& checkpoint(std::string path) { checkpoint_ = std::move(path); return *this; }
    // Keras's sample_weight: (N,) a weight per sample, or (N, T) per timestep of a sequence
    // output; the loss is then sum(weight * loss) / rows, as Keras's (a mean over the rows,
    // not over the weights). Weights are finite and >= 0. With validation_split the held-out
    // samples' weights weigh val_loss too. The compiled metrics stay unweighted, as Keras's.
    FitOptions& sample_weight(Tensor weights) { sample_weight_ = std::move(weights); return *this; }
    // Keras's class_weight: {class: weight} for every class the targets hold (class
    // indices, or the index of a one-hot row's largest value, or a 0/1 target rounded);
    // multiplies sample_weight. Not for sequence outputs, as Keras.
    FitOptions& class_weight(std::map<std::size_t, float> weights) { class_weight_ = std::move(weights); return *this; }
    // Called in list order at each hook: FitOptions().callbacks({EarlyStopping().patience(3),
    // std::make_shared<MyCallback>()}).
    FitOptions& callbacks(std::vector<CallbackEntry> list) { callbacks_ = std::move(list); return *this; }

    std::size_t epochs() const { return epochs_; }
    std::size_t batch_size() const { return batch_size_; }
    bool shuffle() const { return shuffle_; }
    double validation_split() const { return validation_split_; }
    const std::optional<std::pair<Tensor, Tensor>>& validation_data() const { return validation_data_; }
    int verbose() const { return verbose_; }
    std::size_t initial_epoch() const { return initial_epoch_; }
    const std::string& checkpoint() const { return checkpoint_; }
    const Tensor& sample_weight() const { return sample_weight_; }
    const std::map<std::size_t, float>& class_weight() const { return class_weight_; }
    const std::vector<CallbackEntry>& callbacks() const { return callbacks_; }

private:
    std::size_t epochs_ = 1;
    std::size_t batch_size_ = 32;
    bool shuffle_ = true;
    double validation_split_ = 0.0;
    std::optional<std::pair<Tensor, Tensor>> validation_data_;
    int verbose_ = 1;
    std::size_t initial_epoch_ = 0;
    std::string checkpoint_;
    Tensor sample_weight_;  // empty: none
    std::map<std::size_t, float> class_weight_;
    std::vector<CallbackEntry> callbacks_;
};

// What fit records, one entry per epoch run (val_loss stays empty without validation data).
struct History {
    std::vector<float> loss;
    std::vector<float> val_loss;
    // The compiled metrics by name, and "val_" + name for validation: metrics["accuracy"].
    std::map<std::string, std::vector<float>> metrics;
    // Keras's history.history: every epoch log by name, loss, metrics, val_* and learning_rate.
    std::map<std::string, std::vector<float>> history;
    // Keras's history.epoch: the epochs run, counted from 0.
    std::vector<std::size_t> epoch;
    // fit stopped because the loss, a gradient or an update became NaN or Inf; the model keeps
    // the weights and optimizer state from before the failing batch (Keras's TerminateOnNaN).
    bool terminated_on_nan = false;
};

// A plain stack of layers, each feeding the next. Not copyable (a model owns its buffers);
// movable (a moved-from model throws a recur::Error on use). Each model draws its initial
// weights and its shuffles from a generator of its own, seeded from manual_seed's when the
// model is made, so models trained on several threads at once give the results they give
// one after the other. Thread safety: predict, evaluate, save and stream on a built model may
// run from many threads at once; add, compile, fit and train_on_batch change the model and
// need it alone (a call that breaks this from another thread gets a recur::Error); a layer's
// set_weights must not run while anything else runs on its model.
class Sequential {
public:
    Sequential();
    explicit Sequential(std::string name);
    // A move inside fit (from a callback) is a recur::Error.
    Sequential(Sequential&&);
    Sequential& operator=(Sequential&&);
    ~Sequential();

    const std::string& name() const;

    // Adds a copy of the layer; its input shape must agree with the previous output.
    void add(const Layer& layer);

    // metrics: by name or as objects (see metrics.hpp): {"accuracy", recur::TopKCategoricalAccuracy(3)}.
    void compile(const Optimizer& optimizer, const Loss& loss, const std::vector<Metric>& metrics = {});
    void compile(std::string_view optimizer, std::string_view loss, const std::vector<Metric>& metrics = {});
    void compile(const Optimizer& optimizer, std::string_view loss, const std::vector<Metric>& metrics = {});
    void compile(std::string_view optimizer, const Loss& loss, const std::vector<Metric>& metrics = {});

    // Keras's table: Layer (type) / Output Shape / Param #, then the totals.
    void summary(std::ostream& os = std::cout) const;

    History fit(const Tensor& x, const Tensor& y, const FitOptions& options = FitOptions());
    // The mean loss over x, batch by batch; with sample weights (as FitOptions::sample_weight),
    // weighted as Keras's.
    float evaluate(const Tensor& x, const Tensor& y, std::size_t batch_size = 32, const Tensor& sample_weight = Tensor()) const;
    // The loss and every compiled metric: {"loss": ..., "accuracy": ...} (Keras's return_dict).
    std::map<std::string, float> evaluate_dict(const Tensor& x, const Tensor& y, std::size_t batch_size = 32,
                                               const Tensor& sample_weight = Tensor()) const;
    Tensor predict(const Tensor& x, std::size_t batch_size = 32) const;
    // One optimizer step on the whole given batch; returns its loss before the step. When that
    // loss or the update is not finite the weights are left unchanged and NaN/Inf is returned.
    float train_on_batch(const Tensor& x, const Tensor& y, const Tensor& sample_weight = Tensor());

    // Keras's model.stop_training: a callback sets it to end fit after the current batch;
    // fit clears it when it starts.
    void stop_training(bool stop);
    bool stop_training() const;

    // Every layer's weights in Keras's order (Keras's model.get_weights), and back: the list
    // must match get_weights() in count and shapes, and hold finite values.
    std::vector<Tensor> get_weights() const;
    void set_weights(const std::vector<Tensor>& weights);

    // A .safetensors file with the weights (named like Keras's: "simple_rnn/kernel", ...) and,
    // in its metadata, the architecture, the compile settings and metadata(). Written
    // atomically: to a temporary file beside the target, then renamed over it. It replaces
    // only a regular file (keeping its permissions) or creates a new one; a symbolic link
    // is followed to the file it names. A loss or optimizer class of the caller's own, which
    // load_model could not rebuild, is a recur::Error.
    void save(const std::string& path) const;
    // save() plus the optimizer's state, the epochs done and the model's random generator.
    void save_checkpoint(const std::string& path) const;
    // Epochs trained by fit so far (restored from a checkpoint by load_model).
    std::size_t epochs_done() const;

    // Keras's reset_states: stateful layers start their next batch from zero states (and
    // take any batch size again).
    void reset_states();

    // One timestep at a time for `batch` sequences; see Stream. Layers with go_backwards and
    // Bidirectional layers cannot stream (they need the sequence's end first), nor a model
    // with a mask (a stream runs every step it is given).
    Stream stream(std::size_t batch) const;

    const std::vector<std::unique_ptr<Layer>>& layers() const;
    Layer& layer(std::size_t index);
    const Layer& layer(std::size_t index) const;

    bool built() const;
    bool compiled() const;
    std::size_t count_params() const;
    Shape input_shape() const;   // per sample
    Shape output_shape() const;  // per sample
    const Optimizer& optimizer() const;
    // To change the rate between steps (optimizer().set_learning_rate(...)), as a callback does.
    Optimizer& optimizer();
    const Loss& loss() const;
    std::vector<std::string> metrics_names() const;  // "loss" first, as Keras lists them
    const std::vector<Metric>& metrics() const;      // as compile was given them

    // Strings the application keeps with the model (the scaler it was trained with, the
    // column it reads, a version): saved in the model file and restored by load_model.
    // Keys and values must be valid UTF-8.
    std::map<std::string, std::string>& metadata();
    const std::map<std::string, std::string>& metadata() const;

private:
    friend Sequential load_model(const std::string& path);
    struct Impl;
    Impl& impl(const char* call) const;  // throws when moved from
    void check_movable(const char* call) const;
    std::unique_ptr<Impl> impl_;
};

}  // namespace recur
