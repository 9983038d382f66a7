"""Overhead of one `ntklib.train` GD step against a bare hand-written PyTorch GD step.

Network: ``MLP(d_in=32, width=1024, depth=4, parameterization="azls")`` (W_1..W_4 trained), n = 256
unit-norm inputs, float32, loss F = sum_i 1/2 (f(x_i) - y_i)^2. The bare step is

    out = net(X); F = 0.5 * ((out - y) ** 2).sum(); F.backward()
    with torch.no_grad(): p -= lr * p.grad; p.grad = None

and the ntklib step is one iteration of `train(..., log_every=1)` (it also logs the loss every
step, i.e. one host sync per step). The per-step cost of `train` is the gap between consecutive
calls of a clock hook (``hooks={"clock": (1, fn)}``), which leaves out its one-off costs (deep
copy of the initial model, the final evaluation). Timings are medians over all steps of
interleaved repeats; on the CPU they are process CPU seconds (``time.process_time``, robust on a
shared machine when run with one thread), on CUDA wall-clock seconds after a synchronisation.

Budget (DESIGN.md / the training issue): ratio <= 1.1 with diagnostics off, <= 1.5 with
``diagnostics=("distance", "flips")``. Run::

    OMP_NUM_THREADS=1 python benchmarks/train_step.py [--steps 6] [--repeats 3] [--device cpu]

The script prints the ratios and exits with status 1 if a budget is exceeded (``--no-check``
only prints).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np
import torch

import ntklib as nl

BUDGETS = {(): 1.1, ("distance", "flips"): 1.5}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _clock(device: torch.device) -> float:
    """CPU seconds of this process on the CPU (other jobs do not count), wall seconds on CUDA."""
    return time.perf_counter() if device.type == "cuda" else time.process_time()


def make_problem(device: torch.device, seed: int = 0):
    """The benchmark network and data (float32)."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(256, 32, generator=g)
    X = (X / X.norm(dim=1, keepdim=True)).to(device)  # (256, 32)
    y = torch.randn(256, 1, generator=g).to(device)  # (256, 1)
    net = nl.MLP(32, 1024, 5, seed=seed, dtype=torch.float32, device=device)  # L = 4
    lr = 1.0 / (256 * 1024 * 4)  # below the GD stability scale ~ 4 / (n m L)
    return net, X, y, lr


def bare_steps(net, X, y, lr: float, steps: int) -> list[float]:
    """Seconds of each of ``steps`` hand-written GD steps."""
    params = [p for p in net.parameters() if p.requires_grad]
    times = []
    for _ in range(steps):
        _sync(X.device)
        start = _clock(X.device)
        loss = 0.5 * (net(X) - y).square().sum()
        loss.backward()
        with torch.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad = None
        _sync(X.device)
        times.append(_clock(X.device) - start)
    return times


def ntklib_steps(net, X, y, lr: float, steps: int, diagnostics) -> list[float]:
    """Seconds of each `train` iteration: the gaps between consecutive calls of a clock hook.

    A hook with every=1 runs once per iterate, after that iterate's logging and before its
    update, so the gap between two calls is one full step of `train` (log, hooks, update), with
    none of train's one-off costs (deep copy of the initial model, validation, final evaluation).
    """

    def clock(model) -> float:
        _sync(X.device)
        return _clock(X.device)

    hist = nl.train(net, X, y, lr=lr, steps=steps, diagnostics=diagnostics, log_every=1,
                    hooks={"clock": (1, clock)})
    return list(np.diff(hist.extra["clock"]))


def measure(device: torch.device, steps: int, repeats: int) -> dict:
    """Median per-step seconds of the bare step and of `train` per diagnostics setting."""
    net, X, y, lr = make_problem(device)
    bare_steps(net, X, y, lr, 1)  # warm-up
    ntklib_steps(net, X, y, lr, 1, ())
    times: dict = {"bare": []} | {d: [] for d in BUDGETS}
    for _ in range(repeats):  # interleaved, so load changes hit every variant alike
        times["bare"] += bare_steps(net, X, y, lr, steps)
        for diag in BUDGETS:
            times[diag] += ntklib_steps(net, X, y, lr, steps, diag)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: nl.pick_device())")
    parser.add_argument("--no-check", action="store_true", help="print only, never fail")
    args = parser.parse_args(argv)
    device = nl.pick_device(args.device)
    per_step = measure(device, args.steps, args.repeats)
    base = per_step["bare"]
    print(f"device={device} threads={torch.get_num_threads()} steps={args.steps} "
          f"repeats={args.repeats}")
    print(f"bare PyTorch GD step: {base * 1e3:8.2f} ms")
    ok = True
    for diag, budget in BUDGETS.items():
        ratio = per_step[diag] / base
        verdict = "ok" if ratio <= budget else "OVER BUDGET"
        ok &= ratio <= budget
        name = ",".join(diag) or "none"
        print(f"ntklib train step, diagnostics={name:15s}: {per_step[diag] * 1e3:8.2f} ms  "
              f"ratio {ratio:5.2f} (budget {budget}) {verdict}")
    return 0 if ok or args.no_check else 1


if __name__ == "__main__":
    sys.exit(main())
