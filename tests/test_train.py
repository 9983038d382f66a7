"""Tests of ntklib.train: the update against hand-written and finite-difference references,
convergence and non-convergence predicted by the theory, divergence, logging and validation."""

import math

import numpy as np
import pytest
import torch

from ntklib.data import sphere_data
from ntklib.losses import loss_value
from ntklib.models import MLP, TwoLayerNet
from ntklib.train import DivergenceError, History, stable_learning_rate, train


def sphere(n, d, seed=0, dtype=torch.float64):
    """n unit-norm Gaussian points in R^d and +-1 labels (own generator)."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=dtype)
    y = torch.randint(0, 2, (n,), generator=g).to(dtype) * 2 - 1
    return X / X.norm(dim=1, keepdim=True), y


def jacobian(model, X):
    """Explicit Jacobian (n * d_out, P) of the outputs w.r.t. the trainable parameters."""
    params = [p for p in model.parameters() if p.requires_grad]
    out = model(X).reshape(-1)
    rows = [torch.cat([g.reshape(-1) for g in torch.autograd.grad(o, params, retain_graph=True)])
            for o in out]
    return torch.stack(rows)


def flat_params(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters() if p.requires_grad])


def fd_gradient(model, X, y, loss, h=1e-6):
    """Central finite differences of loss_value over every trainable parameter entry."""
    grads = []
    for p in [p for p in model.parameters() if p.requires_grad]:
        g = torch.zeros_like(p)
        for idx in np.ndindex(*p.shape):
            with torch.no_grad():
                old = p[idx].item()
                p[idx] = old + h
                up = loss_value(model, X, y, loss)
                p[idx] = old - h
                down = loss_value(model, X, y, loss)
                p[idx] = old
            g[idx] = (up - down) / (2 * h)
        grads.append(g.reshape(-1))
    return torch.cat(grads)


@pytest.mark.parametrize("loss", ["mse_sum", "mse_mean", "cross_entropy"])
def test_one_step_is_minus_lr_times_finite_difference_gradient(loss):
    X, y = sphere(6, 3, seed=1)
    d_out = 3 if loss == "cross_entropy" else 1
    if loss == "cross_entropy":
        y = torch.tensor([0, 1, 2, 0, 1, 2])
    net = MLP(3, 5, 3, d_out=d_out, trainable="all", seed=3)
    fd = fd_gradient(net, X, y, loss)
    theta0 = flat_params(net)
    lr = 0.05
    hist = train(net, X, y, lr=lr, steps=1, loss=loss, diagnostics=("grad",))
    step = (flat_params(net) - theta0) / (-lr)
    torch.testing.assert_close(step, fd, rtol=1e-6, atol=1e-8)
    assert hist.grad_norm_sq[0] == pytest.approx(float(fd.square().sum()), rel=1e-6)
    assert hist.loss[0] == pytest.approx(loss_value(hist.model0, X, y, loss), rel=1e-12)


def test_gd_step_equals_hand_computed_backprop():
    """f = B relu(W1 relu(A x)), only W1 trained: dF/dW1 = sum_i e_i (D1_i B^T) h0_i^T."""
    X, y = sphere(7, 4, seed=2)
    net = MLP(4, 6, 2, seed=5)  # trainable="hidden": W1 only
    A, W, B = (net.weight_layers()[k].weight.detach().numpy().copy() for k in ("A", "W1", "B"))
    Xn, yn = X.numpy(), y.numpy()
    h0 = np.maximum(Xn @ A.T, 0)  # (n, m)
    z1 = h0 @ W.T
    e = np.maximum(z1, 0) @ B.T - yn[:, None]  # (n, 1)
    back = (z1 > 0) * B  # (n, m): D1_i B^T as rows
    grad = (e * back).T @ h0  # (m, m)
    lr = 0.3
    train(net, X, y, lr=lr, steps=1)
    np.testing.assert_allclose(net.W1.weight.detach().numpy(), W - lr * grad, rtol=1e-12,
                               atol=1e-14)


@pytest.mark.parametrize("trainable,moving", [("hidden", {"W1", "W2"}), ("last", {"B"}),
                                              ("all", {"A", "W1", "W2", "B"})])
def test_only_trainable_layers_move(trainable, moving):
    X, y = sphere(8, 3)
    net = MLP(3, 16, 3, trainable=trainable, seed=1)
    before = {k: l.weight.detach().clone() for k, l in net.weight_layers().items()}
    hist = train(net, X, y, lr=1e-3, steps=3, diagnostics=("distance",))
    for k, layer in net.weight_layers().items():
        changed = not torch.equal(layer.weight, before[k])
        assert changed == (k in moving), k
    assert set(hist.distance) == moving


def test_gd_on_wide_azls_mlp_interpolates_random_labels():
    """Width 1024 >> n = 20 separated points: GD with lr = 1/lambda_max(K) reaches F < 1e-8.

    For L = 1 with only W1 trained, df(x_i)/dW1 = (D1_i B^T) h0_i^T, so the NTK is
    K_ij = <h0_i, h0_j> * <D1_i B^T, D1_j B^T> (computed here by hand, not by autograd).
    """
    X, y, sep = sphere_data(20, 20, delta=0.5, last_coord=False, seed=0)
    assert torch.cdist(X, X)[~torch.eye(20, dtype=bool)].min() >= 0.5 - 1e-12 and sep >= 0.5
    net = MLP(20, 1024, 2, seed=0)
    with torch.no_grad():
        feats = net.features(X)
        h0, back = feats.hidden[0], (feats.preacts[1] > 0) * net.B.weight  # (n, m) each
        eig = torch.linalg.eigvalsh((h0 @ h0.T) * (back @ back.T))
    assert eig[0] > 0  # the kernel is positive definite
    hist = train(net, X, y, lr=1 / float(eig[-1]), steps=2000, target_loss=1e-8, log_every=10)
    assert hist.stopped == "target" and hist.final_loss < 1e-8
    assert hist.step[-1] <= 400  # about a second of CPU time (no wall-clock assert: shared CPUs)
    # linear rate: at least the kernel's worst-case contraction (1 - lr lambda_min)^2 per step
    k = int(hist.step[-1])
    assert hist.loss[-1] <= hist.loss[0] * (1 - float(eig[0] / eig[-1])) ** (2 * k) * 10


def test_random_features_interpolate_iff_width_reaches_n():
    """Training only B is least squares on the features H = h_L(X) (n x m): rank H <= m, so
    for m < n the loss stays at the residual 1/2 ||(I - P_H) y||^2 > 0; m >= n interpolates."""
    n = 24
    X, y = sphere(n, 20, seed=4)
    for width, fits, steps in [(6, False, 1000), (256, True, 5000)]:
        net = MLP(20, width, 1, trainable="last", seed=2)
        with torch.no_grad():
            H = net.features(X).hidden[-1]  # (n, m)
        s = torch.linalg.svdvals(H)
        residual = 0.5 * float((y - H @ torch.linalg.lstsq(H, y).solution).square().sum())
        hist = train(net, X, y, lr=1.8 / float(s[0] ** 2), steps=steps, target_loss=1e-9,
                     log_every=50)
        if fits:
            assert torch.linalg.matrix_rank(H) == n
            assert hist.final_loss < 1e-9
        else:
            assert residual > 1.0
            assert hist.final_loss >= residual * (1 - 1e-9)
            assert hist.final_loss == pytest.approx(residual, rel=1e-2)  # GD -> least squares


def test_huge_learning_rate_raises_divergence_with_stable_scale():
    X, y = sphere(10, 4, seed=0)
    net = MLP(4, 64, 3, seed=0)
    lam_max = float(torch.linalg.eigvalsh((J := jacobian(net, X)) @ J.T)[-1])
    lr = 100 / lam_max
    with pytest.raises(DivergenceError) as info:
        train(net, X, y, lr=lr, steps=200, diagnostics=("grad",))
    err = info.value
    assert isinstance(err, RuntimeError)
    assert f"lr={lr:.4g}" in str(err) and "lower the learning rate to below" in str(err)
    assert err.lr_stable == pytest.approx(2 / lam_max, rel=0.05)
    assert err.history.stopped == "diverged" and len(err.history.loss) >= 2
    assert not np.isfinite(err.history.loss[-1]) or err.history.loss[-1] > 1e6 * err.history.loss[0]


def test_non_finite_loss_raises_divergence():
    X, y = sphere(10, 4, seed=0)

    def poisoner(name):
        def poison(model):  # a NaN weight after iterate 2
            if len(calls) == 2:
                with torch.no_grad():
                    getattr(model, name).weight[0, 0] = math.nan
            calls.append(1)
            return 0.0
        return poison

    # a NaN in the frozen input layer: the parameters stay finite, the loss at iterate 3 is NaN
    calls = []
    with pytest.raises(DivergenceError, match="loss became non-finite") as info:
        train(MLP(4, 16, 2, seed=0), X, y, lr=1e-3, steps=10, hooks={"poison": (1, poisoner("A"))})
    assert info.value.history.step[-1] == 3 and np.isnan(info.value.history.loss[-1])
    assert info.value.history.stopped == "diverged"
    # a NaN in a trained weight is caught by the parameter check right after the update that
    # carries it, before the NaN loss of iterate 3 is computed: the history ends at iterate 2
    calls = []
    with pytest.raises(DivergenceError, match="step 3.*parameter tensor became non-finite") as info:
        train(MLP(4, 16, 2, seed=0), X, y, lr=1e-3, steps=10,
              hooks={"poison": (1, poisoner("W1"))})
    assert info.value.history.step[-1] == 2 and np.isfinite(info.value.history.loss).all()


def test_integer_inputs_are_converted_to_the_model_dtype():
    X, y = sphere(6, 3)
    Xi = (10 * X).round().long()
    a, b = MLP(3, 8, 2, seed=1), MLP(3, 8, 2, seed=1)
    ha = train(a, Xi, y, lr=1e-3, steps=3)
    hb = train(b, Xi.to(torch.float64), y, lr=1e-3, steps=3)
    np.testing.assert_array_equal(ha.loss, hb.loss)


def test_stable_learning_rate_matches_eigendecomposition():
    X, y = sphere(12, 3, seed=3)
    for loss, scale in [("mse_sum", 1.0), ("mse_mean", 12.0)]:
        net = MLP(3, 32, 2, trainable="all", d_out=2, seed=1)
        J = jacobian(net, X)  # (n d_out, P)
        lam = float(torch.linalg.eigvalsh(J @ J.T)[-1])
        est = stable_learning_rate(net, X, loss, iters=60)
        assert est == pytest.approx(2 * scale / lam, rel=1e-3)


def test_sgd_full_batch_equals_gd_and_is_seeded():
    X, y = sphere(16, 3, seed=0)
    runs = {}
    for key, kw in {"gd": {}, "sgd_full": dict(optimizer="sgd", batch_size=16),
                    "sgd_a": dict(optimizer="sgd", batch_size=4, seed=1),
                    "sgd_b": dict(optimizer="sgd", batch_size=4, seed=1),
                    "sgd_c": dict(optimizer="sgd", batch_size=4, seed=2)}.items():
        net = MLP(3, 32, 2, seed=7)
        runs[key] = (train(net, X, y, lr=1e-3, steps=12, **kw), flat_params(net))
    torch.testing.assert_close(runs["gd"][1], runs["sgd_full"][1], rtol=1e-12, atol=1e-13)
    assert torch.equal(runs["sgd_a"][1], runs["sgd_b"][1])
    assert not torch.equal(runs["sgd_a"][1], runs["sgd_c"][1])
    np.testing.assert_allclose(runs["gd"][0].loss, runs["sgd_full"][0].loss, rtol=1e-10)


def test_history_diagnostics_match_independent_computations():
    from ntklib.diagnostics import activation_flips

    X, y = sphere(10, 3, seed=5)
    net = MLP(3, 32, 3, seed=2)
    calls = []
    hooks = {"w1norm": (4, lambda mod: calls.append(1) or float(mod.W1.weight.detach().norm()))}
    hist = train(net, X, y, lr=2e-2, steps=10, log_every=3,
                 diagnostics=("grad", "distance", "spectral", "flips"), hooks=hooks)
    assert isinstance(hist, History) and hist.stopped == "steps"
    np.testing.assert_array_equal(hist.step, [0, 3, 6, 9, 10])
    assert hist.time.shape == (5,) and np.all(np.diff(hist.time) >= 0)
    assert hist.loss[-1] == pytest.approx(loss_value(net, X, y), rel=1e-12)
    np.testing.assert_allclose(hist.grad_ratio, hist.grad_norm_sq / hist.loss)
    w0 = hist.model0.weight_layers()
    for k in ("W1", "W2"):
        diff = (net.weight_layers()[k].weight - w0[k].weight).detach()
        assert hist.distance[k][0] == 0
        assert hist.distance[k][-1] == pytest.approx(float(diff.norm()), rel=1e-12)
        assert hist.spectral[k][-1] == pytest.approx(float(torch.linalg.svdvals(diff)[0]), rel=1e-9)
    assert list(hist.flips) == ["A", "W1", "W2"]
    final = [hist.flips[k][-1] for k in hist.flips]
    np.testing.assert_allclose(final, activation_flips(hist.model0, net, X))
    assert final[0] == 0 and final[2] > 0  # A is frozen; a lr this large flips some W2 signs
    np.testing.assert_array_equal(hist.extra_steps["w1norm"], [0, 4, 8, 10])
    assert hist.extra["w1norm"][-1] == pytest.approx(float(net.W1.weight.detach().norm()))
    assert len(calls) == 4
    assert hist.accuracy.size == 0  # only for cross-entropy


def test_target_loss_stops_early_and_interrupt_returns_history():
    X, y = sphere(10, 3, seed=5)
    net = MLP(3, 64, 2, seed=2)
    h = train(net, X, y, lr=1e-2, steps=500, target_loss=1.0)
    assert h.stopped == "target" and h.loss[-1] <= 1.0 < h.loss[-2]

    calls = []

    def stop(model):  # plays the user pressing Ctrl-C at the second call (iterate 7)
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return 0.0

    h = train(MLP(3, 64, 2, seed=2), X, y, lr=1e-2, steps=50, hooks={"stop": (7, stop)})
    assert h.stopped == "interrupted"
    assert h.step[-1] == 7 and len(h.loss) == 8


def test_cross_entropy_accuracy_and_float32():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(30, 4, generator=g, dtype=torch.float32)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0).long()  # 3 classes
    net = MLP(4, 128, 2, d_out=3, trainable="all", seed=0, dtype=torch.float32)
    h = train(net, X, y, lr=0.5, steps=60, loss="cross_entropy", log_every=20)
    with torch.no_grad():
        acc = float((net(X).argmax(1) == y).double().mean())
    assert h.accuracy[-1] == pytest.approx(acc)
    assert h.loss[-1] < h.loss[0] and h.accuracy[-1] > h.accuracy[0]
    assert net.B.weight.dtype == torch.float32


def test_loss_names_and_label_shapes():
    X, y = sphere(9, 3)
    net = TwoLayerNet(3, 40)
    f = net(X).detach()[:, 0]
    expected = 0.5 * float((f - y).square().sum())
    assert loss_value(net, X, y, "mse_sum") == pytest.approx(expected, rel=1e-12)
    assert loss_value(net, X, y[:, None], "mse_sum") == pytest.approx(expected, rel=1e-12)
    assert loss_value(net, X, y, "mse_mean") == pytest.approx(expected / 9, rel=1e-12)
    assert loss_value(net, X.numpy(), y.numpy()) == pytest.approx(expected, rel=1e-12)


def _bad_calls():
    X, y = sphere(6, 3)
    Xnan = X.clone()
    Xnan[0, 0] = math.nan
    ok = dict(lr=0.1, steps=2)
    return [
        (dict(ok, lr=0), ValueError, "lr must be finite and > 0.*stable_learning_rate"),
        (dict(ok, lr=-1.0), ValueError, "lr must be finite and > 0"),
        (dict(ok, lr=math.inf), ValueError, "lr must be finite"),
        (dict(ok, lr="0.1"), TypeError, "lr must be a real number"),
        (dict(ok, steps=0), ValueError, "steps must be an integer >= 1"),
        (dict(ok, steps=2.5), TypeError, "steps must be an integer.*pass steps=<int>"),
        (dict(ok, optimizer="adam"), ValueError,
         "unknown optimizer 'adam': pass optimizer= one of"),
        (dict(ok, loss="mae"), ValueError, "unknown loss 'mae': pass loss= one of"),
        (dict(ok, optimizer="sgd"), ValueError, "needs a mini-batch size: pass batch_size="),
        (dict(ok, optimizer="sgd", batch_size=7), ValueError, "pass batch_size <= 6"),
        (dict(ok, optimizer="sgd", batch_size=0), ValueError, "batch_size must be an integer"),
        (dict(ok, batch_size=2), ValueError, "only used by optimizer='sgd'"),
        (dict(ok, log_every=0), ValueError, "log_every must be an integer >= 1"),
        (dict(ok, diagnostics=("kernel",)), ValueError, "unknown diagnostic 'kernel': pass"),
        (dict(ok, hooks={"h": (0, len)}), ValueError, "hook 'h' must be \\(every, fn\\)"),
        (dict(ok, hooks={"h": len}), ValueError, "hook 'h' must be \\(every, fn\\)"),
        (dict(ok, target_loss=-1.0), ValueError, "target_loss must be finite and >= 0"),
        (dict(ok, X=Xnan), ValueError, "X contains NaN"),
        (dict(ok, y=y[:5]), ValueError, "y must have shape.*one label per row of X"),
        (dict(ok, y=torch.full((6,), math.inf, dtype=torch.float64)), ValueError,
         "y contains NaN"),
        (dict(ok, y=y[:, None].repeat(1, 2)), ValueError, "build the model with d_out"),
        (dict(ok, X=[[1.0]]), TypeError, "X must be a torch.Tensor or numpy array"),
        (dict(ok, X=X.to(torch.complex128)), TypeError, "X must be real"),
        (dict(ok, X=np.array([["a"] * 3] * 6)), TypeError, "X must hold numbers"),
        (dict(ok, loss="cross_entropy"), TypeError, "int64 class indices.*y.long\\(\\)"),
        (dict(ok, loss="cross_entropy", y=torch.arange(6)), ValueError,
         "out of range.*d_out = number of classes"),
    ]


@pytest.mark.parametrize("kwargs,exc,word", _bad_calls())
def test_bad_inputs_raise_with_a_fix(kwargs, exc, word):
    X, y = sphere(6, 3)
    kwargs = dict(kwargs)
    X, y = kwargs.pop("X", X), kwargs.pop("y", y)
    net = MLP(3, 8, 2)
    with pytest.raises(exc, match=word):
        train(net, X, y, **kwargs)


def test_model_without_trainable_parameters_raises():
    X, y = sphere(6, 3)
    net = MLP(3, 8, 2)
    net.W1.weight.requires_grad_(False)
    with pytest.raises(ValueError, match="trainable"):
        train(net, X, y, lr=0.1, steps=1)


def test_progress_bar_runs():
    X, y = sphere(6, 3)
    h = train(MLP(3, 8, 2), X, y, lr=1e-3, steps=5, progress=True)
    assert len(h.loss) == 6


@pytest.mark.gpu
def test_training_on_cuda_matches_cpu():
    X, y = sphere(16, 5, seed=1)
    cpu = MLP(5, 256, 3, seed=0)
    gpu = MLP(5, 256, 3, seed=0)
    h_cpu = train(cpu, X, y, lr=1e-3, steps=20, diagnostics=("grad", "distance", "flips"))
    h_gpu = train(gpu, X, y, lr=1e-3, steps=20, diagnostics=("grad", "distance", "flips"),
                  device="cuda")
    assert next(gpu.parameters()).device.type == "cuda"
    np.testing.assert_allclose(h_gpu.loss, h_cpu.loss, rtol=1e-8)
    np.testing.assert_allclose(h_gpu.distance["W2"], h_cpu.distance["W2"], rtol=1e-6, atol=1e-12)
