"""Reads a recur model file with NumPy alone and reproduces recur's predictions.

usage: numpy_predict.py DIR   (DIR holds model.safetensors and batch.safetensors)

The file is standard safetensors: an 8-byte little-endian header length, a JSON header
of {name: {dtype, shape, data_offsets}} plus "__metadata__", then raw little-endian
float32 data. The architecture is JSON text in the metadata. Exits non-zero when the
predictions differ from recur's by more than 1e-5.
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np


def read_safetensors(path):
    raw = Path(path).read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + size])
    data = raw[8 + size:]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", info
        begin, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(info["shape"])
    return tensors, metadata


ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "linear": lambda z: z,
    "softmax": lambda z: np.exp(z - z.max(-1, keepdims=True)) / np.exp(z - z.max(-1, keepdims=True)).sum(-1, keepdims=True),
}


def simple_rnn(layer, weights, x):
    """Keras's SimpleRNN on x (N, T, D), in float64."""
    kernel, recurrent = weights["kernel"], weights["recurrent_kernel"]
    bias = weights.get("bias", 0.0)
    act = ACTIVATIONS[layer["activation"]]
    if layer["go_backwards"]:
        x = x[:, ::-1]
    h = np.zeros((x.shape[0], layer["units"]))
    outputs = []
    for t in range(x.shape[1]):
        h = act(x[:, t] @ kernel + h @ recurrent + bias)
        outputs.append(h)
    return np.stack(outputs, 1) if layer["return_sequences"] else h


def dense(layer, weights, x):
    return ACTIVATIONS[layer["activation"]](x @ weights["kernel"] + weights.get("bias", 0.0))


def main():
    folder = Path(sys.argv[1])
    tensors, metadata = read_safetensors(folder / "model.safetensors")
    batch, _ = read_safetensors(folder / "batch.safetensors")
    architecture = json.loads(metadata["architecture"])
    out = batch["x"].astype(np.float64)
    for layer in architecture["layers"]:
        prefix = layer["name"] + "/"
        weights = {k[len(prefix):]: v.astype(np.float64) for k, v in tensors.items() if k.startswith(prefix)}
        out = {"SimpleRNN": simple_rnn, "Dense": dense}[layer["type"]](layer, weights, out)
    expected = batch["prediction"]
    worst = float(np.abs(out - expected).max())
    print(f"NumPy reproduces recur's predictions {expected.shape} to {worst:.2e}")
    return 0 if worst <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
