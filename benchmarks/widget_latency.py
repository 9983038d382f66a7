"""Widget latency: median seconds from a control change to a redrawn figure, per book panel.

A reader moves a slider; the panel recomputes (here always *uncached*: a fresh disk cache and
settings the panel has not seen) and redraws its PNG. The goal is <= 1 s on 2 CPU cores.

Run (from the repository root)::

    OMP_NUM_THREADS=1 python benchmarks/widget_latency.py            # all entries
    OMP_NUM_THREADS=1 python benchmarks/widget_latency.py --only tour

How an entry is built. Chapter panels live in notebooks, so an entry either

* ``ChapterEntry``: executes the chapter's setup cell (the first code cell) and the code cells that
  define the named compute and plot functions, taken from the notebook itself (so the benchmark
  measures exactly the code the chapter runs), then builds ``ntklib.widgets.Panel`` with the given
  controls; or
* ``FunctionEntry``: a compute/plot pair defined here from ntklib calls (generic panels).

To add a chapter: append ``ChapterEntry(name, notebook, compute, plot, controls, changes)`` to
``ENTRIES``; ``changes`` are the control moves to time, each one to a setting not seen before.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 1.0


@dataclass
class FunctionEntry:
    """A panel built from functions defined in this file."""

    name: str
    compute: Callable
    plot: Callable
    controls: dict
    changes: list[dict]

    def build(self):
        from ntklib.widgets import Panel

        return Panel(self.compute, self.plot, self.controls)


@dataclass
class ChapterEntry:
    """A panel whose compute/plot functions are read from a chapter notebook's code cells."""

    name: str
    notebook: str
    compute: str
    plot: str
    controls: dict
    changes: list[dict]
    panel_kwargs: dict = field(default_factory=dict)  # as in the chapter's nl.panel call
    namespace: dict = field(default_factory=dict)

    def build(self):
        from ntklib.widgets import Panel

        cells = json.loads((ROOT / self.notebook).read_text())["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        wanted = [code[0]] + [
            src for src in code[1:] if f"def {self.compute}(" in src or f"def {self.plot}(" in src
        ]
        if len(wanted) < 2:
            raise SystemExit(f"{self.notebook}: no code cell defines {self.compute}/{self.plot}")
        ns = self.namespace
        for src in wanted:
            # IPython magics (%matplotlib ...) have no meaning outside a kernel
            src = "\n".join(line for line in src.splitlines() if not line.lstrip().startswith("%"))
            exec(compile(src, f"{self.notebook}:cell", "exec"), ns)
        return Panel(ns[self.compute], ns[self.plot], self.controls, **self.panel_kwargs)


# ----------------------------------------------------------------------------- generic panels
def mlp_training_compute(width: int = 256, depth: int = 2, steps: int = 150) -> dict:
    """Train an NTK-parameterized MLP (all layers) by GD on 32 sphere points; the loss curve."""
    import ntklib as nl

    X, y, _ = nl.sphere_data(32, 10, labels="teacher", seed=0)
    net = nl.MLP(10, width, depth, parameterization="ntk", trainable="all", seed=0)
    lr = 1.0 / nl.lambda_max(nl.empirical_ntk(net, X))
    history = nl.train(net, X, y, lr=lr, steps=steps, loss="mse_sum")
    return {"step": history.step, "loss": history.loss, "label": f"m={width}, L={depth}"}


def mlp_training_plot(result: dict, ax=None):
    import ntklib as nl

    return nl.plot_loss_curves({result["label"]: (result["step"], result["loss"])}, ax=ax)


def plot_only_compute(width: int = 256) -> dict:
    """No computation at all: measures the floor (figure drawing and PNG encoding)."""
    import numpy as np

    t = np.arange(200.0)
    return {"step": t, "loss": np.exp(-t / width * 8), "label": f"m={width}"}


ENTRIES = [
    FunctionEntry(
        "redraw floor (plot only)",
        plot_only_compute,
        mlp_training_plot,
        {"width": [64, 128, 256, 512]},
        [{"width": 128}, {"width": 512}, {"width": 64}],
    ),
    FunctionEntry(
        "generic MLP training (ntk param, 150 GD steps)",
        mlp_training_compute,
        mlp_training_plot,
        {"width": [64, 128, 256, 512], "depth": (1, 4, 1)},
        [{"width": 128}, {"depth": 3}, {"width": 512}],
    ),
    ChapterEntry(
        "01_tour: width x depth",
        "chapters/01_tour.ipynb",
        compute="tour_run",
        plot="plot_tour",
        controls={"width": [64, 128, 256, 512], "depth": (1, 4, 1, 3)},
        changes=[{"depth": 2}, {"depth": 4}, {"width": 128}, {"width": 512}],
        panel_kwargs={"figsize": (10, 3.8)},
    ),
]


def measure(entry, verbose: bool = True, expect_compute: bool = True) -> tuple[list, list]:
    """Wall and CPU seconds of each change in ``entry.changes`` (compute + draw + PNG).

    CPU time (this process, all threads) is what the wall time would be on an idle machine with
    OMP_NUM_THREADS=1; on a shared machine the wall time can be several times larger.

    With ``expect_compute`` every change must really run ``compute`` (a setting the panel has not
    seen); otherwise the in-memory cache of a fresh panel is empty but functions wrapped in
    ``ntklib.cached`` may read their disk cache.
    """
    panel = entry.build()
    if panel.last_error is not None:
        raise SystemExit(f"{entry.name}: the default setting fails: {panel.last_error!r}")
    times, cpu_times = [], []
    for change in entry.changes:
        before = panel.n_computed
        start, cpu_start = time.perf_counter(), time.process_time()
        panel.update(**change)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        if panel.last_error is not None:
            raise SystemExit(f"{entry.name}: {change} failed: {panel.last_error!r}")
        if expect_compute and panel.n_computed != before + 1:
            raise SystemExit(f"{entry.name}: {change} was served from the cache; pick a new value")
        times.append(elapsed)
        cpu_times.append(cpu)
        if verbose:
            print(f"    {change}: {elapsed:.3f} s wall, {cpu:.3f} s CPU", flush=True)
    return times, cpu_times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run entries whose name contains this text")
    parser.add_argument("--goal", type=float, default=GOAL_SECONDS, help="goal in seconds")
    args = parser.parse_args(argv)
    # a fresh disk cache, so chapter functions wrapped in ntklib.cached really compute
    os.environ["NTKLIB_CACHE_DIR"] = tempfile.mkdtemp(prefix="ntklib-latency-")
    sys.path.insert(0, str(ROOT))
    print(
        f"widget latency (goal <= {args.goal:.2f} s per change); "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, cpus={os.cpu_count()}"
    )
    rows, failed = [], False
    for entry in ENTRIES:
        if args.only and args.only not in entry.name:
            continue
        print(f"  {entry.name} (uncached)", flush=True)
        wall, cpu = measure(entry)
        cold, cold_cpu = statistics.median(wall), statistics.median(cpu)
        warm = float("nan")
        if isinstance(entry, ChapterEntry):  # chapters precompute their grid: the reader's case
            print(f"  {entry.name} (disk cache warm, as after the precompute)", flush=True)
            entry.namespace.clear()
            warm = statistics.median(measure(entry, expect_compute=False)[0])
        ok = cold <= args.goal
        failed |= not ok
        rows.append((entry.name, cold, cold_cpu, warm, ok))
    print(
        f"\n{'panel (medians)':<48} {'uncached s':>10} {'CPU s':>6} {'warm s':>7} {'goal s':>7}"
        "  verdict (uncached wall)"
    )
    for name, cold, cold_cpu, warm, ok in rows:
        verdict = "ok" if ok else "SLOWER than goal"
        goal = args.goal
        print(f"{name:<48} {cold:>10.3f} {cold_cpu:>6.3f} {warm:>7.3f} {goal:>7.2f}  {verdict}")
    print(f"load average (1 min): {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
