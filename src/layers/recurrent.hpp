#pragma once
// The one time loop of every recurrent layer (the scan), and the interface a cell plugs into
// it: a cell supplies the gate math of one step, forward and backward, and says what it needs
// kept between steps; the scan does the rest. Buffers are time-major:
//   x      T x B x D      the input (reversed in time for go_backwards)
//   hs     (T + 1) x B x U   hs[0] the initial state, hs[t + 1] the output of step t
//   cs     (T + 1) x B x U   LSTM's cell state, likewise
//   gates  T x B x G U    x_t W + b for all steps at once, then what each step keeps of its
//                         gates, then (backward) the gradients of their pre-activations
//   kept   T x B x K      anything else a step keeps (GRU: h_{t-1} U + b')
// Forward: gates = X W + b for all T x B rows in one product, then step by step the cell's
// recurrent product and gate math. Backward: step by step from the end, then the weight
// gradients dW = X^T dA, dU = H_prev^T dP, db = sum dA over all rows (dA the input side's
// pre-activation gradients, dP the recurrent side's, which are the same for SimpleRNN and
// LSTM: then all three are one product).
#include <cstddef>

#include "kernels/kernels.hpp"

namespace recur::detail {

// With a mask, the scan runs packed sequences (PyTorch's packed-sequence layout): each row's
// real steps only, rows sorted longest first, so that the rows still running at step k are
// the first active[k], and step k's rows follow step k - 1's in every per-row buffer. Without
// one, every step runs all rows: active[k] = batch, offsets[k] = k batch.
struct RecurrentDims {
    std::size_t batch, timesteps, features, units;  // timesteps: the longest sequence's, with a mask
    const std::size_t* active = nullptr;   // rows at step k; null: all
    const std::size_t* offsets = nullptr;  // step k's first row among all steps' (timesteps + 1 of them)
    const std::size_t* lengths = nullptr;  // steps of each row

    std::size_t rows_at(std::size_t k) const { return active ? active[k] : batch; }
    std::size_t first_row(std::size_t k) const { return offsets ? offsets[k] : k * batch; }
    // Rows over all steps: the rows of the input projection and the weight gradients.
    std::size_t rows() const { return first_row(timesteps); }
    // Where the state before step k starts in hs (and cs): the initial state, then each
    // step's output rows.
    std::size_t state_row(std::size_t k) const { return k == 0 ? 0 : batch + first_row(k - 1); }
};

// A recurrent layer's weights (or gradients), as views into its slice of the flat buffer.
template <class T>
struct RecurrentWeightViews {
    T* kernel;            // D x G U
    T* recurrent_kernel;  // U x G U
    T* bias;              // G U (the input side's), or null
    T* recurrent_bias;    // G U (the recurrent side's: GRU with reset_after), or null
};
using RecurrentWeights = RecurrentWeightViews<const float>;
using RecurrentGradients = RecurrentWeightViews<float>;

// One step on a piece of the batch (rows consecutive rows), as the scan hands it to a cell.
struct CellStep {
    std::size_t rows, units;
    kernels::Act activation, recurrent_activation;
    float* gates;         // rows x G U (row stride G U); forward: x_t W + b on entry
    float* kept;          // rows x K, or null
    const float* h_prev;  // rows x U
    float* h;             // forward: the step's output
    const float* c_prev;  // rows x U, LSTM's cell state; null otherwise
    float* c;
    const float* packed;          // the recurrent weights as Cell::pack laid them out
    const float* recurrent_bias;  // G U, or null
    // Backward only:
    const float* dh;          // rows x U from the layer above at this step, or null
    const float* gates_next;  // the step after's gates and kept, their gradients by now; null at the last step
    const float* kept_next;
    float* carry;             // rows x U: a gradient carried elementwise from the step after, zero at the last
    float* scratch;           // rows x U
};

// The buffers of one pass, laid out in the layer's workspace by recurrent_layout.
struct RecurrentBuffers {
    float* hs;
    // The state before each row's step, row for row with the gates (the weight gradients'
    // H_prev): hs itself, or with a mask a copy in packed order that the scan makes.
    float* h_prev;
    float* cs;          // null without a cell state
    float* gates;
    float* kept;        // null when the cell keeps nothing else
    float* x_reversed;  // go_backwards: the input reversed in time; null otherwise
    float* kernel_packed;     // W for the projection (forward), W^T for dx (backward)
    float* recurrent_packed;  // U (forward) or U^T (backward), as the cell packs them
    float* slab;              // the weight gradients' scratch
    float* scratch;           // B x U, when the cell asks for it
    float* carry;             // B x U, likewise
    float* lanes;             // a cell's whole-loop buffers (SimpleRNN's batch-in-lanes copies)
};

class Cell {
public:
    virtual ~Cell() = default;

    // The projections hold gates() x units columns (SimpleRNN 1, LSTM 4, GRU 3).
    virtual std::size_t gates() const = 0;
    // LSTM's cell state beside h.
    virtual bool cell_state() const { return false; }
    // A second bias, on the recurrent side (GRU with reset_after).
    virtual bool recurrent_bias() const { return false; }
    // Floats per row and step kept beyond the gates.
    virtual std::size_t kept_floats(std::size_t) const { return 0; }
    // Whether the backward step needs the scan's carry and scratch rows.
    virtual bool uses_carry() const { return false; }
    // Where a backward step leaves the recurrent side's gradients: the gates (the same as the
    // input side's) or the kept floats.
    virtual bool recurrent_side_kept() const { return false; }

    // The recurrent weights laid out for the steps' kernels: U (forward) or U^T (backward).
    virtual std::size_t packed_floats(std::size_t units) const;
    virtual void pack(float* packed, const float* recurrent_kernel, std::size_t units, bool transposed) const;

    virtual void forward_step(const CellStep& step) const = 0;
    virtual void backward_step(const CellStep& step) const = 0;

    // dW, dU and the biases' gradients once the backward steps are done: each side's
    // pre-activation gradients against what fed that side (x, h_{t-1}, ones for a bias), over
    // all T x B rows, one pass over each side's gradients.
    virtual void weight_gradients(const RecurrentGradients& g, const RecurrentBuffers& buffers, const float* x,
                                  const RecurrentDims& dims) const;

    // A cell may run the whole time loop another way for some batches (SimpleRNN's narrow
    // units: the batch in the vector lanes), in lanes_floats(...) of buffers of its own;
    // these return false to have the scan go step by step.
    virtual std::size_t lanes_floats(std::size_t, std::size_t, std::size_t) const { return 0; }
    virtual bool forward_loop(const RecurrentBuffers&, const RecurrentDims&, const RecurrentWeights&,
                              kernels::Act) const {
        return false;
    }
    virtual bool backward_loop(const RecurrentBuffers&, const RecurrentDims&, const RecurrentWeights&, const float*,
                               bool, kernels::Act) const {
        return false;
    }
};

struct CellActivations {
    kernels::Act activation, recurrent_activation;
};

// Floats of a pass's buffers for a batch, and their layout in `workspace`.
std::size_t recurrent_workspace_floats(const Cell& cell, const RecurrentDims& dims, bool go_backwards);
RecurrentBuffers recurrent_layout(float* workspace, const Cell& cell, const RecurrentDims& dims, bool go_backwards);

// The forward pass over x (T x B x D, in processing order); hs[0] (and cs[0]) hold the
// initial state.
void recurrent_forward(const Cell& cell, const RecurrentBuffers& buffers, const float* x, const RecurrentWeights& w,
                       const RecurrentDims& dims, CellActivations acts);

// The backward pass, after recurrent_forward on the same buffers: dh holds T x B x U output
// gradients when dh_every_step, else B x U for the last step; dx (T x B x D) may be null.
void recurrent_backward(const Cell& cell, const RecurrentBuffers& buffers, const float* x, const RecurrentWeights& w,
                        const RecurrentGradients& g, const float* dh, bool dh_every_step, float* dx,
                        const RecurrentDims& dims, CellActivations acts);

}  // namespace recur::detail
