"""Shared pytest set-up for ntklib.

* Every test runs with torch's default dtype set to float64 (theory checks) and one CPU thread
  (the test machine is shared); the previous settings are restored afterwards.
* Tests marked ``@pytest.mark.gpu`` are skipped when CUDA is unavailable.
* Small shared fixtures: ``dtype``, ``gen`` (a seeded ``torch.Generator``), ``sphere`` (a small
  separated data set with Allen-Zhu et al.'s last coordinate).
"""

from __future__ import annotations

import pytest
import torch

import ntklib as nl


def pytest_collection_modifyitems(config, items):
    """Skip ``gpu``-marked tests on machines without CUDA."""
    if torch.cuda.is_available():
        return
    skip_gpu = pytest.mark.skip(reason="needs CUDA (torch.cuda.is_available() is False)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip_gpu)


@pytest.fixture(autouse=True)
def _float64_single_thread():
    old_dtype, old_threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    yield
    torch.set_default_dtype(old_dtype)
    torch.set_num_threads(old_threads)


@pytest.fixture
def dtype() -> torch.dtype:
    """The dtype of theory checks."""
    return torch.float64


@pytest.fixture
def gen() -> torch.Generator:
    """A seeded CPU generator (seed 1234) for test-side randomness."""
    return torch.Generator().manual_seed(1234)


@pytest.fixture
def sphere() -> nl.Data:
    """12 unit points in R^6 (last coordinate 1/sqrt 2), separation >= 0.2, Gaussian labels."""
    return nl.sphere_data(12, 6, delta=0.2, labels="gaussian", seed=3)
