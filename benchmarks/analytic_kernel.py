"""Speed of the analytic (infinite-width) NTK: ``ntklib.analytic_ntk`` for n = 2000 points at
depth 10, float64, parameterization "ntk" (Arora et al.'s recursion, one arc-cosine step per layer
on a 2000 x 2000 matrix).

Goal (the kernels issue): < 0.5 s on 2 CPU cores. The script prints wall-clock and process CPU
time; on a shared, loaded machine the CPU time (with one thread) is the meaningful figure.
Also reports the "azls" kernel and the softplus
quadrature (n = 200, depth 3), whose cost grows like n^2 q^2 with q = 48 Gauss-Hermite nodes.
Timings are medians of repeats after one warm-up call. Run::

    OMP_NUM_THREADS=1 python benchmarks/analytic_kernel.py [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

import ntklib as nl


def _median_seconds(fn, repeats: int) -> tuple[float, float]:
    """Median wall-clock and process CPU seconds (CPU / threads ~ wall on an idle machine)."""
    fn()  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's, i.e. OMP_NUM_THREADS)")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    X = torch.randn(2000, 16, generator=g, dtype=torch.float64)
    X = X / X.norm(dim=1, keepdim=True)  # (2000, 16)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    t, cpu = _median_seconds(lambda: nl.analytic_ntk(X, depth=10), args.repeats)
    print(f"analytic_ntk n=2000 depth=10 ntk : {t:.3f} s wall, {cpu:.3f} s CPU   (goal < 0.5 s)"
          f"  wall {'OK' if t < 0.5 else 'MISSED'}, CPU {'OK' if cpu < 0.5 else 'MISSED'}")
    t, cpu = _median_seconds(
        lambda: nl.analytic_ntk(X, depth=11, parameterization="azls"), args.repeats
    )
    print(f"analytic_ntk n=2000 depth=10 azls: {t:.3f} s wall, {cpu:.3f} s CPU   (no goal)")
    t, cpu = _median_seconds(lambda: nl.du_deep_gram(X[:200], 3, activation="softplus"), 1)
    print(f"du_deep_gram n=200 depth=3 softplus (quadrature): {t:.3f} s wall, {cpu:.3f} s CPU"
          "   (no goal)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (timings are only meaningful on "
          "an otherwise idle machine)")


if __name__ == "__main__":
    main()
