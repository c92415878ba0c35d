// recur-onednn-bench: recur-bench's training step and inference pass done with oneDNN's RNN
// primitives, as a third reference beside recur and PyTorch.
//
// The model is recur-bench's: a recurrent layer of H units over (B, T, D) -> last state ->
// Dense(O), MSE, Adam (Keras's update rule, as recur's). The recurrent layer is oneDNN's
// (f32), by --cell: simple, vanilla_rnn (tanh); lstm, lstm; gru, lbr_gru, the linear-before-
// reset GRU that is Keras's GRU(reset_after=true) and PyTorch's. The Dense head, the loss and
// Adam are the plain loops below, tiny next to the RNN. All parameters live in one flat
// vector in recur's (Keras's) order and layout, so Adam is one loop; oneDNN's weights and
// gradients are reordered to and from it when the primitive prefers another layout, and the
// GRU's bias is mapped to oneDNN's four rows and back (those costs are part of the step).
//
// oneDNN's gate orders are Keras's: LSTM i, f, c, o; GRU u (Keras's z), r, o (Keras's h).
// Weights (layers, directions, in, gates, out) in ldigo are then exactly Keras's kernel
// (D, G H) and recurrent_kernel (H, G H). lbr_gru's bias is (4, H): [b_z + b'_z, b_r + b'_r,
// b_h, b'_h] from Keras's (2, 3H) rows of input biases b and recurrent biases b'.
//
// Before timing, it checks its gradients against recur's (one recur SGD step with learning
// rate 1 gives grad = w - new_w) and stops if any differs by more than 1e-3 (relative to the
// largest value of that gradient).
//
//   recur-onednn-bench                                  SimpleRNN, S, M, L, XL at 2 and 1 threads
//   recur-onednn-bench --cell lstm --configs M,L --threads 2
//   recur-onednn-bench --cell gru --configs M --threads 2 --min-time 0.1 --reps 10 --json   (compare_pytorch.py)
//
// After --warmup untimed calls, each of --reps samples times a block of back-to-back calls
// lasting about --min-time seconds (at least one call) and records the mean per call, as a
// Google Benchmark repetition does; the table shows the median of the samples.
#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <recur/recur.hpp>

namespace {

using dnnl::memory;
using tag = memory::format_tag;
constexpr auto f32 = memory::data_type::f32;

// ---- configurations, as in recur_bench.cpp ----

struct Config {
    std::string name;
    memory::dim B, T, D, H, O;
};

enum class Cell { simple, lstm, gru };

// Gate blocks: Keras's kernels are (D, G H) and (H, G H).
memory::dim gates(Cell cell) { return cell == Cell::lstm ? 4 : cell == Cell::gru ? 3 : 1; }
// As recur-bench's: S, M, L, XL, and N, narrow units over a batch of several vectors.
const Config kConfigs[] = {{"S", 10, 5, 1, 10, 1}, {"M", 32, 28, 28, 128, 10}, {"L", 64, 100, 64, 512, 1},
                           {"XL", 128, 50, 256, 1024, 1}, {"N", 64, 50, 1, 4, 1}};

struct Plan {
    double min_time;  // seconds per sample
    int reps, warmup;
};
// Defaults when run on its own; compare_pytorch.py passes its own.
Plan default_plan(const Config& c) {
    if (c.name == "S" || c.name == "N") return {0.05, 15, 200};
    if (c.name == "M") return {0.1, 10, 20};
    if (c.name == "L") return {0.0, 7, 2};
    return {0.0, 5, 1};
}

// recur-bench's data: uniform in [-0.5, 0.5) from mt19937.
std::vector<float> random_vector(std::size_t n, unsigned seed) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> dist(-0.5f, 0.5f);
    std::vector<float> v(n);
    for (float& x : v) x = dist(gen);
    return v;
}

std::size_t count(memory::dim d) { return static_cast<std::size_t>(d); }

// Where each weight sits in the flat parameter vector: Keras's order and shapes (the GRU's
// bias is (2, 3H): input biases, then recurrent ones).
struct Offsets {
    std::size_t kernel, recurrent_kernel, bias, dense_kernel, dense_bias, total;
    Offsets(const Config& c, Cell cell)
        : kernel(0),
          recurrent_kernel(kernel + count(c.D * gates(cell) * c.H)),
          bias(recurrent_kernel + count(c.H * gates(cell) * c.H)),
          dense_kernel(bias + count((cell == Cell::gru ? 6 : gates(cell)) * c.H)),
          dense_bias(dense_kernel + count(c.H * c.O)),
          total(dense_bias + count(c.O)) {}
};

// A buffer the user keeps in one layout and a primitive may want in another. Data flows one
// way: into the primitive (inputs, weights) or out of it (gradients); oneDNN cannot reorder
// every layout back (its packed inference weights, for one).
enum class Flow { in, out };

struct Relayout {
    memory user, prim;
    std::optional<dnnl::reorder> reorder;

    Relayout(const memory::desc& user_md, float* data, const memory::desc& prim_md, const dnnl::engine& eng, Flow flow)
        : user(user_md, eng, data), prim(user) {
        if (prim_md != user_md) {
            prim = memory(prim_md, eng);
            reorder = flow == Flow::in ? dnnl::reorder(user, prim) : dnnl::reorder(prim, user);
        }
    }
    void push(dnnl::stream& s) {
        if (reorder) reorder->execute(s, user, prim);
    }
    void pull(dnnl::stream& s) {
        if (reorder) reorder->execute(s, prim, user);
    }
    void zero_prim() { std::memset(prim.get_data_handle(), 0, prim.get_desc().get_size()); }
};

// The recurrent layer + Dense(O) + MSE + Adam with the recurrent layer in oneDNN.
class OnednnModel {
    // First: everything below is sized from these.
    Config c_;
    Cell cell_;
    Offsets off_;
    dnnl::engine eng_;
    dnnl::stream stream_;

    // Keras order (see Offsets). The oneDNN memory objects point into these: never reallocated.
    std::vector<float> params_, grads_;

public:
    OnednnModel(const Config& c, Cell cell, const dnnl::engine& eng, std::vector<float> x, std::vector<float> y)
        : c_(c),
          cell_(cell),
          off_(c, cell),
          eng_(eng),
          stream_(eng),
          params_(off_.total),
          grads_(off_.total),
          adam_m_(off_.total),
          adam_v_(off_.total),
          x_(std::move(x)),
          y_(std::move(y)),
          zeros_state_(count(c.B * c.H)),
          h_last_(count(c.B * c.H)),
          c_last_(count(c.B * c.H)),
          bias_values_(count(bias_rows() * c.H)),
          diff_bias_values_(bias_values_.size()),
          diff_h_seq_(count(c.T * c.B * c.H)),
          y_pred_(count(c.B * c.O)) {
        build_training();
        build_inference();
    }

    void set_params(const std::vector<float>& values) {
        if (values.size() != params_.size()) throw std::invalid_argument("OnednnModel::set_params: wrong size");
        std::copy(values.begin(), values.end(), params_.begin());
    }
    const std::vector<float>& grads() const { return grads_; }

    // Forward, loss, backward: fills grads(), returns the loss.
    float forward_backward() {
        input_->push(stream_);
        w_layer_fwd_->push(stream_);
        w_iter_fwd_->push(stream_);
        bias_to_onednn();
        fwd_.execute(stream_, with_cell_state({{DNNL_ARG_SRC_LAYER, input_->prim},
                                               {DNNL_ARG_SRC_ITER, src_iter_},
                                               {DNNL_ARG_WEIGHTS_LAYER, w_layer_fwd_->prim},
                                               {DNNL_ARG_WEIGHTS_ITER, w_iter_fwd_->prim},
                                               {DNNL_ARG_BIAS, bias_},
                                               {DNNL_ARG_DST_LAYER, dst_layer_},
                                               {DNNL_ARG_DST_ITER, dst_iter_},
                                               {DNNL_ARG_WORKSPACE, workspace_}}));
        stream_.wait();

        const float loss = dense_mse_forward_backward();

        w_layer_bwd_->push(stream_);
        w_iter_bwd_->push(stream_);
        // oneDNN adds to the weight gradients (and a reordered copy starts uninitialised).
        diff_w_layer_->zero_prim();
        diff_w_iter_->zero_prim();
        std::fill(diff_bias_values_.begin(), diff_bias_values_.end(), 0.0f);
        bwd_.execute(stream_, with_cell_state({{DNNL_ARG_SRC_LAYER, input_->prim},
                                               {DNNL_ARG_SRC_ITER, src_iter_},
                                               {DNNL_ARG_WEIGHTS_LAYER, w_layer_bwd_->prim},
                                               {DNNL_ARG_WEIGHTS_ITER, w_iter_bwd_->prim},
                                               {DNNL_ARG_BIAS, bias_},
                                               {DNNL_ARG_DST_LAYER, dst_layer_},
                                               {DNNL_ARG_DST_ITER, dst_iter_},
                                               {DNNL_ARG_DIFF_DST_LAYER, diff_dst_layer_},
                                               {DNNL_ARG_DIFF_DST_ITER, diff_dst_iter_},
                                               {DNNL_ARG_WORKSPACE, workspace_},
                                               {DNNL_ARG_DIFF_SRC_LAYER, diff_src_layer_},
                                               {DNNL_ARG_DIFF_SRC_ITER, diff_src_iter_},
                                               {DNNL_ARG_DIFF_WEIGHTS_LAYER, diff_w_layer_->prim},
                                               {DNNL_ARG_DIFF_WEIGHTS_ITER, diff_w_iter_->prim},
                                               {DNNL_ARG_DIFF_BIAS, diff_bias_}},
                                              true));
        diff_w_layer_->pull(stream_);
        diff_w_iter_->pull(stream_);
        stream_.wait();
        bias_gradient_from_onednn();
        return loss;
    }

    float train_step() {
        const float loss = forward_backward();
        adam_update();
        return loss;
    }

    // Inference uses the weights as they were at the last prepare_inference() (the
    // constructor calls it): a served model reorders its weights once, not per call.
    void prepare_inference() {
        w_layer_inf_->push(stream_);
        w_iter_inf_->push(stream_);
        bias_to_onednn();
        stream_.wait();
    }

    const std::vector<float>& predict() {
        input_->push(stream_);
        inf_.execute(stream_, with_cell_state({{DNNL_ARG_SRC_LAYER, input_->prim},
                                               {DNNL_ARG_SRC_ITER, src_iter_},
                                               {DNNL_ARG_WEIGHTS_LAYER, w_layer_inf_->prim},
                                               {DNNL_ARG_WEIGHTS_ITER, w_iter_inf_->prim},
                                               {DNNL_ARG_BIAS, bias_},
                                               {DNNL_ARG_DST_LAYER, dst_layer_},
                                               {DNNL_ARG_DST_ITER, dst_iter_}}));
        stream_.wait();
        dense_forward();
        return y_pred_;
    }

private:
    // Memory descriptors. oneDNN's data dims are always (T, N, C); ntc lays the input out as
    // recur's (B, T, D), but the primitives get it time-major (tnc), reordered each call:
    // oneDNN 2.6.3's backward computes a wrong kernel gradient from an ntc input (and crashes
    // at M). Weights are (layers, directions, in, gates, out), ldigo being Keras's layout.
    memory::desc src_layer_md(tag t = tag::tnc) const { return {{c_.T, c_.B, c_.D}, f32, t}; }
    memory::desc state_md() const { return {{1, 1, c_.B, c_.H}, f32, tag::ldnc}; }
    memory::desc seq_md() const { return {{c_.T, c_.B, c_.H}, f32, tag::tnc}; }
    memory::desc w_layer_md(tag t = tag::ldigo) const { return {{1, 1, c_.D, gates(cell_), c_.H}, f32, t}; }
    memory::desc w_iter_md(tag t = tag::ldigo) const { return {{1, 1, c_.H, gates(cell_), c_.H}, f32, t}; }
    // lbr_gru has a fourth bias row: the candidate's recurrent bias.
    memory::dim bias_rows() const { return gates(cell_) + (cell_ == Cell::gru ? 1 : 0); }
    memory::desc bias_md() const { return {{1, 1, bias_rows(), c_.H}, f32, tag::ldgo}; }

    // The forward (training or inference) and backward primitive descriptors of the cell.
    // KNOWN TRAP (oneDNN 2.6.3): with empty (zero) descriptors for the initial and final
    // states, the backward pass returns a wrong recurrent-weight gradient. So the states are
    // explicit: a zero initial state, a final-state buffer, a zero diff_dst_iter (and for
    // LSTM the same for the cell state).
    dnnl::rnn_primitive_desc_base forward_pd(dnnl::prop_kind prop) const {
        const auto dir = dnnl::rnn_direction::unidirectional_left2right;
        const auto wl = w_layer_md(tag::any), wi = w_iter_md(tag::any);
        switch (cell_) {
            case Cell::simple:
                return dnnl::vanilla_rnn_forward::primitive_desc(
                    {prop, dnnl::algorithm::eltwise_tanh, dir, src_layer_md(), state_md(), wl, wi, bias_md(),
                     seq_md(), state_md()},
                    eng_);
            case Cell::lstm:
                return dnnl::lstm_forward::primitive_desc({prop, dir, src_layer_md(), state_md(), state_md(), wl, wi,
                                                           bias_md(), seq_md(), state_md(), state_md()},
                                                          eng_);
            case Cell::gru:
                return dnnl::lbr_gru_forward::primitive_desc(
                    {prop, dir, src_layer_md(), state_md(), wl, wi, bias_md(), seq_md(), state_md()}, eng_);
        }
        throw std::logic_error("forward_pd: unknown cell");
    }

    std::pair<dnnl::primitive, dnnl::rnn_primitive_desc_base> backward(const dnnl::rnn_primitive_desc_base& fwd) const {
        const auto dir = dnnl::rnn_direction::unidirectional_left2right;
        const auto prop = dnnl::prop_kind::backward;
        const auto wl = w_layer_md(tag::any), wi = w_iter_md(tag::any);
        const auto src = src_layer_md(), state = state_md(), seq = seq_md(), bias = bias_md();
        switch (cell_) {
            case Cell::simple: {
                const dnnl::vanilla_rnn_backward::primitive_desc pd(
                    {prop, dnnl::algorithm::eltwise_tanh, dir, src, state, wl, wi, bias, seq, state, src, state, wl,
                     wi, bias, seq, state},
                    eng_, dnnl::vanilla_rnn_forward::primitive_desc(fwd.get()));
                return {dnnl::vanilla_rnn_backward(pd), pd};
            }
            case Cell::lstm: {
                const dnnl::lstm_backward::primitive_desc pd(
                    {prop, dir, src, state, state, wl, wi, bias, seq, state, state, src, state, state, wl, wi, bias,
                     seq, state, state},
                    eng_, dnnl::lstm_forward::primitive_desc(fwd.get()));
                return {dnnl::lstm_backward(pd), pd};
            }
            case Cell::gru: {
                const dnnl::lbr_gru_backward::primitive_desc pd(
                    {prop, dir, src, state, wl, wi, bias, seq, state, src, state, wl, wi, bias, seq, state}, eng_,
                    dnnl::lbr_gru_forward::primitive_desc(fwd.get()));
                return {dnnl::lbr_gru_backward(pd), pd};
            }
        }
        throw std::logic_error("backward: unknown cell");
    }

    // The arguments of an execution, with LSTM's cell-state arguments added.
    std::unordered_map<int, memory> with_cell_state(std::unordered_map<int, memory> args, bool backward = false) {
        if (cell_ != Cell::lstm) return args;
        args[DNNL_ARG_SRC_ITER_C] = src_iter_c_;
        args[DNNL_ARG_DST_ITER_C] = dst_iter_c_;
        if (backward) {
            args[DNNL_ARG_DIFF_DST_ITER_C] = diff_dst_iter_c_;
            args[DNNL_ARG_DIFF_SRC_ITER_C] = diff_src_iter_c_;
        }
        return args;
    }

    // Keras's bias into oneDNN's rows: the same for SimpleRNN and LSTM; for the GRU
    // [b_z + b'_z, b_r + b'_r, b_h, b'_h] from rows b, b'.
    void bias_to_onednn() {
        const std::size_t H = count(c_.H);
        const float* b = params_.data() + off_.bias;
        if (cell_ != Cell::gru) return (void)std::copy_n(b, bias_values_.size(), bias_values_.begin());
        const float* rb = b + 3 * H;
        for (std::size_t j = 0; j < 2 * H; ++j) bias_values_[j] = b[j] + rb[j];
        std::copy_n(b + 2 * H, H, bias_values_.begin() + 2 * H);
        std::copy_n(rb + 2 * H, H, bias_values_.begin() + 3 * H);
    }

    // ... and its gradient back: z's and r's row gradients serve both Keras rows.
    void bias_gradient_from_onednn() {
        const std::size_t H = count(c_.H);
        float* g = grads_.data() + off_.bias;
        const float* d = diff_bias_values_.data();
        if (cell_ != Cell::gru) return (void)std::copy_n(d, diff_bias_values_.size(), g);
        std::copy_n(d, 3 * H, g);
        std::copy_n(d, 2 * H, g + 3 * H);
        std::copy_n(d + 3 * H, H, g + 5 * H);
    }

    void build_training() {
        const auto fwd_pd = forward_pd(dnnl::prop_kind::forward_training);
        const auto [bwd, bwd_pd] = backward(fwd_pd);
        fwd_ = dnnl::primitive(fwd_pd);
        bwd_ = bwd;

        float* p = params_.data();
        float* g = grads_.data();
        w_layer_fwd_.emplace(w_layer_md(), p + off_.kernel, fwd_pd.weights_layer_desc(), eng_, Flow::in);
        w_iter_fwd_.emplace(w_iter_md(), p + off_.recurrent_kernel, fwd_pd.weights_iter_desc(), eng_, Flow::in);
        w_layer_bwd_.emplace(w_layer_md(), p + off_.kernel, bwd_pd.weights_layer_desc(), eng_, Flow::in);
        w_iter_bwd_.emplace(w_iter_md(), p + off_.recurrent_kernel, bwd_pd.weights_iter_desc(), eng_, Flow::in);
        diff_w_layer_.emplace(w_layer_md(), g + off_.kernel, bwd_pd.diff_weights_layer_desc(), eng_, Flow::out);
        diff_w_iter_.emplace(w_iter_md(), g + off_.recurrent_kernel, bwd_pd.diff_weights_iter_desc(), eng_, Flow::out);
        bias_ = memory(bias_md(), eng_, bias_values_.data());
        diff_bias_ = memory(bias_md(), eng_, diff_bias_values_.data());

        input_.emplace(src_layer_md(tag::ntc), x_.data(), src_layer_md(), eng_, Flow::in);
        src_iter_ = memory(state_md(), eng_, zeros_state_.data());
        dst_layer_ = memory(seq_md(), eng_);
        dst_iter_ = memory(state_md(), eng_, h_last_.data());
        workspace_ = memory(fwd_pd.workspace_desc(), eng_);
        // Only the last step of the output sequence feeds the head: the rest of its gradient
        // stays zero, and so does the final state's.
        diff_dst_layer_ = memory(seq_md(), eng_, diff_h_seq_.data());
        diff_dst_iter_ = memory(state_md(), eng_, zeros_state_.data());
        diff_src_layer_ = memory(src_layer_md(), eng_);
        diff_src_iter_ = memory(state_md(), eng_);
        src_iter_c_ = memory(state_md(), eng_, zeros_state_.data());
        dst_iter_c_ = memory(state_md(), eng_, c_last_.data());
        diff_dst_iter_c_ = memory(state_md(), eng_, zeros_state_.data());
        diff_src_iter_c_ = memory(state_md(), eng_);
    }

    void build_inference() {
        const auto inf_pd = forward_pd(dnnl::prop_kind::forward_inference);
        inf_ = dnnl::primitive(inf_pd);
        w_layer_inf_.emplace(w_layer_md(), params_.data() + off_.kernel, inf_pd.weights_layer_desc(), eng_, Flow::in);
        w_iter_inf_.emplace(w_iter_md(), params_.data() + off_.recurrent_kernel, inf_pd.weights_iter_desc(), eng_, Flow::in);
    }

    // y_pred = h_T W + b, from the final state.
    void dense_forward() {
        const std::size_t B = count(c_.B), H = count(c_.H), O = count(c_.O);
        const float* w = params_.data() + off_.dense_kernel;
        const float* b = params_.data() + off_.dense_bias;
        for (std::size_t i = 0; i < B; ++i) {
            float* out = y_pred_.data() + i * O;
            std::copy(b, b + O, out);
            for (std::size_t h = 0; h < H; ++h) {
                const float a = h_last_[i * H + h];
                for (std::size_t o = 0; o < O; ++o) out[o] += a * w[h * O + o];
            }
        }
    }

    // The head and the loss, forward and backward: returns the MSE, writes the head's
    // gradients and dL/dh_T into the last step of the RNN's output gradient.
    float dense_mse_forward_backward() {
        dense_forward();
        const std::size_t B = count(c_.B), T = count(c_.T), H = count(c_.H), O = count(c_.O);
        const float* w = params_.data() + off_.dense_kernel;
        float* dw = grads_.data() + off_.dense_kernel;
        float* db = grads_.data() + off_.dense_bias;
        float* dh = diff_h_seq_.data() + (T - 1) * B * H;
        std::fill_n(dw, H * O, 0.0f);
        std::fill_n(db, O, 0.0f);
        const float scale = 2.0f / static_cast<float>(B * O);
        double loss = 0.0;
        for (std::size_t i = 0; i < B; ++i) {
            float* err = y_pred_.data() + i * O;  // reused in place as dL/dy_pred
            for (std::size_t o = 0; o < O; ++o) {
                const float e = err[o] - y_[i * O + o];
                loss += double(e) * e;
                err[o] = scale * e;
                db[o] += err[o];
            }
            for (std::size_t h = 0; h < H; ++h) {
                const float a = h_last_[i * H + h];
                float sum = 0.0f;
                for (std::size_t o = 0; o < O; ++o) {
                    dw[h * O + o] += a * err[o];
                    sum += err[o] * w[h * O + o];
                }
                dh[i * H + h] = sum;
            }
        }
        return static_cast<float>(loss / static_cast<double>(B * O));
    }

    // Keras's Adam (recur's): defaults 1e-3, 0.9, 0.999, epsilon 1e-7 outside the correction.
    void adam_update() {
        constexpr float lr = 1e-3f, beta_1 = 0.9f, beta_2 = 0.999f, eps = 1e-7f;
        ++adam_step_;
        const double t = static_cast<double>(adam_step_);
        const float lr_t = static_cast<float>(lr * std::sqrt(1.0 - std::pow(double(beta_2), t)) /
                                              (1.0 - std::pow(double(beta_1), t)));
        float *p = params_.data(), *m = adam_m_.data(), *v = adam_v_.data();
        const float* g = grads_.data();
        const long n = static_cast<long>(params_.size());
#pragma omp parallel for simd schedule(static) if (n > 32768)
        for (long i = 0; i < n; ++i) {
            m[i] = beta_1 * m[i] + (1.0f - beta_1) * g[i];
            v[i] = beta_2 * v[i] + (1.0f - beta_2) * g[i] * g[i];
            p[i] -= lr_t * m[i] / (std::sqrt(v[i]) + eps);
        }
    }

    std::vector<float> adam_m_, adam_v_;
    long adam_step_ = 0;
    std::vector<float> x_, y_, zeros_state_, h_last_, c_last_, bias_values_, diff_bias_values_, diff_h_seq_, y_pred_;

    dnnl::primitive fwd_, inf_, bwd_;
    std::optional<Relayout> input_, w_layer_fwd_, w_iter_fwd_, w_layer_bwd_, w_iter_bwd_, diff_w_layer_, diff_w_iter_,
        w_layer_inf_, w_iter_inf_;
    memory bias_, diff_bias_, src_iter_, dst_layer_, dst_iter_, workspace_, diff_dst_layer_, diff_dst_iter_,
        diff_src_layer_, diff_src_iter_, src_iter_c_, dst_iter_c_, diff_dst_iter_c_, diff_src_iter_c_;
};

// ---- the gradient check against recur ----

std::vector<float> flat_weights(const recur::Sequential& model) {
    std::vector<float> flat;
    for (std::size_t i = 0; i < 2; ++i)
        for (const recur::Tensor& w : model.layer(i).get_weights()) flat.insert(flat.end(), w.begin(), w.end());
    return flat;
}

// The largest |a - b| over one weight's gradient, relative to the largest |b| there.
double max_relative_difference(const float* a, const float* b, std::size_t n) {
    double diff = 0.0, scale = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
        diff = std::max(diff, std::abs(double(a[i]) - double(b[i])));
        scale = std::max(scale, std::abs(double(b[i])));
    }
    return scale > 0.0 ? diff / scale : diff;
}

// recur-bench's model in recur, its weights from recur's generator as seeded.
recur::Sequential recur_model(const Config& c, Cell cell, unsigned seed) {
    recur::manual_seed(seed);
    recur::Sequential model;
    const recur::Shape shape{count(c.T), count(c.D)};
    if (cell == Cell::lstm) model.add(recur::LSTM(count(c.H)).input_shape(shape));
    else if (cell == Cell::gru) model.add(recur::GRU(count(c.H)).input_shape(shape));
    else model.add(recur::SimpleRNN(count(c.H)).input_shape(shape));
    model.add(recur::Dense(count(c.O)));
    return model;
}

// Sets the same weights and data in recur and in oneDNN, takes one recur SGD step with
// learning rate 1 (grad = w - new_w), and compares each weight's gradient.
double check_gradients(const Config& c, Cell cell, const dnnl::engine& eng) {
    recur::Sequential model = recur_model(c, cell, 3);
    model.compile(recur::SGD().learning_rate(1.0f), recur::MSE());
    recur::Tensor x({count(c.B), count(c.T), count(c.D)}), y({count(c.B), count(c.O)});
    const auto xs = random_vector(x.size(), 11), ys = random_vector(y.size(), 12);
    std::copy(xs.begin(), xs.end(), x.data());
    std::copy(ys.begin(), ys.end(), y.data());

    const std::vector<float> before = flat_weights(model);
    OnednnModel net(c, cell, eng, xs, ys);
    net.set_params(before);
    const float loss = net.forward_backward();

    const float recur_loss = model.train_on_batch(x, y);
    const std::vector<float> after = flat_weights(model);
    std::vector<float> recur_grads(before.size());
    for (std::size_t i = 0; i < before.size(); ++i) recur_grads[i] = before[i] - after[i];

    const Offsets off(c, cell);
    const std::size_t starts[] = {off.kernel, off.recurrent_kernel, off.bias, off.dense_kernel, off.dense_bias,
                                  off.total};
    const char* names[] = {"kernel", "recurrent_kernel", "bias", "dense kernel", "dense bias"};
    double worst = std::abs(double(loss) - recur_loss) / std::max(1e-30, std::abs(double(recur_loss)));
    std::fprintf(stderr, "gradient check vs recur, (B, T, D, H, O) = (%ld, %ld, %ld, %ld, %ld): loss %.1e",
                 long(c.B), long(c.T), long(c.D), long(c.H), long(c.O), worst);
    for (int k = 0; k < 5; ++k) {
        const double d = max_relative_difference(net.grads().data() + starts[k], recur_grads.data() + starts[k],
                                                 starts[k + 1] - starts[k]);
        std::fprintf(stderr, ", %s %.1e", names[k], d);
        worst = std::max(worst, d);
    }
    std::fprintf(stderr, "\n");
    return worst;
}

// ---- timing ----

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Mean milliseconds per call over each of `plan.reps` blocks of about `plan.min_time` seconds.
std::vector<double> block_times_ms(const std::function<void()>& fn, const Plan& plan) {
    using clock = std::chrono::steady_clock;
    auto time_ms = [&](long calls) {
        const auto start = clock::now();
        for (long i = 0; i < calls; ++i) fn();
        return std::chrono::duration<double, std::milli>(clock::now() - start).count();
    };
    for (int i = 0; i < plan.warmup; ++i) fn();
    const long block = plan.min_time > 0.0 ? std::max(1L, std::lround(plan.min_time * 1e3 / time_ms(1))) : 1;
    std::vector<double> samples;
    for (int r = 0; r < plan.reps; ++r) samples.push_back(time_ms(block) / static_cast<double>(block));
    return samples;
}

struct Result {
    std::string config;
    int threads;
    std::vector<double> train_ms, predict_ms;
};

Result measure(const Config& c, Cell cell, int threads, const Plan& plan, const dnnl::engine& eng) {
    omp_set_num_threads(threads);  // before the primitives are made: they size scratch by it
    const recur::Sequential model = recur_model(c, cell, 1);  // recur-bench's initial weights
    OnednnModel net(c, cell, eng, random_vector(count(c.B * c.T * c.D), 5), random_vector(count(c.B * c.O), 6));
    net.set_params(flat_weights(model));
    net.prepare_inference();
    Result r{c.name, threads, {}, {}};
    r.train_ms = block_times_ms([&] { net.train_step(); }, plan);
    r.predict_ms = block_times_ms([&] { net.predict(); }, plan);
    return r;
}

std::string json_list(const std::vector<double>& v) {
    std::ostringstream os;
    os << "[";
    for (std::size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
    return os.str() + "]";
}

// ---- command line ----

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> parts;
    std::stringstream ss(s);
    for (std::string part; std::getline(ss, part, ',');)
        if (!part.empty()) parts.push_back(part);
    return parts;
}

[[noreturn]] void usage(const char* message) {
    std::fprintf(stderr,
                 "recur-onednn-bench: %s\nusage: recur-onednn-bench [--cell simple|lstm|gru] [--configs S,M,L,XL] "
                 "[--threads 2,1] "
                 "[--min-time SECONDS] [--reps N] [--warmup N] [--json]\n",
                 message);
    std::exit(2);
}

struct Options {
    Cell cell = Cell::simple;
    std::vector<const Config*> configs;
    std::vector<int> threads{2, 1};
    // Unset (negative, or 0 reps): the config's default plan.
    double min_time = -1.0;
    int reps = 0, warmup = -1;
    bool json = false;
};

Options parse(int argc, char** argv) {
    Options opt;
    std::vector<std::string> names{"S", "M", "L", "XL"};
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(("missing value after " + arg).c_str());
            return argv[++i];
        };
        if (arg == "--cell") {
            const std::string cell = value();
            if (cell == "simple") opt.cell = Cell::simple;
            else if (cell == "lstm") opt.cell = Cell::lstm;
            else if (cell == "gru") opt.cell = Cell::gru;
            else usage(("unknown cell " + cell + " (expected simple, lstm or gru)").c_str());
        } else if (arg == "--configs") names = split(value());
        else if (arg == "--threads") {
            opt.threads.clear();
            for (const auto& t : split(value())) opt.threads.push_back(std::atoi(t.c_str()));
        } else if (arg == "--min-time") opt.min_time = std::atof(value().c_str());
        else if (arg == "--reps") opt.reps = std::atoi(value().c_str());
        else if (arg == "--warmup") opt.warmup = std::atoi(value().c_str());
        else if (arg == "--json") opt.json = true;
        else usage(("unknown argument " + arg).c_str());
    }
    for (const auto& name : names) {
        const auto it = std::find_if(std::begin(kConfigs), std::end(kConfigs), [&](const Config& c) { return c.name == name; });
        if (it == std::end(kConfigs)) usage(("unknown config " + name).c_str());
        opt.configs.push_back(&*it);
    }
    for (int t : opt.threads)
        if (t < 1) usage("thread counts must be >= 1");
    return opt;
}

}  // namespace

int main(int argc, char** argv) {
    const Options opt = parse(argc, argv);
    const dnnl::engine eng(dnnl::engine::kind::cpu, 0);

    // A tiny odd-sized model and M (D and O > 1): both must agree with recur.
    double worst = 0.0;
    for (const Config& c : {Config{"check", 4, 7, 3, 6, 2}, kConfigs[1]})
        worst = std::max(worst, check_gradients(c, opt.cell, eng));
    if (!(worst <= 1e-3)) {
        std::fprintf(stderr, "recur-onednn-bench: oneDNN's gradients differ from recur's by %.1e (> 1e-3): not timing\n", worst);
        return 1;
    }

    const dnnl_version_t* v = dnnl_version();
    if (!opt.json)
        std::printf("oneDNN %d.%d.%d, ms per call, median of samples\n%-6s %7s %12s %12s\n", v->major, v->minor,
                    v->patch, "config", "threads", "train step", "predict");
    for (const Config* c : opt.configs) {
        Plan plan = default_plan(*c);
        if (opt.min_time >= 0.0) plan.min_time = opt.min_time;
        if (opt.reps > 0) plan.reps = opt.reps;
        if (opt.warmup >= 0) plan.warmup = opt.warmup;
        for (int threads : opt.threads) {
            const Result r = measure(*c, opt.cell, threads, plan, eng);
            if (opt.json)
                std::printf("{\"config\": \"%s\", \"threads\": %d, \"train_ms\": %s, \"predict_ms\": %s, "
                            "\"onednn\": \"%d.%d.%d\", \"grad_check_max_rel\": %.3g}\n",
                            r.config.c_str(), r.threads, json_list(r.train_ms).c_str(),
                            json_list(r.predict_ms).c_str(), v->major, v->minor, v->patch, worst);
            else
                std::printf("%-6s %7d %12.4g %12.4g\n", r.config.c_str(), r.threads, median(r.train_ms),
                            median(r.predict_ms));
            std::fflush(stdout);
        }
    }
}
