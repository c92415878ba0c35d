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


if __name__ == "__main__":
    main()
