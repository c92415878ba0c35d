#!/usr/bin/env python3
"""Generate reference fixtures for SimpleRNN + Dense parity tests.

Each configuration builds a Keras-style model (SimpleRNN -> Dense -> a loss)
with PyTorch in float64 and writes one ``<name>.safetensors`` file holding the
inputs, initial weights, forward output, loss, gradients and the weights after
five Keras-form Adam steps.

Model semantics (Keras):
  * SimpleRNN: h_t = act(x_t W + h_{t-1} U + b), h_0 = 0, with kernel W (D,H),
    recurrent_kernel U (H,H) and a single bias b (H).
  * go_backwards: the input is processed reversed in time and the output
    sequence is in processing order (it is not flipped back).
  * return_sequences off: the last output in processing order, shape (B,H);
    on: every output, shape (B,T,H).
  * Dense: out = h kernel + bias, kernel (H,O), applied on the last axis.
  * Loss: mean squared error over every element of the output, or (see HEADS)
    a crossentropy with the head's softmax or sigmoid: sparse labels (y holds
    class indices as floats), target distributions, or 0/1 targets.
  * Adam (Keras form), m = v = 0 initially, for t = 1..steps:
        m = beta_1 m + (1 - beta_1) g
        v = beta_2 v + (1 - beta_2) g^2
        lr_t = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)
        w = w - lr_t m / (sqrt(v) + epsilon)

File format (standard safetensors):
  * 8 bytes: little-endian uint64 header length N.
  * N bytes: UTF-8 JSON, padded with spaces so the data section starts at a
    multiple of 8 bytes.  It maps each tensor name to
    {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, offsets
    relative to the start of the data section, and holds a "__metadata__"
    object whose values are all strings.
  * Raw little-endian float32 data, tensors back to back in the order listed.

Tensors (all float32, computed in float64 and rounded at the end):
  x (B,T,D), y (same shape as output),
  simple_rnn/kernel (D,H), simple_rnn/recurrent_kernel (H,H),
  simple_rnn/bias (H), dense/kernel (H,O), dense/bias (O)  -- initial weights,
  output (B,O) or (B,T,O), loss (1,),
  grad/<weight> for each of the five weights,
  adam5/<weight> for each of the five weights, adam5/losses (5,) -- the loss
  before each Adam step.

Metadata: batch, timesteps, features, units, activation, return_sequences,
go_backwards, dense_units, dense_activation, loss, learning_rate, beta_1, beta_2, epsilon,
adam_steps, generator.

Stacks of LSTM and GRU layers (CELL_CONFIGS; MASKED_CONFIGS after Masking(0); BIDIRECTIONAL_CONFIGS
with Bidirectional layers; WEIGHTED_CONFIGS with a "sample_weight" tensor) are written the same way, with the layers
listed as JSON in the metadata key "layers" (each: name, cell, units, return_sequences,
go_backwards, and for a Bidirectional layer merge_mode) and their weights under "<name>/kernel",
"<name>/recurrent_kernel" and "<name>/bias" in Keras's layout (a Bidirectional layer's under
"<name>/forward_<cell>/..." and "<name>/backward_<cell>/..."; with a mask, metadata "masking"):
  * LSTM: kernel (D,4U), recurrent_kernel (U,4U), bias (4U), gates i, f, c, o (PyTorch's
    order too); computed by torch.nn.LSTM with weight_ih = kernel^T, weight_hh =
    recurrent_kernel^T, bias_ih = bias, bias_hh = 0.
  * GRU (cell "gru", Keras's reset_after): kernel (D,3U), recurrent_kernel (U,3U),
    bias (2,3U) (input bias, recurrent bias), gates z, r, h; computed by torch.nn.GRU with
    the z and r blocks swapped (PyTorch's order is r, z, n) and bias_ih, bias_hh the rows.
  * GRU with reset_after off (cell "gru_before"): bias (3U), hh = tanh(x W_h + (r h) U_h + b_h).
    PyTorch has no module for it: the same formulas written out with float64 tensors, the
    gradients from autograd. The script checks that those written-out formulas reproduce
    torch.nn.LSTM and torch.nn.GRU on every LSTM and GRU fixture (to 1e-12), and that a
    float64 NumPy version of every cell's formulas gives every fixture's outputs (to 1e-12).

Usage: make_fixtures.py [--out DIR]   (default: fixtures/ beside this script)
"""

import argparse
import json
import math
import struct
from pathlib import Path

import numpy as np
import torch

LEARNING_RATE = 0.001  # Keras's default
BETA_1 = 0.9
BETA_2 = 0.999
EPSILON = 1e-7
ADAM_STEPS = 5
BASE_SEED = 20240

WEIGHT_NAMES = (
    "simple_rnn/kernel",
    "simple_rnn/recurrent_kernel",
    "simple_rnn/bias",
    "dense/kernel",
    "dense/bias",
)

# Losses and the Dense head's activation that goes with each (recur's name in the metadata):
#   mse                  linear head, mean squared error
#   sparse_softmax       softmax head, integer labels      (sparse_categorical_crossentropy)
#   sparse_logits        linear head, integer labels       (the same, from_logits)
#   categorical_softmax  softmax head, target distributions (categorical_crossentropy)
#   binary_sigmoid       sigmoid head, 0/1 targets         (binary_crossentropy)
HEADS = {
    "mse": "linear",
    "sparse_softmax": "softmax",
    "sparse_logits": "linear",
    "categorical_softmax": "softmax",
    "binary_sigmoid": "sigmoid",
}

# (batch, timesteps, features, units, activation, return_sequences,
#  go_backwards, dense_units[, loss])  -- the loss is mse unless given
CONFIGS = [
    (1, 1, 1, 1, "tanh", False, False, 1),
    (1, 1, 1, 1, "relu", True, True, 1),
    (1, 2, 2, 2, "relu", False, False, 1),
    (4, 7, 3, 17, "tanh", True, True, 7),
    (4, 7, 3, 17, "relu", False, False, 7),
    (2, 5, 4, 3, "tanh", False, True, 1),
    (3, 9, 2, 3, "relu", True, False, 7),
    (5, 3, 8, 1, "relu", False, True, 7),
    (8, 12, 5, 33, "tanh", False, False, 1),
    (8, 12, 5, 33, "tanh", True, True, 1),
    (16, 20, 6, 8, "tanh", True, False, 7),
    (64, 10, 4, 16, "tanh", False, False, 1),
    (64, 4, 32, 24, "relu", False, True, 1),
    (2, 60, 3, 12, "tanh", False, False, 1),
    (1, 60, 1, 5, "tanh", True, True, 7),
    (3, 40, 7, 9, "relu", True, False, 1),
    (10, 1, 4, 20, "tanh", True, False, 1),
    (12, 25, 11, 47, "relu", False, False, 7),
    (7, 31, 9, 65, "tanh", False, True, 7),
    (6, 50, 2, 31, "tanh", True, True, 7),
    (20, 30, 16, 40, "tanh", True, True, 7),
    (32, 16, 32, 64, "tanh", True, False, 7),
    (48, 8, 3, 100, "relu", True, True, 1),
    (9, 14, 25, 129, "relu", False, False, 1),
    (2, 6, 16, 130, "tanh", False, False, 7),
    (3, 5, 10, 130, "relu", True, True, 1),
    (1, 4, 12, 260, "tanh", False, True, 1),
    (2, 3, 32, 260, "relu", True, False, 7),
    (6, 8, 3, 17, "tanh", False, False, 7, "sparse_softmax"),
    (4, 6, 2, 33, "tanh", True, True, 5, "sparse_softmax"),
    (5, 7, 4, 9, "relu", False, True, 7, "sparse_logits"),
    (3, 5, 3, 20, "tanh", True, False, 4, "categorical_softmax"),
    (8, 6, 5, 16, "tanh", False, False, 3, "binary_sigmoid"),
    (2, 9, 2, 12, "relu", True, True, 1, "binary_sigmoid"),
    # narrow units over a batch of several vector widths: the batch-in-lanes time loop
    (64, 10, 2, 4, "tanh", False, False, 1),
    (37, 8, 3, 2, "relu", True, True, 3),
]


def unpack(cfg):
    """The configuration's fields, with the loss defaulting to mse."""
    return (*cfg[:8], cfg[8] if len(cfg) > 8 else "mse")


def config_name(cfg):
    b, t, d, h, act, seq, bwd, o, loss = unpack(cfg)
    return (f"b{b}_t{t}_d{d}_h{h}_{act}_{'seq' if seq else 'last'}"
            f"_{'bwd' if bwd else 'fwd'}_o{o}" + ("" if loss == "mse" else f"_{loss}"))


def uniform(gen, shape, bound):
    return (torch.rand(shape, generator=gen) * 2.0 - 1.0) * bound


def initial_weights(gen, d, h, o):
    """Keras-layout weights drawn like PyTorch's default initialisation."""
    bound = 1.0 / math.sqrt(h)
    weight_ih = uniform(gen, (h, d), bound)
    weight_hh = uniform(gen, (h, h), bound)
    bias_ih = uniform(gen, (h,), bound)
    dense_weight = uniform(gen, (o, h), bound)
    dense_bias = uniform(gen, (o,), bound)
    return {
        "simple_rnn/kernel": weight_ih.T.contiguous(),
        "simple_rnn/recurrent_kernel": weight_hh.T.contiguous(),
        "simple_rnn/bias": bias_ih,
        "dense/kernel": dense_weight.T.contiguous(),
        "dense/bias": dense_bias,
    }


class Model:
    """SimpleRNN + Dense built from torch modules, fed Keras-layout weights."""

    def __init__(self, d, h, o, activation, return_sequences, go_backwards,
                 loss="mse"):
        self.rnn = torch.nn.RNN(d, h, nonlinearity=activation,
                                batch_first=True)
        self.dense = torch.nn.Linear(h, o)
        self.return_sequences = return_sequences
        self.go_backwards = go_backwards
        self.loss = loss

    def load(self, weights):
        with torch.no_grad():
            self.rnn.weight_ih_l0.copy_(weights["simple_rnn/kernel"].T)
            self.rnn.weight_hh_l0.copy_(weights["simple_rnn/recurrent_kernel"].T)
            self.rnn.bias_ih_l0.copy_(weights["simple_rnn/bias"])
            self.rnn.bias_hh_l0.zero_()
            self.dense.weight.copy_(weights["dense/kernel"].T)
            self.dense.bias.copy_(weights["dense/bias"])

    def forward(self, x):
        """The Dense head's input to its activation (the logits)."""
        if self.go_backwards:
            x = x.flip(1)
        seq, _ = self.rnn(x)
        h = seq if self.return_sequences else seq[:, -1]
        return self.dense(h)

    def output_and_loss(self, z, y):
        """The model's output (after the head's activation) and the loss."""
        f = torch.nn.functional
        o = z.shape[-1]
        if self.loss == "mse":
            return z, f.mse_loss(z, y)
        if self.loss in ("sparse_softmax", "sparse_logits"):
            loss = f.cross_entropy(z.reshape(-1, o), y.reshape(-1).long())
            return (torch.softmax(z, -1) if self.loss == "sparse_softmax" else z), loss
        if self.loss == "categorical_softmax":
            loss = -(y * torch.log_softmax(z, -1)).sum(-1).mean()
            return torch.softmax(z, -1), loss
        loss = f.binary_cross_entropy_with_logits(z, y)
        return torch.sigmoid(z), loss

    def row_losses(self, z, y):
        """Each output row's loss (the mean over its values where the loss has several)."""
        f = torch.nn.functional
        o = z.shape[-1]
        if self.loss == "mse":
            return ((z - y) ** 2).mean(-1)
        if self.loss in ("sparse_softmax", "sparse_logits"):
            return f.cross_entropy(z.reshape(-1, o), y.reshape(-1).long(), reduction="none").reshape(z.shape[:-1])
        if self.loss == "categorical_softmax":
            return -(y * torch.log_softmax(z, -1)).sum(-1)
        return f.binary_cross_entropy_with_logits(z, y, reduction="none").mean(-1)

    def loss_and_grads(self, weights, x, y):
        """Return (output, loss, Keras-layout gradients) at `weights`."""
        self.load(weights)
        for p in (*self.rnn.parameters(), *self.dense.parameters()):
            p.grad = None
        output, loss = self.output_and_loss(self.forward(x), y)
        loss.backward()
        grads = {
            "simple_rnn/kernel": self.rnn.weight_ih_l0.grad.T.clone(),
            "simple_rnn/recurrent_kernel": self.rnn.weight_hh_l0.grad.T.clone(),
            "simple_rnn/bias": self.rnn.bias_ih_l0.grad.clone(),
            "dense/kernel": self.dense.weight.grad.T.clone(),
            "dense/bias": self.dense.bias.grad.clone(),
        }
        return output.detach(), loss.detach(), grads


def adam(model, weights, x, y, steps):
    """Keras-form Adam on the same batch; returns final weights and losses."""
    w = {k: v.clone() for k, v in weights.items()}
    m = {k: torch.zeros_like(v) for k, v in w.items()}
    v = {k: torch.zeros_like(t) for k, t in w.items()}
    losses = []
    for t in range(1, steps + 1):
        _, loss, grads = model.loss_and_grads(w, x, y)
        losses.append(loss.item())
        lr_t = LEARNING_RATE * math.sqrt(1 - BETA_2 ** t) / (1 - BETA_1 ** t)
        for k in WEIGHT_NAMES:
            g = grads[k]
            m[k] = BETA_1 * m[k] + (1 - BETA_1) * g
            v[k] = BETA_2 * v[k] + (1 - BETA_2) * g * g
            w[k] = w[k] - lr_t * m[k] / (torch.sqrt(v[k]) + EPSILON)
    return w, torch.tensor(losses)


def build_fixture(cfg, seed):
    """Return (tensors, metadata) for one configuration."""
    b, t, d, h, act, seq, bwd, o, loss_kind = unpack(cfg)
    gen = torch.Generator().manual_seed(seed)
    weights = initial_weights(gen, d, h, o)
    x = torch.randn((b, t, d), generator=gen)
    out_shape = (b, t, o) if seq else (b, o)
    if loss_kind.startswith("sparse"):  # class labels, one per output row
        y = torch.randint(0, o, out_shape[:-1], generator=gen).to(x.dtype)
    elif loss_kind == "categorical_softmax":  # target distributions
        y = torch.softmax(2.0 * torch.randn(out_shape, generator=gen), -1)
    elif loss_kind == "binary_sigmoid":
        y = torch.randint(0, 2, out_shape, generator=gen).to(x.dtype)
    else:
        y = torch.randn(out_shape, generator=gen)

    model = Model(d, h, o, act, seq, bwd, loss_kind)
    output, loss, grads = model.loss_and_grads(weights, x, y)
    final, losses = adam(model, weights, x, y, ADAM_STEPS)

    tensors = {"x": x, "y": y}
    tensors.update(weights)
    tensors["output"] = output
    tensors["loss"] = loss.reshape(1)
    tensors.update({f"grad/{k}": grads[k] for k in WEIGHT_NAMES})
    tensors.update({f"adam5/{k}": final[k] for k in WEIGHT_NAMES})
    tensors["adam5/losses"] = losses

    metadata = {
        "batch": str(b),
        "timesteps": str(t),
        "features": str(d),
        "units": str(h),
        "activation": act,
        "return_sequences": "true" if seq else "false",
        "go_backwards": "true" if bwd else "false",
        "dense_units": str(o),
        "dense_activation": HEADS[loss_kind],
        "loss": loss_kind,
        "learning_rate": repr(LEARNING_RATE),
        "beta_1": repr(BETA_1),
        "beta_2": repr(BETA_2),
        "epsilon": repr(EPSILON),
        "adam_steps": str(ADAM_STEPS),
        "generator": f"torch {torch.__version__}",
    }
    return tensors, metadata


# Stacks of LSTM and GRU layers with a Dense head:
# (batch, timesteps, features, layers, dense_units, loss), each layer
# (cell, units, return_sequences, go_backwards) with cell lstm, gru or gru_before.
CELL_CONFIGS = [
    (1, 1, 1, [("lstm", 1, False, False)], 1, "mse"),
    (4, 7, 3, [("lstm", 7, True, False)], 3, "mse"),
    (4, 7, 3, [("lstm", 7, False, True)], 5, "sparse_softmax"),
    (64, 10, 4, [("lstm", 16, False, False)], 1, "mse"),
    (2, 60, 3, [("lstm", 12, False, False)], 1, "mse"),
    (1, 60, 1, [("lstm", 5, True, True)], 2, "mse"),
    (3, 5, 10, [("lstm", 129, False, False)], 1, "mse"),
    (8, 6, 5, [("lstm", 9, True, False), ("lstm", 7, False, True)], 4, "categorical_softmax"),
    (1, 1, 1, [("gru", 1, False, False)], 1, "mse"),
    (4, 7, 3, [("gru", 7, True, False)], 3, "mse"),
    (4, 7, 3, [("gru", 7, False, True)], 5, "sparse_softmax"),
    (64, 10, 4, [("gru", 16, False, False)], 1, "mse"),
    (2, 60, 3, [("gru", 12, False, False)], 1, "mse"),
    (1, 60, 1, [("gru", 5, True, True)], 2, "mse"),
    (3, 5, 10, [("gru", 129, False, False)], 1, "mse"),
    (8, 6, 5, [("gru", 9, True, False), ("gru", 7, False, True)], 4, "binary_sigmoid"),
    (6, 9, 4, [("gru", 8, True, True), ("lstm", 6, True, False)], 3, "mse"),
    (1, 1, 1, [("gru_before", 1, False, False)], 1, "mse"),
    (4, 7, 3, [("gru_before", 7, True, True)], 3, "mse"),
    (64, 12, 4, [("gru_before", 17, False, False)], 5, "sparse_softmax"),
    (2, 60, 3, [("gru_before", 12, True, False)], 1, "mse"),
    (3, 5, 10, [("gru_before", 129, False, False)], 1, "mse"),
]

# Masked batches (Keras's Masking(0) before the stack): the same fields, then the real steps
# of each sample, trailing padding after them ("lengths", PyTorch's pack_padded_sequence), or
# "holes": masked steps anywhere. x is zero on every masked step. A layer with go_backwards and
# return_sequences is not followed by another here: Keras passes the mask on unreversed.
MASKED_CONFIGS = [
    (6, 8, 3, [("lstm", 7, False, False)], 2, "mse", [8, 1, 5, 3, 8, 2]),
    (6, 8, 3, [("gru", 7, False, True)], 2, "mse", [8, 1, 5, 3, 8, 2]),
    (5, 9, 4, [("lstm", 6, True, False), ("gru", 5, True, False)], 3, "mse", [9, 4, 1, 7, 2]),
    (5, 9, 4, [("gru", 6, True, False), ("lstm", 5, False, True)], 4, "sparse_softmax", [2, 9, 6, 3, 5]),
    (64, 12, 4, [("gru", 16, False, False)], 1, "mse", [1 + (i * 11) // 63 for i in range(64)]),
    (4, 7, 3, [("gru_before", 7, True, False)], 3, "mse", [7, 2, 5, 1]),
    (4, 10, 3, [("lstm", 6, True, False), ("gru", 5, False, False)], 2, "mse", "holes"),
    (3, 10, 2, [("gru_before", 5, True, True)], 2, "mse", "holes"),
]

# Bidirectional layers (a fifth field: the merge mode), torch.nn's bidirectional=True modules,
# plain and masked.
# Sample weights (Keras's arithmetic: sum(weight x row loss) / rows), per sample or per timestep:
# (config, "sample" or "step").
WEIGHTED_CONFIGS = [
    ((6, 5, 3, [("lstm", 4, False, False)], 2, "mse"), "sample"),
    ((5, 4, 3, [("gru", 4, False, False, "concat")], 3, "sparse_softmax"), "sample"),
    ((4, 6, 2, [("gru", 5, True, False)], 3, "sparse_softmax", [6, 2, 4, 1]), "step"),
    ((3, 5, 2, [("lstm", 3, True, False)], 2, "mse"), "sample"),
]

class KerasNadam:
    """Keras's Nadam step, written out: torch.optim.NAdam of PyTorch 1.13 (Debian 12's) multiplies
    mu_t into mu_product twice for its mu_product_next (later releases fixed it), so it cannot
    serve; with momentum_decay 1 a fixed PyTorch gives these same steps."""

    def __init__(self, params, lr, beta_1, beta_2, eps):
        self.params, self.lr, self.b1, self.b2, self.eps = params, lr, beta_1, beta_2, eps
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t, self.u_product = 0, 1.0

    def step(self):
        self.t += 1
        u_t = self.b1 * (1 - 0.5 * 0.96 ** self.t)
        u_next = self.b1 * (1 - 0.5 * 0.96 ** (self.t + 1))
        self.u_product *= u_t
        for p, m, v in zip(self.params, self.m, self.v):
            g = p.grad
            m.mul_(self.b1).add_((1 - self.b1) * g)
            v.mul_(self.b2).add_((1 - self.b2) * g * g)
            m_hat = u_next * m / (1 - self.u_product * u_next) + (1 - u_t) * g / (1 - self.u_product)
            v_hat = v / (1 - self.b2 ** self.t)
            p.sub_(self.lr * m_hat / (torch.sqrt(v_hat) + self.eps))


class KerasRMSprop:
    """Keras 3's RMSprop step, written out: it takes the root of (mean square + epsilon), where
    torch.optim.RMSprop adds epsilon after the root."""

    def __init__(self, params, lr, rho, eps):
        self.params, self.lr, self.rho, self.eps = params, lr, rho, eps
        self.ms = [torch.zeros_like(p) for p in params]

    def step(self):
        for p, ms in zip(self.params, self.ms):
            ms.mul_(self.rho).add_((1 - self.rho) * p.grad * p.grad)
            p.sub_(self.lr * p.grad / torch.sqrt(ms + self.eps))


# Optimizers other than Keras-form Adam, stepped by torch.optim (the "opt5/" tensors): (name, stack
# config, recur's optimizer config, torch.optim factory). Their settings make Keras's and PyTorch's
# rules one: an epsilon of 1e-10 (the two put it in different places), Nadam written out (see
# KerasNadam) and so is RMSprop (KerasRMSprop), weight decay only where PyTorch's is decoupled too (AdamW, and plain
# SGD, where decoupled and L2 decay are the same update).
OPTIMIZER_CONFIGS = [
    ("adamw", (5, 6, 3, [("lstm", 4, False, False)], 2, "mse"),
     {"name": "AdamW", "learning_rate": 0.01, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-10, "amsgrad": False,
      "weight_decay": 0.05},
     lambda p: torch.optim.AdamW(p, lr=0.01, betas=(0.9, 0.999), eps=1e-10, weight_decay=0.05)),
    ("adam_amsgrad", (5, 6, 3, [("gru", 4, True, False)], 3, "sparse_softmax"),
     {"name": "Adam", "learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-10, "amsgrad": True},
     lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-10, amsgrad=True)),
    ("adagrad", (4, 5, 2, [("gru", 5, False, False)], 2, "mse"),
     {"name": "Adagrad", "learning_rate": 0.05, "initial_accumulator_value": 0.1, "epsilon": 1e-10},
     lambda p: torch.optim.Adagrad(p, lr=0.05, initial_accumulator_value=0.1, eps=1e-10)),
    ("nadam", (4, 7, 3, [("lstm", 5, True, False), ("gru", 3, False, False)], 2, "mse"),
     {"name": "Nadam", "learning_rate": 0.01, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-10},
     lambda p: KerasNadam(p, lr=0.01, beta_1=0.9, beta_2=0.999, eps=1e-10)),
    ("sgd_weight_decay", (3, 6, 2, [("lstm", 4, False, False)], 2, "mse"),
     {"name": "SGD", "learning_rate": 0.1, "momentum": 0.0, "nesterov": False, "weight_decay": 0.01},
     lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.01)),
    ("sgd_nesterov", (3, 6, 2, [("gru", 4, False, False)], 2, "mse"),
     {"name": "SGD", "learning_rate": 0.05, "momentum": 0.9, "nesterov": True},
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True)),
    ("rmsprop", (3, 6, 2, [("lstm", 4, True, False)], 2, "mse"),
     {"name": "RMSprop", "learning_rate": 0.01, "rho": 0.9, "epsilon": 1e-7},
     lambda p: KerasRMSprop(p, lr=0.01, rho=0.9, eps=1e-7)),
]

BIDIRECTIONAL_CONFIGS = [
    (4, 7, 3, [("lstm", 5, False, False, "concat")], 2, "mse"),
    (4, 7, 3, [("gru", 5, True, False, "sum")], 3, "mse"),
    (5, 6, 2, [("gru", 4, True, False, "concat"), ("lstm", 3, False, False, "sum")], 3, "sparse_softmax"),
    (6, 8, 3, [("lstm", 4, True, False, "concat"), ("gru", 3, False, False, "concat")], 2, "mse", [8, 1, 5, 3, 8, 2]),
    (5, 9, 2, [("gru", 5, True, False, "sum")], 2, "mse", [9, 4, 1, 7, 2]),
    (3, 7, 2, [("gru_before", 4, True, False, "concat")], 2, "mse", "holes"),
]

GATES = {"lstm": 4, "gru": 3, "gru_before": 3}


def base_name(cell):
    """The Keras name a layer of this cell starts from."""
    return "gru" if cell == "gru_before" else cell


def cell_config_name(cfg):
    b, t, d, layers, o, loss, *masking = cfg
    stack = "_".join(f"{'bi' + merge[0] + '_' if merge else ''}{cell}{u}{'s' if seq else ''}{'b' if bwd else ''}"
                     for cell, u, seq, bwd, *merge in layers)
    return (f"{stack}_b{b}_t{t}_d{d}_o{o}" + ("" if loss == "mse" else f"_{loss}") +
            ("" if not masking else "_holes" if masking == ["holes"] else "_masked"))


def layer_weights(gen, cell, d, u):
    """Keras-layout weights of one layer, drawn like PyTorch's default initialisation."""
    bound = 1.0 / math.sqrt(u)
    g = GATES[cell]
    bias_shape = (2, g * u) if cell == "gru" else (g * u,)
    return {"kernel": uniform(gen, (d, g * u), bound),
            "recurrent_kernel": uniform(gen, (u, g * u), bound),
            "bias": uniform(gen, bias_shape, bound)}


def swap_zr(m, u):
    """Keras's GRU gate blocks (z, r, h) as PyTorch's (r, z, n), along the last axis, or back."""
    return torch.cat([m[..., u:2 * u], m[..., :u], m[..., 2 * u:]], -1)


def make_module(cell, w, w_reverse=None):
    """torch.nn.LSTM or GRU holding the Keras-layout weights w; with w_reverse, a
    bidirectional=True one whose reverse direction holds those."""
    d, u = w["kernel"].shape[0], w["recurrent_kernel"].shape[0]
    m = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(d, u, batch_first=True, bidirectional=w_reverse is not None)
    with torch.no_grad():
        for suffix, weights in (("", w), ("_reverse", w_reverse)):
            if weights is None:
                continue
            p = {key: getattr(m, f"{key}_l0{suffix}") for key in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            if cell == "lstm":
                p["weight_ih"].copy_(weights["kernel"].T)
                p["weight_hh"].copy_(weights["recurrent_kernel"].T)
                p["bias_ih"].copy_(weights["bias"])
                p["bias_hh"].zero_()
            else:
                p["weight_ih"].copy_(swap_zr(weights["kernel"], u).T)
                p["weight_hh"].copy_(swap_zr(weights["recurrent_kernel"], u).T)
                p["bias_ih"].copy_(swap_zr(weights["bias"][0], u))
                p["bias_hh"].copy_(swap_zr(weights["bias"][1], u))
    return m


def module_grads(cell, m, suffix=""):
    """A module's weight gradients in Keras's layout (suffix "_reverse": its reverse direction's)."""
    u = m.hidden_size
    g = {key: getattr(m, f"{key}_l0{suffix}").grad for key in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    if cell == "lstm":
        return {"kernel": g["weight_ih"].T, "recurrent_kernel": g["weight_hh"].T, "bias": g["bias_ih"]}
    return {"kernel": swap_zr(g["weight_ih"].T, u), "recurrent_kernel": swap_zr(g["weight_hh"].T, u),
            "bias": torch.stack([swap_zr(g["bias_ih"], u), swap_zr(g["bias_hh"], u)])}


def formula_scan(cell, w, x, mask=None):
    """One layer over x (B,T,D) written out with Keras's formulas (differentiable in w and x).
    With a mask (B,T) of 0/1, a masked step keeps the state (and so outputs the last one)."""
    b, t, _ = x.shape
    u = w["recurrent_kernel"].shape[0]
    h = torch.zeros(b, u)
    c = torch.zeros(b, u)
    outs = []
    for step in range(t):
        h_before, c_before = h, c
        a = x[:, step] @ w["kernel"]
        if cell == "lstm":
            z = a + h @ w["recurrent_kernel"] + w["bias"]
            i, f, g, o = (z[:, k * u:(k + 1) * u] for k in range(4))
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
        elif cell == "gru":
            a = a + w["bias"][0]
            p = h @ w["recurrent_kernel"] + w["bias"][1]
            z = torch.sigmoid(a[:, :u] + p[:, :u])
            r = torch.sigmoid(a[:, u:2 * u] + p[:, u:2 * u])
            hh = torch.tanh(a[:, 2 * u:] + r * p[:, 2 * u:])
            h = z * h + (1 - z) * hh
        else:  # gru_before
            a = a + w["bias"]
            uz, ur, uh = (w["recurrent_kernel"][:, k * u:(k + 1) * u] for k in range(3))
            z = torch.sigmoid(a[:, :u] + h @ uz)
            r = torch.sigmoid(a[:, u:2 * u] + h @ ur)
            hh = torch.tanh(a[:, 2 * u:] + (r * h) @ uh)
            h = z * h + (1 - z) * hh
        if mask is not None:
            m = mask[:, step:step + 1]
            h = m * h + (1 - m) * h_before
            c = m * c + (1 - m) * c_before
        outs.append(h)
    return torch.stack(outs, 1)


def numpy_scan(cell, w, x, mask=None):
    """formula_scan again, in float64 NumPy: an implementation that shares no code with torch."""
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))
    b, t, _ = x.shape
    u = w["recurrent_kernel"].shape[0]
    h, c, outs = np.zeros((b, u)), np.zeros((b, u)), []
    for step in range(t):
        real = np.ones((b, 1), bool) if mask is None else mask[:, step:step + 1] > 0
        h_before, c_before = h, c
        a = x[:, step] @ w["kernel"]
        if cell == "lstm":
            z = a + h @ w["recurrent_kernel"] + w["bias"]
            c = sig(z[:, u:2 * u]) * c + sig(z[:, :u]) * np.tanh(z[:, 2 * u:3 * u])
            h = sig(z[:, 3 * u:]) * np.tanh(c)
        elif cell == "gru":
            a, p = a + w["bias"][0], h @ w["recurrent_kernel"] + w["bias"][1]
            z, r = sig(a[:, :u] + p[:, :u]), sig(a[:, u:2 * u] + p[:, u:2 * u])
            h = z * h + (1 - z) * np.tanh(a[:, 2 * u:] + r * p[:, 2 * u:])
        else:  # gru_before
            a, rk = a + w["bias"], w["recurrent_kernel"]
            z, r = sig(a[:, :u] + h @ rk[:, :u]), sig(a[:, u:2 * u] + h @ rk[:, u:2 * u])
            h = z * h + (1 - z) * np.tanh(a[:, 2 * u:] + (r * h) @ rk[:, 2 * u:])
        h, c = np.where(real, h, h_before), np.where(real, c, c_before)
        outs.append(h)
    return np.stack(outs, 1)


def check_against_numpy(layers, names, values, x, mask=None):
    """The stack's Dense pre-activations by formula_scan (torch) and by numpy_scan agree."""
    h_torch, h_numpy = x, x.numpy()
    m_numpy = None if mask is None else mask.numpy()
    with torch.no_grad():
        for name, (cell, _, seq, bwd) in zip(names, layers):
            w = {key: values[f"{name}/{key}"] for key in ("kernel", "recurrent_kernel", "bias")}
            out_torch = formula_scan(cell, w, h_torch.flip(1) if bwd else h_torch,
                                     None if mask is None else (mask.flip(1) if bwd else mask))
            out_numpy = numpy_scan(cell, {k: v.numpy() for k, v in w.items()}, h_numpy[:, ::-1] if bwd else h_numpy,
                                   None if m_numpy is None else (m_numpy[:, ::-1] if bwd else m_numpy))
            h_torch = out_torch if seq else out_torch[:, -1]
            h_numpy = out_numpy if seq else out_numpy[:, -1]
        z_torch = (h_torch @ values["dense/kernel"] + values["dense/bias"]).numpy()
    z_numpy = h_numpy @ values["dense/kernel"].numpy() + values["dense/bias"].numpy()
    assert np.allclose(z_torch, z_numpy, rtol=0, atol=1e-12), np.abs(z_torch - z_numpy).max()


def packed_run(module, cell, h, lengths, backwards):
    """The module over each sample's first lengths[b] steps (reversed within them for
    go_backwards) as PyTorch's packed sequences; the outputs padded with zeros, and h_n."""
    pack = torch.nn.utils.rnn
    if backwards:
        h = torch.stack([torch.cat([row[:n].flip(0), row[n:]]) for row, n in zip(h, lengths)])
    out, state = module(pack.pack_padded_sequence(h, torch.tensor(lengths), batch_first=True, enforce_sorted=False))
    out, _ = pack.pad_packed_sequence(out, batch_first=True, total_length=h.shape[1])
    return out, (state[0] if cell == "lstm" else state)[-1]


def stack_loss_and_grads(layers, names, values, x, y, head, use_modules, mask=None, lengths=None, weights=None):
    """Output, loss and every Keras-layout gradient of the stack at `values`: through
    torch.nn's modules where they exist (use_modules; with a mask, as packed sequences), else
    through the written-out formulas. A masked sequence output is scored on its real steps only."""
    leaves = {k: v.clone().requires_grad_(True) for k, v in values.items()}
    modules = {}  # weight prefix: (cell, module, suffix)
    h = x
    for name, (cell, _, seq, bwd, *merge) in zip(names, layers):
        if merge:  # Bidirectional: forward, and backward put back in time order, merged
            forward, backward = (f"{name}/{side}_{base_name(cell)}" for side in ("forward", "backward"))
            wf, wb = ({key: leaves[f"{prefix}/{key}"] for key in ("kernel", "recurrent_kernel", "bias")}
                      for prefix in (forward, backward))
            if use_modules and cell != "gru_before":
                m = make_module(cell, wf, wb)
                modules[forward], modules[backward] = (cell, m, ""), (cell, m, "_reverse")
                u = wf["recurrent_kernel"].shape[0]
                if lengths is None:
                    out, _ = m(h)
                else:  # padded steps give zeros here: they never reach the loss
                    pack = torch.nn.utils.rnn
                    out, _ = m(pack.pack_padded_sequence(h, torch.tensor(lengths), batch_first=True, enforce_sorted=False))
                    out, _ = pack.pad_packed_sequence(out, batch_first=True, total_length=h.shape[1])
                ends = torch.tensor([t - 1 for t in lengths]) if lengths is not None else torch.full((h.shape[0],), h.shape[1] - 1)
                f = out[..., :u] if seq else out[torch.arange(h.shape[0]), ends, :u]
                b_ = out[..., u:] if seq else out[:, 0, u:]
            else:
                f = formula_scan(cell, wf, h, mask)
                b_ = formula_scan(cell, wb, h.flip(1), None if mask is None else mask.flip(1))
                f, b_ = (f, b_.flip(1)) if seq else (f[:, -1], b_[:, -1])
                if seq and mask is not None:  # Keras's Bidirectional: zero_output_for_mask
                    f, b_ = f * mask[:, :, None], b_ * mask[:, :, None]
            h = {"concat": lambda: torch.cat([f, b_], -1), "sum": lambda: f + b_, "mul": lambda: f * b_,
                 "ave": lambda: (f + b_) / 2}[merge[0]]()
            continue
        w = {key: leaves[f"{name}/{key}"] for key in ("kernel", "recurrent_kernel", "bias")}
        if use_modules and cell != "gru_before":
            module = make_module(cell, w)
            modules[name] = (cell, module, "")
            if lengths is None:
                out, _ = module(h.flip(1) if bwd else h)
                h = out if seq else out[:, -1]
            else:  # masked steps give zeros here: they never reach the loss
                out, last = packed_run(module, cell, h, lengths, bwd)
                h = out if seq else last
        else:
            out = formula_scan(cell, w, h.flip(1) if bwd else h, None if mask is None else (mask.flip(1) if bwd else mask))
            h = out if seq else out[:, -1]
    z = h @ leaves["dense/kernel"] + leaves["dense/bias"]
    if weights is not None:  # Keras's: sum(weight x row loss) / rows (the real rows, with a mask)
        output, _ = head.output_and_loss(z, y)
        rows = head.row_losses(z, y)
        w = weights if weights.dim() == rows.dim() else weights[:, None].expand(rows.shape)
        real = (mask > 0) if mask is not None and layers[-1][2] else torch.ones_like(rows, dtype=torch.bool)
        loss = (w[real] * rows[real]).sum() / real.sum()
    elif mask is not None and layers[-1][2]:
        real = mask > 0
        output, _ = head.output_and_loss(z, y)
        _, loss = head.output_and_loss(z[real], y[real])
    else:
        output, loss = head.output_and_loss(z, y)
    loss.backward()
    grads = {k: v.grad.clone() for k, v in leaves.items() if v.grad is not None}
    for name, m in modules.items():  # name: the weights' prefix
        grads.update({f"{name}/{key}": g.clone() for key, g in module_grads(*m).items()})
    return output.detach(), loss.detach(), grads


def build_cell_fixture(cfg, seed, weighting=None, optimizer=None):
    """weighting: None, "sample" ((B,) weights) or "step" ((B, T) weights, for sequence outputs).
    optimizer: None (five Keras-form Adam steps, "adam5/"), or (recur config, torch.optim factory) for
    five steps of that optimizer ("opt5/")."""
    b, t, d, layers, o, loss_kind, *masking = cfg
    gen = torch.Generator().manual_seed(seed)
    names, counts = [], {}
    for cell, *_, merge in (layer + (None,) if len(layer) == 4 else layer for layer in layers):
        base = "bidirectional" if merge else base_name(cell)
        names.append(base if counts.get(base, 0) == 0 else f"{base}_{counts[base]}")
        counts[base] = counts.get(base, 0) + 1
    flat, features = {}, d
    for name, (cell, u, _, _, *merge) in zip(names, layers):
        prefixes = [f"{name}/forward_{base_name(cell)}", f"{name}/backward_{base_name(cell)}"] if merge else [name]
        for prefix in prefixes:
            flat.update({f"{prefix}/{key}": value for key, value in layer_weights(gen, cell, features, u).items()})
        features = 2 * u if merge and merge[0] == "concat" else u
    bound = 1.0 / math.sqrt(features)
    flat["dense/kernel"] = uniform(gen, (features, o), bound)
    flat["dense/bias"] = uniform(gen, (o,), bound)
    x = torch.randn((b, t, d), generator=gen)
    mask = lengths = None
    if masking == ["holes"]:
        mask = (torch.rand((b, t), generator=gen) < 0.7).to(x.dtype)
    elif masking:
        lengths = masking[0]
        mask = torch.tensor([[1.0 if step < n else 0.0 for step in range(t)] for n in lengths])
    if mask is not None:
        x = x * mask[:, :, None]  # Masking(0) finds the masked steps by their zeros
    out_shape = (b, t, o) if layers[-1][2] else (b, o)
    if loss_kind.startswith("sparse"):
        y = torch.randint(0, o, out_shape[:-1], generator=gen).to(x.dtype)
    elif loss_kind == "categorical_softmax":
        y = torch.softmax(2.0 * torch.randn(out_shape, generator=gen), -1)
    elif loss_kind == "binary_sigmoid":
        y = torch.randint(0, 2, out_shape, generator=gen).to(x.dtype)
    else:
        y = torch.randn(out_shape, generator=gen)
    head = Model(1, 1, 1, "tanh", False, False, loss_kind)  # its output_and_loss
    weights = None
    if weighting is not None:  # from 0 to 2, one of them 0
        weights = 2.0 * torch.rand((b,) if weighting == "sample" else (b, t), generator=gen)
        weights.view(-1)[1] = 0.0

    def grads_at(values):
        by_formulas = stack_loss_and_grads(layers, names, values, x, y, head, False, mask, None, weights)
        if masking == ["holes"]:  # PyTorch's packed sequences cannot hold holes
            return by_formulas
        by_modules = stack_loss_and_grads(layers, names, values, x, y, head, True, mask, lengths, weights)
        # The written-out formulas (gru_before's only reference) reproduce torch.nn's modules.
        assert torch.allclose(by_modules[1], by_formulas[1], rtol=0, atol=1e-12)
        for k in values:
            assert torch.allclose(by_modules[2][k], by_formulas[2][k], rtol=1e-9, atol=1e-12), k
        # The output as Keras gives it (a masked step repeats the last real output): the formulas'.
        return by_formulas

    output, loss, grads = grads_at(flat)
    if not any(len(layer) > 4 for layer in layers):
        check_against_numpy(layers, names, flat, x, mask)
    w = {k: v.clone() for k, v in flat.items()}
    losses = []
    if optimizer is None:
        m = {k: torch.zeros_like(v) for k, v in w.items()}
        v2 = {k: torch.zeros_like(t) for k, t in w.items()}
        for step in range(1, ADAM_STEPS + 1):
            _, step_loss, g = grads_at(w)
            losses.append(step_loss.item())
            lr_t = LEARNING_RATE * math.sqrt(1 - BETA_2 ** step) / (1 - BETA_1 ** step)
            for k in w:
                m[k] = BETA_1 * m[k] + (1 - BETA_1) * g[k]
                v2[k] = BETA_2 * v2[k] + (1 - BETA_2) * g[k] * g[k]
                w[k] = w[k] - lr_t * m[k] / (torch.sqrt(v2[k]) + EPSILON)
    else:
        stepper = optimizer[1](list(w.values()))
        for step in range(1, ADAM_STEPS + 1):
            _, step_loss, g = grads_at(w)
            losses.append(step_loss.item())
            for k in w:
                w[k].grad = g[k].detach().clone()
            stepper.step()

    tensors = {"x": x, "y": y}
    if weights is not None:
        tensors["sample_weight"] = weights
    tensors.update(flat)
    tensors["output"] = output
    tensors["loss"] = loss.reshape(1)
    tensors.update({f"grad/{k}": grads[k] for k in flat})
    steps = "adam5" if optimizer is None else "opt5"
    tensors.update({f"{steps}/{k}": w[k].detach() for k in flat})
    tensors[f"{steps}/losses"] = torch.tensor(losses)
    metadata = {
        "layers": json.dumps([{"name": name, "cell": cell, "units": u, "return_sequences": seq, "go_backwards": bwd,
                               **({"merge_mode": merge[0]} if merge else {})}
                              for name, (cell, u, seq, bwd, *merge) in zip(names, layers)]),
        "batch": str(b), "timesteps": str(t), "features": str(d),
        "dense_units": str(o), "dense_activation": HEADS[loss_kind], "loss": loss_kind,
        "learning_rate": repr(LEARNING_RATE), "beta_1": repr(BETA_1), "beta_2": repr(BETA_2),
        "epsilon": repr(EPSILON), "adam_steps": str(ADAM_STEPS), "generator": f"torch {torch.__version__}",
    }
    if mask is not None:
        metadata["masking"] = "true"
    if optimizer is not None:
        metadata["optimizer"] = json.dumps({"clipnorm": 0.0, "global_clipnorm": 0.0, "clipvalue": 0.0, **optimizer[0]})
    return tensors, metadata


def encode_safetensors(tensors, metadata):
    """Serialise float tensors as float32 safetensors bytes."""
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name, tensor in tensors.items():
        data = np.ascontiguousarray(tensor.numpy(), dtype="<f4").tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(blobs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent / "fixtures")
    args = parser.parse_args()

    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)

    args.out.mkdir(parents=True, exist_ok=True)
    for stale in sorted(args.out.glob("*.safetensors")):
        stale.unlink()

    for index, cfg in enumerate(CONFIGS):
        name = config_name(cfg)
        tensors, metadata = build_fixture(cfg, BASE_SEED + index)
        path = args.out / f"{name}.safetensors"
        path.write_bytes(encode_safetensors(tensors, metadata))
        print(f"{name:40s} {path.stat().st_size:9d} bytes")
    stacks = [(cfg, None) for cfg in CELL_CONFIGS + MASKED_CONFIGS + BIDIRECTIONAL_CONFIGS] + WEIGHTED_CONFIGS
    for index, (cfg, weighting) in enumerate(stacks):
        name = cell_config_name(cfg) + ("" if weighting is None else f"_{weighting}_weights")
        tensors, metadata = build_cell_fixture(cfg, BASE_SEED + 1000 + index, weighting)
        path = args.out / f"{name}.safetensors"
        path.write_bytes(encode_safetensors(tensors, metadata))
        print(f"{name:40s} {path.stat().st_size:9d} bytes")
    for index, (name, cfg, config, factory) in enumerate(OPTIMIZER_CONFIGS):
        tensors, metadata = build_cell_fixture(cfg, BASE_SEED + 2000 + index, None, (config, factory))
        path = args.out / f"optimizer_{name}.safetensors"
        path.write_bytes(encode_safetensors(tensors, metadata))
        print(f"{'optimizer_' + name:40s} {path.stat().st_size:9d} bytes")


if __name__ == "__main__":
    main()
