#!/usr/bin/python3
"""recur-fashion-mnist against the same model in PyTorch: seconds per epoch and accuracy.

The model: SimpleRNN(128, tanh) over the 28 rows of each image (28 timesteps of 28 pixels,
divided by 255), its last state into Dense(10, softmax), sparse categorical crossentropy
(nn.CrossEntropyLoss on the logits: the same loss), Adam (1e-3, epsilon 1e-7 as Keras; the
rate is multiplied by --decay 0.8 after each epoch, as recur-fashion-mnist does), batch 64,
shuffled, on the first 54000 training images; the last 6000 are the validation set,
evaluated at the end of each epoch (in batches of 64, as Keras's fit does), and that is part
of the epoch's time in both. PyTorch starts from Keras's initialisers (glorot-
uniform kernels, orthogonal recurrent kernel, zero biases), as recur does; --init torch
keeps PyTorch's own uniform(+-1/sqrt(128)) instead.

Each run is a fresh process: recur-fashion-mnist --epochs 1 --threads N (its "Epoch 1/1 -
S.SSs" line), and this script in --worker mode for PyTorch with torch.set_num_threads(N).
Runs alternate which goes first, so that a change in a shared machine's load hits both;
the table gives every run, the medians and the ratio PyTorch / recur of seconds per epoch.

The PyTorch child runs without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (set on some of our
machines for other programs, and slower for PyTorch there), and with OPENBLAS_NUM_THREADS=1:
PyTorch runs its own threads, and OpenBLAS's on top of them (4 spinning threads on 2 cores)
made its epoch 4x slower here (17.6 s against 4.4 s). OpenBLAS 0.3.21 does not know every
recent CPU and then falls back to its generic "Prescott" kernels, about twice as slow here:
the table names the kernels PyTorch ran, and --torch-env OPENBLAS_CORETYPE=SkylakeX gives it
its AVX-512 ones. --torch-env overrides any of these.

    /usr/bin/python3 benchmarks/fashion_mnist_pytorch.py --recur build/examples/recur-fashion-mnist --threads 2 --runs 3
    /usr/bin/python3 benchmarks/fashion_mnist_pytorch.py --worker --epochs 10 --threads 2   # PyTorch alone, per epoch
"""

import argparse
import ctypes
import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import time

DATA = "/usr/share/datasets/fashion-mnist"
TORCH_UNSET = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


# ---- PyTorch, in its own process (--worker) ----


def read_idx(path):
    import numpy as np

    with gzip.open(path) if path.endswith(".gz") else open(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def blas_core():
    try:
        lib = ctypes.CDLL("libblas.so.3")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return "OpenBLAS " + lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return "not OpenBLAS"


def worker(args):
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    def load(prefix):
        x = read_idx(f"{args.data}/{prefix}-images-idx3-ubyte.gz")
        y = read_idx(f"{args.data}/{prefix}-labels-idx1-ubyte.gz")
        return torch.tensor(x, dtype=torch.float32) / 255, torch.tensor(y, dtype=torch.long)

    x, y = load("train")
    x_test, y_test = load("t10k")
    n_train = int(len(x) * 0.9)  # Keras's validation_split=0.1: the last 10%
    x_train, y_train, x_val, y_val = x[:n_train], y[:n_train], x[n_train:], y[n_train:]

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.RNN(28, 128, nonlinearity="tanh", batch_first=True)
            self.dense = torch.nn.Linear(128, 10)
            if args.init == "keras":
                torch.nn.init.xavier_uniform_(self.rnn.weight_ih_l0)
                torch.nn.init.orthogonal_(self.rnn.weight_hh_l0)
                torch.nn.init.zeros_(self.rnn.bias_ih_l0)
                torch.nn.init.zeros_(self.rnn.bias_hh_l0)
                torch.nn.init.xavier_uniform_(self.dense.weight)
                torch.nn.init.zeros_(self.dense.bias)

        def forward(self, inputs):
            out, _ = self.rnn(inputs)
            return self.dense(out[:, -1])

    model = Model()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, eps=1e-7)
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=args.decay)
    loss_fn = torch.nn.CrossEntropyLoss()

    def evaluate(xs, ys, batch):
        model.eval()
        loss = correct = 0.0
        with torch.no_grad():
            for i in range(0, len(xs), batch):
                logits = model(xs[i : i + batch])
                loss += loss_fn(logits, ys[i : i + batch]).item() * len(logits)
                correct += (logits.argmax(1) == ys[i : i + batch]).sum().item()
        model.train()
        return loss / len(xs), correct / len(xs)

    epochs = []
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        order = torch.randperm(n_train)
        loss_sum = correct = 0.0
        for i in range(0, n_train, 64):
            rows = order[i : i + 64]
            optimizer.zero_grad()
            logits = model(x_train[rows])
            loss = loss_fn(logits, y_train[rows])
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(rows)
            correct += (logits.argmax(1) == y_train[rows]).sum().item()
        val_loss, val_acc = evaluate(x_val, y_val, 64)
        seconds = time.perf_counter() - start
        test_loss, test_acc = evaluate(x_test, y_test, 1000)
        schedule.step()
        epochs.append({"seconds": seconds, "test_accuracy": test_acc})
        print(f"Epoch {epoch}/{args.epochs} - {seconds:.2f}s - loss: {loss_sum / n_train:.4f} - accuracy: "
              f"{correct / n_train:.4f} - val_loss: {val_loss:.4f} - val_accuracy: {val_acc:.4f} - test_accuracy: "
              f"{test_acc:.4f}", file=sys.stderr, flush=True)
    print(json.dumps({"epochs": epochs, "blas": blas_core(), "threads": torch.get_num_threads()}))


# ---- the comparison ----


def busy_cores(seconds=0.5):
    """CPU cores in use (by anyone) over the next `seconds`, from /proc/stat."""
    def ticks():
        fields = [int(v) for v in open("/proc/stat").readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    total0, idle0 = ticks()
    time.sleep(seconds)
    total1, idle1 = ticks()
    return (os.cpu_count() or 1) * (1 - (idle1 - idle0) / max(1, total1 - total0))


def wait_until_quiet(limit):
    """Waits up to `limit` seconds for the machine to be idle; returns the busy cores then."""
    deadline = time.monotonic() + limit
    busy = busy_cores()
    while busy > 0.5 and time.monotonic() < deadline:
        busy = busy_cores()
    return busy


def run(cmd, env):
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"fashion_mnist_pytorch.py: {' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def run_recur(args):
    out = run([args.recur, "--epochs", "1", "--threads", str(args.threads), "--lr", str(args.lr),
               "--decay", str(args.decay), "--data", args.data],
              dict(os.environ))
    seconds = re.search(r"^Epoch 1/1 - ([0-9.]+)s", out, re.M)
    accuracy = re.search(r"test accuracy: ([0-9.]+)", out)
    if not (seconds and accuracy):
        sys.exit(f"fashion_mnist_pytorch.py: unexpected output from {args.recur}:\n{out}")
    return float(seconds[1]), float(accuracy[1])


def run_torch(args):
    env = {k: v for k, v in os.environ.items() if k not in TORCH_UNSET}
    env["OPENBLAS_NUM_THREADS"] = "1"
    env.update(kv.split("=", 1) for kv in args.torch_env)
    cmd = [sys.executable, __file__, "--worker", "--epochs", "1", "--threads", str(args.threads), "--lr", str(args.lr),
           "--decay", str(args.decay), "--data", args.data, "--init", args.init]
    result = json.loads(run(cmd, env))
    return result["epochs"][0]["seconds"], result["epochs"][0]["test_accuracy"], result["blas"]


def compare(args):
    recur, torch, busy = [], [], []
    blas = ""
    print(f"one epoch (54000 images, batch 64, + validation on 6000), {args.threads} threads, {args.runs} runs")
    print(f"{'run':>4} {'recur s':>9} {'recur test acc':>15} {'PyTorch s':>10} {'PyTorch test acc':>17} {'busy cores':>11}")
    for i in range(args.runs):
        # Alternate which goes first, so that neither always gets the quieter moment.
        for tool in ("recur", "torch") if i % 2 == 0 else ("torch", "recur"):
            busy.append(wait_until_quiet(args.wait_quiet))
            if tool == "recur":
                recur.append(run_recur(args))
            else:
                *result, blas = run_torch(args)
                torch.append(tuple(result))
        print(f"{i + 1:>4} {recur[-1][0]:>9.2f} {recur[-1][1]:>15.4f} {torch[-1][0]:>10.2f} {torch[-1][1]:>17.4f} "
              f"{max(busy[-2:]):>11.2f}", flush=True)
    r = statistics.median(s for s, _ in recur)
    t = statistics.median(s for s, _ in torch)
    print(f"{'med':>4} {r:>9.2f} {'':>15} {t:>10.2f}")
    print(f"PyTorch / recur seconds per epoch: {t / r:.2f}x (PyTorch {torch_version()}, {blas})")
    if "Prescott" in blas:
        print("note: PyTorch ran OpenBLAS's generic Prescott kernels (it did not recognise the CPU); "
              "--torch-env OPENBLAS_CORETYPE=SkylakeX (or Haswell) gives it its fast ones")


def torch_version():
    try:
        import importlib.metadata

        return importlib.metadata.version("torch")
    except Exception:
        return "?"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recur", default="build/examples/recur-fashion-mnist", help="the recur-fashion-mnist binary")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=3, help="runs of each (the median is reported)")
    p.add_argument("--data", default=DATA, help="the directory of the four .gz IDX files")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate, for both")
    p.add_argument("--decay", type=float, default=0.8, help="the learning rate's factor per epoch, for both")
    p.add_argument("--init", choices=("keras", "torch"), default="keras", help="PyTorch's initialisers")
    p.add_argument("--torch-env", action="append", default=[], metavar="KEY=VALUE",
                   help="an environment variable for the PyTorch child only (repeatable)")
    p.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                   help="before each run, wait up to this long for the machine to be idle (< 0.5 busy cores); "
                        "the busy cores are reported either way")
    p.add_argument("--worker", action="store_true", help="train in PyTorch only, printing each epoch on stderr")
    p.add_argument("--epochs", type=int, default=1, help="--worker: epochs to train")
    p.add_argument("--seed", type=int, default=1, help="--worker: torch.manual_seed")
    args = p.parse_args()
    worker(args) if args.worker else compare(args)


if __name__ == "__main__":
    main()
