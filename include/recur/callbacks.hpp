#pragma once
// Keras's callbacks: code that fit calls at the start and end of training, of every epoch
// and of every batch, to watch the logs, stop training, change the learning rate or save.
#include <atomic>
#include <concepts>
#include <cstddef>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "error.hpp"
#include "tensor.hpp"

namespace recur {

class Sequential;
namespace detail {
class Hooks;
}

// What a hook is told, by name: "loss" and the compiled metrics as running means over the
// epoch so far (batch hooks) or over the epoch (epoch hooks), and at the end of an epoch
// "val_" + each of them with validation data, and "learning_rate": the optimizer's rate for
// its next step.
using Logs = std::map<std::string, float>;

// Override the hooks you need. As in Keras, epochs and batches count from 0 here (the
// progress line prints epoch + 1), and on_train_end gets the last epoch's logs. model() is
// the model being trained (Keras's self.model) from on_train_begin to on_train_end; a hook
// may read it, evaluate or save it, set its weights, change its optimizer's learning rate,
// and end training with model().stop_training(true) (fit checks it after each batch, as Keras's).
// An exception thrown by a hook ends fit and reaches fit's caller unchanged; the model keeps
// the weights of its last completed step. A hook may not add, compile, fit, train_on_batch or
// move the model. A callback object serves one fit at a time (see CallbackEntry).
class Callback {
public:
    Callback() = default;
    Callback(const Callback&) {}  // a copy is not bound to the original's model
    Callback& operator=(const Callback&) { return *this; }
    virtual ~Callback();

    virtual void on_train_begin(const Logs&) {}
    virtual void on_train_end(const Logs&) {}
    virtual void on_epoch_begin(std::size_t /*epoch*/, const Logs&) {}
    virtual void on_epoch_end(std::size_t /*epoch*/, const Logs&) {}
    virtual void on_train_batch_begin(std::size_t /*batch*/, const Logs&) {}
    virtual void on_train_batch_end(std::size_t /*batch*/, const Logs&) {}

    // The model in training; a recur::Error outside fit.
    Sequential& model() const;

private:
    friend class detail::Hooks;
    std::atomic<Sequential*> model_{nullptr};
};

// One entry of FitOptions::callbacks: a callback by value (each fit uses a fresh copy of it, so
// built-ins read naturally, EarlyStopping().patience(3), and one FitOptions serves fits on
// several threads), or by shared_ptr (fit uses that very object, whose state the caller can
// read afterwards, and which serves one fit at a time).
class CallbackEntry {
public:
    template <std::derived_from<Callback> C>
    CallbackEntry(const C& callback) : callback_(std::make_shared<C>(callback)), copy_(&copy_of<C>) {}
    template <std::derived_from<Callback> C>
    CallbackEntry(std::shared_ptr<C> callback) : callback_(std::move(callback)) {
        if (!callback_) throw Error("FitOptions::callbacks: expected a callback, got an empty shared_ptr");
    }
    // The callback one fit uses.
    std::shared_ptr<Callback> for_fit() const { return copy_ ? copy_(*callback_) : callback_; }

private:
    template <class C>
    static std::shared_ptr<Callback> copy_of(const Callback& callback) {
        return std::make_shared<C>(static_cast<const C&>(callback));
    }
    std::shared_ptr<Callback> callback_;
    std::shared_ptr<Callback> (*copy_)(const Callback&) = nullptr;  // set for a callback given by value
};

// Which way a monitored value improves: "auto" decides from its name as each Keras callback does.
enum class MonitorMode { automatic, min, max };
// "auto", "min" or "max"; anything else is a recur::Error naming `call`.
MonitorMode monitor_mode(const std::string& mode, const std::string& call);

// Stops training once the monitored value has not improved by more than min_delta for
// `patience` epochs (Keras 3's rules: the first epoch it sees is an improvement; with a
// baseline, improvements that do not beat it leave the wait running; nothing is watched
// before start_from_epoch). With restore_best_weights the model ends with the weights of the
// best epoch, bit for bit (the epoch it first saw when none improved).
class EarlyStopping final : public Callback {
public:
    EarlyStopping& monitor(std::string name) { monitor_ = std::move(name); return *this; }
    EarlyStopping& min_delta(float value);
    EarlyStopping& patience(std::size_t epochs) { patience_ = epochs; return *this; }
    EarlyStopping& verbose(int level) { verbose_ = level; return *this; }
    EarlyStopping& mode(const std::string& mode) { mode_ = monitor_mode(mode, "EarlyStopping::mode"); return *this; }
    EarlyStopping& baseline(float value);
    EarlyStopping& restore_best_weights(bool on) { restore_best_weights_ = on; return *this; }
    EarlyStopping& start_from_epoch(std::size_t epoch) { start_from_epoch_ = epoch; return *this; }

    // After fit: the epoch (from 0) training stopped at (0 when it ran to the end, as Keras's)
    // and the best epoch and value seen.
    std::size_t stopped_epoch() const { return stopped_epoch_; }
    std::size_t best_epoch() const { return best_epoch_; }
    std::optional<float> best() const { return best_; }

    void on_train_begin(const Logs& logs) override;
    void on_epoch_end(std::size_t epoch, const Logs& logs) override;
    void on_train_end(const Logs& logs) override;

private:
    bool improves(float value, float reference) const;
    void find_direction();
    std::string monitor_ = "val_loss";
    float min_delta_ = 0.0f;
    std::size_t patience_ = 0;
    int verbose_ = 0;
    MonitorMode mode_ = MonitorMode::automatic;
    std::optional<float> baseline_;
    bool restore_best_weights_ = false;
    std::size_t start_from_epoch_ = 0;
    // State of one fit.
    bool direction_known_ = false, maximize_ = false;
    std::size_t wait_ = 0, stopped_epoch_ = 0, best_epoch_ = 0;
    std::optional<float> best_;
    std::vector<Tensor> best_weights_;
};

// Saves the model after every epoch (or only when the monitored value improved, with
// save_best_only) to filepath, whose {epoch} (counted from 1) and {name} fields take the
// epoch logs' values with Python's format specs: "model-{epoch:02d}-{val_loss:.4f}.safetensors".
// A save is a checkpoint (Sequential::save_checkpoint: weights, optimizer state, epochs), or
// with save_weights_only the model without its optimizer state (Sequential::save); either
// is written atomically (a missing directory is made, as Keras's) and opens with load_model.
class ModelCheckpoint final : public Callback {
public:
    explicit ModelCheckpoint(std::string filepath);
    ModelCheckpoint& monitor(std::string name) { monitor_ = std::move(name); return *this; }
    ModelCheckpoint& verbose(int level) { verbose_ = level; return *this; }
    ModelCheckpoint& save_best_only(bool on) { save_best_only_ = on; return *this; }
    ModelCheckpoint& save_weights_only(bool on) { save_weights_only_ = on; return *this; }
    ModelCheckpoint& mode(const std::string& mode) { mode_ = monitor_mode(mode, "ModelCheckpoint::mode"); return *this; }
    ModelCheckpoint& initial_value_threshold(float value);

    // filepath with the fields of `logs` and `epoch` (from 0) filled in.
    std::string path_for(std::size_t epoch, const Logs& logs) const;

    void on_train_begin(const Logs& logs) override;
    void on_epoch_end(std::size_t epoch, const Logs& logs) override;

private:
    std::string filepath_;
    std::string monitor_ = "val_loss";
    int verbose_ = 0;
    bool save_best_only_ = false, save_weights_only_ = false;
    MonitorMode mode_ = MonitorMode::automatic;
    std::optional<float> initial_value_threshold_;
    std::optional<float> best_;  // of one fit
};

// Sets the learning rate at the start of every epoch to schedule(epoch, current rate).
class LearningRateScheduler final : public Callback {
public:
    explicit LearningRateScheduler(std::function<float(std::size_t epoch, float learning_rate)> schedule, int verbose = 0);
    void on_epoch_begin(std::size_t epoch, const Logs& logs) override;

private:
    std::function<float(std::size_t, float)> schedule_;
    int verbose_;
};

// Multiplies the learning rate by factor (never below min_lr) once the monitored value has not
// improved by more than min_delta for `patience` epochs, then waits `cooldown` epochs.
class ReduceLROnPlateau final : public Callback {
public:
    ReduceLROnPlateau& monitor(std::string name) { monitor_ = std::move(name); return *this; }
    ReduceLROnPlateau& factor(float value);
    ReduceLROnPlateau& patience(std::size_t epochs) { patience_ = epochs; return *this; }
    ReduceLROnPlateau& verbose(int level) { verbose_ = level; return *this; }
    ReduceLROnPlateau& mode(const std::string& mode) { mode_ = monitor_mode(mode, "ReduceLROnPlateau::mode"); return *this; }
    ReduceLROnPlateau& min_delta(float value);
    ReduceLROnPlateau& cooldown(std::size_t epochs) { cooldown_ = epochs; return *this; }
    ReduceLROnPlateau& min_lr(float value);

    void on_train_begin(const Logs& logs) override;
    void on_epoch_end(std::size_t epoch, const Logs& logs) override;

private:
    std::string monitor_ = "val_loss";
    float factor_ = 0.1f;
    std::size_t patience_ = 10;
    int verbose_ = 0;
    MonitorMode mode_ = MonitorMode::automatic;
    float min_delta_ = 1e-4f;
    std::size_t cooldown_ = 0;
    float min_lr_ = 0.0f;
    // State of one fit.
    bool maximize_ = false;
    std::optional<float> best_;
    std::size_t wait_ = 0, cooldown_counter_ = 0;
};

// Writes the epoch logs to a CSV file as Keras's does: a header "epoch" + the log names in
// sorted order, then one row per epoch (epoch from 0, values as Python prints floats), rows
// ended by "\r\n" (Python's csv dialect). Without append the file is replaced at the start
// of training; with append new rows go after the old ones, without a second header.
class CSVLogger final : public Callback {
public:
    explicit CSVLogger(std::string filename, char separator = ',', bool append = false);
    CSVLogger(const CSVLogger& other);  // the settings; a copy opens its own file
    void on_train_begin(const Logs& logs) override;
    void on_epoch_end(std::size_t epoch, const Logs& logs) override;
    void on_train_end(const Logs& logs) override;

private:
    std::string filename_;
    char separator_;
    bool append_;
    std::ofstream out_;
    std::vector<std::string> keys_;
    bool header_due_ = true;
};

// Stops training when a batch's loss is NaN or Inf. fit does so anyway (the step that met
// it is undone, see History::terminated_on_nan); this callback says so as Keras's does.
class TerminateOnNaN final : public Callback {
public:
    void on_train_batch_end(std::size_t batch, const Logs& logs) override;
};

}  // namespace recur
