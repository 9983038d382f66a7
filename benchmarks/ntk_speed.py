"""Speed of ``ntklib.empirical_ntk``: the layerwise ("auto") path against the generic Jacobian path
and against one gradient-descent step of the same network.

Network: ``MLP(d_in=16, width=512, depth=3, parameterization="ntk", trainable="all")`` (all four
weight matrices trained), n = 128 unit-norm inputs, in float32 and float64; both paths run on the
same weights. One GD step is the bare PyTorch step

    out = net(X); F = 0.5 * ((out - y) ** 2).sum(); F.backward()
    with torch.no_grad(): p -= lr * p.grad; p.grad = None

Goals (the kernels issue): auto at least 50x faster than jacobian; auto at most 1x the time of one
GD step. Then n = 2048 with a 64 MiB budget (``max_bytes``): the refusal message suggests a
chunk_size, and the chunked kernel is computed with it. Timings are medians of interleaved repeats
after one warm-up call. Run::

    OMP_NUM_THREADS=1 python benchmarks/ntk_speed.py [--repeats 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import ntklib as nl


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time(fn, device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def make_problem(n: int, dtype: torch.dtype, device: torch.device, seed: int = 0):
    """Benchmark network (d_in 16, width 512, depth 3, NTK parameterization) and data."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 16, generator=g, dtype=torch.float64)
    X = (X / X.norm(dim=1, keepdim=True)).to(dtype=dtype, device=device)  # (n, 16)
    y = torch.randn(n, 1, generator=g, dtype=torch.float64).to(dtype=dtype, device=device)
    net = nl.MLP(16, 512, 4, parameterization="ntk", trainable="all", seed=seed, dtype=dtype,
                 device=device)
    return net, X, y


def gd_step(net, X, y, lr: float = 1e-3) -> None:
    """One bare full-batch GD step on the sum loss."""
    params = [p for p in net.parameters() if p.requires_grad]
    loss = 0.5 * (net(X) - y).square().sum()
    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad = None


def compare(dtype: torch.dtype, device: torch.device, repeats: int) -> dict[str, float]:
    net, X, y = make_problem(128, dtype, device)
    auto = lambda: nl.empirical_ntk(net, X)  # layerwise
    jac = lambda: nl.empirical_ntk(net, X, method="jacobian", chunk_size=64)
    step_net, _, _ = make_problem(128, dtype, device)  # same weights, trained copy
    step = lambda: gd_step(step_net, X, y)
    K_auto, K_jac = auto(), jac()  # warm-up and agreement check
    err = float((K_auto - K_jac).norm() / K_jac.norm())
    step()
    t_auto, t_jac, t_step = [], [], []
    for _ in range(repeats):
        t_auto.append(_time(auto, device))
        t_step.append(_time(step, device))
        if len(t_jac) < max(1, repeats // 2):  # the slow path: fewer repeats
            t_jac.append(_time(jac, device))
    med = statistics.median
    return {"auto_s": med(t_auto), "jacobian_s": med(t_jac), "gd_step_s": med(t_step),
            "rel_diff": err}


def large_n(device: torch.device, max_bytes: int = 64 * 2**20) -> tuple[str, int, float]:
    """n = 2048 in float32 under a memory budget: use the suggested chunk size."""
    net, X, _ = make_problem(2048, torch.float32, device)
    try:
        nl.empirical_ntk(net, X, max_bytes=max_bytes)
        advice, chunk = "fits without chunking", None
    except ValueError as err:
        advice = str(err)
        chunk = int(advice.split("pass chunk_size=")[1].split()[0])
    seconds = _time(lambda: nl.empirical_ntk(net, X, max_bytes=max_bytes, chunk_size=chunk), device)
    return advice, chunk, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    device = nl.pick_device(args.device)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    for dtype in (torch.float32, torch.float64):
        r = compare(dtype, device, args.repeats)
        speedup = r["jacobian_s"] / r["auto_s"]
        ratio = r["auto_s"] / r["gd_step_s"]
        print(f"[{str(dtype).split('.')[-1]}] auto {r['auto_s'] * 1e3:.1f} ms, jacobian "
              f"{r['jacobian_s'] * 1e3:.1f} ms, one GD step {r['gd_step_s'] * 1e3:.1f} ms "
              f"(relative difference auto vs jacobian {r['rel_diff']:.1e})")
        print(f"    jacobian / auto = {speedup:.1f}x   (goal >= 50x)  "
              f"{'OK' if speedup >= 50 else 'MISSED'}")
        print(f"    auto / GD step  = {ratio:.2f}x   (goal <= 1x)   "
              f"{'OK' if ratio <= 1 else 'MISSED'}")
    advice, chunk, seconds = large_n(device)
    print(f"[float32, n = 2048, max_bytes = 64 MiB] refusal: {advice}")
    print(f"    chunked kernel with chunk_size={chunk}: {seconds:.2f} s (goal: bounded memory)")


if __name__ == "__main__":
    main()
