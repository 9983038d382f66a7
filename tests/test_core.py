"""The network description (ntklib.spec) feeds both the model and its infinite-width kernel.

The central test: for every MLP option (parameterization x trainable x activation x sigma_w x bias)
and the other networks with a limit, the empirical NTK of random networks approaches
``limit_kernel`` with a relative error that falls like m^{-1/2}. A scale, a depth or a trained
layer that the model and the kernel read differently (e.g. the kernel ignoring ``sigma_w``, which
once gave a 75 % error that did not shrink with m) makes the error stall, and the test fail.
Plus: spec <-> model consistency, the depth convention, the per-step divergence checks of
``train``, the stability/singularity refusals of ``predict`` and the memory refusals.
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch

import ntklib as nl
from ntklib.spec import mlp_spec

N_SEEDS = 4
WIDTHS = (64, 1024)  # x16: a correct limit shrinks the error by about 4


def _inputs(d=5, n=5, seed=3):
    return nl.sphere_data(n, d, last_coord=False, seed=seed).X


def _mean_error(make, X, width):
    errs = []
    for s in range(N_SEEDS):
        model = make(width, s)
        K, K_inf = nl.empirical_ntk(model, X), nl.limit_kernel(model, X)
        errs.append(float(torch.linalg.norm(K - K_inf) / torch.linalg.norm(K_inf)))
    return sum(errs) / len(errs)


def _assert_converges(make, X, what):
    small, large = (_mean_error(make, X, m) for m in WIDTHS)
    ratio = small / large
    # m^{-1/2}: a ratio of sqrt(16) = 4 (finite-width bias makes it larger at small m); a
    # kernel that misses a factor stalls at ratio ~1. Band [2.5, inf), and the large-width error
    # within 6/sqrt(m) (about 1.5x the largest constant measured over all these options).
    assert ratio > 2.5, f"{what}: error {small:.3g} -> {large:.3g} (ratio {ratio:.2f}) as m x16"
    assert large < 6 / math.sqrt(WIDTHS[1]), f"{what}: error {large:.3g} at m = {WIDTHS[1]}"


MLP_OPTIONS = [
    dict(parameterization=p, trainable=t, activation=a, sigma_w=s, bias=b)
    for p, t, a, s, b in itertools.product(
        ("azls", "ntk", "standard"), ("hidden", "all", "first", "last"), ("relu", "softplus"),
        (None, 1.3), (False, True))
    if not (p == "azls" and a == "softplus")  # no limit: see test_azls_softplus_has_no_limit
]


@pytest.mark.parametrize("options", MLP_OPTIONS, ids=lambda o: "-".join(str(v) for v in o.values()))
def test_empirical_ntk_approaches_limit_kernel_for_every_mlp_option(options):
    X = _inputs()
    _assert_converges(lambda m, s: nl.MLP(5, m, 3, seed=s, **options), X, options)


@pytest.mark.parametrize("trainable", ["first", "last", "all"])
def test_two_layer_net_approaches_its_limit(trainable):
    X = _inputs()
    _assert_converges(lambda m, s: nl.TwoLayerNet(5, m, trainable=trainable, seed=s), X,
                      trainable)


def test_wrappers_share_the_limit_of_their_network():
    X = _inputs()
    base = dict(parameterization="azls", trainable="hidden")
    _assert_converges(lambda m, s: nl.FixedPatternNet.from_net(nl.MLP(5, m, 3, seed=s, **base)),
                      X, "FixedPatternNet")
    _assert_converges(lambda m, s: nl.scaled(nl.MLP(5, m, 3, seed=s, **base), 3.0), X, "scaled")
    net = nl.MLP(5, 64, 3, seed=0, **base)
    torch.testing.assert_close(nl.limit_kernel(nl.scaled(net, 3.0), X),
                               9.0 * nl.limit_kernel(net, X), rtol=1e-13, atol=0)
    torch.testing.assert_close(nl.limit_kernel(nl.linearize(net), X), nl.limit_kernel(net, X))


def test_limit_follows_the_flags_the_model_has_now():
    X = _inputs()
    net = nl.MLP(5, 64, 3, parameterization="ntk", trainable="all", seed=0)
    net.weight_layers()["A"].weight.requires_grad_(False)
    assert net.spec.trainable_names == ["W1", "W2", "B"]
    expected = nl.limit_kernels(net.spec, X).ntk
    full = nl.analytic_ntk(X, depth=3)
    assert not torch.allclose(expected, full)
    torch.testing.assert_close(nl.limit_kernel(net, X), expected)


def test_azls_softplus_has_no_limit():
    net = nl.MLP(5, 64, 3, parameterization="azls", activation="softplus", seed=0)
    with pytest.raises(NotImplementedError, match="azls"):
        nl.limit_kernel(net, _inputs())


@pytest.mark.parametrize("model", [nl.ResNet(5, 8, 2), nl.CNN(1, 2, 2, image_size=3),
                                   nl.OneWideLayerNet(5, 4, 2, wide_width=8)],
                         ids=["resnet", "cnn", "one-wide"])
def test_families_without_limit_say_so(model):
    with pytest.raises(NotImplementedError, match="empirical_ntk"):
        nl.limit_kernel(model, torch.zeros(2, model.d_in, dtype=torch.float64))


# ----------------------------------------------------------------------------- spec <-> model


@pytest.mark.parametrize("parameterization", ["azls", "ntk", "standard"])
def test_model_layers_are_built_from_the_spec(parameterization):
    net = nl.MLP(6, 300, 3, d_out=2, parameterization=parameterization, sigma_w=1.7, seed=1)
    for ls, (name, layer) in zip(net.spec.layers, net.weight_layers().items()):
        assert ls.name == name and layer.multiplier == ls.multiplier
        assert tuple(layer.weight.shape) == (ls.fan_out, ls.fan_in)
        assert layer.weight.requires_grad == ls.trainable
        sample_std = float(layer.weight.detach().std())
        assert abs(sample_std - ls.std) < 5 * ls.std / math.sqrt(2 * layer.weight.numel())


def test_one_depth_convention():
    X = _inputs()
    net = nl.MLP(5, 32, 4, parameterization="ntk", trainable="all")
    assert net.depth == 4 and net.L == 3 and net.H == 4
    assert len(net.features(X).hidden) == 4  # depth = number of activation layers
    assert list(net.weight_layers()) == ["A", "W1", "W2", "W3", "B"]
    # analytic_ntk's depth is the model's: Theta(x, x) = (depth + 1) |x|^2 for "ntk"
    torch.testing.assert_close(nl.analytic_ntk(X, depth=4).diagonal(),
                               torch.full((5,), 5.0, dtype=X.dtype))
    torch.testing.assert_close(nl.limit_kernel(net, X), nl.analytic_ntk(X, depth=4))
    # Allen-Zhu et al.'s L = depth - 1 trained layers: normalised diagonal L
    torch.testing.assert_close(nl.analytic_ntk(X, depth=4, parameterization="azls").diagonal(),
                               torch.full((5,), 3.0, dtype=X.dtype))
    for model in (nl.ResNet(5, 8, 4), nl.ResNet(5, 8, 4, style="azls"),
                  nl.CNN(1, 2, 4, image_size=3), nl.TwoLayerNet(5, 8)):
        x = torch.zeros(2, model.d_in, dtype=torch.float64)
        assert len(model.features(x).hidden) == model.depth, type(model).__name__


def test_hidden_means_the_same_layers_everywhere():
    assert nl.MLP(4, 8, 3).spec.trainable_names == ["W1", "W2"]
    assert nl.ResNet(4, 8, 3, trainable="hidden").spec.trainable_names == ["W2", "W3"]
    assert nl.CNN(1, 2, 3, trainable="hidden", image_size=3).spec.trainable_names == ["W1", "W2"]
    assert nl.TwoLayerNet(4, 8).spec.trainable_names == ["W"]  # "first", Du et al.'s w_r
    with pytest.raises(ValueError, match="hidden"):
        nl.TwoLayerNet(4, 8, trainable="hidden")
    with pytest.raises(ValueError, match="depth >= 2"):
        nl.MLP(4, 8, 1, trainable="hidden")


def test_sigma_w_scales_the_ntk_limit_as_the_homogeneity_says():
    """For ReLU and the NTK parameterization every term has all the gains: Theta scales by
    (sigma_w^2 / 2)^(depth - 1); the old table ignored sigma_w (a 75 % error at sigma_w = 1)."""
    X = _inputs()
    for sw in (1.0, 2.0):
        spec = mlp_spec(5, 1, 3, parameterization="ntk", trainable="all", sigma_w=sw)
        torch.testing.assert_close(nl.limit_kernels(spec, X).ntk,
                                   (sw**2 / 2) ** 2 * nl.analytic_ntk(X, depth=3))


# ----------------------------------------------------------------------------- train


def test_training_that_kills_the_network_raises():
    """lr 30x the stable one switches off every ReLU of a layer within a few steps: the loss sits
    at 1/2 |y|^2 and training would silently 'finish'; it must stop and say so."""
    X, y, _ = nl.sphere_data(16, 8, seed=0)
    lr = 30 * nl.stable_learning_rate(nl.MLP(8, 64, 2, seed=0), X)
    with pytest.raises(nl.DivergenceError, match="dead") as info:
        nl.train(nl.MLP(8, 64, 2, seed=0), X, y, lr=lr, steps=200)
    assert info.value.lr_stable is not None and info.value.lr_stable < lr / 10
    assert "lower the learning rate" in str(info.value)


def test_divergence_is_caught_between_logged_steps():
    X, y, _ = nl.sphere_data(16, 8, seed=0)
    lr = 100 * nl.stable_learning_rate(nl.MLP(8, 64, 3, seed=0), X)
    with pytest.raises(nl.DivergenceError) as info:
        nl.train(nl.MLP(8, 64, 3, seed=0), X, y, lr=lr, steps=200, log_every=1000)
    assert "step 2" in str(info.value) or "step 3" in str(info.value)


# ----------------------------------------------------------------------------- predict


def test_closed_form_dynamics_refuse_unstable_steps_and_singular_kernels():
    X = _inputs()
    K = nl.analytic_ntk(X, depth=2)
    y = torch.linspace(-1, 1, 5, dtype=torch.float64)
    lam = nl.lambda_max(K)
    nl.gd_dynamics(K, y, torch.zeros(5, dtype=torch.float64), lr=1.9 / lam, steps=5)
    with pytest.raises(ValueError, match="lr < 2 / lambda_max"):
        nl.gd_dynamics(K, y, torch.zeros(5, dtype=torch.float64), lr=2.1 / lam, steps=5)
    with pytest.raises(ValueError, match="lr < 2 / lambda_max"):
        nl.eigen_projection_curve(K, y, lr=2.1 / lam, steps=5)
    nl.gd_dynamics(K, y, torch.zeros(5, dtype=torch.float64), lr=2.1 / lam, steps=5,
                   continuous=True)
    Xd = torch.cat([X, X[:1]])  # a duplicate point: the kernel is singular
    Kd = nl.analytic_ntk(Xd, depth=2)
    yd = torch.cat([y, -y[:1]])
    with pytest.raises(ValueError, match="singular"):
        nl.kernel_regression(Kd, yd)
    with pytest.raises(ValueError, match="singular"):
        nl.label_complexity(Kd, yd)
    nl.kernel_regression(Kd, yd, ridge=1e-6)


# ----------------------------------------------------------------------------- memory


def test_refused_before_allocating():
    with pytest.raises(ValueError, match="distance matrix.*GiB.*fewer points"):
        nl.sphere_data(60000, 10)
    with pytest.raises(ValueError, match="distance matrix"):
        nl.circle_data(60000, 1.0)
    with pytest.raises(ValueError, match="parameters.*smaller"):
        nl.MLP(10, 10**6, 3)
    X = torch.randn(10, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="blocks of rows"):
        nl.kernels._check_kernel_memory(torch.empty(10**6, 1, dtype=torch.float64),
                                        torch.empty(10**6, 1, dtype=torch.float64), 4, "K")
    with pytest.raises(ValueError, match="fewer steps"):
        nl.gd_dynamics(torch.eye(10, dtype=torch.float64), X[:, 0], X[:, 1], lr=0.5,
                       steps=10**10)
