"""Tests for ntklib.models against independent references: hand-written forward passes, the
initialization formulas, finite differences, Monte Carlo, and calibration numbers measured once
(Allen-Zhu et al.'s Lemma 7.1: ||h_l|| near 1 at m = 4096)."""

import math

import pytest
import torch
import torch.nn.functional as F
from _helpers import close as _close

import ntklib as nl
from ntklib.layers import Conv, Dense
from ntklib.spec import activation_constant

ATTRS = ("width", "depth", "parameterization", "trainable", "activation", "d_in", "d_out")




def _within(sample: torch.Tensor, var: float, k: float = 5.0) -> bool:
    """Sample variance of i.i.d. N(0, var) entries is within k standard errors of var."""
    return abs(sample.var().item() - var) < k * var * math.sqrt(2 / sample.numel())


def _trainable_names(model):
    return {name.split(".")[0] for name, p in model.named_parameters() if p.requires_grad}


def _all_models():
    return [
        nl.MLP(6, 16, 3, parameterization="azls"),
        nl.MLP(6, 16, 3, parameterization="ntk", activation="softplus", d_out=3),
        nl.MLP(6, 16, 4, parameterization="standard", trainable="all", bias=True),
        nl.TwoLayerNet(6, 16),
        nl.ResNet(6, 16, 3, style="du"),
        nl.ResNet(6, 16, 3, style="azls", activation="softplus"),
        nl.CNN(1, 4, 3, image_size=3, d_out=2),
        nl.OneWideLayerNet(6, 4, 3, wide_width=16),
    ]


# ----------------------------------------------------------------------------- initialization


@pytest.mark.parametrize("parameterization", ["azls", "ntk", "standard"])
def test_mlp_init_laws(parameterization):
    d_in, m, d_out = 40, 300, 4
    net = nl.MLP(d_in, m, 3, d_out=d_out, parameterization=parameterization, seed=1)
    layers = net.weight_layers()
    assert list(layers) == ["A", "W1", "W2", "B"]
    c = 2.0
    expect = {  # (variance of the weight entries, multiplier), DESIGN.md (MLP laws)
        "azls": {"A": (c / m, 1), "W": (c / m, 1), "B": (1 / d_out, 1)},
        "ntk": {"A": (1, 1), "W": (1, math.sqrt(c / m)), "B": (1, math.sqrt(c / m))},
        "standard": {"A": (1, 1), "W": (c / m, 1), "B": (c / m, 1)},
    }[parameterization]
    for name, layer in layers.items():
        var, mult = expect[name[0]]
        assert isinstance(layer, Dense)
        assert _within(layer.weight.detach(), var), (name, layer.weight.var().item(), var)
        assert layer.multiplier == pytest.approx(mult, rel=1e-15)
    assert layers["A"].weight.shape == (m, d_in) and layers["B"].weight.shape == (d_out, m)


def test_mlp_sigma_w_changes_only_hidden_law():
    a = nl.MLP(10, 500, 3, sigma_w=1.0, seed=2)
    b = nl.MLP(10, 500, 3, seed=2)
    assert _within(a.W1.weight.detach(), 1.0 / 500)
    _close(a.W1.weight * math.sqrt(2.0), b.W1.weight)
    assert torch.equal(a.A.weight, b.A.weight) and torch.equal(a.B.weight, b.B.weight)
    ntk = nl.MLP(10, 500, 3, parameterization="ntk", sigma_w=3.0)
    assert ntk.W1.multiplier == pytest.approx(3.0 / math.sqrt(500))


def test_softplus_constant_monte_carlo(gen):
    z = torch.randn(2_000_000, generator=gen)
    second = F.softplus(z).pow(2)
    se = second.std().item() / math.sqrt(z.numel())
    assert abs(1 / activation_constant("softplus") - second.mean().item()) < 5 * se
    assert activation_constant("relu") == 2.0


def test_ntk_and_standard_are_the_same_function_at_init(sphere):
    X = sphere.X
    for act in ("relu", "softplus"):
        a = nl.MLP(6, 64, 4, parameterization="ntk", activation=act, seed=4)
        b = nl.MLP(6, 64, 4, parameterization="standard", activation=act, seed=4)
        _close(a(X), b(X), rtol=1e-12, atol=1e-12)


def test_twolayer_init():
    net = nl.TwoLayerNet(5, 2000, seed=3)
    # one hidden activation layer: depth = Du et al.'s H = 1, Allen-Zhu et al.'s L = 0
    assert set(net.weight_layers()) == {"W", "a"} and net.depth == 1
    assert net.H == 1 and net.L == 0
    assert _within(net.W.weight.detach(), 1.0)
    a = net.a.weight.detach()
    assert set(a.unique().tolist()) == {-1.0, 1.0}
    assert abs(a.mean().item()) < 5 / math.sqrt(2000)
    assert net.a.multiplier == pytest.approx(1 / math.sqrt(2000))


def test_resnet_du_init_all_standard_normal():
    net = nl.ResNet(8, 300, 3, style="du", seed=5)
    assert list(net.weight_layers()) == ["W1", "W2", "W3", "a"]
    for layer in net.weight_layers().values():
        assert _within(layer.weight.detach(), 1.0) and layer.multiplier == 1.0


def test_seed_determinism_and_global_rng_untouched():
    torch.manual_seed(0)
    state = torch.random.get_rng_state()
    a, b, c = nl.MLP(4, 8, 3, seed=7), nl.MLP(4, 8, 3, seed=7), nl.MLP(4, 8, 3, seed=8)
    assert torch.equal(torch.random.get_rng_state(), state)
    for name in a.weight_layers():
        assert torch.equal(getattr(a, name).weight, getattr(b, name).weight)
    assert not torch.equal(a.W1.weight, c.W1.weight)


# ------------------------------------------------------------------------ trainable / frozen


@pytest.mark.parametrize(
    "trainable, names",
    [("hidden", {"W1", "W2"}), ("all", {"A", "W1", "W2", "B"}), ("last", {"B"}),
     ("first", {"A"})],
)
def test_mlp_trainable_sets(trainable, names, sphere):
    net = nl.MLP(6, 8, 3, trainable=trainable)
    assert _trainable_names(net) == names
    for name, layer in net.weight_layers().items():
        assert layer.weight.requires_grad == (name in names)
    net(sphere.X).sum().backward()
    for name, layer in net.weight_layers().items():
        assert (layer.weight.grad is not None) == (name in names)


def test_other_models_trainable_sets():
    assert _trainable_names(nl.TwoLayerNet(3, 5)) == {"W"}
    assert _trainable_names(nl.TwoLayerNet(3, 5, trainable="all")) == {"W", "a"}
    assert _trainable_names(nl.TwoLayerNet(3, 5, trainable="last")) == {"a"}
    assert _trainable_names(nl.ResNet(3, 5, 2)) == {"W1", "W2", "a"}
    # "hidden" = every layer except the input and the output layer, for every model
    assert _trainable_names(nl.ResNet(3, 5, 3, trainable="hidden")) == {"W2", "W3"}
    assert _trainable_names(nl.ResNet(3, 5, 2, trainable="hidden")) == {"W2"}
    assert _trainable_names(nl.ResNet(3, 5, 3, style="azls", trainable="hidden")) == {"W1", "W2"}
    assert _trainable_names(nl.ResNet(3, 5, 3, trainable="first")) == {"W1"}
    assert _trainable_names(nl.CNN(1, 2, 3, trainable="last")) == {"B"}
    assert _trainable_names(nl.CNN(1, 2, 3, trainable="hidden")) == {"W1", "W2"}
    assert _trainable_names(nl.CNN(1, 2, 3, trainable="first")) == {"A"}
    wide = dict(wide_width=6)
    assert _trainable_names(nl.OneWideLayerNet(3, 4, 3, trainable="hidden", **wide)) == {"W2", "W3"}
    assert _trainable_names(nl.OneWideLayerNet(3, 4, 3, trainable="first", **wide)) == {"W1"}
    assert _trainable_names(nl.MLP(3, 5, 2, bias=True)) == {"W1"}
    assert not nl.MLP(3, 5, 2, bias=True).A.bias.requires_grad
    # a network without a layer between input and output layer has nothing to train as "hidden"
    for build in (lambda: nl.MLP(3, 5, 1), lambda: nl.TwoLayerNet(3, 5, trainable="hidden"),
                  lambda: nl.ResNet(3, 5, 1, trainable="hidden"),
                  lambda: nl.CNN(1, 2, 1, trainable="hidden"),
                  lambda: nl.OneWideLayerNet(3, 4, 1, wide_width=6, trainable="hidden")):
        with pytest.raises(ValueError, match="trainable='hidden'.*depth >= 2"):
            build()


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_depth_convention_and_paper_aliases(depth):
    """depth = number of hidden activation layers; L = depth - 1 (Allen-Zhu et al.), H = depth
    (Du et al.); the spec lists the model's layers with their current trained flags."""
    X = torch.randn(3, 9, generator=torch.Generator().manual_seed(0))
    for net in (nl.MLP(9, 6, depth, trainable="all"), nl.ResNet(9, 6, depth),
                nl.ResNet(9, 6, depth, style="azls", trainable="all"),
                nl.CNN(1, 2, depth, image_size=3), nl.OneWideLayerNet(9, 4, depth, wide_width=6)):
        assert net.depth == depth and net.L == depth - 1 and net.H == depth
        assert len(net.features(X).hidden) == depth
        assert len(net.weight_layers()) == depth + 1
        assert net.spec.names == list(net.weight_layers())
    mlp = nl.MLP(9, 6, depth, trainable="all")
    assert list(mlp.weight_layers()) == ["A"] + [f"W{l}" for l in range(1, depth)] + ["B"]
    assert mlp.spec.trainable_names == list(mlp.weight_layers())
    mlp.B.weight.requires_grad_(False)
    assert mlp.spec.trainable_names == list(mlp.weight_layers())[:-1]


@pytest.mark.parametrize("model", _all_models(), ids=lambda m: type(m).__name__)
def test_common_interface(model):
    for attr in ATTRS:
        assert hasattr(model, attr)
    n = 3
    X = torch.randn(n, model.d_in, generator=torch.Generator().manual_seed(0))
    out = model(X)
    assert out.shape == (n, model.d_out)
    feats = model.features(X)
    _close(feats.output, out)
    assert len(feats.preacts) == len(feats.hidden) >= 1
    for layer in model.weight_layers().values():
        assert isinstance(layer, (Dense, Conv))
    # every weight of the model lives in a Dense/Conv returned by weight_layers()
    in_layers = {id(layer.weight) for layer in model.weight_layers().values()}
    for name, p in model.named_parameters():
        if name.endswith("weight"):
            assert id(p) in in_layers, name


# ------------------------------------------------------------- forward vs hand computations


def test_mlp_forward_matches_hand_written(sphere):
    X = sphere.X
    m = 32
    for p in ("azls", "ntk", "standard"):
        for act, phi in (("relu", torch.relu), ("softplus", F.softplus)):
            net = nl.MLP(6, m, 3, d_out=2, parameterization=p, activation=act, seed=9)
            A, W1, W2, B = (getattr(net, k).weight.detach() for k in ("A", "W1", "W2", "B"))
            s = math.sqrt(activation_constant(act) / m) if p == "ntk" else 1.0
            h0 = phi(X @ A.T)
            h1 = phi(s * (h0 @ W1.T))
            h2 = phi(s * (h1 @ W2.T))
            f = s * (h2 @ B.T)
            _close(net(X), f, rtol=1e-12, atol=1e-12)
            feats = net.features(X)
            for got, want in zip(feats.hidden, (h0, h1, h2)):
                _close(got, want, rtol=1e-12, atol=1e-12)


def test_ntk_softplus_mlp_is_du_fully_connected_net(sphere):
    """DESIGN.md: "ntk" + c_sigma is Du et al.'s x^(h) = sqrt(c/m) sigma(W^(h) x^(h-1)),
    H = depth."""
    X, m = sphere.X, 40
    c = activation_constant("softplus")
    net = nl.MLP(6, m, 3, parameterization="ntk", activation="softplus", seed=2)
    assert net.H == 3
    x = X
    for name in ("A", "W1", "W2"):
        x = math.sqrt(c / m) * F.softplus(x @ getattr(net, name).weight.detach().T)
    _close(net(X), x @ net.B.weight.detach().T, rtol=1e-12, atol=1e-12)


def test_mlp_bias_forward(sphere):
    net = nl.MLP(6, 8, 2, trainable="all", bias=True, seed=1)
    with torch.no_grad():
        for layer in net.weight_layers().values():
            layer.bias.uniform_(-1, 1, generator=torch.Generator().manual_seed(2))
    h = torch.relu(sphere.X @ net.A.weight.T + net.A.bias)
    h = torch.relu(h @ net.W1.weight.T + net.W1.bias)
    _close(net(sphere.X), h @ net.B.weight.T + net.B.bias)


def test_twolayer_forward_matches_sum_formula(sphere):
    X = sphere.X
    m = 50
    net = nl.TwoLayerNet(6, m, seed=2)
    w, a = net.W.weight.detach(), net.a.weight.detach()[0]
    want = torch.stack([sum(a[r] * torch.relu(w[r] @ x) for r in range(m)) / math.sqrt(m)
                        for x in X])[:, None]
    _close(net(X), want, rtol=1e-12, atol=1e-12)


def test_resnet_forward_matches_hand_written(sphere):
    X = sphere.X
    m, H, c_res = 24, 3, 0.3
    for act, phi in (("relu", torch.relu), ("softplus", F.softplus)):
        c = activation_constant(act)
        net = nl.ResNet(6, m, H, style="du", activation=act, c_res=c_res, seed=3)
        W = [getattr(net, f"W{h}").weight.detach() for h in (1, 2, 3)]
        x = math.sqrt(c / m) * phi(X @ W[0].T)
        for h in (1, 2):
            x = x + c_res / (H * math.sqrt(m)) * phi(x @ W[h].T)
        _close(net(X), x @ net.a.weight.detach().T, rtol=1e-12, atol=1e-12)
    net = nl.ResNet(6, m, 3, style="azls", c_res=c_res, seed=4)  # L = 2 residual blocks
    A, W1, W2, B = (getattr(net, k).weight.detach() for k in ("A", "W1", "W2", "B"))
    h = torch.relu(X @ A.T)
    h = torch.relu(h + c_res * h @ W1.T)
    h = torch.relu(h + c_res * h @ W2.T)
    _close(net(X), h @ B.T, rtol=1e-12, atol=1e-12)
    assert _within(W1, 2 / m, k=6) and _within(A, 2 / m, k=6)


def _conv_by_unfold(x, weight, multiplier):
    n, _, s, _ = x.shape
    patches = F.unfold(x, kernel_size=weight.shape[-1], padding=weight.shape[-1] // 2)
    return multiplier * (weight.reshape(weight.shape[0], -1) @ patches).reshape(n, -1, s, s)


@pytest.mark.parametrize("residual", [False, True])
def test_cnn_forward_matches_unfold(residual):
    g = torch.Generator().manual_seed(5)
    X = torch.randn(4, 2, 6, 6, generator=g)
    C, L = 5, 2  # L hidden C -> C convolutions: depth = L + 1 conv + activation layers
    net = nl.CNN(2, C, L + 1, residual=residual, image_size=6, d_out=3, seed=6)
    h = torch.relu(_conv_by_unfold(X, net.A.weight.detach(), 1.0))
    for ell in (1, 2):
        z = _conv_by_unfold(h, getattr(net, f"W{ell}").weight.detach(), math.sqrt(2 / (C * 9)))
        h = h + torch.relu(z) / L if residual else torch.relu(z)
    want = math.sqrt(2 / C) * h.mean(dim=(2, 3)) @ net.B.weight.detach().T
    _close(net(X), want, rtol=1e-12, atol=1e-12)
    _close(net(X.reshape(4, -1)), want, rtol=1e-12, atol=1e-12)
    assert net.features(X).preacts[0].shape == (4, C, 6, 6)


# ------------------------------------------------------------------ gradients (float64 FD)


def _fd_check(model, X, n_coords=12):
    params = [p for p in model.parameters() if p.requires_grad]
    loss = lambda: 0.5 * (model(X) - 0.3).pow(2).sum()
    grads = torch.autograd.grad(loss(), params)
    g = torch.Generator().manual_seed(0)
    eps = 1e-6
    with torch.no_grad():
        for p, gp in zip(params, grads):
            for idx in torch.randint(0, p.numel(), (n_coords,), generator=g).tolist():
                flat = p.view(-1)
                flat[idx] += eps
                up = loss()
                flat[idx] -= 2 * eps
                down = loss()
                flat[idx] += eps
                fd = (up - down) / (2 * eps)
                assert abs(fd - gp.view(-1)[idx]) <= 1e-6 * (1 + abs(fd)), (idx, fd, gp)


@pytest.mark.parametrize(
    "make",
    [
        lambda: nl.MLP(6, 10, 3, trainable="all", activation="softplus"),
        lambda: nl.MLP(6, 10, 3, parameterization="ntk", trainable="all"),
        lambda: nl.MLP(6, 10, 2, trainable="all", bias=True),
        lambda: nl.ResNet(6, 10, 3, activation="softplus"),
        lambda: nl.ResNet(6, 10, 3, style="azls"),
        lambda: nl.TwoLayerNet(6, 10, trainable="all"),
        lambda: nl.CNN(1, 3, 2, image_size=4, residual=True, activation="softplus"),
    ],
)
def test_gradients_match_finite_differences(make, sphere):
    model = make()
    g = torch.Generator().manual_seed(1)
    X = sphere.X if model.d_in == 6 else torch.randn(5, model.d_in, generator=g)
    _fd_check(model, X)


# -------------------------------------------------------------- norm preservation (AZLS 7.1)


def test_azls_forward_norms_near_one():
    """Calibration measured once with these laws: L = 3, m = 4096 gives ||h_L|| in [0.925, 1.022]
    (Allen-Zhu et al.'s Lemma 7.1: ||h_l|| = 1 +- O(sqrt(L log(nL) / m)))."""
    X, _, _ = nl.sphere_data(32, 10, seed=0)
    net = nl.MLP(10, 4096, 4, seed=0)  # L = 3
    with torch.no_grad():
        norms = torch.stack([h.norm(dim=1) for h in net.features(X).hidden])  # (L+1, n)
    assert norms.min() > 0.9 and norms.max() < 1.1
    # deviations shrink with width (Lemma 7.1: ~ sqrt(L log(nL) / m))
    with torch.no_grad():
        narrow = torch.stack([h.norm(dim=1) for h in nl.MLP(10, 64, 4).features(X).hidden])
    assert (narrow - 1).abs().max() > 2 * (norms - 1).abs().max()


def test_du_normalisation_keeps_norms_near_one():
    """With c_sigma = 1/E[sigma(z)^2], Du et al.'s x^(h) = sqrt(c/m) h_(h-1) has norm ~ 1 (softplus
    too): an independent check of the quadrature constant."""
    X, _, _ = nl.sphere_data(16, 10, last_coord=False, seed=1)
    m = 1024
    # tolerances: ~1.5-2x the largest deviation seen over 6 seeds (ReLU 0.21, softplus 0.072); a
    # wrong constant (e.g. c = 2 for softplus) would give norms ~ sqrt(2 / 1.0855) = 1.36
    for act, tol in (("relu", 0.32), ("softplus", 0.15)):
        net = nl.MLP(10, m, 4, parameterization="ntk", activation=act, seed=2)
        c = activation_constant(act)
        with torch.no_grad():
            for h in net.features(X).hidden:
                norms = math.sqrt(c / m) * h.norm(dim=1)
                assert (norms - 1).abs().max() < tol, (act, norms)


# ------------------------------------------------------------------------------- linearize


def test_linearize_equals_model_at_init_and_is_linear(sphere):
    X = sphere.X
    net = nl.MLP(6, 20, 3, activation="softplus", trainable="all", seed=1)
    lin = nl.linearize(net)
    _close(lin(X), net(X), rtol=1e-12, atol=1e-12)
    assert {n for n, _ in lin.named_parameters()} == {
        "params.A__weight", "params.W1__weight", "params.W2__weight", "params.B__weight"}
    for attr in ATTRS:
        assert getattr(lin, attr) == getattr(net, attr)
    g = torch.Generator().manual_seed(2)
    V = {k: torch.randn(p.shape, generator=g) for k, p in lin.params.items()}
    f0 = lin(X).detach()

    def at(t):
        with torch.no_grad():
            for k, p in lin.params.items():
                p.copy_(dict(net.named_parameters())[k.replace("__", ".")] + t * V[k])
        return lin(X).detach()

    d1, d2 = at(1e-2) - f0, at(2e-2) - f0
    _close(d2, 2 * d1, rtol=1e-10, atol=1e-13)  # exactly linear in theta
    # directional derivative vs central finite difference of the real network
    eps = 1e-5
    with torch.no_grad():
        named = dict(net.named_parameters())
        for k, v in V.items():
            named[k.replace("__", ".")].add_(eps * v)
        up = net(X)
        for k, v in V.items():
            named[k.replace("__", ".")].sub_(2 * eps * v)
        down = net(X)
        for k, v in V.items():
            named[k.replace("__", ".")].add_(eps * v)
    _close(d1 / 1e-2, (up - down) / (2 * eps), rtol=1e-7, atol=1e-9)


def test_linearize_gradient_is_initial_jacobian(sphere):
    X = sphere.X
    net = nl.MLP(6, 12, 3, seed=3)  # trainable="hidden"
    lin = nl.linearize(net)
    assert set(lin.params) == {"W1__weight", "W2__weight"}
    with torch.no_grad():
        for p in lin.params.values():
            p.add_(0.3)  # move away from theta_0: the gradient must not change
    grads = torch.autograd.grad(lin(X).sum(), list(lin.params.values()))
    want = torch.autograd.grad(net(X).sum(), [net.W1.weight, net.W2.weight])
    for a, b in zip(grads, want):
        _close(a, b, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="trainable"):
        nl.linearize(nl.MLP(6, 4, 2).requires_grad_(False))


# ----------------------------------------------------------------------------- scaled


def test_scaled_zero_at_init_and_scaled_difference(sphere):
    X = sphere.X
    net = nl.MLP(6, 16, 3, seed=4)
    sc = nl.scaled(net, 7.0)
    assert torch.equal(sc(X), torch.zeros(len(X), 1))
    assert sc.weight_layers() == net.weight_layers()
    f0 = net(X).detach()
    with torch.no_grad():
        net.W1.weight.add_(0.05)
    _close(sc(X), 7.0 * (net(X) - f0))
    (g_sc,) = torch.autograd.grad(sc(X).sum(), net.W2.weight)
    (g_net,) = torch.autograd.grad(net(X).sum(), net.W2.weight)
    _close(g_sc, 7.0 * g_net)
    _close(sc.features(X).output, sc(X))
    with pytest.raises(ValueError):
        nl.scaled(net, 0.0)


# ----------------------------------------------------------------------- FixedPatternNet


@pytest.mark.parametrize(
    "make", [lambda: nl.MLP(6, 24, 4, trainable="all", d_out=2), lambda: nl.TwoLayerNet(6, 24),
             lambda: nl.MLP(6, 24, 3, parameterization="ntk")],
)
def test_fixed_pattern_equals_relu_at_init_everywhere(make, sphere):
    net = make()
    sur = nl.FixedPatternNet.from_net(net, sphere.X)
    Z = torch.randn(40, 6, generator=torch.Generator().manual_seed(8))  # not the cached X
    for inp in (sphere.X, Z):
        _close(sur(inp), net(inp), rtol=1e-12, atol=1e-12)
    # same patterns => same Jacobian at init
    names = [n for n, p in net.named_parameters() if p.requires_grad]
    assert names == [n for n, p in sur.named_parameters() if p.requires_grad]
    g_net = torch.autograd.grad(net(Z).sum(), [p for p in net.parameters() if p.requires_grad])
    g_sur = torch.autograd.grad(sur(Z).sum(), [p for p in sur.parameters() if p.requires_grad])
    for a, b in zip(g_net, g_sur):
        _close(a, b, rtol=1e-12, atol=1e-12)


def test_fixed_pattern_is_gated_linear_and_round_trips(sphere):
    X = sphere.X
    net = nl.MLP(6, 16, 3, seed=5)
    sur = nl.FixedPatternNet.from_net(net)
    masks = sur.gates(X)
    assert len(masks) == 3 and masks[0].dtype == torch.bool
    # hand-written surrogate with the frozen gates
    with torch.no_grad():
        sur.W1.weight.mul_(-1.5)  # flip many signs: the ReLU net would change its patterns
    A, W1, W2, B = (getattr(sur, k).weight.detach() for k in ("A", "W1", "W2", "B"))
    h = masks[0] * (X @ A.T)
    h = masks[1] * (h @ W1.T)
    h = masks[2] * (h @ W2.T)
    _close(sur(X), h @ B.T, rtol=1e-12, atol=1e-12)
    # multilinear: scaling one layer scales the output
    with torch.no_grad():
        before = sur(X)
        sur.W2.weight.mul_(3.0)
        _close(sur(X), 3.0 * before)
    relu = sur.to_relu()
    assert type(relu) is nl.MLP and _trainable_names(relu) == {"W1", "W2"}
    for name in ("A", "W1", "W2", "B"):
        assert torch.equal(getattr(relu, name).weight, getattr(sur, name).weight)
    hand = torch.relu(torch.relu(torch.relu(X @ A.T) @ W1.T) @ W2.T)  # views: current weights
    _close(relu(X), hand @ B.T, rtol=1e-12, atol=1e-12)
    # round trip at init: surrogate -> ReLU gives back the original network
    back = nl.FixedPatternNet.from_net(net).to_relu()
    _close(back(X), net(X), rtol=0, atol=0)


def test_fixed_pattern_rejects_non_relu():
    with pytest.raises(ValueError, match="ReLU"):
        nl.FixedPatternNet.from_net(nl.MLP(3, 4, 2, activation="softplus"))
    with pytest.raises(TypeError):
        nl.FixedPatternNet.from_net(nl.ResNet(3, 4, 1))


def test_wrappers_follow_dtype_changes(sphere):
    X32 = sphere.X.float()
    net = nl.MLP(6, 8, 2)
    for wrapped in (nl.FixedPatternNet.from_net(net, sphere.X), nl.linearize(net),
                    nl.scaled(net, 2.0)):
        wrapped = wrapped.to(torch.float32)
        assert wrapped(X32).dtype == torch.float32
    net.to(torch.float64)


# ------------------------------------------------------------------------ bad inputs


@pytest.mark.parametrize(
    "build, err, match",
    [
        (lambda: nl.MLP(3, 0, 2), ValueError, "width"),
        (lambda: nl.MLP(3, 4, 0), ValueError, "depth"),
        (lambda: nl.MLP(0, 4, 2), ValueError, "d_in"),
        (lambda: nl.MLP(3, 4.0, 2), TypeError, "width"),
        (lambda: nl.MLP(3, 4, 2, parameterization="mup"), ValueError, "parameterization"),
        (lambda: nl.MLP(3, 4, 2, trainable="middle"), ValueError, "trainable"),
        (lambda: nl.MLP(3, 4, 1, trainable="hidden"), ValueError, "trainable.*depth >= 2"),
        (lambda: nl.MLP(3, 4, 2, activation="tanh"), ValueError, "activation"),
        (lambda: nl.MLP(3, 4, 2, dtype="float64"), TypeError, "dtype"),
        (lambda: nl.MLP(3, 4, 2, dtype=torch.int64), ValueError, "dtype"),
        (lambda: nl.MLP(3, 4, 2, seed=-3), ValueError, "seed"),
        (lambda: nl.MLP(3, 4, 2, sigma_w=0.0), ValueError, "sigma_w"),
        (lambda: nl.MLP(3, 4, 2, sigma_w="1"), TypeError, "sigma_w"),
        (lambda: nl.TwoLayerNet(3, 0), ValueError, "width"),
        (lambda: nl.TwoLayerNet(3, 4, trainable="hidden"), ValueError, "trainable"),
        (lambda: nl.ResNet(3, 4, 0), ValueError, "depth"),
        (lambda: nl.ResNet(3, 4, 1, style="he"), ValueError, "style"),
        (lambda: nl.ResNet(3, 4, 1, c_res=-0.1), ValueError, "c_res"),
        (lambda: nl.CNN(1, 0, 1), ValueError, "channels"),
        (lambda: nl.CNN(1, 4, 0), ValueError, "depth"),
        (lambda: nl.CNN(1, 4, 1, kernel_size=2), ValueError, "kernel_size"),
        (lambda: nl.CNN(1, 4, 1, residual="yes"), TypeError, "residual"),
    ],
)
def test_bad_constructor_arguments(build, err, match):
    with pytest.raises(err, match=match):
        build()


def test_bad_inputs_have_clear_messages():
    net = nl.MLP(3, 4, 2)
    with pytest.raises(ValueError, match="expects d_in=3"):
        net(torch.zeros(5, 4))
    with pytest.raises(ValueError, match="2 dimensions"):
        net(torch.zeros(3))
    with pytest.raises(TypeError, match="dtype torch.float32.*X.to\\(torch.float64\\)"):
        net(torch.zeros(5, 3, dtype=torch.float32))
    with pytest.raises(TypeError, match="floating"):
        net(torch.zeros(5, 3, dtype=torch.int64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        net([[0.0, 0.0, 0.0]])
    cnn = nl.CNN(1, 2, 1)
    with pytest.raises(ValueError, match="64"):
        cnn(torch.zeros(2, 63))
    with pytest.raises(ValueError, match=r"\(n, 1, 8, 8\)"):
        cnn(torch.zeros(2, 1, 7, 7))


# ----------------------------------------------------------------------------- speed / GPU


@pytest.mark.gpu
def test_models_run_on_cuda(sphere):
    dev = nl.pick_device("cuda")
    for make in (lambda d: nl.MLP(6, 32, 3, seed=1, device=d),
                 lambda d: nl.ResNet(6, 32, 2, seed=1, device=d)):
        cpu, gpu = make(None), make(dev)
        assert gpu.W1.weight.device.type == "cuda"
        _close(gpu(sphere.X.to(dev)).cpu(), cpu(sphere.X))
    sur = nl.FixedPatternNet.from_net(nl.MLP(6, 32, 3)).to(dev)
    lin = nl.linearize(nl.MLP(6, 32, 3)).to(dev)
    Xd = sphere.X.to(dev)
    _close(sur(Xd), lin(Xd))
