"""Tests for ntklib.sweep: grid order, disk cache (no recomputation), parallel and Dask backends."""

import itertools
import os
import threading
import time
from pathlib import Path

import joblib
import numpy as np
import pytest

from ntklib.sweep import cache_dir_path, cached, expand_grid, sweep


# Module-level functions (joblib.Memory and process pools find functions by name). Each call
# appends a line to the file `log`, so tests count real evaluations across processes.
def logged_power(x, p, log):
    with open(log, "a") as fh:
        fh.write(f"{x},{p},{os.getpid()},{threading.current_thread().name}\n")
    return {"value": float(x) ** p, "vector": np.arange(3.0) * x}


def slow_square(x, log):
    time.sleep(0.05)
    return logged_power(x, 2, log)


def _count(log) -> int:
    return len(Path(log).read_text().splitlines()) if Path(log).exists() else 0


def _same(a, b) -> bool:
    return len(a) == len(b) and all(
        ra["value"] == rb["value"] and np.array_equal(ra["vector"], rb["vector"])
        for ra, rb in zip(a, b)
    )


def test_expand_grid_is_cartesian_in_product_order():
    grid = {"a": [1, 2, 3], "b": ["x", "y"]}
    expected = [dict(a=a, b=b) for a, b in itertools.product([1, 2, 3], ["x", "y"])]
    assert expand_grid(grid) == expected
    assert expand_grid(expected) == expected  # a list of dicts is used as given


def test_sweep_results_in_grid_order(tmp_path):
    log = str(tmp_path / "log.txt")
    out = sweep(logged_power, {"x": [1, 2, 3], "p": [1, 2], "log": [log]}, cache_dir=tmp_path / "c")
    assert [r["value"] for r in out] == [1.0, 1.0, 2.0, 4.0, 3.0, 9.0]
    assert _count(log) == 6


def test_sweep_second_call_reads_cache_without_recomputing(tmp_path):
    log = str(tmp_path / "log.txt")
    grid = {"x": [1.5, 2.5], "p": [2, 3], "log": [log]}
    first = sweep(logged_power, grid, cache_dir=tmp_path / "c")
    assert _count(log) == 4
    second = sweep(logged_power, grid, cache_dir=tmp_path / "c")
    assert _count(log) == 4, "cached results must not be recomputed"
    assert _same(first, second)
    # a new point is computed, the old ones are still read back
    sweep(logged_power, {"x": [1.5, 9.0], "p": [2], "log": [log]}, cache_dir=tmp_path / "c")
    assert _count(log) == 5
    # cache=False always recomputes
    sweep(logged_power, grid, cache_dir=tmp_path / "c", cache=False)
    assert _count(log) == 9


def test_cache_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKLIB_CACHE_DIR", str(tmp_path / "from_env"))
    assert cache_dir_path() == (tmp_path / "from_env").resolve()
    assert cache_dir_path(tmp_path / "arg") == (tmp_path / "arg").resolve()
    log = str(tmp_path / "log.txt")
    sweep(logged_power, {"x": [2], "p": [2], "log": [log]})
    assert (tmp_path / "from_env").is_dir() and any((tmp_path / "from_env").rglob("output.pkl"))
    monkeypatch.delenv("NTKLIB_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir_path() == (tmp_path / "home" / ".cache" / "ntklib").resolve()


def test_parallel_equals_serial(tmp_path):
    log = str(tmp_path / "log.txt")
    grid = {"x": [1, 2, 3, 4], "p": [2, 3], "log": [log]}
    serial = sweep(logged_power, grid, n_jobs=1, cache=False)
    parallel = sweep(logged_power, grid, n_jobs=2, cache=False)
    assert _same(serial, parallel)
    pids = {line.split(",")[2] for line in Path(log).read_text().splitlines()[8:]}
    assert str(os.getpid()) not in pids, "n_jobs=2 should run in worker processes"
    # parallel + cache: the parallel run fills the cache that a serial run then reads
    cached_par = sweep(logged_power, grid, n_jobs=2, cache_dir=tmp_path / "c")
    n = _count(log)
    cached_ser = sweep(logged_power, grid, n_jobs=1, cache_dir=tmp_path / "c")
    assert _count(log) == n and _same(cached_par, cached_ser) and _same(serial, cached_ser)


def test_dask_backend_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    log = str(tmp_path / "log.txt")
    # Two worker threads: with a single one, joblib sees effective_n_jobs == 1 and silently runs
    # the sequential backend in the main thread, so the Dask path would not be exercised at all.
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        with joblib.parallel_config(backend="dask"):
            out = sweep(slow_square, {"x": [1, 2, 3], "log": [log]}, n_jobs=2, cache=False)
    assert [r["value"] for r in out] == [1.0, 4.0, 9.0]
    threads = {line.split(",")[3] for line in Path(log).read_text().splitlines()}
    assert threading.main_thread().name not in threads, "tasks should run on the Dask worker"


def test_cached_decorator_counts_and_refuses_models(tmp_path):
    log = str(tmp_path / "log.txt")
    f = cached(logged_power, cache_dir=tmp_path / "c")
    a = f(3, 2, log)
    b = f(x=3, p=2, log=log)
    assert a["value"] == b["value"] == 9.0 and _count(log) == 1
    g = cached(cache_dir=tmp_path / "c")(logged_power)  # decorator-factory form, same cache
    g(3, 2, log)
    assert _count(log) == 1
    assert f.uncached is logged_power
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="plain numbers"):
        f(torch.ones(2), 2, log)


@pytest.mark.parametrize(
    "kwargs, err",
    [
        (dict(fn=lambda x: x, grid={"x": [1]}), ValueError),
        (dict(fn=logged_power, grid={"x": 1}), TypeError),
        (dict(fn=logged_power, grid={"x": "abc"}), TypeError),
        (dict(fn=logged_power, grid={"x": []}), ValueError),
        (dict(fn=logged_power, grid={}), ValueError),
        (dict(fn=logged_power, grid=[1, 2]), TypeError),
        (dict(fn=logged_power, grid={"x": [1]}, n_jobs=0), ValueError),
        (dict(fn=logged_power, grid={"x": [1]}, cache_dir=3), TypeError),
    ],
)
def test_sweep_validates_inputs(kwargs, err):
    with pytest.raises(err):
        sweep(**kwargs)


def test_local_function_is_refused():
    def local(x):
        return x

    with pytest.raises(ValueError, match="module-level"):
        cached(local)
