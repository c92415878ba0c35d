#!/usr/bin/python3
"""Time recur against PyTorch (and, with --onednn, oneDNN) on recur-bench's models.

What is measured
  For each cell (--cells: simple, lstm, gru) and config (B, T, D, H, O) -- S (10, 5, 1, 10, 1),
  M (32, 28, 28, 128, 10), L (64, 100, 64, 512, 1), XL (128, 50, 256, 1024, 1),
  N (64, 50, 1, 4, 1) -- a recurrent layer of H units (SimpleRNN(H, tanh), LSTM(H) or GRU(H)
  with Keras's defaults) over a (B, T, D) batch, its last state into Dense(O), MSE loss, Adam
  with default settings:
    train    one training step on one batch: forward, loss, BPTT, Adam update;
    predict  one inference pass over the batch.
  recur    recur-bench's TrainStep<cell>/<i> (model.train_on_batch) and Predict<cell>/<i>
           (model.predict(x, B)), i = 0..4 for S..N, <cell> empty, LSTM or GRU;
  PyTorch  nn.RNN, nn.LSTM or nn.GRU + nn.Linear + MSELoss + torch.optim.Adam: zero_grad,
           forward, loss, backward, step; inference under torch.no_grad() (pytorch_timing.py);
  oneDNN   recur-onednn-bench: the vanilla RNN, LSTM or linear-before-reset GRU primitive
           (the GRU of PyTorch and of Keras's reset_after), with the head, the loss and Adam
           written by hand (onednn_rnn.cpp). It checks its gradients against recur's before
           timing.
  All float32, on the CPU, at each thread count (1 and 2 by default).

How
  Every measurement is a fresh child process with its thread count set (OMP_NUM_THREADS,
  and for PyTorch also torch.set_num_threads and OPENBLAS_NUM_THREADS). Each round visits
  every config and thread count and runs the tools back to back, in an order rotated from
  round to round, so that changes in the load of a shared machine hit all tools alike.
  A sample is the mean time per call over a block of about the config's min_time seconds
  (at least one call) after warm-up, as a Google Benchmark repetition is; the tables show
  the median of all samples of all rounds in ms per call, and ratio = tool / recur
  (above 1: recur is faster). "best" compares each tool at its faster thread count.

Environment
  PyTorch's speed here is its BLAS's: Debian's python3-torch calls whatever libblas.so.3
  is, and the reference BLAS is many times slower than OpenBLAS. OpenBLAS's pthreads build
  (libopenblas0-pthread) fights PyTorch's OpenMP threads: at 2 threads on 2 cores a step
  can take 80x longer. So give PyTorch the OpenMP build (libopenblas0-openmp), through
  --torch-env LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp if it is not the
  system's libblas.so.3. Where OpenBLAS 0.3.21 does not recognise the CPU (recent Xeons),
  it falls back to its generic "Prescott" kernels, 3-5x slower: add --torch-env
  OPENBLAS_CORETYPE=SkylakeX there. The table's header names the kernels and threading
  PyTorch ran with, and the script warns about both traps.
  The PyTorch child runs without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, which some of our
  machines set for other programs; --torch-env KEY=VALUE sets variables for PyTorch only.
  recur and oneDNN get the environment unchanged (but for OMP_NUM_THREADS).

Usage (Debian's python3-torch runs under /usr/bin/python3)
  /usr/bin/python3 benchmarks/compare_pytorch.py build/benchmarks/recur-bench \\
      --onednn build/benchmarks/recur-onednn-bench --cells simple,lstm,gru --configs M,L \\
      --rounds 3 --json results.json \\
      --torch-env LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \\
      --torch-env OPENBLAS_CORETYPE=SkylakeX
"""

import argparse
import itertools
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
TOOLS = ("PyTorch", "oneDNN", "recur")  # table column order; recur is the reference
RATIO_NAMES = {"PyTorch": "PT", "oneDNN": "DNN"}
MODES = ("train", "predict")
CELLS = {"simple": "", "lstm": "LSTM", "gru": "GRU"}  # cell -> recur-bench's name suffix


@dataclass(frozen=True)
class Config:
    name: str
    index: int  # recur-bench's TrainStep<cell>/<index>, Predict<cell>/<index>
    shape: tuple  # (B, T, D, H, O)
    min_time: float  # seconds per sample; 0: one call
    reps: int  # samples per tool per round
    warmup: int  # untimed calls before sampling (PyTorch, oneDNN)


# Repetitions scale with the size: thousands of S steps per round, a handful of XL ones.
CONFIGS = {
    c.name: c
    for c in (
        Config("S", 0, (10, 5, 1, 10, 1), 0.05, 15, 200),
        Config("M", 1, (32, 28, 28, 128, 10), 0.1, 10, 20),
        Config("L", 2, (64, 100, 64, 512, 1), 0.0, 7, 2),
        Config("XL", 3, (128, 50, 256, 1024, 1), 0.0, 5, 1),
        Config("N", 4, (64, 50, 1, 4, 1), 0.05, 15, 200),  # narrow: the batch-in-lanes loop
    )
}

# Set for other programs on some of our machines; unset for PyTorch (see the docstring).
TORCH_UNSET = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
OPENBLAS_OPENMP = "/usr/lib/x86_64-linux-gnu/openblas-openmp"  # Debian's libopenblas0-openmp


# ---- one measurement per child process ----


def child_env(threads, unset=(), extra=None):
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env["OMP_NUM_THREADS"] = str(threads)
    env.update(extra or {})
    return env


def run(cmd, env):
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"compare_pytorch.py: {' '.join(map(str, cmd))} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def measure_recur(bench, cell, config, threads):
    suffix = CELLS[cell]
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        stdout = run(
            [bench, f"--benchmark_filter=^(TrainStep{suffix}|Predict{suffix})/{config.index}/",
             f"--benchmark_repetitions={config.reps}", f"--benchmark_min_time={config.min_time}",
             f"--benchmark_out={out.name}", "--benchmark_out_format=json"],
            child_env(threads))
        with open(out.name) as f:
            report = json.load(f)
    samples = {mode: [] for mode in MODES}
    for b in report["benchmarks"]:
        if b["run_type"] == "iteration":
            assert b["time_unit"] == "ms", b
            samples["train" if b["name"].startswith("TrainStep") else "predict"].append(b["real_time"])
    header = re.search(r"kernels: (\w+), threads: (\d+)", stdout)
    if header and int(header[2]) != threads:
        sys.exit(f"compare_pytorch.py: recur-bench ran {header[2]} threads, not {threads}")
    return samples, {"recur kernels": header[1] if header else "?"}


def measure_torch(torch_env, cell, config, threads):
    env = child_env(threads, unset=TORCH_UNSET, extra={"OPENBLAS_NUM_THREADS": str(threads), **torch_env})
    result = json.loads(run(
        [sys.executable, HERE / "pytorch_timing.py", config.name, str(threads), "--cell", cell,
         "--min-time", str(config.min_time),
         "--reps", str(config.reps), "--warmup", str(config.warmup)], env))
    return ({mode: result[f"{mode}_ms"] for mode in MODES},
            {"torch": result["torch"], "PyTorch BLAS": result["blas"],
             "PyTorch env": " ".join(f"{k}={v}" for k, v in torch_env.items()) or "default"})


def measure_onednn(binary, cell, config, threads):
    result = json.loads(run(
        [binary, "--cell", cell, "--configs", config.name, "--threads", str(threads), "--min-time", str(config.min_time),
         "--reps", str(config.reps), "--warmup", str(config.warmup), "--json"], child_env(threads)))
    return ({mode: result[f"{mode}_ms"] for mode in MODES},
            {"oneDNN": result["onednn"],
             f"oneDNN {cell} gradient check (max rel. diff)": result["grad_check_max_rel"]})


# ---- the rounds ----


QUIET_BELOW = 0.5  # busy cores: what --wait-quiet waits for


def busy_cores(seconds=0.5):
    """CPU cores in use (by anyone) over the next `seconds`, from /proc/stat."""
    def ticks():
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait
    total0, idle0 = ticks()
    time.sleep(seconds)
    total1, idle1 = ticks()
    return (os.cpu_count() or 1) * (1 - (idle1 - idle0) / max(1, total1 - total0))


def wait_until_quiet(timeout):
    """Waits up to `timeout` s for fewer than QUIET_BELOW busy cores; returns the last reading."""
    deadline = time.monotonic() + timeout
    while (busy := busy_cores()) >= QUIET_BELOW and time.monotonic() < deadline:
        pass
    return busy


def measure(tool, args, cell, config, threads):
    """({mode: [ms, ...]}, {setting: value}) from one child process."""
    if tool == "recur":
        return measure_recur(args.recur_bench, cell, config, threads)
    if tool == "PyTorch":
        return measure_torch(args.torch_env, cell, config, threads)
    return measure_onednn(args.onednn, cell, config, threads)


def run_rounds(args, tools):
    """samples[(tool, row, threads, mode)] -> list of ms, row a cell and config ("lstm M");
    info: versions and settings."""
    samples, info, load = {}, {}, []
    plan = list(itertools.product(args.cells, args.configs, args.threads))
    for r in range(args.rounds):
        order = tools[r % len(tools):] + tools[:r % len(tools)]
        for cell, name, threads in plan:
            row = row_name(cell, name)
            for tool in order:
                load.append(wait_until_quiet(args.wait_quiet))
                new, tool_info = measure(tool, args, cell, CONFIGS[name], threads)
                info.update(tool_info)
                for mode, values in new.items():
                    samples.setdefault((tool, row, threads, mode), []).extend(values)
            print(f"round {r + 1}/{args.rounds}: {row} at {threads} thread(s) done", file=sys.stderr)
    info["busy cores before each measurement (median)"] = round(statistics.median(load), 2)
    return samples, info


# ---- the table ----


def row_name(cell, config):
    return f"{cell} {config}"


def medians(samples):
    return {key: statistics.median(values) for key, values in samples.items()}


def best_threads(med, tool, config, threads, mode):
    """(median ms, thread count) at the tool's fastest thread count."""
    return min((med[(tool, config, t, mode)], t) for t in threads)


def fmt_ms(ms):
    return f"{ms:.3g}" if ms < 100 else f"{ms:.0f}"


def columns(tools):
    """Per mode: each tool's ms, then each other tool's ratio to recur."""
    return list(tools) + [f"{RATIO_NAMES[t]}/recur" for t in tools if t != "recur"]


def table_rows(med, tools, configs, threads):
    """[config, threads, the columns for train, the columns for predict] per row."""
    rows = []
    for config in configs:
        labelled = [(str(t), {(tool, mode): (med[(tool, config, t, mode)], None) for tool in tools for mode in MODES})
                    for t in threads]
        if len(threads) > 1:
            labelled.append(("best", {(tool, mode): best_threads(med, tool, config, threads, mode)
                                      for tool in tools for mode in MODES}))
        for label, cells in labelled:
            row = [config, label]
            for mode in MODES:
                row += [fmt_ms(ms) + (f" @{t}" if t else "") for ms, t in (cells[(tool, mode)] for tool in tools)]
                row += [f"{cells[(tool, mode)][0] / cells[('recur', mode)][0]:.3g}" for tool in tools if tool != "recur"]
            rows.append(row)
    return rows


CAPTION = ("ms per call, medians; ratio = tool / recur (above 1: recur is faster); "
           "best: each tool at its faster thread count (@threads)")


def text_table(med, info, tools, configs, threads):
    names, w = columns(tools), 11
    lines = ["; ".join(f"{k}: {v}" for k, v in info.items()), CAPTION,
             " " * 17 + "  ".join(f"{' ' + mode + ' ':-^{w * len(names)}}" for mode in MODES),
             f"{'config':<9}{'threads':>8}" + "  ".join("".join(f"{n:>{w}}" for n in names) for _ in MODES)]
    for row in table_rows(med, tools, configs, threads):
        cells = [row[2 + i * len(names):2 + (i + 1) * len(names)] for i in range(len(MODES))]
        lines.append(f"{row[0]:<9}{row[1]:>8}" + "  ".join("".join(f"{c:>{w}}" for c in part) for part in cells))
    return "\n".join(lines)


def markdown_table(med, tools, configs, threads):
    names = columns(tools)
    head = ["config", "threads"] + [(f"{mode}: " if i == 0 else "") + n for mode in MODES for i, n in enumerate(names)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(med, tools, configs, threads)]
    return "\n".join(lines)


def to_json(samples, info, args):
    med = medians(samples)
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "kernel": platform.release()},
        "info": info,
        "cells": args.cells,
        "configs": {name: CONFIGS[name].__dict__ for name in args.configs},
        "rows": [row_name(cell, name) for cell in args.cells for name in args.configs],
        "results": [{"tool": tool, "config": config, "threads": threads, "mode": mode,
                     "median_ms": med[(tool, config, threads, mode)], "samples_ms": values}
                    for (tool, config, threads, mode), values in samples.items()],
    }


def warn_about_torch_blas(blas, threads):
    if "Prescott" in blas:
        print("warning: PyTorch ran OpenBLAS's generic Prescott kernels (OpenBLAS did not recognise the CPU): "
              "--torch-env OPENBLAS_CORETYPE=SkylakeX (or Haswell) gives it a fair chance", file=sys.stderr)
    if "pthreads" in blas and max(threads) > 1:
        print(f"warning: PyTorch's OpenBLAS is the pthreads build, whose threads fight PyTorch's OpenMP threads: "
              f"--torch-env LD_LIBRARY_PATH={OPENBLAS_OPENMP} (libopenblas0-openmp) avoids that", file=sys.stderr)


def from_json(path):
    """A saved run: samples, info, tools, rows, thread counts."""
    with open(path) as f:
        run = json.load(f)
    samples = {(r["tool"], r["config"], r["threads"], r["mode"]): r["samples_ms"] for r in run["results"]}
    tools = [t for t in TOOLS if any(key[0] == t for key in samples)]
    threads = list(dict.fromkeys(key[2] for key in samples))
    return samples, run["info"], tools, run.get("rows", list(run["configs"])), threads


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


# ---- command line ----


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recur_bench", nargs="?", default="build/benchmarks/recur-bench",
                        help="path to recur-bench (default: %(default)s)")
    parser.add_argument("--cells", default="simple", help="comma-separated, from simple,lstm,gru (default: %(default)s)")
    parser.add_argument("--configs", default="S,M,L,XL", help="comma-separated, from S,M,L,XL,N (default: %(default)s)")
    parser.add_argument("--threads", default="2,1", help="comma-separated thread counts (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default: %(default)s)")
    parser.add_argument("--onednn", metavar="PATH", help="recur-onednn-bench: adds a oneDNN column")
    parser.add_argument("--torch-env", metavar="KEY=VALUE", action="append", default=[],
                        help="an environment variable for the PyTorch child only (repeatable)")
    parser.add_argument("--wait-quiet", metavar="SECONDS", type=float, default=0,
                        help=f"before each measurement, wait up to this long for the machine to be idle "
                             f"(< {QUIET_BELOW} busy cores; default: no waiting, the load is only reported)")
    parser.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    parser.add_argument("--json", metavar="FILE", help="write every sample and the medians here")
    parser.add_argument("--from-json", metavar="FILE", help="print the tables of a run saved by --json; measure nothing")
    args = parser.parse_args()
    args.cells = args.cells.split(",")
    args.configs = args.configs.split(",")
    args.threads = [int(t) for t in args.threads.split(",")]
    args.torch_env = dict(kv.split("=", 1) for kv in args.torch_env)
    unknown = set(args.configs) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown config(s) {sorted(unknown)}; expected some of {list(CONFIGS)}")
    unknown = set(args.cells) - set(CELLS)
    if unknown:
        parser.error(f"unknown cell(s) {sorted(unknown)}; expected some of {list(CELLS)}")
    for path in [] if args.from_json else [args.recur_bench] + ([args.onednn] if args.onednn else []):
        if not os.access(path, os.X_OK):
            parser.error(f"{path} is not an executable (build it first)")
    return args


def main():
    args = parse_args()
    if args.from_json:
        samples, info, tools, configs, threads = from_json(args.from_json)
    else:
        tools, threads = [t for t in TOOLS if t != "oneDNN" or args.onednn], args.threads
        configs = [row_name(cell, name) for cell in args.cells for name in args.configs]
        samples, info = run_rounds(args, tools)
    warn_about_torch_blas(info.get("PyTorch BLAS", ""), threads)
    med = medians(samples)
    print(text_table(med, info, tools, configs, threads))
    if args.markdown:
        print("\n" + markdown_table(med, tools, configs, threads))
    if args.json and not args.from_json:
        with open(args.json, "w") as f:
            json.dump(to_json(samples, info, args), f, indent=1)


if __name__ == "__main__":
    main()
