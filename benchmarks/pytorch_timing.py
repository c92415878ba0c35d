#!/usr/bin/python3
"""Time one PyTorch configuration: a training step and an inference pass.

The model is recur-bench's: a recurrent layer of H units -- nn.RNN(D, H, tanh), nn.LSTM(D, H)
or nn.GRU(D, H) (--cell), batch_first -- then its last timestep -> nn.Linear(H, O), MSELoss,
torch.optim.Adam (PyTorch's defaults). One training step is
zero_grad, forward, loss, backward, Adam step; one inference pass is the forward under
torch.no_grad().

After `warmup` untimed calls, each of `reps` samples times a block of back-to-back calls
lasting about `min_time` seconds (at least one call) and records the mean time per call in
milliseconds, as one Google Benchmark repetition does. Prints one JSON object on stdout.

    /usr/bin/python3 benchmarks/pytorch_timing.py M 2 --cell lstm --min-time 0.1 --reps 10

compare_pytorch.py runs this in a child process so that each measurement gets a fresh
interpreter and its own environment (thread counts, OpenBLAS settings).
"""

import argparse
import ctypes
import json
import time

import torch

# (B, T, D, H, O), as in benchmarks/recur_bench.cpp.
CONFIGS = {
    "S": (10, 5, 1, 10, 1),
    "M": (32, 28, 28, 128, 10),
    "L": (64, 100, 64, 512, 1),
    "XL": (128, 50, 256, 1024, 1),
    "N": (64, 50, 1, 4, 1),
}


RECURRENT = {
    "simple": lambda d, h: torch.nn.RNN(d, h, nonlinearity="tanh", batch_first=True),
    "lstm": lambda d, h: torch.nn.LSTM(d, h, batch_first=True),
    "gru": lambda d, h: torch.nn.GRU(d, h, batch_first=True),
}


class Model(torch.nn.Module):
    def __init__(self, cell, d, h, o):
        super().__init__()
        self.rnn = RECURRENT[cell](d, h)
        self.dense = torch.nn.Linear(h, o)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.dense(out[:, -1])


def time_ms(fn, calls):
    start = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - start) / 1e6


def block_times_ms(fn, min_time, reps, warmup):
    """Mean milliseconds per call of `fn` over each of `reps` blocks of about `min_time` s."""
    for _ in range(warmup):
        fn()
    block = max(1, round(min_time * 1e3 / time_ms(fn, 1))) if min_time > 0 else 1
    return [time_ms(fn, block) / block for _ in range(reps)]


def blas_core():
    """PyTorch's BLAS if OpenBLAS: its kernels ("SkylakeX", "Prescott", ...) and threading."""
    try:
        lib = ctypes.CDLL("libblas.so.3")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        threading = {0: "sequential", 1: "pthreads", 2: "OpenMP"}.get(lib.openblas_get_parallel(), "?")
        return f"OpenBLAS {lib.openblas_get_corename().decode()} ({threading})"
    except (OSError, AttributeError):
        return "not OpenBLAS"


def measure(cell, config, threads, min_time, reps, warmup):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    b, t, d, h, o = CONFIGS[config]
    x = torch.rand(b, t, d) - 0.5
    y = torch.rand(b, o) - 0.5
    model = Model(cell, d, h, o)
    optimizer = torch.optim.Adam(model.parameters())
    loss_fn = torch.nn.MSELoss()

    def train_step():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()

    def predict():
        with torch.no_grad():
            model(x)

    return {
        "cell": cell,
        "config": config,
        "threads": threads,
        "train_ms": block_times_ms(train_step, min_time, reps, warmup),
        "predict_ms": block_times_ms(predict, min_time, reps, warmup),
        "torch": torch.__version__,
        "blas": blas_core(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", choices=CONFIGS)
    parser.add_argument("threads", type=int)
    parser.add_argument("--cell", choices=RECURRENT, default="simple", help="the recurrent layer (default: %(default)s)")
    parser.add_argument("--min-time", type=float, default=0.0, help="seconds per sample (0: one call)")
    parser.add_argument("--reps", type=int, default=5, help="timed samples")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls first")
    args = parser.parse_args()
    print(json.dumps(measure(args.cell, args.config, args.threads, args.min_time, args.reps, args.warmup)))


if __name__ == "__main__":
    main()
