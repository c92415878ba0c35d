// The built-in callbacks, each following the Keras 3 callback of its name, and the binding of
// callbacks to the model that fit trains.
#include <recur/callbacks.hpp>
#include <recur/model.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <limits>

#include "model/hooks.hpp"
#include "model/metrics.hpp"
#include "text.hpp"

namespace recur {

namespace {

// A float as Python's repr writes the double it converts to: the shortest digits that read
// back, fixed notation for exponents -4 .. 15, else "1e-05" style.
std::string python_float(double value) {
    if (std::isnan(value)) return "nan";
    if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
    char buf[64];
    const auto end = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific).ptr;
    std::string text(buf, end);  // "-1.2345e-05"
    std::string sign;
    if (text[0] == '-') sign = "-", text.erase(0, 1);
    const std::size_t e = text.find('e');
    const int exponent = std::stoi(text.substr(e + 1));
    std::string digits = text.substr(0, e);
    digits.erase(std::remove(digits.begin(), digits.end(), '.'), digits.end());
    if (exponent < -4 || exponent >= 16) {
        std::string mantissa(1, digits[0]);
        if (digits.size() > 1) mantissa.append(".").append(digits, 1);
        char exp[16];
        std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
        return sign + mantissa + exp;
    }
    if (exponent < 0) return sign + "0." + std::string(std::size_t(-exponent - 1), '0') + digits;
    const std::size_t whole = std::size_t(exponent) + 1;
    if (digits.size() <= whole) return sign + digits + std::string(whole - digits.size(), '0') + ".0";
    return sign + digits.substr(0, whole) + "." + digits.substr(whole);
}

std::string known_names(const Logs& logs) {
    std::string names;
    for (const auto& [name, value] : logs) names += (names.empty() ? "" : ", ") + name;
    return names;
}

// The monitored value, or a recur::Error naming what the logs hold.
float monitored(const Logs& logs, const std::string& monitor, const char* call) {
    const auto at = logs.find(monitor);
    if (at == logs.end())
        throw Error(std::string(call) + ": monitor \"" + detail::printable(monitor) + "\" is not in the epoch logs; they hold " +
                    known_names(logs));
    return at->second;
}

// As Keras's ModelCheckpoint and ReduceLROnPlateau decide in mode "auto".
bool maximize_by_name(MonitorMode mode, const std::string& monitor) {
    if (mode != MonitorMode::automatic) return mode == MonitorMode::max;
    return monitor.find("acc") != std::string::npos || monitor.starts_with("fmeasure");
}

void require_finite(float value, const std::string& call, bool positive) {
    if (!std::isfinite(value) || (positive ? value <= 0.0f : value < 0.0f))
        throw Error(call + ": expected a finite value " + (positive ? "> 0" : ">= 0") + ", got " + detail::as_text(value));
}

}  // namespace

Callback::~Callback() = default;

Sequential& Callback::model() const {
    Sequential* model = model_.load();
    if (!model)
        throw Error("Callback::model: the callback is not in a fit; its model is there from on_train_begin to on_train_end");
    return *model;
}

MonitorMode monitor_mode(const std::string& mode, const std::string& call) {
    if (mode == "auto") return MonitorMode::automatic;
    if (mode == "min") return MonitorMode::min;
    if (mode == "max") return MonitorMode::max;
    throw Error(call + ": expected \"auto\", \"min\" or \"max\", got \"" + detail::printable(mode) + "\"");
}

// ---- EarlyStopping ----

EarlyStopping& EarlyStopping::min_delta(float value) {
    if (!std::isfinite(value)) throw Error("EarlyStopping::min_delta: expected a finite value, got " + detail::as_text(value));
    min_delta_ = std::abs(value);  // as Keras: the sign comes from the mode
    return *this;
}
EarlyStopping& EarlyStopping::baseline(float value) {
    if (!std::isfinite(value)) throw Error("EarlyStopping::baseline: expected a finite value, got " + detail::as_text(value));
    baseline_ = value;
    return *this;
}

void EarlyStopping::on_train_begin(const Logs&) {
    wait_ = stopped_epoch_ = best_epoch_ = 0;
    best_.reset();
    best_weights_.clear();
    direction_known_ = false;
}

// Keras 3, once the logs show the monitored name: the loss goes down; a metric goes the way it
// is known to; others need a mode.
void EarlyStopping::find_direction() {
    if (mode_ != MonitorMode::automatic) {
        maximize_ = mode_ == MonitorMode::max;
    } else {
        const std::string name = monitor_.starts_with("val_") ? monitor_.substr(4) : monitor_;
        const std::optional<bool> up = name == "loss" ? std::optional<bool>(false) : detail::metric_improves_upward(name);
        if (!up)
            throw Error("EarlyStopping: cannot tell whether \"" + detail::printable(monitor_) +
                        "\" improves up or down; give mode(\"min\") or mode(\"max\")");
        maximize_ = *up;
    }
    direction_known_ = true;
}

bool EarlyStopping::improves(float value, float reference) const {
    return maximize_ ? double(value) - min_delta_ > reference : double(value) + min_delta_ < reference;
}

void EarlyStopping::on_epoch_end(std::size_t epoch, const Logs& logs) {
    const float current = monitored(logs, monitor_, "EarlyStopping");
    if (!direction_known_) find_direction();
    if (epoch < start_from_epoch_) return;
    if (restore_best_weights_ && best_weights_.empty()) {  // the first epoch seen is the best so far
        best_weights_ = model().get_weights();
        best_epoch_ = epoch;
    }
    ++wait_;
    if (!best_ || improves(current, *best_)) {
        best_ = current;
        best_epoch_ = epoch;
        if (restore_best_weights_) best_weights_ = model().get_weights();
        // The wait restarts only for a value that beats the baseline too.
        if (!baseline_ || improves(current, *baseline_)) wait_ = 0;
        return;
    }
    if (wait_ >= patience_ && epoch > 0) {
        stopped_epoch_ = epoch;
        model().stop_training(true);
    }
}

void EarlyStopping::on_train_end(const Logs&) {
    if (stopped_epoch_ > 0 && verbose_ > 0) std::cout << "Epoch " << stopped_epoch_ + 1 << ": early stopping\n";
    if (restore_best_weights_ && !best_weights_.empty()) {
        if (verbose_ > 0)
            std::cout << "Restoring model weights from the end of the best epoch: " << best_epoch_ + 1 << ".\n";
        model().set_weights(best_weights_);
    }
}

// ---- ModelCheckpoint ----

namespace {

// One piece of a filepath template: literal text, or a field with its Python format spec.
struct PathPiece {
    std::string text;  // the literal, or the field's name
    bool field = false;
    std::string spec;  // after the ':'
};

std::vector<PathPiece> parse_path(const std::string& path) {
    std::vector<PathPiece> pieces(1);
    for (std::size_t i = 0; i < path.size(); ++i) {
        const char c = path[i];
        if ((c == '{' || c == '}') && i + 1 < path.size() && path[i + 1] == c) {  // "{{" and "}}" are braces
            pieces.back().text += c;
            ++i;
        } else if (c == '{') {
            const std::size_t close = path.find('}', i);
            if (close == std::string::npos)
                throw Error("ModelCheckpoint: filepath \"" + detail::printable(path) + "\" opens a field with '{' it never closes");
            std::string field = path.substr(i + 1, close - i - 1);
            PathPiece piece{field, true, ""};
            if (const std::size_t colon = field.find(':'); colon != std::string::npos)
                piece.text = field.substr(0, colon), piece.spec = field.substr(colon + 1);
            if (piece.text.empty())
                throw Error("ModelCheckpoint: filepath \"" + detail::printable(path) + "\" has a field without a name");
            pieces.push_back(std::move(piece));
            pieces.emplace_back();
            i = close;
        } else if (c == '}') {
            throw Error("ModelCheckpoint: filepath \"" + detail::printable(path) + "\" has a '}' that closes nothing (write '}}')");
        } else {
            pieces.back().text += c;
        }
    }
    return pieces;
}

// Python's format(value, spec) for the specs a filepath uses: [0][width][.precision][d|f|e|E|g|G|%].
std::string format_field(double value, bool integer, const std::string& spec, const std::string& name) {
    const std::string bad = "ModelCheckpoint: field {" + name + ":" + spec + "} has a format spec recur does not read; "
                            "expected [0][width][.precision][type] with a width below 100, a precision up to 30 and type d (for "
                            "epoch), f, e, g or %";
    std::size_t i = 0;
    std::string flags;
    if (i < spec.size() && spec[i] == '0') flags = "0", ++i;
    std::string width, precision;
    while (i < spec.size() && std::isdigit(static_cast<unsigned char>(spec[i]))) width += spec[i++];
    if (i < spec.size() && spec[i] == '.') {
        ++i;
        while (i < spec.size() && std::isdigit(static_cast<unsigned char>(spec[i]))) precision += spec[i++];
        if (precision.empty()) throw Error(bad);
    }
    char type = i < spec.size() ? spec[i++] : '\0';
    if (integer && !precision.empty()) throw Error(bad);  // Python: no precision in an integer's format
    if (std::isnan(value)) value = std::numeric_limits<double>::quiet_NaN();  // Python prints nan, whatever its sign
    // Width and precision are bounded so that any float fits the buffer below.
    if (i != spec.size() || width.size() > 2 || precision.size() > 2 || (!precision.empty() && std::stoul(precision) > 30) ||
        !std::strchr("dfeEgG%", type) ||
        (type == 'd' && !integer))
        throw Error(bad);
    // Python's format without a type: repr for a float (a precision makes it 'g' that keeps a
    // ".0"), decimal for the epoch; zero padding goes after the sign.
    auto padded = [&](std::string text) {
        const std::size_t w = width.empty() ? 0 : std::stoul(width);
        if (text.size() >= w) return text;
        if (flags.empty()) return std::string(w - text.size(), ' ') + text;
        const std::size_t sign = text[0] == '-' ? 1 : 0;
        return text.substr(0, sign) + std::string(w - text.size(), '0') + text.substr(sign);
    };
    if (type == '\0' && integer) type = 'd';
    if (type == '\0' && precision.empty()) return padded(python_float(value));
    if (type == '\0') {
        char g[64];
        std::snprintf(g, sizeof g, ("%." + precision + "g").c_str(), value);
        std::string text = g;
        if (std::isfinite(value) && text.find_first_of(".e") == std::string::npos) text += ".0";
        return padded(text);
    }
    char out[128];
    const std::string format = "%" + flags + width + (precision.empty() ? "" : "." + precision) +
                               (type == 'd' ? "lld" : type == '%' ? "f" : std::string(1, type));
    if (type == 'd') std::snprintf(out, sizeof out, format.c_str(), static_cast<long long>(value));
    else std::snprintf(out, sizeof out, format.c_str(), type == '%' ? value * 100 : value);
    return std::string(out) + (type == '%' ? "%" : "");
}

}  // namespace

ModelCheckpoint::ModelCheckpoint(std::string filepath) : filepath_(std::move(filepath)) {
    if (filepath_.empty()) throw Error("ModelCheckpoint: expected a filepath, got an empty one");
    for (const PathPiece& piece : parse_path(filepath_))  // checks the template now, not after an epoch
        if (piece.field) format_field(1.0, piece.text == "epoch", piece.spec, piece.text);
}

ModelCheckpoint& ModelCheckpoint::initial_value_threshold(float value) {
    if (!std::isfinite(value))
        throw Error("ModelCheckpoint::initial_value_threshold: expected a finite value, got " + detail::as_text(value));
    initial_value_threshold_ = best_ = value;
    return *this;
}

std::string ModelCheckpoint::path_for(std::size_t epoch, const Logs& logs) const {
    std::string path;
    for (const PathPiece& piece : parse_path(filepath_)) {
        if (!piece.field) {
            path += piece.text;
        } else if (piece.text == "epoch") {
            path += format_field(double(epoch + 1), true, piece.spec, piece.text);
        } else {
            const auto at = logs.find(piece.text);
            if (at == logs.end())
                throw Error("ModelCheckpoint: filepath field {" + detail::printable(piece.text) +
                            "} is not in the epoch logs; they hold epoch, " + known_names(logs));
            path += format_field(at->second, false, piece.spec, piece.text);
        }
    }
    return path;
}

void ModelCheckpoint::on_train_begin(const Logs&) {
    // As Keras: the best value carries over from an earlier fit with this callback object.
    if (!best_) best_ = initial_value_threshold_;
}

void ModelCheckpoint::on_epoch_end(std::size_t epoch, const Logs& logs) {
    const std::string path = path_for(epoch, logs);
    if (save_best_only_) {
        const float current = monitored(logs, monitor_, "ModelCheckpoint");
        const bool maximize = maximize_by_name(mode_, monitor_);
        const double best = best_ ? *best_ : maximize ? -INFINITY : INFINITY;
        char line[160];
        if (!(maximize ? current > best : current < best)) {
            if (verbose_ > 0) {
                std::snprintf(line, sizeof line, "did not improve from %.5f", best);
                std::cout << "\nEpoch " << epoch + 1 << ": " << monitor_ << ' ' << line << '\n';
            }
            return;
        }
        if (verbose_ > 0) {
            std::snprintf(line, sizeof line, "improved from %.5f to %.5f", best, double(current));
            std::cout << "\nEpoch " << epoch + 1 << ": " << monitor_ << ' ' << line << ", saving model to " << path << '\n';
        }
        best_ = current;
    } else if (verbose_ > 0) {
        std::cout << "\nEpoch " << epoch + 1 << ": saving model to " << path << '\n';
    }
    // As Keras, a missing directory is made.
    if (const auto dir = std::filesystem::path(path).parent_path(); !dir.empty()) {
        std::error_code error;
        std::filesystem::create_directories(dir, error);
        if (error)
            throw Error("ModelCheckpoint: cannot make the directory \"" + detail::printable(dir.string()) + "\": " + error.message());
    }
    if (save_weights_only_) model().save(path);
    else model().save_checkpoint(path);
}

// ---- LearningRateScheduler ----

LearningRateScheduler::LearningRateScheduler(std::function<float(std::size_t, float)> schedule, int verbose)
    : schedule_(std::move(schedule)), verbose_(verbose) {
    if (!schedule_) throw Error("LearningRateScheduler: expected a schedule function, got an empty one");
}

void LearningRateScheduler::on_epoch_begin(std::size_t epoch, const Logs&) {
    Optimizer& optimizer = model().optimizer();
    const float rate = schedule_(epoch, optimizer.learning_rate());
    if (!(rate > 0.0f && std::isfinite(rate)))
        throw Error("LearningRateScheduler: the schedule gave " + detail::as_text(rate) + " for epoch " +
                    std::to_string(epoch) + "; expected a finite rate > 0");
    optimizer.set_learning_rate(rate);
    if (verbose_ > 0)
        std::cout << "\nEpoch " << epoch + 1 << ": LearningRateScheduler setting learning rate to " << python_float(rate)
                  << ".\n";
}

// ---- ReduceLROnPlateau ----

ReduceLROnPlateau& ReduceLROnPlateau::factor(float value) {
    if (!(value > 0.0f && value < 1.0f))
        throw Error("ReduceLROnPlateau::factor: expected a value in (0, 1), got " + detail::as_text(value));
    factor_ = value;
    return *this;
}
ReduceLROnPlateau& ReduceLROnPlateau::min_delta(float value) {
    require_finite(value, "ReduceLROnPlateau::min_delta", false);
    min_delta_ = value;
    return *this;
}
ReduceLROnPlateau& ReduceLROnPlateau::min_lr(float value) {
    require_finite(value, "ReduceLROnPlateau::min_lr", false);
    min_lr_ = value;
    return *this;
}

void ReduceLROnPlateau::on_train_begin(const Logs&) {
    maximize_ = maximize_by_name(mode_, monitor_);
    best_.reset();
    wait_ = cooldown_counter_ = 0;
}

void ReduceLROnPlateau::on_epoch_end(std::size_t epoch, const Logs& logs) {
    const float current = monitored(logs, monitor_, "ReduceLROnPlateau");
    const bool in_cooldown = cooldown_counter_ > 0;
    if (in_cooldown) {
        --cooldown_counter_;
        wait_ = 0;
    }
    const bool better = !best_ || (maximize_ ? double(current) > double(*best_) + min_delta_
                                             : double(current) < double(*best_) - min_delta_);
    if (better) {
        best_ = current;
        wait_ = 0;
        return;
    }
    if (cooldown_counter_ > 0) return;
    if (++wait_ < patience_) return;
    Optimizer& optimizer = model().optimizer();
    const double old_rate = optimizer.learning_rate();
    if (old_rate <= min_lr_) return;  // as Keras, the wait is not reset at the floor
    // Keras would go on to a rate of 0; recur's rates are > 0, so the smallest normal float is the floor.
    const double new_rate = std::max({old_rate * factor_, double(min_lr_), double(std::numeric_limits<float>::min())});
    optimizer.set_learning_rate(static_cast<float>(new_rate));
    if (verbose_ > 0)
        std::cout << "\nEpoch " << epoch + 1 << ": ReduceLROnPlateau reducing learning rate to " << python_float(new_rate)
                  << ".\n";
    cooldown_counter_ = cooldown_;
    wait_ = 0;
}

// ---- CSVLogger ----

CSVLogger::CSVLogger(std::string filename, char separator, bool append)
    : filename_(std::move(filename)), separator_(separator), append_(append) {
    if (filename_.empty()) throw Error("CSVLogger: expected a filename, got an empty one");
    if (separator == '"' || separator == '\r' || separator == '\n')
        throw Error("CSVLogger: expected a separator other than a quote or a line end");
}
CSVLogger::CSVLogger(const CSVLogger& other) : Callback(other), filename_(other.filename_), separator_(other.separator_), append_(other.append_) {}

void CSVLogger::on_train_begin(const Logs&) {
    // Only a regular file (or a new one): opening a FIFO would wait for a reader, a device is no log.
    std::error_code error;
    const auto status = std::filesystem::status(filename_, error);
    if (std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
        throw Error("CSVLogger: \"" + detail::printable(filename_) + "\" is not a regular file; expected a file to write the log to");
    header_due_ = true;
    if (append_) {  // a file with a first line already has its header
        std::ifstream existing(filename_, std::ios::binary);
        header_due_ = !(existing && existing.peek() != std::ifstream::traits_type::eof());
    }
    out_.close();
    out_.clear();
    out_.open(filename_, std::ios::binary | (append_ ? std::ios::app : std::ios::trunc));
    if (!out_) throw Error("CSVLogger: cannot open \"" + detail::printable(filename_) + "\" for writing: " + std::strerror(errno));
    keys_.clear();
}

void CSVLogger::on_epoch_end(std::size_t epoch, const Logs& logs) {
    auto field = [&](const std::string& text) {  // Python's csv QUOTE_MINIMAL
        if (text.find_first_of(std::string{separator_, '"', '\r', '\n'}) == std::string::npos) return text;
        std::string quoted = "\"";
        for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
        return quoted + '"';
    };
    if (keys_.empty()) {
        for (const auto& [name, value] : logs) keys_.push_back(name);  // a std::map: sorted, as Keras sorts them
        if (header_due_) {
            out_ << "epoch";
            for (const std::string& key : keys_) out_ << separator_ << field(key);
            out_ << "\r\n";
        }
    }
    out_ << epoch;
    for (const std::string& key : keys_) {
        const auto at = logs.find(key);
        out_ << separator_ << field(at == logs.end() ? std::string("NA") : python_float(at->second));
    }
    out_ << "\r\n" << std::flush;
    if (!out_) throw Error("CSVLogger: writing \"" + detail::printable(filename_) + "\" failed: " + std::strerror(errno));
}

void CSVLogger::on_train_end(const Logs&) { out_.close(); }

// ---- TerminateOnNaN ----

void TerminateOnNaN::on_train_batch_end(std::size_t batch, const Logs& logs) {
    const auto loss = logs.find("loss");
    if (loss == logs.end() || std::isfinite(loss->second)) return;
    std::cout << "Batch " << batch << ": Invalid loss, terminating training\n";
    model().stop_training(true);
}

// ---- binding ----

namespace detail {

Hooks::Hooks(const std::vector<CallbackEntry>& entries, Sequential& model, const std::string& call) {
    for (const CallbackEntry& entry : entries) {
        std::shared_ptr<Callback> callback = entry.for_fit();
        Sequential* bound = nullptr;
        if (callback->model_.compare_exchange_strong(bound, &model)) {
            callbacks_.push_back(std::move(callback));
            continue;
        }
        const std::string which = "callback " + std::to_string(callbacks_.size() + 1);
        release();  // lets go of the ones bound so far
        if (bound == &model) throw Error(call + ": " + which + " is in the list twice");
        throw Error(call + ": " + which + " is in use by another fit; a callback object serves one fit at a time");
    }
}

Hooks::~Hooks() { release(); }

void Hooks::release() {
    for (const auto& callback : callbacks_) callback->model_.store(nullptr);
    callbacks_.clear();
}

}  // namespace detail
}  // namespace recur
