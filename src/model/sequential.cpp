#include <recur/model.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <set>
#include <sstream>

#include "data/split.hpp"
#include "errors.hpp"
#include "io/files.hpp"
#include "model/hooks.hpp"
#include "model/progress.hpp"
#include "model/sequential_impl.hpp"
#include "random.hpp"
#include "tensor/sizes.hpp"
#include "text.hpp"

namespace recur {

// ---- Sequential::Impl ----

void Sequential::Impl::build(const std::string& call) {
    std::vector<Layer*> chain;
    for (auto& layer : layers) chain.push_back(layer.get());
    try {
        detail::Network net(std::move(chain));
        Tensor fresh(Shape{net.param_count}), fresh_grads(Shape{net.param_count});
        for (std::size_t l = 0; l < layers.size(); ++l) {
            float* dst = fresh.data() + net.offsets[l];
            if (layers[l]->built()) std::copy_n(LayerAccess::weights(*layers[l]), layers[l]->count_params(), dst);
            else LayerAccess::initialize(*layers[l], dst, generator);
        }
        for (std::size_t l = 0; l < layers.size(); ++l)
            LayerAccess::bind(*layers[l], fresh.data() + net.offsets[l], weights_version.get());
        params = std::move(fresh);
        grads = std::move(fresh_grads);
        network.emplace(std::move(net));
    } catch (const Error& e) {
        throw Error(call + ": the model cannot be built: " + e.what());
    }
    ++*weights_version;
    occupancy.set_built();
    if (optimizer) optimizer->reset();
}

void Sequential::Impl::propagate_shapes(std::size_t from, const std::string& call) {
    for (std::size_t l = std::max<std::size_t>(from, 1); l < layers.size(); ++l) {
        const Shape given = layers[l - 1]->output_shape();
        Layer& layer = *layers[l];
        const auto [min_rank, max_rank] = LayerAccess::input_ranks(layer);
        if (layer.has_input_shape() && layer.input_shape() != given)
            throw Error(call + ": layer '" + layer.name() + "' expects input " + layer.input_shape().str_with_batch() +
                        " but layer '" + layers[l - 1]->name() + "' gives " + given.str_with_batch());
        if (given.rank() < min_rank || given.rank() > max_rank)
            throw Error(call + ": layer '" + layer.name() + "' (" + layer.type_name() + ") expects input with " +
                        std::to_string(min_rank + 1) +
                        (max_rank > min_rank ? " or " + std::to_string(max_rank + 1) : "") +
                        " dimensions, but layer '" + layers[l - 1]->name() + "' gives " + given.str_with_batch());
        if (!layer.has_input_shape()) LayerAccess::set_input_shape(layer, given, call);
    }
    build(call);
}

const detail::Network& Sequential::Impl::net(const std::string& call) const {
    if (!network)
        throw Error(call + ": the model has no input shape yet; give the first layer "
                           ".input_shape(...) or call fit or predict first");
    return *network;
}

void Sequential::Impl::check_x(const Tensor& x, const std::string& call) {
    if (layers.empty()) throw Error(call + ": the model has no layers; add some first");
    if (x.rank() < 2 || x.shape()[0] == 0)
        throw Error(call + ": x must be a batch with at least one sample, (samples, ...), got shape " +
                    x.shape().str());
    Layer& first = *layers.front();
    if (!network && !first.has_input_shape()) {
        const auto [min_rank, max_rank] = LayerAccess::input_ranks(first);
        const Shape sample = x.shape().drop_front();
        if (sample.rank() < min_rank || sample.rank() > max_rank)
            throw Error(call + ": x has shape " + x.shape().str() + " but layer '" + first.name() + "' (" +
                        first.type_name() + ") expects " + std::to_string(min_rank + 1) +
                        (max_rank > min_rank ? " or " + std::to_string(max_rank + 1) : "") + " dimensions");
        std::vector<Layer*> unshaped;  // to put back as they were if this x cannot build the model
        for (auto& layer : layers)
            if (!layer->has_input_shape()) unshaped.push_back(layer.get());
        try {
            LayerAccess::set_input_shape(first, sample, call);
            propagate_shapes(1, call);
        } catch (...) {
            for (Layer* layer : unshaped) LayerAccess::clear_input_shape(*layer);
            throw;
        }
    }
    if (!x.shape().drop_front().fits(net(call).input_shape))
        throw Error(call + ": x has shape " + x.shape().str() + " but layer '" + first.name() + "' expects " +
                    net(call).input_shape.str_with_batch());
    if (network->timesteps(x.shape().drop_front()) == 0)
        throw Error(call + ": x has shape " + x.shape().str() + "; expected sequences of at least one timestep");
    LayerAccess::check_input(first, x, call);  // finite values, or valid ids
}

void Sequential::Impl::check_y(const Tensor& x, const Tensor& y, const std::string& call) {
    const Shape out = detail::resolve(network->output_shape, network->timesteps(x.shape().drop_front()));
    if (y.rank() == 0 || y.shape()[0] != x.shape()[0])
        throw Error(call + ": x has " + std::to_string(x.shape()[0]) + " samples but y has shape " + y.shape().str());
    // The targets are gathered into a buffer as wide as the output.
    if (const std::size_t wanted = loss->target_features(out.back()); wanted == 0 || wanted > out.back())
        throw Error(call + ": loss " + loss->name() + " asks for " + std::to_string(wanted) +
                    " target values per output row, but the model's output has " + std::to_string(out.back()) +
                    "; expected from 1 to that many");
    // The targets of a sample are shaped like its output, with the loss's number of target
    // values in the last axis; as Keras, a last axis of 1 may be left out: (N,) for (N, 1).
    std::vector<std::size_t> expected(out.begin(), out.end());
    expected.back() = loss->target_features(out.back());
    const Shape sample = y.shape().drop_front();
    const bool squeezed = expected.back() == 1 && sample == Shape(std::vector(expected.begin(), expected.end() - 1));
    if (sample != Shape(expected) && !squeezed)
        throw Error(call + ": y has shape " + y.shape().str() + " but the model's output " + out.str_with_batch() +
                    " with loss " + loss->name() + " needs targets " + Shape(expected).str_with_batch());
    if (!std::all_of(y.begin(), y.end(), [](float v) { return std::isfinite(v); }))
        throw Error(call + ": y must be finite, but it holds NaN or Inf");
    loss->check_targets(y, out.back(), call.c_str());
    if (metrics.size() != compiled_metrics.size())
        for (const Metric& metric : compiled_metrics) metrics.emplace_back(metric, *loss, out.back());
}

Tensor Sequential::Impl::loss_weights(const Tensor& x, const Tensor& y, const Tensor& sample_weight,
                                      const std::map<std::size_t, float>& class_weight, const std::string& call) const {
    const bool given = !(sample_weight.rank() == 1 && sample_weight.shape()[0] == 0);
    if (!given && class_weight.empty()) return Tensor();
    const std::size_t N = x.shape()[0];
    const bool sequence = network->output_shape.rank() == 2;
    const std::size_t T = sequence ? network->timesteps(x.shape().drop_front()) : 1;
    Tensor weights(Shape{N});
    if (given) {
        const bool per_sample = sample_weight.shape() == Shape{N}, per_step = sequence && sample_weight.shape() == Shape{N, T};
        if (!per_sample && !per_step)
            throw Error(call + ": expected sample_weight of shape " + Shape{N}.str() +
                        (sequence ? " or " + Shape{N, T}.str() + " (one per timestep)" : std::string()) + ", got " +
                        sample_weight.shape().str());
        for (float w : sample_weight)
            if (!(std::isfinite(w) && w >= 0.0f))
                throw Error(call + ": expected sample weights that are finite and >= 0, got " + std::to_string(w));
        weights = sample_weight;
    } else {
        std::fill(weights.begin(), weights.end(), 1.0f);
    }
    if (class_weight.empty()) return weights;
    if (sequence)
        throw Error(call + ": class_weight is for one output per sample; for sequence outputs give sample_weight "
                           "(N, T), as Keras asks");
    for (const auto& [cls, w] : class_weight)
        if (!(std::isfinite(w) && w >= 0.0f))
            throw Error(call + ": expected class weights that are finite and >= 0, got " + std::to_string(w) + " for class " +
                        std::to_string(cls));
    // Each sample's class: its label, the largest of a one-hot row, or a 0/1 target rounded.
    const std::size_t per_sample = y.size() / N;
    for (std::size_t b = 0; b < N; ++b) {
        const float* row = y.data() + b * per_sample;
        const std::size_t cls = per_sample > 1 ? static_cast<std::size_t>(std::max_element(row, row + per_sample) - row)
                                               : static_cast<std::size_t>(std::lround(std::max(row[0], 0.0f)));
        const auto found = class_weight.find(cls);
        if (found == class_weight.end())
            throw Error(call + ": class_weight has no weight for class " + std::to_string(cls) + " (sample " +
                        std::to_string(b) + "); expected one for every class the targets hold");
        weights.data()[b] *= found->second;
    }
    return weights;
}

void Sequential::Impl::gather_weights(detail::Workspace& ws, const Tensor& weights, std::span<const std::size_t> rows) const {
    ws.weighted = weights.size() > 0;
    if (!ws.weighted) return;
    const std::size_t steps = network->output_shape.rank() == 2 ? ws.timesteps : 1;
    for (std::size_t b = 0; b < rows.size(); ++b) {
        float* out = ws.row_weights + b * steps;
        if (weights.rank() == 2) std::copy_n(weights.data() + rows[b] * steps, steps, out);
        else std::fill_n(out, steps, weights.data()[rows[b]]);
    }
}

bool Sequential::Impl::keeps_states() const {
    return std::any_of(layers.begin(), layers.end(), [](const auto& layer) { return LayerAccess::keeps_states(*layer); });
}

void Sequential::Impl::check_stateful_batches(std::size_t samples, std::size_t batch, const std::string& call) const {
    if (!keeps_states()) return;
    if (samples % batch != 0)
        throw Error(call + ": the model has stateful layers, whose states belong to the samples of a batch, so " +
                    std::to_string(samples) + " samples must come in whole batches of " + std::to_string(batch) +
                    "; give a batch_size that divides the samples");
    for (const auto& layer : layers) LayerAccess::check_batch(*layer, batch, call);
}

void Sequential::Impl::check_compiled(const std::string& call) const {
    if (!optimizer || !loss) throw Error(call + ": the model must be compiled first (call compile)");
}

void Sequential::Impl::check_not_fitting(const std::string& call) const {
    if (fitting)
        throw Error(call + ": the model is in fit, which is running this callback; add, compile, fit and "
                           "train_on_batch must wait until fit returns");
}

std::size_t Sequential::Impl::output_rows(std::size_t batch, std::size_t timesteps) const {
    return network->output_shape.rank() == 2 ? batch * timesteps : batch;
}

bool Sequential::Impl::loss_fuses_output_activation() const {
    const auto fused = loss->fused_activation();
    return fused && LayerAccess::output_activation(*layers.back()) == fused;
}

using detail::as_text;

namespace {
// sum(weight * loss of the row) / rows, Keras's weighted loss, and its gradient: each row's
// loss and gradient as a batch of one, scaled.
float weighted_loss(const Loss& loss, bool fused, const float* y_pred, const float* y_true, const float* weights,
                    float* grad, std::size_t rows, std::size_t features) {
    const std::size_t targets = loss.target_features(features);
    double sum = 0.0;
    for (std::size_t r = 0; r < rows; ++r) {
        const float* p = y_pred + r * features;
        const float* t = y_true + r * targets;
        float* g = grad ? grad + r * features : nullptr;
        sum += double(weights[r]) * (fused ? loss.compute_fused(p, t, g, 1, features) : loss.compute(p, t, g, 1, features));
        if (g)
            for (std::size_t f = 0; f < features; ++f) g[f] *= weights[r] / static_cast<float>(rows);
    }
    return static_cast<float>(sum / static_cast<double>(rows));
}
}  // namespace

float Sequential::Impl::loss_value(detail::Workspace& ws, const float* y_pred, float* grad, std::size_t batch) const {
    const std::size_t rows = output_rows(batch, ws.timesteps), features = network->output_shape.back();
    const bool fused = loss_fuses_output_activation();
    if (!ws.output_mask) {
        if (ws.weighted) return weighted_loss(*loss, fused, y_pred, ws.y_true, ws.row_weights, grad, rows, features);
        return fused ? loss->compute_fused(y_pred, ws.y_true, grad, rows, features)
                     : loss->compute(y_pred, ws.y_true, grad, rows, features);
    }
    // Sequence outputs with a mask: row b T + t is step t of sample b, its mask at t B + b.
    const std::size_t T = ws.timesteps, targets = loss->target_features(features);
    float* pred = ws.real_rows;
    float* truth = pred + rows * features;
    float* real_grad = truth + rows * features;
    float* real_weights = ws.row_weights + detail::round_up(rows, 16);
    std::size_t n = 0;
    for (std::size_t r = 0; r < rows; ++r)
        if (ws.output_mask[(r % T) * batch + r / T]) {
            std::copy_n(y_pred + r * features, features, pred + n * features);
            std::copy_n(ws.y_true + r * targets, targets, truth + n * targets);
            if (ws.weighted) real_weights[n] = ws.row_weights[r];
            ++n;
        }
    ws.real_count = n;
    float* g = grad ? real_grad : nullptr;
    const float value = n == 0 ? 0.0f  // as Keras: a batch without a real step adds nothing
                        : ws.weighted ? weighted_loss(*loss, fused, pred, truth, real_weights, g, n, features)
                        : fused ? loss->compute_fused(pred, truth, g, n, features)
                                : loss->compute(pred, truth, g, n, features);
    if (grad) {
        std::fill_n(grad, rows * features, 0.0f);
        for (std::size_t r = 0, i = 0; r < rows; ++r)
            if (ws.output_mask[(r % T) * batch + r / T]) std::copy_n(real_grad + i++ * features, features, grad + r * features);
    }
    return value;
}

Sequential::Impl::Scored Sequential::Impl::scored_rows(const detail::Workspace& ws, std::size_t batch) const {
    if (!ws.output_mask) return {ws.y_pred, ws.y_true, output_rows(batch, ws.timesteps)};
    const std::size_t floats = output_rows(batch, ws.timesteps) * network->output_shape.back();
    return {ws.real_rows, ws.real_rows + floats, ws.real_count};
}


Sequential::Impl::Step Sequential::Impl::train_step(detail::Workspace& ws, std::size_t batch) {
    const detail::Network& n = *network;
    // A model with dropout draws each step's seed from its generator (one without keeps the
    // generator's sequence, and so its shuffles, as they were).
    const std::uint64_t seed = n.draws_noise ? generator() : 0;
    const float* y_pred = detail::forward(n, ws, params.data(), batch, &seed);
    float value = loss_value(ws, y_pred, ws.d_pred, batch) + ws.activity_penalty;
    if (!std::isfinite(value)) return {value, "the loss became " + as_text(value)};
    detail::backward(n, ws, params.data(), grads.data(), batch, loss_fuses_output_activation());
    if (!n.regularized.empty()) {  // as Keras, the reported loss includes the regularizers' penalty
        value += detail::regularization(n, params.data(), grads.data());
        if (!std::isfinite(value)) return {value, "the loss with the regularizers' penalty became " + as_text(value)};
    }
    switch (optimizer->apply_gradients({params.data(), params.size()}, {grads.data(), grads.size()}, n.variable_sizes)) {
        case StepOutcome::applied: ++*weights_version; return {value, ""};
        case StepOutcome::nonfinite_gradient: {
            const float* bad = std::find_if(grads.begin(), grads.end(), [](float g) { return !std::isfinite(g); });
            return {value, "the gradient of '" + weight_name(static_cast<std::size_t>(bad - grads.begin())) +
                               "' became " + as_text(*bad)};
        }
        case StepOutcome::nonfinite_update: break;
    }
    return {value, "the " + std::string(optimizer->name()) + " update (learning rate " + as_text(optimizer->learning_rate()) +
                       ") would have made a weight or the optimizer's state NaN or Inf, so it was undone"};
}

std::string Sequential::Impl::weight_name(std::size_t index) const {
    const detail::Network& n = *network;
    std::size_t end = 0, variable = 0;
    for (std::size_t l = 0; l < layers.size(); ++l)
        for (const std::string& weight : layers[l]->weight_names()) {
            end += n.variable_sizes[variable++];
            if (index < end) return layers[l]->name() + "/" + weight;
        }
    return "?";
}

std::vector<float> Sequential::Impl::evaluate_rows(detail::Workspace& ws, const Tensor& x, const Tensor& y,
                                                   const Tensor& weights, std::span<const std::size_t> rows,
                                                   std::size_t batch_size, const std::string& call) const {
    const detail::Network& n = *network;
    const std::size_t timesteps = n.timesteps(x.shape().drop_front());
    ws.reserve(n, std::min(batch_size, rows.size()), timesteps, call);
    std::vector<double> sums(1 + metrics.size(), 0.0);
    std::size_t scored = 0;  // the rows the metrics were computed on
    for (std::size_t start = 0; start < rows.size(); start += batch_size) {
        const auto part = rows.subspan(start, std::min(batch_size, rows.size() - start));
        detail::gather_time_major(ws, x, part);
        detail::gather_rows(ws.y_true, y, part);
        gather_weights(ws, weights, part);
        const float* y_pred = detail::forward(n, ws, params.data(), part.size());
        sums[0] += (double(loss_value(ws, y_pred, nullptr, part.size())) + ws.activity_penalty) * part.size();
        const Scored s = scored_rows(ws, part.size());
        for (std::size_t m = 0; m < metrics.size(); ++m)
            sums[1 + m] += metrics[m].sum(s.y_pred, s.y_true, s.rows, n.output_shape.back());
        scored += s.rows;
    }
    std::vector<float> means{static_cast<float>(sums[0] / rows.size()) + detail::regularization(n, params.data())};
    for (std::size_t m = 0; m < metrics.size(); ++m) means.push_back(metrics[m].result(sums[1 + m], scored));
    return means;
}

namespace {
std::vector<std::size_t> all_rows(std::size_t n) {
    std::vector<std::size_t> rows(n);
    std::iota(rows.begin(), rows.end(), 0);
    return rows;
}
void check_batch_size(std::size_t batch_size, const std::string& call) {
    if (batch_size == 0) throw Error(call + ": expected batch_size >= 1, got 0");
}
}  // namespace

Sequential::Sequential() : Sequential(detail::unique_name("sequential")) {}
Sequential::Sequential(std::string name) : impl_(std::make_unique<Impl>()) {
    if (name.empty() || !detail::valid_utf8(name))
        throw Error("Sequential: expected a non-empty UTF-8 name, got \"" + detail::printable(name) + "\"");
    impl_->name = std::move(name);
}
Sequential::Sequential(Sequential&& other) {
    other.check_movable("Sequential (move)");
    impl_ = std::move(other.impl_);
}
Sequential& Sequential::operator=(Sequential&& other) {
    other.check_movable("Sequential::operator= (move)");
    check_movable("Sequential::operator= (move)");
    impl_ = std::move(other.impl_);
    return *this;
}
// A model inside fit is in use by fit, which a callback could otherwise pull it away from.
void Sequential::check_movable(const char* call) const {
    if (impl_ && impl_->fitting)
        throw Error(std::string(call) + ": the model is in fit, which is running this callback; it cannot be moved "
                                        "or replaced until fit returns");
}
Sequential::~Sequential() = default;

Sequential::Impl& Sequential::impl(const char* call) const {
    if (!impl_)
        throw Error(std::string(call) + ": this model was moved from; use the model it was moved to");
    return *impl_;
}

const std::string& Sequential::name() const { return impl("Sequential::name").name; }

void Sequential::add(const Layer& layer) {
    const std::string call = "Sequential::add";
    Impl& m = impl("Sequential::add");
    detail::Occupancy::Hold hold(m.occupancy, detail::Access::change, call);
    m.check_not_fitting(call);
    detail::api_call(call, [&] {
        LayerAccess::check_placement(layer, m.layers.size(), call);
        for (const auto& existing : m.layers)
            if (existing->name() == layer.name())
                throw Error(call + ": the model already has a layer named '" + layer.name() + "'");
        m.layers.push_back(layer.clone());
        LayerAccess::adopt(*m.layers.back());
        try {
            if (m.layers.size() == 1) {
                if (layer.has_input_shape()) m.build(call);
            } else if (m.network) {
                m.propagate_shapes(m.layers.size() - 1, call);
            }
        } catch (...) {
            m.layers.pop_back();
            throw;
        }
    });
}

void Sequential::compile(const Optimizer& optimizer, const Loss& loss, const std::vector<Metric>& metrics) {
    const std::string call = "Sequential::compile";
    Impl& m = impl("Sequential::compile");
    detail::Occupancy::Hold hold(m.occupancy, detail::Access::change, call);
    m.check_not_fitting(call);
    std::vector<detail::CompiledMetric> resolved;
    std::set<std::string> names{"loss"};
    for (const Metric& metric : metrics) {
        if (!names.insert(metric.name()).second)
            throw Error(call + ": metric \"" + metric.name() + "\" is named twice (or is the loss); the logs keep one value per name");
        resolved.emplace_back(metric, loss, m.network ? m.network->output_shape.back() : 1);
    }
    m.optimizer = optimizer.clone();
    m.loss = loss.clone();
    m.compiled_metrics = metrics;
    m.metrics.clear();
    if (m.network) m.metrics = std::move(resolved);
}
void Sequential::compile(std::string_view optimizer, std::string_view loss, const std::vector<Metric>& metrics) {
    compile(*make_optimizer(optimizer), *make_loss(loss), metrics);
}
void Sequential::compile(const Optimizer& optimizer, std::string_view loss, const std::vector<Metric>& metrics) {
    compile(optimizer, *make_loss(loss), metrics);
}
void Sequential::compile(std::string_view optimizer, const Loss& loss, const std::vector<Metric>& metrics) {
    compile(*make_optimizer(optimizer), loss, metrics);
}

void Sequential::summary(std::ostream& to) const {
    const Impl& m = impl("Sequential::summary");
    m.net("Sequential::summary");
    std::ostringstream os;  // formatted here, so that the caller's stream keeps its own flags
    constexpr std::size_t width = 65;
    // As Keras's print_row: columns ending at 29, 55 and 65, two spaces after each but the
    // last; a field too long for its column goes on over the next lines (after a "),"-like
    // end where there is one).
    auto row = [&](const std::string& a, const std::string& b, const std::string& c) {
        constexpr std::size_t ends[] = {29, 55, 65};
        std::string left[] = {a, b, c};
        while (!left[0].empty() || !left[1].empty() || !left[2].empty()) {
            std::string line = " ";
            for (std::size_t col = 0; col < 3; ++col) {
                const std::size_t space = col < 2 ? 2 : 0;
                std::size_t cutoff = ends[col] - (col ? ends[col - 1] : 0) - space;
                const std::string fit = left[col].substr(0, cutoff);
                for (const char* end : {"),", "},", "],", "',"})
                    if (const std::size_t at = fit.find(end); at != std::string::npos) cutoff = std::min(cutoff, at + 2);
                line += left[col].substr(0, cutoff) + std::string(space, ' ');
                left[col].erase(0, std::min(cutoff, left[col].size()));
                if (line.size() < ends[col]) line.resize(ends[col], ' ');
            }
            os << line << '\n';
        }
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
    to << os.str();
}

History Sequential::fit(const Tensor& x, const Tensor& y, const FitOptions& given) {
    // fit's own copy: a callback may change the caller's options while fit reads them.
    const FitOptions options = given;
    const std::string call = "Sequential::fit";
    Impl& m = impl("Sequential::fit");
    detail::Occupancy::Hold hold(m.occupancy, detail::Access::change, call);
    m.check_not_fitting(call);
    std::optional<detail::Hooks> hooks;
    try {
      return detail::api_call(call, [&] {
        m.check_compiled(call);
        m.check_x(x, call);
        m.check_y(x, y, call);
        check_batch_size(options.batch_size(), call);
        if (options.verbose() < 0 || options.verbose() > 2)
            throw Error(call + ": expected verbose 0, 1 or 2, got " + std::to_string(options.verbose()));
        const double split = options.validation_split();
        if (!(split >= 0.0 && split < 1.0))
            throw Error(call + ": expected validation_split in [0, 1), got " + std::to_string(split));
        if (split > 0.0 && options.validation_data())
            throw Error(call + ": give validation_split or validation_data, not both");
        // A checkpoint that cannot be written should stop fit now, not after an epoch's work.
        if (!options.checkpoint().empty()) detail::writable_target(options.checkpoint(), call + " (checkpoint)");

        // As Keras, validation_split holds out the last samples, before any shuffling.
        const std::size_t n = x.shape()[0];
        const std::size_t n_train = detail::training_count(n, split);
        if (n_train == 0 || (split > 0.0 && n_train == n))
            throw Error(call + ": validation_split " + std::to_string(split) + " of " + std::to_string(n) +
                        " samples leaves " + std::to_string(n_train) + " for training and " +
                        std::to_string(n - n_train) + " for validation; both need at least one");
        std::vector<std::size_t> train_rows = all_rows(n_train);
        std::vector<std::size_t> validation_rows;
        const Tensor* x_val = &x;
        const Tensor* y_val = &y;
        const Tensor weights = m.loss_weights(x, y, options.sample_weight(), options.class_weight(), call);
        const Tensor none;
        const Tensor* val_weights = &weights;  // validation_split's samples keep theirs; validation_data has none
        if (split > 0.0) {
            validation_rows.resize(n - n_train);
            std::iota(validation_rows.begin(), validation_rows.end(), n_train);
        } else if (const auto& data = options.validation_data()) {
            m.check_x(data->first, call + " (validation_data)");
            m.check_y(data->first, data->second, call + " (validation_data)");
            x_val = &data->first;
            y_val = &data->second;
            val_weights = &none;
            validation_rows = all_rows(data->first.shape()[0]);
        }

        const std::size_t batch = std::min(options.batch_size(), n_train);
        const std::size_t steps = (n_train + batch - 1) / batch;
        if (m.keeps_states()) {
            if (options.shuffle())
                throw Error(call + ": the model has stateful layers, which carry each sample's states to the same "
                                   "place in the next batch; give shuffle(false)");
            m.check_stateful_batches(n_train, batch, call);
            // Validation runs in the training batch size: the states carried are that many samples'.
            if (!validation_rows.empty()) m.check_stateful_batches(validation_rows.size(), batch, call + " (validation)");
        }
        const std::size_t timesteps = m.network->timesteps(x.shape().drop_front());
        m.train_ws.reserve(*m.network, batch, timesteps, call);
        const std::vector<std::string> names = metrics_names();
        detail::Progress progress(std::cout, options.verbose(), options.epochs(), steps, names);
        std::vector<double> sums(names.size());  // loss weighted by batch size, then metric sums over rows
        std::size_t scored = 0;                  // the rows the metrics were computed on this epoch
        std::vector<float> means(names.size());
        History history;
        hooks.emplace(options.callbacks(), *this, call);
        const detail::Fitting fitting(m.fitting, m.stop_training);
        const float first_rate = m.optimizer->learning_rate();
        Logs logs;  // the last epoch's, for on_train_end
        Logs batch_logs;  // made once, its values updated in place: the step loop allocates nothing
        std::vector<float*> batch_values;
        for (const std::string& name : names) batch_values.push_back(&batch_logs[name]);
        hooks->each([&](Callback& c) { c.on_train_begin({}); });
        // Epochs initial_epoch .. epochs - 1 as callbacks count them; the progress line counts from 1.
        for (std::size_t epoch = options.initial_epoch(); epoch < options.epochs(); ++epoch) {
            hooks->each([&](Callback& c) { c.on_epoch_begin(epoch, {}); });
            progress.begin_epoch(epoch + 1);
            if (options.shuffle()) {  // as Keras, a fresh permutation each epoch: resumable from a checkpoint
                std::iota(train_rows.begin(), train_rows.end(), 0);
                std::shuffle(train_rows.begin(), train_rows.end(), m.generator);
            }
            std::fill(sums.begin(), sums.end(), 0.0);
            scored = 0;
            for (std::size_t step = 0; step < steps; ++step) {
                hooks->each([&](Callback& c) { c.on_train_batch_begin(step, {}); });
                const std::size_t start = step * batch, count = std::min(batch, n_train - start);
                const std::span<const std::size_t> rows(train_rows.data() + start, count);
                detail::gather_time_major(m.train_ws, x, rows);
                detail::gather_rows(m.train_ws.y_true, y, rows);
                m.gather_weights(m.train_ws, weights, rows);
                // As Keras: the epoch's loss is the mean of the batch losses weighted by batch
                // size, its metrics are computed on each batch's forward pass, before the update.
                const Impl::Step result = m.train_step(m.train_ws, count);
                if (!result.failure.empty()) {  // as Keras's TerminateOnNaN, with the last good weights kept
                    std::cerr << call << ": " << result.failure << " at epoch " << epoch + 1 << ", batch " << step + 1
                              << "; training stopped with the weights and optimizer state from before that batch\n";
                    history.terminated_on_nan = true;
                    const float loss = std::isfinite(result.loss) ? std::numeric_limits<float>::quiet_NaN() : result.loss;
                    hooks->each([&](Callback& c) { c.on_train_batch_end(step, {{"loss", loss}}); });
                    break;
                }
                sums[0] += double(result.loss) * count;
                const Impl::Scored s = m.scored_rows(m.train_ws, count);
                for (std::size_t i = 0; i < m.metrics.size(); ++i)
                    sums[1 + i] += m.metrics[i].sum(s.y_pred, s.y_true, s.rows, m.network->output_shape.back());
                scored += s.rows;
                means[0] = static_cast<float>(sums[0] / (start + count));
                for (std::size_t i = 1; i < names.size(); ++i) means[i] = m.metrics[i - 1].result(sums[i], scored);
                progress.step_done(step + 1, means);
                for (std::size_t i = 0; i < names.size(); ++i) *batch_values[i] = means[i];
                hooks->each([&](Callback& c) { c.on_train_batch_end(step, batch_logs); });
                if (m.stop_training) break;  // as Keras, after the batch: an epoch runs at least one
            }
            if (history.terminated_on_nan) break;  // the failed epoch has no means to record
            logs.clear();
            for (std::size_t i = 0; i < names.size(); ++i) logs[names[i]] = means[i];
            std::vector<float> validation;
            if (!validation_rows.empty()) {
                validation = m.evaluate_rows(m.validation_ws, *x_val, *y_val, *val_weights, validation_rows,
                                              m.keeps_states() ? batch : options.batch_size(), call);
                for (std::size_t i = 0; i < names.size(); ++i) logs["val_" + names[i]] = validation[i];
            }
            const float rate = m.optimizer->learning_rate();
            logs["learning_rate"] = rate;
            history.loss.push_back(means[0]);
            for (std::size_t i = 1; i < names.size(); ++i) history.metrics[names[i]].push_back(means[i]);
            if (!validation.empty()) {
                history.val_loss.push_back(validation[0]);
                for (std::size_t i = 1; i < names.size(); ++i) history.metrics["val_" + names[i]].push_back(validation[i]);
            }
            for (const auto& [name, value] : logs) history.history[name].push_back(value);
            history.epoch.push_back(epoch);
            m.epochs_done = epoch + 1;
            // The rate shows when it moves: under a schedule or after a callback changed it.
            const bool show_rate = m.optimizer->learning_rate_schedule() || rate != first_rate;
            progress.end_epoch(means, validation, show_rate ? std::optional<float>(rate) : std::nullopt);
            hooks->each([&](Callback& c) { c.on_epoch_end(epoch, logs); });
            // After the callbacks, so that a rate they changed resumes from the checkpoint too.
            if (!options.checkpoint().empty()) save_checkpoint(options.checkpoint());
            if (m.stop_training) break;
        }
        hooks->each([&](Callback& c) { c.on_train_end(logs); });
        return history;
      });
    } catch (const detail::HookFailure& failure) {
        std::rethrow_exception(failure.error);
    }
}

std::vector<float> Sequential::Impl::evaluate_all(const Tensor& x, const Tensor& y, std::size_t batch_size,
                                                  const Tensor& sample_weight, const std::string& call) {
    detail::Occupancy::Hold hold(occupancy, reading(), call);
    return detail::api_call(call, [&] {
        check_compiled(call);
        check_x(x, call);
        check_y(x, y, call);
        check_batch_size(batch_size, call);
        check_stateful_batches(x.shape()[0], std::min(batch_size, x.shape()[0]), call);
        const Tensor weights = loss_weights(x, y, sample_weight, {}, call);
        auto ws = inference_workspaces.borrow();
        return evaluate_rows(*ws, x, y, weights, all_rows(x.shape()[0]), batch_size, call);
    });
}

float Sequential::evaluate(const Tensor& x, const Tensor& y, std::size_t batch_size, const Tensor& sample_weight) const {
    return impl("Sequential::evaluate").evaluate_all(x, y, batch_size, sample_weight, "Sequential::evaluate").front();
}

std::map<std::string, float> Sequential::evaluate_dict(const Tensor& x, const Tensor& y, std::size_t batch_size,
                                                       const Tensor& sample_weight) const {
    const std::string call = "Sequential::evaluate_dict";
    const std::vector<float> values =
        impl("Sequential::evaluate_dict").evaluate_all(x, y, batch_size, sample_weight, call);
    const std::vector<std::string> names = metrics_names();
    std::map<std::string, float> out;
    for (std::size_t i = 0; i < names.size(); ++i) out[names[i]] = values[i];
    return out;
}

Tensor Sequential::predict(const Tensor& x, std::size_t batch_size) const {
    const std::string call = "Sequential::predict";
    Impl& m = impl("Sequential::predict");
    detail::Occupancy::Hold hold(m.occupancy, m.reading(), call);
    return detail::api_call(call, [&] {
        m.check_x(x, call);
        check_batch_size(batch_size, call);
        m.check_stateful_batches(x.shape()[0], std::min(batch_size, x.shape()[0]), call);
        const detail::Network& n = *m.network;
        const std::size_t samples = x.shape()[0], timesteps = n.timesteps(x.shape().drop_front());
        const Shape output = detail::resolve(n.output_shape, timesteps);
        const std::size_t per_sample = output.elements();
        Tensor out(output.prepend(samples));
        const std::vector<std::size_t> rows = all_rows(samples);
        auto lease = m.inference_workspaces.borrow();
        detail::Workspace& ws = *lease;
        ws.reserve(n, std::min(batch_size, samples), timesteps, call);
        for (std::size_t start = 0; start < samples; start += batch_size) {
            const std::size_t count = std::min(batch_size, samples - start);
            detail::gather_time_major(ws, x, std::span(rows).subspan(start, count));
            const float* y = detail::forward(n, ws, m.params.data(), count);
            std::copy_n(y, count * per_sample, out.data() + start * per_sample);
        }
        return out;
    });
}

float Sequential::train_on_batch(const Tensor& x, const Tensor& y, const Tensor& sample_weight) {
    const std::string call = "Sequential::train_on_batch";
    Impl& m = impl("Sequential::train_on_batch");
    detail::Occupancy::Hold hold(m.occupancy, detail::Access::change, call);
    m.check_not_fitting(call);
    return detail::api_call(call, [&] {
        m.check_compiled(call);
        m.check_x(x, call);
        m.check_y(x, y, call);
        const std::size_t batch = x.shape()[0];
        if (m.batch_rows.size() < batch) m.batch_rows = all_rows(batch);  // kept: a step allocates nothing
        const std::span<const std::size_t> rows(m.batch_rows.data(), batch);
        const Tensor weights = m.loss_weights(x, y, sample_weight, {}, call);
        m.check_stateful_batches(batch, batch, call);
        m.train_ws.reserve(*m.network, batch, m.network->timesteps(x.shape().drop_front()), call);
        detail::gather_time_major(m.train_ws, x, rows);
        detail::gather_rows(m.train_ws.y_true, y, rows);
        m.gather_weights(m.train_ws, weights, rows);
        const Impl::Step result = m.train_step(m.train_ws, batch);
        if (result.failure.empty() || !std::isfinite(result.loss)) return result.loss;
        return std::numeric_limits<float>::quiet_NaN();  // a gradient or the update was not finite: nothing changed
    });
}

void Sequential::reset_states() {
    const std::string call = "Sequential::reset_states";
    Impl& m = impl("Sequential::reset_states");
    detail::Occupancy::Hold hold(m.occupancy, detail::Access::change, call);
    for (auto& layer : m.layers) LayerAccess::reset_states(*layer);
}

const std::vector<std::unique_ptr<Layer>>& Sequential::layers() const { return impl("Sequential::layers").layers; }

std::size_t Sequential::epochs_done() const { return impl("Sequential::epochs_done").epochs_done; }

Layer& Sequential::layer(std::size_t index) {
    Impl& m = impl("Sequential::layer");
    if (index >= m.layers.size())
        throw Error("Sequential::layer: index " + std::to_string(index) + " is out of range for a model with " +
                    std::to_string(m.layers.size()) + " layers");
    return *m.layers[index];
}
const Layer& Sequential::layer(std::size_t index) const { return const_cast<Sequential*>(this)->layer(index); }

bool Sequential::built() const { return impl("Sequential::built").network.has_value(); }
bool Sequential::compiled() const {
    const Impl& m = impl("Sequential::compiled");
    return m.optimizer && m.loss;
}

std::size_t Sequential::count_params() const {
    const Impl& m = impl("Sequential::count_params");
    std::size_t n = 0;
    for (const auto& layer : m.layers) n += layer->count_params();
    return n;
}

Shape Sequential::input_shape() const { return impl("Sequential::input_shape").net("Sequential::input_shape").input_shape; }
Shape Sequential::output_shape() const {
    return impl("Sequential::output_shape").net("Sequential::output_shape").output_shape;
}

const Optimizer& Sequential::optimizer() const {
    const Impl& m = impl("Sequential::optimizer");
    m.check_compiled("Sequential::optimizer");
    return *m.optimizer;
}
Optimizer& Sequential::optimizer() {
    Impl& m = impl("Sequential::optimizer");
    m.check_compiled("Sequential::optimizer");
    return *m.optimizer;
}

void Sequential::stop_training(bool stop) { impl("Sequential::stop_training").stop_training = stop; }
bool Sequential::stop_training() const { return impl("Sequential::stop_training").stop_training; }

std::vector<Tensor> Sequential::get_weights() const {
    const Impl& m = impl("Sequential::get_weights");
    detail::Occupancy::Hold hold(m.occupancy, detail::Access::read, "Sequential::get_weights");
    m.net("Sequential::get_weights");
    std::vector<Tensor> weights;
    for (const auto& layer : m.layers)
        for (Tensor& w : layer->get_weights()) weights.push_back(std::move(w));
    return weights;
}

void Sequential::set_weights(const std::vector<Tensor>& weights) {
    const std::string call = "Sequential::set_weights";
    Impl& m = impl("Sequential::set_weights");
    detail::Occupancy::Hold hold(m.occupancy, detail::Access::change, call);
    m.net(call);
    std::vector<std::pair<std::string, Shape>> expected;  // "layer/weight" and its shape, in order
    for (const auto& layer : m.layers) {
        const std::vector<Tensor> current = layer->get_weights();
        for (std::size_t i = 0; i < current.size(); ++i)
            expected.emplace_back(layer->name() + " weight " + std::to_string(i), current[i].shape());
    }
    if (weights.size() != expected.size())
        throw Error(call + ": expected " + std::to_string(expected.size()) + " weights (as get_weights gives), got " +
                    std::to_string(weights.size()));
    for (std::size_t i = 0; i < weights.size(); ++i) {
        if (weights[i].shape() != expected[i].second)
            throw Error(call + ": expected " + expected[i].first + " of shape " + expected[i].second.str() + ", got " +
                        weights[i].shape().str());
        if (!std::all_of(weights[i].begin(), weights[i].end(), [](float w) { return std::isfinite(w); }))
            throw Error(call + ": expected finite values, but " + expected[i].first + " holds NaN or Inf");
    }
    float* p = m.params.data();  // the weights lie end to end in this order
    for (const Tensor& w : weights) p = std::copy(w.begin(), w.end(), p);
    ++*m.weights_version;
}
const std::vector<Metric>& Sequential::metrics() const { return impl("Sequential::metrics").compiled_metrics; }

std::vector<std::string> Sequential::metrics_names() const {
    const Impl& m = impl("Sequential::metrics_names");
    std::vector<std::string> names{"loss"};
    for (const Metric& metric : m.compiled_metrics) names.push_back(metric.name());
    return names;
}

const Loss& Sequential::loss() const {
    const Impl& m = impl("Sequential::loss");
    m.check_compiled("Sequential::loss");
    return *m.loss;
}

std::map<std::string, std::string>& Sequential::metadata() { return impl("Sequential::metadata").metadata; }
const std::map<std::string, std::string>& Sequential::metadata() const { return impl("Sequential::metadata").metadata; }

}  // namespace recur
