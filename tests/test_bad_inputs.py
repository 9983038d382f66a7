"""Every public ntklib function answers bad input with ValueError/TypeError (or NotImplementedError
for a model without a closed form), never with a raw torch/numpy/Python error.

For each function we take one valid call and replace one argument at a time by each value of a
list of bad values (a string, negative and zero numbers, NaN, inf, a bool, a huge integer, an
empty tensor, a tensor of the wrong shape, a numpy array of strings, ...). The call must either
succeed (the value happens to be valid there) or raise one of the allowed exceptions whose
message names something to change. A raw ``RuntimeError`` from torch, ``IndexError``,
``ZeroDivisionError``, ``OverflowError``, ``AttributeError``, ``KeyError``, numpy's
``LinAlgError`` ... fails the test and names the function, the argument and the value.
"""

from __future__ import annotations

import math
import signal
from contextlib import contextmanager

import numpy as np
import pytest
import sklearn.datasets  # noqa: F401 - imported here, not under the per-call time limit
import torch

import ntklib as nl
from ntklib import experiments as E
from ntklib import theory as th

ALLOWED = (ValueError, TypeError, NotImplementedError, nl.DivergenceError)


def _bad_values():
    return {
        "str": "abc",
        "neg": -1,
        "zero": 0,
        "negf": -0.5,
        "nan": float("nan"),
        "inf": float("inf"),
        "bool": True,
        "huge": 10**12,
        "list": [],
        "empty": torch.empty(0, 4, dtype=torch.float64),
        "vec": torch.ones(3, dtype=torch.float64),
        "strarr": np.array(["a", "b"]),
        "obj": object(),
    }


def _data():
    X, y, _ = nl.sphere_data(6, 4, seed=0)
    return X, y


def _cases():
    X, y = _data()
    net = lambda: nl.MLP(4, 8, 2, seed=0)  # noqa: E731
    K = nl.analytic_ntk(X, depth=2)
    f0 = torch.zeros(6, dtype=torch.float64)
    fast = dict(steps=2, n=4, d=4)
    return [
        (nl.sphere_data, dict(n=5, d=4)),
        (nl.near_duplicate_pair, dict(n=5, d=4, delta=0.1)),
        (nl.circle_data, dict(n=8, frequency=2)),
        (nl.digits, dict(n=10)),
        (nl.min_distance, dict(X=X)),
        (nl.MLP, dict(d_in=4, width=8, depth=2)),
        (nl.TwoLayerNet, dict(d_in=4, width=8)),
        (nl.ResNet, dict(d_in=4, width=8, depth=2)),
        (nl.CNN, dict(in_channels=1, channels=2, depth=2, image_size=4)),
        (nl.OneWideLayerNet, dict(d_in=4, width=4, depth=2, wide_width=8)),
        (nl.train, dict(model=net(), X=X, y=y, lr=0.01, steps=2)),
        (nl.loss_value, dict(model=net(), X=X, y=y)),
        (nl.stable_learning_rate, dict(model=net(), X=X)),
        (nl.empirical_ntk, dict(model=net(), X1=X)),
        (nl.kernel_drift, dict(model_0=net(), model_t=net(), X=X)),
        (nl.ntk_learning_rate, dict(model=net(), X=X, factor=1.0)),
        (nl.limit_kernel, dict(model=net(), X1=X)),
        (nl.min_eigenvalue, dict(K=K)),
        (nl.lambda_max, dict(K=K)),
        (nl.analytic_ntk, dict(X1=X, depth=2)),
        (nl.analytic_nngp, dict(X1=X, depth=2)),
        (nl.du_two_layer_gram, dict(X=X)),
        (nl.du_deep_gram, dict(X=X, depth=2)),
        (nl.relu_step, dict(S=K)),
        (nl.kernel_regression, dict(K_train_train=K, y_train=y)),
        (nl.gd_dynamics, dict(K=K, y=y, f0=f0, lr=0.1, steps=3)),
        (nl.eigen_projection_curve, dict(K=K, y=y, lr=0.1, steps=3)),
        (nl.label_complexity, dict(K=K, y=y)),
        (nl.forward_norms, dict(model=net(), X=X)),
        (nl.backward_norms, dict(model=net(), X=X)),
        (nl.gradient_ratio, dict(model=net(), X=X, y=y)),
        (nl.semi_smoothness, dict(model=net(), X=X, y=y, radii=[1e-3], n_directions=2)),
        (nl.interpolation_path, dict(model_0=net(), model_T=net(), X=X, y=y, points=3)),
        (nl.activation_flips, dict(model_0=net(), model_t=net(), X=X)),
        (nl.spectral_norms, dict(model=net())),
        (nl.fit_slope, dict(x=[1.0, 2.0, 4.0], y=[1.0, 0.5, 0.25])),
        (nl.steps_to_reach, dict(loss_curve=[1.0, 0.1, 0.01], eps=0.05)),
        (nl.pick_device, dict(device="cpu")),
        (nl.make_generator, dict(seed=0)),
        (th.azls_width, dict(n=4, L=2, delta=0.5)),
        (th.azls_learning_rate, dict(n=4, L=2, delta=0.5, width=100.0)),
        (th.azls_iterations, dict(n=4, L=2, delta=0.5, eps=0.1)),
        (th.zou_gu_width, dict(n=4, L=2)),
        (th.du_two_layer_width, dict(n=4, lambda0=0.1, delta=0.1)),
        (th.du_two_layer_learning_rate, dict(n=4, lambda0=0.1)),
        (th.du_two_layer_rate, dict(lr=0.1, lambda0=0.1)),
        (th.du_two_layer_iterations, dict(n=4, lambda0=0.1, eps=0.1)),
        (th.du_deep_fc_width, dict(n=4, H=2)),
        (th.du_deep_fc_learning_rate, dict(n=4, H=2, lambda_min=0.1)),
        (th.du_deep_fc_iterations, dict(n=4, H=2, eps=0.1)),
        (th.du_resnet_width, dict(n=4, H=2)),
        (th.du_resnet_learning_rate, dict(n=4, H=2, lambda_min=0.1)),
        (th.du_resnet_iterations, dict(n=4, eps=0.1)),
        (th.oymak_soltanolkotabi_params, dict(n=4)),
        (th.kawaguchi_huang_params, dict(n=4)),
        (th.nguyen_width, dict(n=4)),
        (th.noy_width, dict(n=4, L=2)),
        (th.width_requirements, dict(n=4, L=2)),
        (E.surrogate_vs_relu, dict(width=8, depth=2, **fast)),
        (E.fit_run, dict(n=4, depth=2, width=8, steps=2, d=4)),
        (E.ntk_init_error, dict(width=8, depth=2, n=4, d=4)),
        (E.two_layer_lazy, dict(width=8, n=4, d=4, steps=2)),
        (E.lazy_rich, dict(alpha=1.0, width=8, n=4, n_test=4, d=4, steps=2)),
        (E.rich_vs_kernel, dict(alpha=1.0, n=4, d=4, width=8, depth=2, steps=2, n_test=4)),
        (E.gram_stability, dict(arch="fc", depth=2, width=8, n=4, d=4, steps=2)),
        (E.conv_resnet_run, dict(channels=2, depth=2, n=4, steps=2)),
        (E.one_wide_layer_init, dict(N=4, wide_width=8, d=4, width=4, depth=2, steps=2)),
        (E.gram_perturbation, dict(arch="fc", depth=2, width=8, n=4, d=4, seeds=2)),
        (E.max_stable_lr, dict(arch="fc", depth=2, width=8, n=4, d=4, steps=2, iters=1)),
        (E.reaches_target, dict(model="mlp", n=4, width=8, d=4, steps=2)),
        (E.one_wide_layer_run, dict(N=4, wide_width=8, d=4, width=4, depth=2, steps=2)),
    ]


#: Iteration counts: a huge value is valid there and only means a long run, so it is not tried.
COUNT_ARGS = {"steps", "max_steps", "iters", "max_iter", "seeds"}


class _TooLong(Exception):
    pass


@contextmanager
def _time_limit(seconds: float):
    """A safety net: a call that runs this long was given a valid but huge count (add the
    argument to COUNT_ARGS) or hangs; it fails the test instead of blocking the suite."""

    def handler(signum, frame):
        raise _TooLong

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _name(case):
    fn, _ = case
    return getattr(fn, "__qualname__", repr(fn))


@pytest.mark.parametrize("fn, kwargs", _cases(), ids=[_name(c) for c in _cases()])
def test_bad_values_raise_clear_errors(fn, kwargs):
    problems = []
    for arg in kwargs:
        for label, bad in _bad_values().items():
            if label == "huge" and arg in COUNT_ARGS:
                continue
            call = dict(kwargs)
            call[arg] = bad
            try:
                with _time_limit(60.0):
                    out = fn(**call)
            except _TooLong:
                problems.append(f"{arg}={label}: still running after 60 s")
                continue
            except ALLOWED as err:
                if not str(err).strip():
                    problems.append(f"{arg}={label}: {type(err).__name__} without a message")
                continue
            except Exception as err:  # noqa: BLE001 - the point of the test
                problems.append(f"{arg}={label}: raw {type(err).__name__}: {err}"[:300])
                continue
            if isinstance(out, float) and math.isnan(out) and label not in ("nan",):
                problems.append(f"{arg}={label}: returned NaN instead of raising")
    assert not problems, f"{_name((fn, kwargs))}:\n" + "\n".join(problems)


def test_valid_calls_succeed():
    """The baseline calls above are valid (else the test above would test nothing)."""
    for fn, kwargs in _cases():
        fn(**kwargs)
