"""Widget latency: seconds from a control change to a redrawn figure, for every chapter's panel.

A reader moves one control of a panel one step away from the defaults; the panel recomputes (a
setting it has not seen, with a disk cache that starts empty for each chapter) and redraws its PNG.
The goal is <= 1 s per change on 2 CPU cores (OMP_NUM_THREADS=1).

Run (from the repository root)::

    OMP_NUM_THREADS=1 python benchmarks/widget_latency.py              # every chapter
    OMP_NUM_THREADS=1 python benchmarks/widget_latency.py --only 15    # chapters whose file name
                                                                       # contains "15"
    OMP_NUM_THREADS=1 python benchmarks/widget_latency.py --generic    # also the reference rows

How a chapter is measured (generic, no per-chapter code): in a fresh subprocess, with a fresh
``NTKLIB_CACHE_DIR`` and ``NTKLIB_STATIC_PANELS=0`` (no static grid), the chapter's code cells
are executed in order up to and including the last cell that creates a panel (IPython magics and
shell lines are dropped; stdout is discarded). Every ``ntklib.widgets.Panel`` created is recorded.
For each panel, up to ``--changes`` controls (``seed`` last) are moved one step from their default
(the next option or slider step), each move timed with ``panel.update`` and undone afterwards (a
cache hit, not timed). Whatever the chapter itself precomputed before the panel (``nl.sweep`` /
``nl.cached``) counts as cached, exactly as for a reader running the notebook.

The table gives, per panel, the median and the largest wall time of the moves, the median CPU time
of this process (what the wall time would be on an idle machine), and the ratio of the median to
the goal. Exit status 1 if any median is above the goal.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 1.0
CHAPTER_TIMEOUT_S = 1200


# ----------------------------------------------------------------------------- chapter panels
def _cell_sources(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    sources = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        src = cell["source"]
        src = "".join(src) if isinstance(src, list) else src
        # IPython magics and shell escapes have no meaning outside a kernel
        lines = [ln for ln in src.splitlines() if not ln.lstrip().startswith(("%", "!"))]
        sources.append("\n".join(lines))
    return sources


def _neighbour(widget, value):
    """The value one step from ``value``: next option / slider step (previous at the end)."""
    options = getattr(widget, "_options_values", None)
    if options is not None:
        options = list(options)
        if len(options) < 2 or value not in options:
            return None
        i = options.index(value)
        return options[i + 1] if i + 1 < len(options) else options[i - 1]
    if isinstance(value, bool):
        return not value
    lo, hi, step = (getattr(widget, k, None) for k in ("min", "max", "step"))
    if None in (lo, hi, step):
        return None
    up = value + step
    new = up if up <= hi + 1e-12 else value - step
    if lo - 1e-12 <= new <= hi + 1e-12:
        return round(new, 12) if isinstance(new, float) else new
    return None


def measure_panel(panel, n_changes: int) -> dict:
    """Time up to ``n_changes`` one-step moves from the defaults (each undone afterwards)."""
    names = sorted(panel.controls, key=lambda n: (n == "seed" or n.endswith("_seed"),
                                                  list(panel.controls).index(n)))
    moves = []
    for name in names:
        value = _neighbour(panel.controls[name], panel.defaults[name])
        if value is not None:
            moves.append({name: value})
        if len(moves) == n_changes:
            break
    rows = []
    for move in moves:
        before = panel.n_computed
        start, cpu_start = time.perf_counter(), time.process_time()
        panel.update(**move)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        rows.append({"move": {k: repr(v) for k, v in move.items()}, "wall": wall, "cpu": cpu,
                     "computed": panel.n_computed > before,
                     "error": None if panel.last_error is None else repr(panel.last_error)[:200]})
        panel.update(**panel.defaults)  # back to the defaults (memory cache), not timed
    return {"title": panel.title or ", ".join(panel.controls), "moves": rows,
            "default_seconds": panel.first_seconds}


def run_chapter(notebook: Path, n_changes: int) -> dict:
    """Execute ``notebook`` up to its last panel and measure every panel (in this process)."""
    os.environ["NTKLIB_STATIC_PANELS"] = "0"
    if not os.environ.get("NTKLIB_CACHE_DIR"):  # the driver passes a temporary one
        raise SystemExit("run_chapter needs NTKLIB_CACHE_DIR (a fresh, temporary folder)")
    sys.path.insert(0, str(ROOT))
    import ntklib.widgets as widgets

    panels = []
    original_init = widgets.Panel.__init__

    def recording_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.first_seconds = self.last_seconds
        panels.append(self)

    widgets.Panel.__init__ = recording_init
    sources = _cell_sources(notebook)
    last = max((i for i, s in enumerate(sources) if "panel(" in s), default=None)
    if last is None:
        return {"notebook": notebook.name, "panels": [], "setup_seconds": 0.0}
    namespace = {"__name__": "__main__"}
    os.chdir(notebook.parent)  # notebooks run in their own folder (nbval, jupyter-book)
    start = time.perf_counter()
    with open(os.devnull, "w") as devnull, redirect_stdout(devnull):
        for i, src in enumerate(sources[: last + 1]):
            exec(compile(src, f"<{notebook.name} cell {i}>", "exec"), namespace)
    setup = time.perf_counter() - start
    return {"notebook": notebook.name, "setup_seconds": setup,
            "panels": [measure_panel(p, n_changes) for p in panels]}


# ----------------------------------------------------------------------------- reference rows
@dataclass
class FunctionEntry:
    """A panel built from functions defined in this file (reference points, ``--generic``)."""

    name: str
    compute: Callable
    plot: Callable
    controls: dict

    def run(self, n_changes: int) -> dict:
        from ntklib.widgets import Panel

        panel = Panel(self.compute, self.plot, self.controls, static=False)
        panel.first_seconds = panel.last_seconds
        return {"notebook": "(reference)", "setup_seconds": 0.0,
                "panels": [{**measure_panel(panel, n_changes), "title": self.name}]}


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


REFERENCE = [
    FunctionEntry("redraw floor (plot only)", plot_only_compute, mlp_training_plot,
                  {"width": [64, 128, 256, 512]}),
    FunctionEntry("generic MLP training (ntk param, 150 GD steps)", mlp_training_compute,
                  mlp_training_plot, {"width": [64, 128, 256, 512], "depth": (1, 4, 1)}),
]


# ----------------------------------------------------------------------------------- driver
def _run_in_subprocess(notebook: Path, n_changes: int, timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="ntklib-latency-") as tmp:
        out = Path(tmp) / "result.json"
        env = dict(os.environ, NTKLIB_CACHE_DIR=str(Path(tmp) / "cache"),
                   PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        cmd = [sys.executable, str(Path(__file__).resolve()), "--chapter", str(notebook),
               "--changes", str(n_changes), "--json", str(out)]
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"notebook": notebook.name, "error": f"timed out after {timeout:.0f} s"}
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return {"notebook": notebook.name, "error": " | ".join(tail)[:300]}
        return json.loads(out.read_text())


def _print_table(results: list[dict], goal: float) -> bool:
    failed = False
    print(f"\n{'chapter':<26} {'panel':<46} {'median s':>8} {'max s':>6} {'CPU s':>6} "
          f"{'x goal':>6}  verdict")
    for res in results:
        if "error" in res:
            print(f"{res['notebook']:<26} {'(could not run)':<46} {res['error']}")
            failed = True
            continue
        for panel in res["panels"]:
            moves = [m for m in panel["moves"] if m["error"] is None]
            if not moves:
                print(f"{res['notebook']:<26} {panel['title'][:46]:<46} (no move succeeded)")
                failed = True
                continue
            wall = statistics.median(m["wall"] for m in moves)
            cpu = statistics.median(m["cpu"] for m in moves)
            ok = wall <= goal
            failed |= not ok
            print(f"{res['notebook']:<26} {panel['title'][:46]:<46} {wall:>8.2f} "
                  f"{max(m['wall'] for m in moves):>6.2f} {cpu:>6.2f} {wall / goal:>6.1f}  "
                  f"{'ok' if ok else 'SLOWER than goal'}")
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="chapters whose file name contains this text")
    parser.add_argument("--goal", type=float, default=GOAL_SECONDS, help="goal in seconds")
    parser.add_argument("--changes", type=int, default=3, help="moves timed per panel")
    parser.add_argument("--generic", action="store_true", help="also the reference rows")
    parser.add_argument("--timeout", type=float, default=CHAPTER_TIMEOUT_S,
                        help="seconds per chapter")
    parser.add_argument("--chapter", type=Path, help=argparse.SUPPRESS)  # subprocess mode
    parser.add_argument("--json", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.chapter is not None:
        args.json.write_text(json.dumps(run_chapter(args.chapter.resolve(), args.changes)))
        return 0

    print(f"widget latency (goal <= {args.goal:.2f} s per change); "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, cpus={os.cpu_count()}")
    results = []
    if args.generic:
        sys.path.insert(0, str(ROOT))
        with tempfile.TemporaryDirectory(prefix="ntklib-latency-") as cache:
            os.environ["NTKLIB_CACHE_DIR"] = cache
            results += [entry.run(args.changes) for entry in REFERENCE]
            del os.environ["NTKLIB_CACHE_DIR"]
    for notebook in sorted((ROOT / "chapters").glob("*.ipynb")):
        if args.only and args.only not in notebook.name:
            continue
        start = time.perf_counter()
        res = _run_in_subprocess(notebook, args.changes, args.timeout)
        results.append(res)
        detail = res.get("error") or ", ".join(
            f"{m['wall']:.2f}" for p in res["panels"] for m in p["moves"])
        print(f"  {notebook.name}: {time.perf_counter() - start:.0f} s in all; moves (s): "
              f"{detail}", flush=True)
    failed = _print_table(results, args.goal)
    print(f"load average (1 min): {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpus")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
