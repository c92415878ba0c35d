#include "layers/recurrent.hpp"

#include <algorithm>
#include <cstring>
#include <iterator>

#include <recur/threads.hpp>

#include "config.hpp"
#include "layers/initializers.hpp"
#include "layers/layer_pass.hpp"
#include "layers/products.hpp"
#include "tensor/sizes.hpp"
#include "threads.hpp"

namespace recur {
namespace detail {

// ---- the cell's defaults ----

std::size_t Cell::packed_floats(std::size_t units) const {
    const std::size_t width = mul(gates(), units);
    return std::max(kernels::packed_floats(units, width), kernels::packed_floats(width, units));
}

void Cell::pack(float* packed, const float* recurrent_kernel, std::size_t units, bool transposed) const {
    const std::size_t width = gates() * units;
    if (transposed) pack_weights(packed, recurrent_kernel, width, units, width, true);
    else pack_weights(packed, recurrent_kernel, units, width, width, false);
}

void Cell::weight_gradients(const RecurrentGradients& g, const RecurrentBuffers& b, const float* x,
                            const RecurrentDims& d) const {
    const std::size_t rows = d.rows(), D = d.features, U = d.units, width = gates() * U;
    if (!recurrent_side_kept()) {
        weight_gradient({{g.kernel, x, D, D}, {g.recurrent_kernel, b.h_prev, U, U}, {g.bias, nullptr, 0, 1}}, width,
                        b.gates, width, rows, width, b.slab);
        return;
    }
    weight_gradient({{g.kernel, x, D, D}, {g.bias, nullptr, 0, 1}}, width, b.gates, width, rows, width, b.slab);
    weight_gradient({{g.recurrent_kernel, b.h_prev, U, U}, {g.recurrent_bias, nullptr, 0, 1}}, width, b.kept,
                    kept_floats(U), rows, width, b.slab);
}

// ---- the scan ----

namespace {

struct Sizes {
    std::size_t hs, cs, gates, kept, reversed, kernel_packed, recurrent_packed, slab, scratch, lanes;
};

Sizes sizes(const Cell& cell, const RecurrentDims& d, bool go_backwards) {
    const std::size_t B = d.batch, T = d.timesteps, D = d.features, U = d.units, width = mul(cell.gates(), U);
    const std::size_t states = mul(T + 1, B, U);
    return {states,
            cell.cell_state() ? states : 0,
            mul(T, B, width),
            mul(T, B, cell.kept_floats(U)),
            go_backwards ? mul(T, B, D) : 0,
            std::max(kernels::packed_floats(D, width), kernels::packed_floats(width, D)),
            cell.packed_floats(U),
            weight_gradient_floats(add(D, U, 1), width),
            cell.uses_carry() ? mul(B, U) : 0,
            cell.lanes_floats(B, T, U)};
}

}  // namespace

std::size_t recurrent_workspace_floats(const Cell& cell, const RecurrentDims& dims, bool go_backwards) {
    const Sizes s = sizes(cell, dims, go_backwards);
    return add(s.hs, s.cs, s.gates, s.kept, s.reversed, s.kernel_packed, s.recurrent_packed, s.slab,
               mul(2, s.scratch), s.lanes);
}

RecurrentBuffers recurrent_layout(float* p, const Cell& cell, const RecurrentDims& dims, bool go_backwards) {
    const Sizes s = sizes(cell, dims, go_backwards);
    auto take = [&](std::size_t floats) {
        float* region = floats ? p : nullptr;
        p += floats;
        return region;
    };
    RecurrentBuffers b{};
    b.hs = take(s.hs);
    b.h_prev = b.hs;
    b.cs = take(s.cs);
    b.gates = take(s.gates);
    b.kept = take(s.kept);
    b.x_reversed = take(s.reversed);
    b.recurrent_packed = take(s.recurrent_packed);
    b.kernel_packed = take(s.kernel_packed);
    b.slab = take(s.slab);
    b.scratch = take(s.scratch);
    b.carry = take(s.scratch);
    b.lanes = take(s.lanes);
    return b;
}

namespace {

// One piece of the batch, rows [r0, r0 + rows), as the cell sees it at step k: seek(k)
// points every buffer at the piece's rows of that step, of which count(k) still run.
class PieceSteps {
public:
    PieceSteps(const Cell& cell, const RecurrentBuffers& b, const RecurrentDims& d, const RecurrentWeights& w,
               CellActivations acts, std::size_t r0, std::size_t rows)
        : b_(b), d_(d), r0_(r0), end_(r0 + rows), width_(cell.gates() * d.units), kept_width_(cell.kept_floats(d.units)) {
        step_.units = d.units;
        step_.activation = acts.activation;
        step_.recurrent_activation = acts.recurrent_activation;
        step_.packed = b.recurrent_packed;
        step_.recurrent_bias = w.recurrent_bias;
        step_.carry = b.carry ? b.carry + r0 * d.units : nullptr;
        step_.scratch = b.scratch ? b.scratch + r0 * d.units : nullptr;
    }
    CellStep& step() { return step_; }
    // The piece's rows that run at step k (sorted longest first, they are its first ones).
    std::size_t count(std::size_t k) const {
        const std::size_t active = d_.rows_at(k);
        return active > r0_ ? std::min(active, end_) - r0_ : 0;
    }
    void seek(std::size_t k) {
        const std::size_t U = d_.units, row = d_.first_row(k) + r0_;
        step_.rows = count(k);
        step_.gates = b_.gates + row * width_;
        step_.kept = b_.kept ? b_.kept + row * kept_width_ : nullptr;
        step_.h_prev = b_.hs + (d_.state_row(k) + r0_) * U;
        step_.h = b_.hs + (d_.state_row(k + 1) + r0_) * U;
        step_.c_prev = b_.cs ? b_.cs + (d_.state_row(k) + r0_) * U : nullptr;
        step_.c = b_.cs ? b_.cs + (d_.state_row(k + 1) + r0_) * U : nullptr;
    }
    // Step k + 1's gates and kept floats for the same rows.
    const float* gates_next(std::size_t k) const { return b_.gates + (d_.first_row(k + 1) + r0_) * width_; }
    const float* kept_next(std::size_t k) const {
        return b_.kept ? b_.kept + (d_.first_row(k + 1) + r0_) * kept_width_ : nullptr;
    }
    // The same step for the piece's rows [first, first + rows) only.
    CellStep rows(std::size_t first, std::size_t rows) const {
        CellStep s = step_;
        const std::size_t U = d_.units;
        s.rows = rows;
        s.gates += first * width_;
        if (s.kept) s.kept += first * kept_width_;
        s.h_prev += first * U;
        s.h += first * U;
        if (s.c) s.c_prev += first * U, s.c += first * U;
        if (s.carry) s.carry += first * U;
        if (s.scratch) s.scratch += first * U;
        if (s.dh) s.dh += first * U;
        if (s.gates_next) s.gates_next += first * width_;
        if (s.kept_next) s.kept_next += first * kept_width_;
        return s;
    }

private:
    const RecurrentBuffers& b_;
    const RecurrentDims& d_;
    CellStep step_{};
    std::size_t r0_, end_, width_, kept_width_;
};

// Calls f(r0, rows) for pieces of the batch on the threads: `piece` rows each, or with a mask
// as many pieces holding about equal numbers of real steps (the rows run longest first, so
// pieces of equal rows would give the first thread most of the work).
template <class F>
void for_each_row_piece(const RecurrentDims& d, std::size_t piece, double work, F&& f) {
    if (!d.active) return for_each_piece(d.batch, piece, work, f);
    const std::size_t pieces = std::min((d.batch + piece - 1) / piece, num_threads()), total = d.rows();
    auto start = [&](std::size_t p) {  // the first row after p / pieces of the real steps
        std::size_t row = 0;
        for (std::size_t before = 0; row < d.batch && before * pieces < p * total; ++row) before += d.lengths[row];
        return p == pieces ? d.batch : row;
    };
    for_each_piece(pieces, 1, work, [&](std::size_t p0, std::size_t count) {
        for (std::size_t p = p0; p < p0 + count; ++p)
            if (const std::size_t r0 = start(p), r1 = start(p + 1); r1 > r0) f(r0, r1 - r0);
    });
}

}  // namespace

void recurrent_forward(const Cell& cell, const RecurrentBuffers& b, const float* x, const RecurrentWeights& w,
                       const RecurrentDims& d, CellActivations acts) {
    const std::size_t B = d.batch, T = d.timesteps, D = d.features, U = d.units, width = cell.gates() * U;
    pack_weights(b.kernel_packed, w.kernel, D, width, width, false);
    rows_times_matrix(b.gates, x, b.kernel_packed, w.bias, d.rows(), D, width);
    if (!d.active && cell.forward_loop(b, d, w, acts.activation)) return;
    cell.pack(b.recurrent_packed, w.recurrent_kernel, U, false);
    for_each_row_piece(d, batch_piece(B, U * width, num_threads()), double(d.rows()) * U * width,
                   [&](std::size_t r0, std::size_t rows) {
                       PieceSteps piece(cell, b, d, w, acts, r0, rows);
                       for (std::size_t k = 0; k < T && piece.count(k) > 0; ++k) {
                           piece.seek(k);
                           cell.forward_step(piece.step());
                       }
                   });
}

void recurrent_backward(const Cell& cell, const RecurrentBuffers& b, const float* x, const RecurrentWeights& w,
                        const RecurrentGradients& g, const float* dh, bool dh_every_step, float* dx,
                        const RecurrentDims& d, CellActivations acts) {
    const std::size_t B = d.batch, T = d.timesteps, D = d.features, U = d.units, width = cell.gates() * U;
    if (d.active || !cell.backward_loop(b, d, w, dh, dh_every_step, acts.activation)) {
        cell.pack(b.recurrent_packed, w.recurrent_kernel, U, true);
        for_each_row_piece(d, batch_piece(B, U * width, num_threads()), double(d.rows()) * U * width,
                       [&](std::size_t r0, std::size_t rows) {
                           PieceSteps piece(cell, b, d, w, acts, r0, rows);
                           CellStep& s = piece.step();
                           if (s.carry) std::fill_n(s.carry, rows * U, 0.0f);
                           for (std::size_t k = T; k-- > 0;) {
                               if (piece.count(k) == 0) continue;
                               piece.seek(k);
                               // The rows going on to step k + 1 take its gradients back; the
                               // others end here, and take the gradient of their final state.
                               const std::size_t going_on = k + 1 < T ? piece.count(k + 1) : 0, n = s.rows;
                               s.dh = dh_every_step ? dh + (d.first_row(k) + r0) * U : nullptr;
                               s.gates_next = going_on ? piece.gates_next(k) : nullptr;
                               s.kept_next = going_on ? piece.kept_next(k) : nullptr;
                               if (going_on) cell.backward_step(piece.rows(0, going_on));
                               if (going_on == n) continue;
                               CellStep ending = piece.rows(going_on, n - going_on);
                               ending.gates_next = ending.kept_next = nullptr;
                               if (!dh_every_step) ending.dh = dh + (r0 + going_on) * U;
                               cell.backward_step(ending);
                           }
                       });
    }
    if (d.active)  // H_prev row for row with the gates, for the weight gradients' one product
        for_each_piece(T, 1, double(d.rows()) * U * kWorkPerFloatMoved, [&](std::size_t k0, std::size_t steps) {
            for (std::size_t k = k0; k < k0 + steps; ++k)
                std::copy_n(b.hs + d.state_row(k) * U, d.rows_at(k) * U, b.h_prev + d.first_row(k) * U);
        });
    cell.weight_gradients(g, b, x, d);
    if (dx) {
        pack_weights(b.kernel_packed, w.kernel, width, D, width, true);
        rows_times_matrix(dx, b.gates, b.kernel_packed, nullptr, d.rows(), width, D);
    }
}

}  // namespace detail

// ---- the layer ----

namespace {
// Copies the T slabs of a T x B x F block in reverse time order.
void reverse_time(float* out, const float* in, std::size_t T, std::size_t slab) {
    for (std::size_t t = 0; t < T; ++t) std::memcpy(out + (T - 1 - t) * slab, in + t * slab, slab * sizeof(float));
}
}  // namespace

Recurrent::Recurrent(std::string_view type_prefix, const char* type, std::size_t units)
    : Layer(type_prefix), units_(units), type_(type) {
    detail::check_count(units, detail::kMaxDimension, type, "units");
}

void Recurrent::set_activation(std::string_view name, const char* option, Activation& target) {
    check_configurable(option);
    const std::string call = std::string(type_) + "::" + option;
    const Activation act = parse_activation(name, call);
    if (act == Activation::softmax)
        throw Error(call + ": expected \"tanh\", \"relu\", \"sigmoid\" or \"linear\", got \"softmax\"");
    target = act;
}

void Recurrent::set_flag(bool on, const char* option, bool& target) {
    check_configurable(option);
    target = on;
}

void Recurrent::set_shape(Shape timesteps_features) {
    check_configurable("input_shape");
    set_input_shape(std::move(timesteps_features), std::string(type_) + "::input_shape");
}

std::vector<Tensor> Recurrent::call(const Tensor& x, const std::vector<Tensor>& initial_state) {
    const std::string call = std::string(type_);
    if (x.rank() != 3)
        throw Error(call + ": layer '" + name() + "' expects input of shape (batch, timesteps, features), got " +
                    x.shape().str());
    std::vector<const float*> states;
    if (!initial_state.empty()) {
        const std::size_t count = cell().cell_state() ? 2 : 1;
        const Shape wanted{x.shape()[0], units_};
        if (initial_state.size() != count)
            throw Error(call + ": layer '" + name() + "' takes an initial_state of " + std::to_string(count) +
                        (count == 2 ? " tensors (h, c)" : " tensor (h)") + ", got " + std::to_string(initial_state.size()));
        for (const Tensor& state : initial_state) {
            if (state.shape() != wanted)
                throw Error(call + ": layer '" + name() + "' expects initial states of shape " + wanted.str() + ", got " +
                            state.shape().str());
            if (!std::all_of(state.begin(), state.end(), [](float v) { return std::isfinite(v); }))
                throw Error(call + ": layer '" + name() + "' expects finite initial states, but one holds NaN or Inf");
            states.push_back(state.data());
        }
    }
    return call_standalone(x, return_state_, states);
}

void Recurrent::check_batch(std::size_t batch, const std::string& call) const {
    if (stateful_ && carried_.size() > 0 && carried_.shape()[1] != batch)
        throw Error(call + ": layer '" + name() + "' is stateful and carries the states of a batch of " +
                    std::to_string(carried_.shape()[1]) + " samples, got a batch of " + std::to_string(batch) +
                    "; call reset_states() to start over with another batch size");
}

void Recurrent::reset_states() { carried_ = Tensor(); }

namespace {
// The scan's initial states (B x U each, in the batch's row order `order`, or as they are):
// the pass's given ones, else a stateful layer's carried ones, else zeros.
void set_initial_states(float* hs, float* cs, const detail::LayerPass& pass, const Tensor& carried, std::size_t U,
                        const std::size_t* order) {
    const std::size_t B = pass.batch;
    float* targets[] = {hs, cs};
    for (std::size_t i = 0; i < 2; ++i) {
        if (!targets[i]) continue;
        const float* from = pass.initial_states[i] ? pass.initial_states[i]
                            : carried.size() > 0   ? carried.data() + i * B * U
                                                   : nullptr;
        if (!from) std::fill_n(targets[i], B * U, 0.0f);
        else
            for (std::size_t j = 0; j < B; ++j) std::copy_n(from + (order ? order[j] : j) * U, U, targets[i] + j * U);
    }
}
}  // namespace

// A stateful layer keeps the final states for the next batch.
void Recurrent::carry_states(const detail::LayerPass& pass) const {
    if (!stateful_) return;
    const std::size_t B = pass.batch, U = units_;
    if (carried_.size() == 0) carried_ = Tensor(Shape{2, B, U});
    for (std::size_t i = 0; i < 2; ++i)
        if (pass.states[i]) std::copy_n(pass.states[i], B * U, carried_.data() + i * B * U);
}

Shape Recurrent::compute_output_shape(const Shape& input) const {
    return return_sequences_ ? Shape{input[0], units_} : Shape{units_};
}

void Recurrent::check_placement(std::size_t, const std::string& call) const {
    if (return_state_)
        throw Error(call + ": layer '" + name() +
                    "' has return_state on, which gives several outputs; a Sequential model takes one");
}

std::vector<Layer::WeightSpec> Recurrent::weight_specs(const Shape& input) const {
    const std::size_t width = cell().gates() * units_;
    std::vector<WeightSpec> specs{{"kernel", Shape{input[1], width}}, {"recurrent_kernel", Shape{units_, width}}};
    if (use_bias_) specs.push_back({"bias", cell().recurrent_bias() ? Shape{std::size_t{2}, width} : Shape{width}});
    return specs;
}

namespace {
// The weights' views in a layer's slice: kernel, recurrent kernel, then the bias(es).
template <class T>
detail::RecurrentWeightViews<T> views(T* w, std::size_t D, std::size_t U, std::size_t width, bool bias,
                                      bool recurrent_bias) {
    T* b = w + D * width + U * width;
    return {w, w + D * width, bias ? b : nullptr, bias && recurrent_bias ? b + width : nullptr};
}
}  // namespace

void Recurrent::initialize(float* weights, std::mt19937_64& generator) const {
    const std::size_t D = input_shape()[1], U = units_, width = cell().gates() * U;
    const auto w = views(weights, D, U, width, use_bias_, cell().recurrent_bias());
    detail::glorot_uniform(w.kernel, D, width, generator);
    detail::orthogonal(w.recurrent_kernel, U, width, generator);
    if (w.bias) initialize_bias(w.bias, cell().recurrent_bias() ? 2 * width : width);
}

void Recurrent::initialize_bias(float* bias, std::size_t floats) const { std::fill_n(bias, floats, 0.0f); }

std::size_t Recurrent::state_count() const { return cell().cell_state() ? 2 : 1; }

namespace {
detail::RecurrentDims dims_of(const Layer& layer, std::size_t batch, std::size_t timesteps, std::size_t units) {
    return {batch, timesteps, layer.input_shape()[1], units};
}
detail::CellActivations acts_of(Activation activation, Activation recurrent) {
    return {detail::kernel_act(activation), detail::kernel_act(recurrent)};
}
}  // namespace

// ---- masked batches: each row's real steps only, packed ----

namespace {

// What a masked pass keeps beside the scan's buffers: the packing (see RecurrentDims) and the
// way from the padded batch to the packed rows and back.
struct Packing {
    std::size_t* order;    // B: packed row j is row order[j] of the batch (longest sequence first)
    std::size_t* lengths;  // B: real steps of packed row j
    std::size_t* active;   // T: rows at packed step k
    std::size_t* offsets;  // T + 1
    std::size_t* times;    // T B: the time in x of each packed row
    float* x;              // T B D: the input's real steps packed; backward: their gradients
    float* h_prev;         // T B U: the scan's H_prev rows
    float* dh;             // T B U (return_sequences) or B U: the output gradients packed
    float* output;         // T B U (return_sequences) or B U: h at each step as Keras gives it
    float* h_final;        // B U: final states, in batch order
    float* c_final;
};

constexpr std::size_t kFloatsPerIndex = sizeof(std::size_t) / sizeof(float);

template <class Visit>
std::size_t packing_regions(float* base, std::size_t B, std::size_t T, std::size_t D, std::size_t U, Visit visit) {
    using detail::add;
    using detail::mul;
    const std::size_t indices[] = {B, B, T, add(T, 1), mul(T, B)};
    const std::size_t floats[] = {mul(T, B, D), mul(T, B, U), mul(T, B, U), mul(T, B, U), mul(B, U), mul(B, U)};
    std::size_t offset = 0;
    for (std::size_t i = 0; i < std::size(indices); ++i) {
        visit(i, base ? base + offset : nullptr);
        offset = add(offset, detail::round_up(mul(indices[i], kFloatsPerIndex), 16));
    }
    for (std::size_t i = 0; i < std::size(floats); ++i) {
        visit(std::size(indices) + i, base ? base + offset : nullptr);
        offset = add(offset, detail::round_up(floats[i], 16));
    }
    return offset;
}

Packing packing_layout(float* base, std::size_t B, std::size_t T, std::size_t D, std::size_t U) {
    Packing p{};
    std::size_t** indices[] = {&p.order, &p.lengths, &p.active, &p.offsets, &p.times};
    float** floats[] = {&p.x, &p.h_prev, &p.dh, &p.output, &p.h_final, &p.c_final};
    packing_regions(base, B, T, D, U, [&](std::size_t i, float* region) {
        if (i < std::size(indices)) *indices[i] = reinterpret_cast<std::size_t*>(region);
        else *floats[i - std::size(indices)] = region;
    });
    return p;
}

// Calls visit(p, t) for row b's steps in processing order (p the position, t the time in x).
template <class Visit>
void each_step(std::size_t T, bool backwards, Visit visit) {
    for (std::size_t p = 0; p < T; ++p) visit(p, backwards ? T - 1 - p : p);
}

// Lays out the packing from the mask.
void plan(const Packing& p, const std::uint8_t* mask, std::size_t B, std::size_t T, bool backwards) {
    for (std::size_t b = 0; b < B; ++b) {
        p.order[b] = b;
        p.lengths[b] = 0;
        for (std::size_t t = 0; t < T; ++t) p.lengths[b] += mask[t * B + b];
    }
    std::stable_sort(p.order, p.order + B, [&](std::size_t a, std::size_t b) { return p.lengths[a] > p.lengths[b]; });
    for (std::size_t j = 0; j < B; ++j) p.times[j] = p.lengths[p.order[j]];  // times is free until below
    std::copy_n(p.times, B, p.lengths);
    const std::size_t steps = B ? p.lengths[0] : 0;
    p.offsets[0] = 0;
    for (std::size_t k = 0, rows = B; k < steps; ++k) {
        while (rows > 0 && p.lengths[rows - 1] <= k) --rows;
        p.active[k] = rows;
        p.offsets[k + 1] = p.offsets[k] + rows;
    }
    for (std::size_t j = 0; j < B; ++j) {
        std::size_t k = 0;
        each_step(T, backwards, [&](std::size_t, std::size_t t) {
            if (mask[t * B + p.order[j]]) p.times[p.offsets[k++] + j] = t;
        });
    }
}

// A masked pass's packing, after the scan's buffers in its workspace.
Packing packing_in(float* workspace, const detail::Cell& cell, const detail::RecurrentDims& d, bool go_backwards) {
    return packing_layout(workspace + detail::round_up(detail::recurrent_workspace_floats(cell, d, go_backwards), 16),
                          d.batch, d.timesteps, d.features, d.units);
}

// The scan's dimensions over the packed rows: as many steps as the longest sequence has.
detail::RecurrentDims packed(detail::RecurrentDims d, const Packing& p) {
    d.timesteps = d.batch ? p.lengths[0] : 0;
    d.active = p.active;
    d.offsets = p.offsets;
    d.lengths = p.lengths;
    return d;
}

}  // namespace

std::size_t Recurrent::workspace_floats(std::size_t batch, std::size_t timesteps) const {
    const detail::RecurrentDims d = dims_of(*this, batch, timesteps, units_);
    const std::size_t scan = detail::recurrent_workspace_floats(cell(), d, go_backwards_);
    if (!input_masked_) return scan;
    return detail::add(detail::round_up(scan, 16),
                       packing_regions(nullptr, batch, timesteps, d.features, units_, [](std::size_t, float*) {}));
}

void Recurrent::forward_masked(detail::LayerPass& pass) const {
    const detail::RecurrentDims padded = dims_of(*this, pass.batch, pass.timesteps, units_);
    const std::size_t B = padded.batch, T = padded.timesteps, D = padded.features, U = units_, width = cell().gates() * U;
    const detail::Cell& c = cell();
    const detail::RecurrentBuffers b = detail::recurrent_layout(pass.workspace, c, padded, go_backwards_);
    const Packing p = packing_in(pass.workspace, c, padded, go_backwards_);
    const std::uint8_t* mask = pass.mask;
    plan(p, mask, B, T, go_backwards_);
    const detail::RecurrentDims d = packed(padded, p);
    for (std::size_t k = 0; k < d.timesteps; ++k)
        for (std::size_t j = 0; j < p.active[k]; ++j)
            std::copy_n(pass.input + (p.times[p.offsets[k] + j] * B + p.order[j]) * D, D, p.x + (p.offsets[k] + j) * D);
    set_initial_states(b.hs, b.cs, pass, carried_, U, p.order);
    if (d.timesteps > 0)
        detail::recurrent_forward(c, b, p.x, views(pass.weights, D, U, width, use_bias_, c.recurrent_bias()), d,
                                  acts_of(activation_, recurrent_activation_));
    // As Keras: a masked step's output is the output of the last real step before it (zeros
    // before the first); the final state is the last real step's.
    // (A sample without a real step keeps its initial state.)
    auto state = [&](const float* states, std::size_t k, std::size_t j) {  // after k real steps of packed row j
        return states + (d.state_row(k) + j) * U;
    };
    for (std::size_t j = 0; j < B; ++j) {
        const std::size_t row = p.order[j], length = p.lengths[j];
        std::copy_n(state(b.hs, length, j), U, p.h_final + row * U);
        if (b.cs) std::copy_n(state(b.cs, length, j), U, p.c_final + row * U);
        if (!return_sequences_) continue;
        std::size_t k = 0;
        each_step(T, go_backwards_, [&](std::size_t position, std::size_t t) {
            const bool real = mask[t * B + row];
            k += real;
            float* out = p.output + (position * B + row) * U;
            if (k > 0 && (real || !zero_output_for_mask_)) std::copy_n(state(b.hs, k, j), U, out);
            else std::fill_n(out, U, 0.0f);
        });
    }
    pass.output = return_sequences_ ? p.output : p.h_final;
    pass.output_mask = return_sequences_ ? mask : nullptr;
    pass.states = {p.h_final, b.cs ? p.c_final : nullptr};
    carry_states(pass);
}

void Recurrent::backward_masked(detail::LayerPass& pass) const {
    const detail::RecurrentDims padded = dims_of(*this, pass.batch, pass.timesteps, units_);
    const std::size_t B = padded.batch, T = padded.timesteps, D = padded.features, U = units_, width = cell().gates() * U;
    const detail::Cell& c = cell();
    detail::RecurrentBuffers b = detail::recurrent_layout(pass.workspace, c, padded, go_backwards_);
    const Packing p = packing_in(pass.workspace, c, padded, go_backwards_);
    const std::uint8_t* mask = pass.mask;
    const detail::RecurrentDims d = packed(padded, p);
    b.h_prev = p.h_prev;
    // Each output's gradient goes to the step whose h it is: a masked step's to the last real
    // step before it (none before the first: the initial state is no weight).
    const float* dy = pass.output_grad;
    if (return_sequences_) {
        std::fill_n(p.dh, d.rows() * U, 0.0f);
        for (std::size_t j = 0; j < B; ++j) {
            std::size_t k = 0;
            each_step(T, go_backwards_, [&](std::size_t position, std::size_t t) {
                const bool real = mask[t * B + p.order[j]];
                k += real;
                if (k == 0 || (!real && zero_output_for_mask_)) return;
                float* to = p.dh + (p.offsets[k - 1] + j) * U;
                const float* from = dy + (position * B + p.order[j]) * U;
                for (std::size_t u = 0; u < U; ++u) to[u] += from[u];
            });
        }
    } else {
        for (std::size_t j = 0; j < B; ++j) std::copy_n(dy + p.order[j] * U, U, p.dh + j * U);
    }
    if (d.timesteps == 0) {  // every step masked: the output is the initial state, whatever the weights
        std::fill_n(pass.grads, count_params(), 0.0f);
    } else {
        detail::recurrent_backward(c, b, p.x, views(pass.weights, D, U, width, use_bias_, c.recurrent_bias()),
                                   views(pass.grads, D, U, width, use_bias_, c.recurrent_bias()), p.dh,
                                   return_sequences_, pass.input_grad ? p.x : nullptr, d,
                                   acts_of(activation_, recurrent_activation_));
    }
    if (!pass.input_grad) return;
    std::fill_n(pass.input_grad, T * B * D, 0.0f);
    for (std::size_t k = 0; k < d.timesteps; ++k)
        for (std::size_t j = 0; j < p.active[k]; ++j)
            std::copy_n(p.x + (p.offsets[k] + j) * D, D, pass.input_grad + (p.times[p.offsets[k] + j] * B + p.order[j]) * D);
}

void Recurrent::forward(detail::LayerPass& pass) const {
    // Calls check batches against carried states first; this holds if a callback changed them mid-fit.
    if (stateful_ && carried_.size() > 0) check_batch(pass.batch, "Recurrent (stateful)");
    if (pass.mask) return forward_masked(pass);
    const detail::RecurrentDims d = dims_of(*this, pass.batch, pass.timesteps, units_);
    const std::size_t B = d.batch, T = d.timesteps, U = d.units, width = cell().gates() * U;
    const detail::Cell& c = cell();
    const detail::RecurrentBuffers b = detail::recurrent_layout(pass.workspace, c, d, go_backwards_);
    const float* x = pass.input;
    if (go_backwards_) {
        reverse_time(b.x_reversed, x, T, B * d.features);
        x = b.x_reversed;
    }
    set_initial_states(b.hs, b.cs, pass, carried_, U, nullptr);
    detail::recurrent_forward(c, b, x, views(pass.weights, d.features, U, width, use_bias_, c.recurrent_bias()), d,
                              acts_of(activation_, recurrent_activation_));
    pass.output = return_sequences_ ? b.hs + B * U : b.hs + T * B * U;
    pass.states = {b.hs + T * B * U, b.cs ? b.cs + T * B * U : nullptr};
    carry_states(pass);
}

void Recurrent::backward(detail::LayerPass& pass) const {
    if (pass.mask) return backward_masked(pass);
    const detail::RecurrentDims d = dims_of(*this, pass.batch, pass.timesteps, units_);
    const std::size_t B = d.batch, T = d.timesteps, U = d.units, width = cell().gates() * U;
    const detail::Cell& c = cell();
    const detail::RecurrentBuffers b = detail::recurrent_layout(pass.workspace, c, d, go_backwards_);
    const float* x = go_backwards_ ? b.x_reversed : pass.input;
    // With go_backwards the input gradient comes out in processing order, in x_reversed
    // (no longer needed once the weight gradients are done), and is then put back in time order.
    float* dx = pass.input_grad && go_backwards_ ? b.x_reversed : pass.input_grad;
    detail::recurrent_backward(c, b, x, views(pass.weights, d.features, U, width, use_bias_, c.recurrent_bias()),
                               views(pass.grads, d.features, U, width, use_bias_, c.recurrent_bias()),
                               pass.output_grad, return_sequences_, dx, d, acts_of(activation_, recurrent_activation_));
    if (pass.input_grad && go_backwards_) reverse_time(pass.input_grad, b.x_reversed, T, B * d.features);
}

// ---- streaming: one timestep for `batch` sequences ----
// A stream keeps, for this layer: W and U packed as predict packs them, the biases, the
// states, the states being computed, and one step's gates and kept floats.

namespace {
struct StreamLayout {
    float *kernel, *recurrent, *bias, *recurrent_bias, *h, *c, *h_next, *c_next, *gates, *kept;
};
// The regions in order, each a whole number of cache lines; their total when base is null.
std::size_t stream_regions(float* base, StreamLayout* layout, const detail::Cell& cell, std::size_t B, std::size_t D,
                           std::size_t U) {
    using detail::mul;
    const std::size_t width = mul(cell.gates(), U), states = mul(B, U);
    const std::size_t floats[] = {kernels::packed_floats(D, width), cell.packed_floats(U), width, width, states, states,
                                  states, states, mul(B, width), mul(B, cell.kept_floats(U))};
    float** regions[] = {&layout->kernel, &layout->recurrent, &layout->bias, &layout->recurrent_bias, &layout->h,
                         &layout->c, &layout->h_next, &layout->c_next, &layout->gates, &layout->kept};
    std::size_t offset = 0;
    for (std::size_t i = 0; i < std::size(floats); ++i) {
        if (base) *regions[i] = base + offset;
        offset = detail::add(offset, detail::round_up(floats[i], 16));
    }
    return offset;
}
StreamLayout stream_layout(float* base, const detail::Cell& cell, std::size_t B, std::size_t D, std::size_t U) {
    StreamLayout layout{};
    stream_regions(base, &layout, cell, B, D, U);
    return layout;
}
}  // namespace

void Recurrent::check_streamable(const std::string& call) const {
    if (go_backwards_)
        throw Error(call + ": layer '" + name() + "' has go_backwards on; it needs the whole sequence before its first output");
}

std::size_t Recurrent::stream_floats(std::size_t batch) const {
    StreamLayout unused{};
    return stream_regions(nullptr, &unused, cell(), batch, input_shape()[1], units_);
}

void Recurrent::stream_start(detail::StreamPass& pass) const {
    const std::size_t D = input_shape()[1], U = units_, width = cell().gates() * U;
    const StreamLayout s = stream_layout(pass.buffer, cell(), pass.batch, D, U);
    const auto w = views(pass.weights, D, U, width, use_bias_, cell().recurrent_bias());
    detail::pack_weights(s.kernel, w.kernel, D, width, width, false);
    cell().pack(s.recurrent, w.recurrent_kernel, U, false);
    if (w.bias) std::copy_n(w.bias, width, s.bias);
    if (w.recurrent_bias) std::copy_n(w.recurrent_bias, width, s.recurrent_bias);
    stream_reset(pass);
}

void Recurrent::stream_reset(detail::StreamPass& pass) const {
    const StreamLayout s = stream_layout(pass.buffer, cell(), pass.batch, input_shape()[1], units_);
    std::fill_n(s.h, pass.batch * units_, 0.0f);
    std::fill_n(s.c, pass.batch * units_, 0.0f);
}

const float* Recurrent::stream_step(detail::StreamPass& pass, const float* input) const noexcept {
    const detail::Cell& c = cell();
    const std::size_t B = pass.batch, D = input_shape()[1], U = units_, width = c.gates() * U;
    const StreamLayout s = stream_layout(pass.buffer, c, B, D, U);
    kernels::active().linear_forward_packed(s.gates, input, s.kernel, use_bias_ ? s.bias : nullptr, B, D, width);
    detail::CellStep step{};
    step.rows = B;
    step.units = U;
    step.activation = detail::kernel_act(activation_);
    step.recurrent_activation = detail::kernel_act(recurrent_activation_);
    step.gates = s.gates;
    step.kept = c.kept_floats(U) ? s.kept : nullptr;
    step.h_prev = s.h;
    step.h = s.h_next;
    step.c_prev = c.cell_state() ? s.c : nullptr;
    step.c = c.cell_state() ? s.c_next : nullptr;
    step.packed = s.recurrent;
    step.recurrent_bias = use_bias_ && c.recurrent_bias() ? s.recurrent_bias : nullptr;
    c.forward_step(step);
    std::copy_n(s.h_next, B * U, s.h);
    if (c.cell_state()) std::copy_n(s.c_next, B * U, s.c);
    return s.h;
}

void Recurrent::write_config(detail::ConfigWriter& config) const {
    config.set("units", units_);
    config.set("activation", activation_name(activation_));
    config.set("use_bias", use_bias_);
    config.set("return_sequences", return_sequences_);
    config.set("return_state", return_state_);
    config.set("go_backwards", go_backwards_);
    config.set("stateful", stateful_);
    write_cell_config(config);
}

}  // namespace recur
