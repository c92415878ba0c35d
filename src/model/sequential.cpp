#include <recur/model.hpp>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <numeric>
#include <sstream>

#include "model/progress.hpp"
#include "model/sequential_impl.hpp"
#include "random.hpp"

namespace recur {

namespace detail {
std::string unique_name(std::string_view prefix);
}

namespace {
std::vector<std::size_t> all_rows(std::size_t n) {
    std::vector<std::size_t> rows(n);
    std::iota(rows.begin(), rows.end(), 0);
    return rows;
}
void check_batch_size(std::size_t batch_size, const char* call) {
    if (batch_size == 0) throw Error(std::string(call) + ": expected batch_size >= 1, got 0");
}
}  // namespace

Sequential::Sequential() : Sequential(detail::unique_name("sequential")) {}
Sequential::Sequential(std::string name) : impl_(std::make_unique<Impl>()) { impl_->name = std::move(name); }
Sequential::Sequential(Sequential&&) noexcept = default;
Sequential& Sequential::operator=(Sequential&&) noexcept = default;
Sequential::~Sequential() = default;

const std::string& Sequential::name() const { return impl_->name; }

void Sequential::add(const Layer& layer) {
    Impl& m = *impl_;
    if (const auto* rnn = dynamic_cast<const SimpleRNN*>(&layer); rnn && rnn->return_state())
        throw Error("Sequential::add: layer '" + layer.name() +
                    "' has return_state on, which gives two outputs; a Sequential model takes one");
    for (const auto& existing : m.layers)
        if (existing->name() == layer.name())
            throw Error("Sequential::add: the model already has a layer named '" + layer.name() + "'");
    m.layers.push_back(layer.clone());
    try {
        if (m.layers.size() == 1) {
            if (layer.has_input_shape()) m.build();
        } else if (m.network) {
            m.propagate_shapes(m.layers.size() - 1, "Sequential::add");
        }
    } catch (...) {
        m.layers.pop_back();
        throw;
    }
}

void Sequential::compile(const Optimizer& optimizer, const Loss& loss) {
    impl_->optimizer = optimizer.clone();
    impl_->loss = loss.clone();
}
void Sequential::compile(std::string_view optimizer, std::string_view loss) {
    compile(*make_optimizer(optimizer), *make_loss(loss));
}
void Sequential::compile(const Optimizer& optimizer, std::string_view loss) { compile(optimizer, *make_loss(loss)); }
void Sequential::compile(std::string_view optimizer, const Loss& loss) { compile(*make_optimizer(optimizer), loss); }

void Sequential::summary(std::ostream& os) const {
    const Impl& m = *impl_;
    m.net("Sequential::summary");
    constexpr int width = 65, first = 29, second = 26, third = 10;
    auto row = [&](const std::string& a, const std::string& b, const std::string& c) {
        os << std::left << std::setw(first) << (" " + a) << std::setw(second) << b << std::setw(third) << c << '\n';
    };
    auto grouped = [](std::size_t n) {  // 1,290 as Keras prints totals
        std::string digits = std::to_string(n), out;
        for (std::size_t i = 0; i < digits.size(); ++i) {
            if (i && (digits.size() - i) % 3 == 0) out += ',';
            out += digits[i];
        }
        return out;
    };
    os << "Model: \"" << m.name << "\"\n" << std::string(width, '_') << '\n';
    row("Layer (type)", "Output Shape", "Param #");
    os << std::string(width, '=') << '\n';
    for (const auto& layer : m.layers) {
        row(layer->name() + " (" + layer->type_name() + ")", layer->output_shape().str_with_batch(),
            std::to_string(layer->count_params()));
        os << std::string(width, ' ') << '\n';
    }
    const std::size_t total = count_params();
    os << std::string(width, '=') << '\n'
       << "Total params: " << grouped(total) << '\n'
       << "Trainable params: " << grouped(total) << '\n'
       << "Non-trainable params: 0\n"
       << std::string(width, '_') << '\n';
    os.unsetf(std::ios::adjustfield);
}

History Sequential::fit(const Tensor& x, const Tensor& y, const FitOptions& options) {
    Impl& m = *impl_;
    constexpr const char* call = "Sequential::fit";
    m.check_compiled(call);
    m.check_x(x, call);
    m.check_y(x, y, call);
    check_batch_size(options.batch_size(), call);
    const double split = options.validation_split();
    if (!(split >= 0.0 && split < 1.0))
        throw Error(std::string(call) + ": expected validation_split in [0, 1), got " + std::to_string(split));
    if (split > 0.0 && options.validation_data())
        throw Error(std::string(call) + ": give validation_split or validation_data, not both");

    // As Keras, validation_split holds out the last samples, before any shuffling, and
    // trains on floor(n (1 - split)); the relative slack makes 0.2f split as 0.2 does.
    const std::size_t n = x.shape()[0];
    const std::size_t n_train = static_cast<std::size_t>(std::floor(n * (1.0 - split) * (1.0 + 1e-7)));
    if (n_train == 0 || (split > 0.0 && n_train == n))
        throw Error(std::string(call) + ": validation_split " + std::to_string(split) + " of " + std::to_string(n) +
                    " samples leaves " + std::to_string(n_train) + " for training and " + std::to_string(n - n_train) +
                    " for validation; both need at least one");
    std::vector<std::size_t> train_rows = all_rows(n_train);
    std::vector<std::size_t> validation_rows;
    const Tensor* x_val = &x;
    const Tensor* y_val = &y;
    if (split > 0.0) {
        validation_rows.resize(n - n_train);
        std::iota(validation_rows.begin(), validation_rows.end(), n_train);
    } else if (const auto& data = options.validation_data()) {
        m.check_x(data->first, "Sequential::fit (validation_data)");
        m.check_y(data->first, data->second, "Sequential::fit (validation_data)");
        x_val = &data->first;
        y_val = &data->second;
        validation_rows = all_rows(data->first.shape()[0]);
    }

    const std::size_t batch = std::min(options.batch_size(), n_train);
    const std::size_t steps = (n_train + batch - 1) / batch;
    m.train_ws.reserve(*m.network, batch);
    detail::Progress progress(std::cout, options.verbose(), options.epochs(), steps);
    History history;
    for (std::size_t epoch = options.initial_epoch() + 1; epoch <= options.epochs(); ++epoch) {
        progress.begin_epoch(epoch);
        if (options.shuffle()) {  // as Keras, a fresh permutation each epoch: resumable from a checkpoint
            std::iota(train_rows.begin(), train_rows.end(), 0);
            std::shuffle(train_rows.begin(), train_rows.end(), detail::generator());
        }
        double loss_sum = 0.0;
        for (std::size_t step = 0; step < steps; ++step) {
            const std::size_t start = step * batch, count = std::min(batch, n_train - start);
            const std::span<const std::size_t> rows(train_rows.data() + start, count);
            detail::gather_time_major(m.train_ws.x, x, rows);
            detail::gather_rows(m.train_ws.y_true, y, rows);
            loss_sum += double(m.train_step(m.train_ws, count)) * count;
            progress.step_done(step + 1, static_cast<float>(loss_sum / (start + count)));
        }
        // As Keras: the epoch's loss is the mean of the batch losses, weighted by batch size.
        history.loss.push_back(static_cast<float>(loss_sum / n_train));
        std::optional<float> val_loss;
        if (!validation_rows.empty()) {
            val_loss = m.evaluate_rows(m.validation_ws, *x_val, *y_val, validation_rows, options.batch_size());
            history.val_loss.push_back(*val_loss);
        }
        m.epochs_done = epoch;
        progress.end_epoch(history.loss.back(), val_loss);
        if (!options.checkpoint().empty()) save_checkpoint(options.checkpoint());
    }
    return history;
}

float Sequential::evaluate(const Tensor& x, const Tensor& y, std::size_t batch_size) const {
    constexpr const char* call = "Sequential::evaluate";
    Impl& m = *impl_;
    m.check_compiled(call);
    m.check_x(x, call);
    m.check_y(x, y, call);
    check_batch_size(batch_size, call);
    detail::Workspace ws;
    return m.evaluate_rows(ws, x, y, all_rows(x.shape()[0]), batch_size);
}

Tensor Sequential::predict(const Tensor& x, std::size_t batch_size) const {
    constexpr const char* call = "Sequential::predict";
    Impl& m = *impl_;
    m.check_x(x, call);
    check_batch_size(batch_size, call);
    const detail::Network& n = *m.network;
    const std::size_t samples = x.shape()[0], per_sample = n.output_shape.elements();
    Tensor out(n.output_shape.prepend(samples));
    const std::vector<std::size_t> rows = all_rows(samples);
    detail::Workspace ws;
    ws.reserve(n, std::min(batch_size, samples));
    for (std::size_t start = 0; start < samples; start += batch_size) {
        const std::size_t count = std::min(batch_size, samples - start);
        detail::gather_time_major(ws.x, x, std::span(rows).subspan(start, count));
        const float* y = detail::forward(n, ws, m.params.data(), count);
        std::copy_n(y, count * per_sample, out.data() + start * per_sample);
    }
    return out;
}

float Sequential::train_on_batch(const Tensor& x, const Tensor& y) {
    constexpr const char* call = "Sequential::train_on_batch";
    Impl& m = *impl_;
    m.check_compiled(call);
    m.check_x(x, call);
    m.check_y(x, y, call);
    const std::size_t batch = x.shape()[0];
    const std::vector<std::size_t> rows = all_rows(batch);
    m.train_ws.reserve(*m.network, batch);
    detail::gather_time_major(m.train_ws.x, x, rows);
    detail::gather_rows(m.train_ws.y_true, y, rows);
    return m.train_step(m.train_ws, batch);
}

const std::vector<std::unique_ptr<Layer>>& Sequential::layers() const { return impl_->layers; }

std::size_t Sequential::epochs_done() const { return impl_->epochs_done; }

Layer& Sequential::layer(std::size_t index) {
    if (index >= impl_->layers.size())
        throw Error("Sequential::layer: index " + std::to_string(index) + " is out of range for a model with " +
                    std::to_string(impl_->layers.size()) + " layers");
    return *impl_->layers[index];
}
const Layer& Sequential::layer(std::size_t index) const { return const_cast<Sequential*>(this)->layer(index); }

bool Sequential::built() const { return impl_->network.has_value(); }
bool Sequential::compiled() const { return impl_->optimizer && impl_->loss; }

std::size_t Sequential::count_params() const {
    std::size_t n = 0;
    for (const auto& layer : impl_->layers) n += layer->count_params();
    return n;
}

Shape Sequential::input_shape() const { return impl_->net("Sequential::input_shape").input_shape; }
Shape Sequential::output_shape() const { return impl_->net("Sequential::output_shape").output_shape; }

const Optimizer& Sequential::optimizer() const {
    impl_->check_compiled("Sequential::optimizer");
    return *impl_->optimizer;
}
const Loss& Sequential::loss() const {
    impl_->check_compiled("Sequential::loss");
    return *impl_->loss;
}

}  // namespace recur
