"""The papers' width, step-size and iteration bounds as small functions, plus log-log fitting.

Every bound in these papers hides constants in Omega / Theta / O / 2^{O(.)} notation. **Here every
hidden constant is set to 1** (and 2^{O(H)} is read as 2^H), so the functions give the *scaling* of
a bound, never a number a network must meet. Use them to compare exponents (e.g. with `fit_slope`),
not absolute sizes.

`BOUNDS` records, per paper: the arXiv id, the setting (trained layers, activation, loss,
parameterization), the width / iteration / learning-rate formulas as text, and the verification
status of those formulas as tagged in the project's fact sheet (``shared/THEORY.md``):
``"verified"`` only when every formula of the record is tagged VERIFIED there; otherwise
``"unverified"`` and ``status_detail`` says which part is which. Chapters must phrase an
unverified record as the abstract does, or as a hypothesis.

Notation trap: delta is the *data separation* in Allen-Zhu, Li & Song (and Zou & Gu's phi), but the
*failure probability* in Du et al.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Bound",
    "BOUNDS",
    "azls_width",
    "azls_learning_rate",
    "azls_iterations",
    "zou_gu_width",
    "du_two_layer_width",
    "du_two_layer_learning_rate",
    "du_two_layer_rate",
    "du_two_layer_iterations",
    "du_deep_fc_width",
    "du_deep_fc_learning_rate",
    "du_deep_fc_iterations",
    "du_resnet_width",
    "du_resnet_learning_rate",
    "du_resnet_iterations",
    "oymak_soltanolkotabi_params",
    "kawaguchi_huang_params",
    "nguyen_width",
    "noy_width",
    "fit_slope",
    "steps_to_reach",
    "width_requirements",
    "last_layer_gram",
    "gram_perturbation",
    "max_stable_lr",
    "reaches_target",
    "min_width_needed",
    "one_wide_layer_run",
]


# ----------------------------------------------------------------------------- validation


def _pos(name: str, value, *, integer: bool = False) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value <= 0 or (integer and value != int(value)):
        kind = "an integer >= 1" if integer else "a finite number > 0"
        raise ValueError(f"{name} must be {kind}, got {value!r}: pass {name}=... > 0")
    return float(value)


def _separation(delta) -> float:
    delta = _pos("delta", delta)
    if delta > 2:
        raise ValueError(f"delta is the separation of unit-norm inputs, so it is at most 2, got "
                         f"{delta}: pass 0 < delta <= 2")
    return delta


def _probability(delta) -> float:
    delta = _pos("delta", delta)
    if delta >= 1:
        raise ValueError(f"delta is a failure probability here (Du et al.), got {delta}: pass "
                         "0 < delta < 1")
    return delta


def _eps(eps) -> float:
    eps = _pos("eps", eps)
    if eps >= 1:
        raise ValueError(f"eps must lie in (0, 1) (the target accuracy), got {eps}: pass e.g. 1e-3")
    return eps


# ----------------------------------------------------------------------------- Allen-Zhu, Li, Song


def azls_width(n: int, L: int, delta: float, *, tol: float = 1e-12, max_iter: int = 500) -> float:
    """Smallest width m with m >= n^24 L^12 log^5(m) / delta^8 (Allen-Zhu, Li & Song, constants 1).

    Allen-Zhu, Li & Song, "A Convergence Theory for Deep Learning via Over-Parameterization",
    arXiv 1811.03962 (ICML 2019), GD theorem for output dimension d = 1 as restated with explicit
    exponents by Basri et al. (arXiv 2003.04560, App. D.4 Thm 5): m >= Omega(n^24 L^12 log^5 m /
    delta^8), delta = data separation (||x_i - x_j|| >= delta), delta in (0, O(1/L)]. The Omega
    constant is set to 1 here. The condition is implicit in m; writing u = log m it reads
    u >= log C + 5 log u with C = n^24 L^12 / delta^8, and we return exp(u*) for the largest root
    u*, found by the fixed-point iteration u <- log C + 5 log u started above the root (the map
    is a contraction there: its slope 5 / u is < 1 for u > 5). Version note: the exponents changed
    between arXiv versions (an early version needed n^30); cite v5.

    Args:
        n: number of samples; L: number of trained hidden layers; delta: data separation.

    Returns:
        The width m (a float; it can exceed 1e100).
    """
    n, L, delta = _pos("n", n, integer=True), _pos("L", L, integer=True), _separation(delta)
    log_c = 24 * math.log(n) + 12 * math.log(L) - 8 * math.log(delta)
    u = max(log_c, 0.0) + 5 * math.log(max(log_c, 1.0)) + 60.0  # start above the largest root
    for _ in range(max_iter):
        u_new = log_c + 5 * math.log(u)
        if abs(u_new - u) <= tol * u:
            return math.exp(u_new)
        u = u_new
    raise RuntimeError(f"azls_width: fixed point did not converge in {max_iter} iterations")


def azls_learning_rate(n: int, L: int, delta: float, width: float) -> float:
    """eta = delta / (n^4 L^2 m) (Allen-Zhu, Li & Song, arXiv 1811.03962, Theta-constant 1).

    GD step size of the d = 1 theorem as restated by Basri et al. (arXiv 2003.04560, Thm 5):
    eta = Theta(delta / (n^4 L^2 m)), for the loss F = sum_i 1/2 (f(x_i) - y_i)^2 with A, B fixed.
    Compare the stability scale 2 / lambda_max(K) ~ 4 / (n m L) of the AZLS-parameterized NTK:
    the theorem's step is smaller by a factor ~ delta / (n^3 L).
    """
    n, L = _pos("n", n, integer=True), _pos("L", L, integer=True)
    return _separation(delta) / (n**4 * L**2 * _pos("width", width))


def azls_iterations(n: int, L: int, delta: float, eps: float) -> float:
    """T = n^6 L^2 / delta^2 * log(1/eps) (Allen-Zhu, Li & Song, arXiv 1811.03962, constants 1).

    Number of GD iterations to reach F <= eps (Basri et al. restatement, Thm 5, Theta-constant 1).
    Consistency: the per-step contraction eta delta m / n^2 with eta = delta / (n^4 L^2 m) is
    delta^2 / (n^6 L^2).
    """
    n, L, delta = _pos("n", n, integer=True), _pos("L", L, integer=True), _separation(delta)
    return n**6 * L**2 / delta**2 * math.log(1.0 / _eps(eps))


# ----------------------------------------------------------------------------- Zou & Gu


def zou_gu_width(n: int, L: int) -> float:
    """m = n^8 L^12 (Zou & Gu, arXiv 1906.04688, NeurIPS 2019; constants and data factors 1).

    "An Improved Analysis of Training Over-parameterized Deep Neural Networks": width
    Omega(n^8 L^12) up to data-dependent factors (the separation phi enters too; its exponent is not
    verified and is left out here).
    """
    return _pos("n", n, integer=True) ** 8 * _pos("L", L, integer=True) ** 12


# ----------------------------------------------------------------------------- Du et al. two-layer


def du_two_layer_width(n: int, lambda0: float, delta: float) -> float:
    """m = n^6 / (lambda0^4 delta^3) (Du, Zhai, Poczos & Singh, arXiv 1810.02054v3, Thm 4.1).

    "Gradient Descent Provably Optimizes Over-parameterized Neural Networks" (ICLR 2019): two-layer
    ReLU net f = m^{-1/2} sum_r a_r relu(w_r^T x), only W trained, m = Omega(n^6 / (lambda0^4
    delta^3)) with lambda0 = lambda_min(H^inf) and **delta the failure probability** (not a
    separation). Omega-constant set to 1.
    """
    return (_pos("n", n, integer=True) ** 6
            / (_pos("lambda0", lambda0) ** 4 * _probability(delta) ** 3))


def du_two_layer_learning_rate(n: int, lambda0: float) -> float:
    """eta = lambda0 / n^2 (Du, Zhai, Poczos & Singh, arXiv 1810.02054, Thm 4.1; O-constant 1)."""
    return _pos("lambda0", lambda0) / _pos("n", n, integer=True) ** 2


def du_two_layer_rate(lr: float, lambda0: float) -> float:
    """Per-step contraction 1 - eta lambda0 / 2 of ||u(k) - y||^2 (arXiv 1810.02054, Thm 4.1).

    ||u(k) - y||^2 <= (1 - eta lambda0 / 2)^k ||u(0) - y||^2 (exact factor as restated).
    """
    rate = 1.0 - _pos("lr", lr) * _pos("lambda0", lambda0) / 2
    if rate < 0:
        raise ValueError(f"lr * lambda0 / 2 = {1 - rate:.3g} > 1: the theorem needs "
                         "eta = O(lambda0 / n^2); pass a smaller lr")
    return rate


def du_two_layer_iterations(n: int, lambda0: float, eps: float) -> float:
    """k = n^2 / lambda0^2 * log(1/eps) (arXiv 1810.02054, Thm 4.1 with eta = lambda0 / n^2).

    The paper says O(log(1/eps)) iterations; with eta = lambda0 / n^2 plugged into the contraction
    1 - eta lambda0 / 2 this is O(n^2 / lambda0^2 log(1/eps)); the O-constant is set to 1.
    """
    return _pos("n", n, integer=True) ** 2 / _pos("lambda0", lambda0) ** 2 * math.log(1 / _eps(eps))


# ----------------------------------------------------------------------------- Du et al. deep


def du_deep_fc_width(n: int, H: int) -> float:
    """m = n^4 2^H (Du, Lee, Li, Wang & Zhai, arXiv 1811.03804, deep FC, intro summary).

    "Gradient Descent Finds Global Minima of Deep Neural Networks" (ICML 2019): for fully connected
    nets with smooth activations (not ReLU), m >~ n^4 2^{O(H)} ignoring data-dependent factors
    (Theorem 5.1 has three terms involving lambda_min(K^(H)); those are not encoded here).
    2^{O(H)} is read as 2^H (constant 1).
    """
    return _pos("n", n, integer=True) ** 4 * 2.0 ** _pos("H", H, integer=True)


def du_deep_fc_learning_rate(n: int, H: int, lambda_min: float) -> float:
    """eta = lambda_min(K^(H)) / (n^2 2^H) (arXiv 1811.03804, Thm 5.1; constants 1)."""
    return (_pos("lambda_min", lambda_min)
            / (_pos("n", n, integer=True) ** 2 * 2.0 ** _pos("H", H, integer=True)))


def du_deep_fc_iterations(n: int, H: int, eps: float) -> float:
    """T = n^2 2^H log(1/eps) (arXiv 1811.03804, intro summary for deep FC; constants 1)."""
    return (_pos("n", n, integer=True) ** 2 * 2.0 ** _pos("H", H, integer=True)
            * math.log(1 / _eps(eps)))


def du_resnet_width(n: int, H: int) -> float:
    """m = n^4 H^2 (arXiv 1811.03804, ResNet, intro summary; data-dependent factors dropped).

    ResNet with x^(h) = x^(h-1) + c_res / (H sqrt(m)) sigma(W^(h) x^(h-1)), smooth activation, all
    layers trained: m >~ n^4 H^2 ("fully polynomial"). The exact four-term width of Theorem 6.1
    is not encoded. Constant set to 1.
    """
    return _pos("n", n, integer=True) ** 4 * _pos("H", H, integer=True) ** 2


def du_resnet_learning_rate(n: int, H: int, lambda_min: float) -> float:
    """eta = lambda_min(K^(H)) H^2 / n^2 (arXiv 1811.03804, Thm 6.1; constant 1)."""
    return (_pos("lambda_min", lambda_min) * _pos("H", H, integer=True) ** 2
            / _pos("n", n, integer=True) ** 2)


def du_resnet_iterations(n: int, eps: float) -> float:
    """T = n^2 log(1/eps) (arXiv 1811.03804, ResNet intro summary; data factors and constant 1)."""
    return _pos("n", n, integer=True) ** 2 * math.log(1 / _eps(eps))


# ----------------------------------------------------------------------------- practical widths


def oymak_soltanolkotabi_params(n: int) -> float:
    """#params = n^2, i.e. sqrt(#params) >~ n (Oymak & Soltanolkotabi, arXiv 1902.04674).

    "Toward moderate overparameterization" (IEEE JSAIT 2020), abstract: for shallow nets with smooth
    activations (also ReLU), (S)GD from random init converges geometrically "as soon as the square
    root of the number of network parameters exceeds the size of the training data", i.e. k d >~ n^2
    for k hidden units, input dimension d, input layer trained. Constant set to 1.
    """
    return _pos("n", n, integer=True) ** 2


def kawaguchi_huang_params(n: int) -> float:
    """#params = n (Kawaguchi & Huang, arXiv 1908.02419; log factors and constants set to 1).

    "Gradient Descent Finds Global Minima for Generalizable Deep Neural Networks of Practical
    Sizes", abstract: the number of trainable parameters only needs to grow linearly in n, which is
    optimal up to log factors.
    """
    return _pos("n", n, integer=True)


def nguyen_width(n: int, kind: str = "linear") -> float:
    """Width N, N^2 or N^3 of the single wide layer (Nguyen, arXiv 2101.09612v3, ICML 2021).

    "On the Proof of Global Convergence of Gradient Descent for Deep ReLU Networks with Linear
    Widths", abstract: a single wide layer of **linear, quadratic or cubic** width suffices,
    depending on the type of initialization (and/or depth, v1). **Which initialization gives which
    width is not verified**: ``kind`` only selects the exponent (1, 2, 3); constants set to 1.
    """
    powers = {"linear": 1, "quadratic": 2, "cubic": 3}
    if kind not in powers:
        raise ValueError(f"unknown kind={kind!r}: pass 'linear', 'quadratic' or 'cubic'")
    return _pos("n", n, integer=True) ** powers[kind]


def noy_width(n: int, L: int) -> float:
    """m = n^2 L: widths "quadratic in the sample size and linear in their depth" (2101.04243).

    Noy, Xu, Aflalo, Zelnik-Manor & Jin, "A Convergence Theory Towards Practical
    Over-parameterized Deep Neural Networks" (2021), abstract. Only the scaling is from the
    abstract; the exact width formula (log and data-dependent factors, constants) is **not
    verified**, so this is n^2 L with every hidden factor set to 1 -- a hypothesis to test, not a
    theorem. The abstract gives the time as logarithmic in n and L; its exact form is not verified
    and no function is provided for it.
    """
    return _pos("n", n, integer=True) ** 2 * _pos("L", L, integer=True)


# ----------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Bound:
    """One paper's convergence guarantee, as text plus the functions implementing it.

    Attributes:
        name: registry key; paper: authors, title, venue; arxiv: id (with version if known);
        trained_layers, activation, loss, parameterization: the setting;
        width, iterations, learning_rate: formulas as text ("-" if the paper gives none);
        status: "verified" or "unverified" (see the module docstring);
        status_detail: which parts are verified and against what;
        functions: names of the functions of this module implementing the formulas.
    """

    name: str
    paper: str
    arxiv: str
    trained_layers: str
    activation: str
    loss: str
    parameterization: str
    width: str
    iterations: str
    learning_rate: str
    status: str
    status_detail: str
    functions: tuple[str, ...]


BOUNDS: dict[str, Bound] = {b.name: b for b in (
    Bound("allen-zhu-li-song", "Allen-Zhu, Li, Song, A Convergence Theory for Deep Learning via "
          "Over-Parameterization, ICML 2019", "1811.03962 (cite v5)",
          "W_1..W_L (A, B fixed)", "ReLU", "sum_i 1/2 ||f(x_i) - y_i||^2",
          "A, W_l ~ N(0, 2/m), B ~ N(0, 1/d), multipliers 1",
          "m >= Omega(n^24 L^12 log^5 m / delta^8), delta = separation, d = 1",
          "T = Theta(n^6 L^2 / delta^2 log(1/eps))", "eta = Theta(delta / (n^4 L^2 m))",
          "verified", "explicit d = 1 exponents verified via Basri et al. 2003.04560 App. D.4 "
          "Thm 5 (restating AZLS); general-d and SGD versions, the exact init variances and "
          "the 1/sqrt(2) last-coordinate normalisation are unverified",
          ("azls_width", "azls_learning_rate", "azls_iterations")),
    Bound("zou-gu", "Zou, Gu, An Improved Analysis of Training Over-parameterized Deep Neural "
          "Networks, NeurIPS 2019", "1906.04688", "unverified", "ReLU",
          "unverified", "Gaussian init (details unverified)",
          "m = Omega(n^8 L^12) up to data-dependent factors",
          "O(n^2 L^2 phi^-1 log(1/eps)) (unverified)", "-",
          "unverified", "width n^8 L^12 verified (secondary table); the phi exponent, the "
          "iteration count and the trained layers are unverified",
          ("zou_gu_width",)),
    Bound("du-two-layer", "Du, Zhai, Poczos, Singh, Gradient Descent Provably Optimizes "
          "Over-parameterized Neural Networks, ICLR 2019", "1810.02054v3",
          "W (first layer); a = +-1 fixed", "ReLU", "sum_i 1/2 (f(x_i) - y_i)^2",
          "f = m^{-1/2} sum_r a_r relu(w_r.x), w_r ~ N(0, I)",
          "m = Omega(n^6 / (lambda0^4 delta^3)), delta = failure probability",
          "(1 - eta lambda0 / 2)^k contraction => O(n^2 / lambda0^2 log(1/eps))",
          "eta = O(lambda0 / n^2)", "verified",
          "Thm 4.1 (width, eta, rate) verified by several independent restatements; the "
          "iteration count is derived by plugging eta into the rate; the init (standard) and "
          "the 1/2-sum loss are unverified in the text",
          ("du_two_layer_width", "du_two_layer_learning_rate", "du_two_layer_rate",
           "du_two_layer_iterations")),
    Bound("du-deep-fc", "Du, Lee, Li, Wang, Zhai, Gradient Descent Finds Global Minima of Deep "
          "Neural Networks, ICML 2019", "1811.03804", "all", "smooth analytic (e.g. softplus; "
          "not ReLU)", "quadratic (1/2 and sum unverified)",
          "x^(h) = sqrt(c_sigma/m) sigma(W^(h) x^(h-1)), all weights N(0, 1)",
          "m >~ n^4 2^{O(H)} (intro); Thm 5.1 has three terms in lambda_min(K^(H))",
          "T >~ n^2 2^{O(H)} log(1/eps)", "eta = O(lambda_min(K^(H)) / (n^2 2^{O(H)}))",
          "verified", "intro summary (width, T) and eta verified (S-DuDeep); the exact three-term "
          "width of Thm 5.1 is unverified and not encoded",
          ("du_deep_fc_width", "du_deep_fc_learning_rate", "du_deep_fc_iterations")),
    Bound("du-resnet", "Du, Lee, Li, Wang, Zhai, Gradient Descent Finds Global Minima of Deep "
          "Neural Networks, ICML 2019", "1811.03804", "all", "smooth analytic (not ReLU)",
          "quadratic", "x^(h) = x^(h-1) + c_res/(H sqrt m) sigma(W^(h) x^(h-1)), N(0, 1)",
          "m >~ n^4 H^2 (data-dependent factors dropped)", "T >~ n^2 log(1/eps)",
          "eta = O(lambda_min(K^(H)) H^2 / n^2)", "verified",
          "intro summary and eta verified (S-DuDeep); the exact four-term width of Thm 6.1 is "
          "unverified and not encoded",
          ("du_resnet_width", "du_resnet_learning_rate", "du_resnet_iterations")),
    Bound("oymak-soltanolkotabi", "Oymak, Soltanolkotabi, Toward moderate overparameterization, "
          "IEEE JSAIT 2020", "1902.04674", "input layer", "smooth (also ReLU)", "unverified",
          "shallow (one hidden layer), random init", "sqrt(#params) >~ n, i.e. k d >~ n^2",
          "geometric rate", "-", "verified",
          "abstract verified; the exact ReLU width and the loss are unverified",
          ("oymak_soltanolkotabi_params",)),
    Bound("kawaguchi-huang", "Kawaguchi, Huang, Gradient Descent Finds Global Minima for "
          "Generalizable Deep Neural Networks of Practical Sizes, 2019", "1908.02419",
          "abstract: all layers (secondary table: last layer)", "deep nonlinear", "unverified",
          "unverified", "#trainable params = Omega~(n) (optimal up to logs)", "-", "-",
          "verified", "abstract verified (linear #params); which layers are trained and the "
          "loss are stated differently by a secondary source",
          ("kawaguchi_huang_params",)),
    Bound("nguyen-2021", "Nguyen, On the Proof of Global Convergence of Gradient Descent for Deep "
          "ReLU Networks with Linear Widths, ICML 2021", "2101.09612v3", "all", "ReLU",
          "square loss", "standard (not NTK), one wide layer",
          "one layer of width linear, quadratic or cubic in N, depending on the initialization",
          "linear rate (unverified)", "unverified", "unverified",
          "the three widths are verified (abstract); which initialization gives which width, the "
          "step size and the rate are unverified",
          ("nguyen_width",)),
    Bound("noy-2021", "Noy, Xu, Aflalo, Zelnik-Manor, Jin, A Convergence Theory Towards Practical "
          "Over-parameterized Deep Neural Networks, 2021", "2101.04243", "unverified", "ReLU",
          "unverified", "unverified (fixed-activation-pattern surrogate in the analysis)",
          "quadratic in n, linear in L (abstract)", "logarithmic in n and L (abstract)",
          "unverified", "unverified",
          "only the abstract's scalings are verified; the exact width/time formulas, constants, "
          "learning rate, init and trained layers are unverified",
          ("noy_width",)),
)}


# ----------------------------------------------------------------------------- fitting


def fit_slope(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Least-squares line through (log x, log y): log y = slope * log x + intercept (natural log).

    Args:
        x, y: positive values, same length >= 2 (x not all equal).

    Returns:
        ``(slope, intercept)``; ``y ~ exp(intercept) * x ** slope``.
    """
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"x and y need the same length >= 2, got {x.size} and {y.size}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y)) and np.all(x > 0) and np.all(y > 0)):
        raise ValueError("fit_slope needs finite positive x and y (log-log fit): drop zeros/NaN")
    lx, ly = np.log(x), np.log(y)
    if np.ptp(lx) == 0:
        raise ValueError("all x are equal: the slope is undefined; pass at least two distinct x")
    slope, intercept = np.polyfit(lx, ly, 1)
    return float(slope), float(intercept)


def steps_to_reach(loss_curve: Sequence[float], eps: float, steps: Sequence[int] | None = None):
    """First step at which the loss is <= eps, or None if it never is.

    Args:
        loss_curve: losses, shape ``(k,)`` (e.g. ``history.loss``).
        eps: threshold >= 0.
        steps: step index of every entry (e.g. ``history.step``); default ``0, 1, ..., k - 1``.

    Returns:
        The step (int) or None.
    """
    loss = np.asarray(loss_curve, dtype=np.float64).ravel()
    if not isinstance(eps, (int, float, np.floating)) or not eps >= 0:
        raise ValueError(f"eps must be a number >= 0, got {eps!r}")
    if steps is not None:
        steps = np.asarray(steps).ravel()
        if steps.shape != loss.shape:
            raise ValueError(f"steps has {steps.size} entries but loss_curve has {loss.size}")
    hit = np.flatnonzero(loss <= eps)
    if hit.size == 0:
        return None
    return int(hit[0] if steps is None else steps[hit[0]])


# ----------------------------------------------------------------------------- calculator
# (added by part4a for the chapter "Tightening the widths")


def width_requirements(n: int, L: int = 1, *, separation: float = 0.1, failure_prob: float = 0.1,
                       lambda0: float = 0.1, d: int = 1) -> dict[str, dict]:
    """Every registered width / parameter-count bound at one problem size (hidden constants 1).

    The calculator behind the chapter on practical widths. Each entry converts its paper's
    requirement into a **width** where the paper states one: Oymak-Soltanolkotabi's parameter count
    ``k d >~ n^2`` becomes the width ``k = n^2 / d``; Kawaguchi-Huang's count of trainable
    parameters ``>~ n`` is reported as a count (``"unit": "params"``). Allen-Zhu et al. read
    ``separation`` as the data separation delta; Du et al. read ``failure_prob`` as their delta.

    Args:
        n: number of samples (>= 1).
        L: depth (AZLS / Zou-Gu: hidden layers; Du et al.: H).
        separation: data separation in (0, 2] (Allen-Zhu et al.).
        failure_prob: failure probability in (0, 1) (Du et al.).
        lambda0: lambda_min(H^inf) for Du et al.'s two-layer bound (> 0).
        d: input dimension (Oymak-Soltanolkotabi).

    Returns:
        ``{bound name: {"value": float, "unit": "width" | "params", "status": str,
        "formula": str}}`` in the order of :data:`BOUNDS`.
    """
    n = int(_pos("n", n, integer=True))
    L = int(_pos("L", L, integer=True))
    d = int(_pos("d", d, integer=True))
    values = {
        "allen-zhu-li-song": (azls_width(n, L, separation), "width"),
        "zou-gu": (zou_gu_width(n, L), "width"),
        "du-two-layer": (du_two_layer_width(n, lambda0, failure_prob), "width"),
        "du-deep-fc": (du_deep_fc_width(n, L), "width"),
        "du-resnet": (du_resnet_width(n, L), "width"),
        "oymak-soltanolkotabi": (oymak_soltanolkotabi_params(n) / d, "width"),
        "kawaguchi-huang": (kawaguchi_huang_params(n), "params"),
        "nguyen-2021": (nguyen_width(n, "linear"), "width"),
        "noy-2021": (noy_width(n, L), "width"),
    }
    return {name: {"value": float(v), "unit": unit, "status": BOUNDS[name].status,
                   "formula": BOUNDS[name].width} for name, (v, unit) in values.items()}


# ------------------------------------------------------------------------- measured requirements
# Module-level experiment functions (plain numbers in, plain numbers / arrays out) so that
# `ntklib.sweep` can cache them. torch and the models are imported lazily: `import ntklib.theory`
# stays numpy-only.


def _du_net(arch: str, depth: int, width: int, d: int, *, activation: str, c_res: float,
            seed: int):
    """Du et al.'s FC net (``MLP`` "ntk", H = depth + 1 layers) or ResNet with H = depth."""
    from .models import MLP, ResNet

    if arch == "fc":
        return MLP(d, width, depth - 1, parameterization="ntk", trainable="all",
                   activation=activation, seed=seed)
    return ResNet(d, width, depth, style="du", activation=activation, c_res=c_res,
                  trainable="all", seed=seed)


def _check_arch(arch: str, depth) -> int:
    if arch not in ("fc", "resnet"):
        raise ValueError(f"unknown arch={arch!r}: pass 'fc' or 'resnet'")
    depth = int(_pos("depth", depth, integer=True))
    if arch == "fc" and depth < 2:
        raise ValueError(f"the FC net needs depth H >= 2 (its W^(H) is an m x m layer), got "
                         f"{depth}: pass depth >= 2")
    return depth


def last_layer_gram(model, X):
    r"""Du et al.'s :math:`G^{(H)}`: the block of the empirical NTK of the last hidden layer.

    :math:`G^{(H)}_{ij} = \langle \partial u_i / \partial W^{(H)}, \partial u_j / \partial
    W^{(H)} \rangle` (arXiv 1811.03804, §4), for an ``MLP`` ("ntk"; :math:`W^{(H)}` is its last
    hidden matrix ``W{depth}``) or a ``ResNet(style="du")`` (``W{depth}``). Computed by
    :func:`ntklib.ntk.empirical_ntk` on that layer only; the ``requires_grad`` flags of the model
    are restored afterwards.

    Args:
        model: ``MLP`` or ``ResNet`` with an m x m layer named ``f"W{model.depth}"``.
        X: inputs ``(n, d_in)``.

    Returns:
        ``(n, n)`` tensor.
    """
    from .ntk import empirical_ntk

    layers = model.weight_layers() if hasattr(model, "weight_layers") else {}
    name = f"W{getattr(model, 'depth', -1)}"
    if name not in layers:
        raise ValueError(f"model has no layer {name!r} (its layers: {list(layers)}): pass an "
                         "ntklib MLP or ResNet with depth >= 1")
    params = list(model.parameters())
    flags = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(False)
        layers[name].weight.requires_grad_(True)
        return empirical_ntk(model, X, trainable_only=True)
    finally:
        for p, f in zip(params, flags, strict=True):
            p.requires_grad_(f)


def gram_perturbation(arch: str, depth: int, width: int, *, n: int = 16, d: int = 16,
                      seeds: int = 6, c_res: float = 0.5, activation: str = "softplus",
                      seed: int = 0) -> dict:
    r"""Size of the initialisation perturbation of :math:`G^{(H)}(0)` against
    :math:`\lambda_{\min}` (the quantity in step 1 of Du et al.'s proof, arXiv 1811.03804 §4).

    For ``seeds`` independent initialisations s of the FC net or the ResNet (width m, H = depth)
    on the same unit-norm data, compute :math:`G_s = G^{(H)}(0)` (:func:`last_layer_gram`), their
    mean :math:`\bar G` (the Monte Carlo estimate of the limit Gram matrix) and

    .. math::
        \text{op} = \frac1S\sum_s \lVert G_s - \bar G\rVert_2, \qquad
        \text{ratio} = \text{op} / \lambda_{\min}(\bar G).

    The proof needs :math:`\lVert G^{(H)}(0) - K^{(H)}\rVert_2 \le \lambda_{\min}(K^{(H)})/4`,
    i.e. ratio below about 1/4; since op falls like :math:`m^{-1/2}`, the width this step needs
    scales like ``width * (4 ratio)^2``. For the FC net the same numbers against the exact limit
    :math:`K^{(H)}` (:func:`ntklib.kernels.du_deep_gram`) are returned as ``*_limit`` (NaN for
    the ResNet, whose limit Gram matrix ntklib does not implement).

    Args:
        arch: ``"fc"`` or ``"resnet"``; depth: H; width: m; n, d: data size; seeds: S >= 2;
        c_res: ResNet residual scale; activation: ``"softplus"`` (Du et al.) or ``"relu"``;
        seed: data seed (network seeds are ``1000 * seed + s``).

    Returns:
        dict of floats: ``op``, ``lambda_min`` (of :math:`\bar G`), ``ratio``, ``scale`` (mean
        diagonal of :math:`\bar G`), ``fluct`` (mean relative Frobenius deviation from
        :math:`\bar G`), ``op_limit``, ``lambda_min_limit``, ``ratio_limit``, ``limit_error``
        (mean relative Frobenius error against :math:`K^{(H)}`).
    """
    import torch

    from .data import sphere_data
    from .kernels import du_deep_gram

    depth = _check_arch(arch, depth)
    width, n, d = (int(_pos(k, v, integer=True)) for k, v in (("width", width), ("n", n), ("d", d)))
    seeds = int(_pos("seeds", seeds, integer=True))
    if seeds < 2:
        raise ValueError(f"seeds must be >= 2 to measure a fluctuation, got {seeds}")
    X, _, _ = sphere_data(n, d, last_coord=False, seed=seed)
    G = torch.stack([last_layer_gram(_du_net(arch, depth, width, d, activation=activation,
                                             c_res=c_res, seed=1000 * seed + s), X)
                     for s in range(seeds)])  # (S, n, n)
    G_bar = G.mean(0)

    def stats(ref):
        op = float(torch.linalg.matrix_norm(G - ref, ord=2).mean())
        lam = float(torch.linalg.eigvalsh(ref)[0])
        frob = float(((G - ref).flatten(1).norm(dim=1) / ref.norm()).mean())
        return op, lam, op / lam if lam > 0 else float("inf"), frob

    op, lam, ratio, fluct = stats(G_bar)
    out = {"op": op, "lambda_min": lam, "ratio": ratio, "fluct": fluct,
           "scale": float(G_bar.diagonal().mean())}
    nan = float("nan")
    op_k, lam_k, ratio_k, err_k = stats(du_deep_gram(X, depth, activation)) if arch == "fc" \
        else (nan, nan, nan, nan)
    out.update(op_limit=op_k, lambda_min_limit=lam_k, ratio_limit=ratio_k, limit_error=err_k)
    return out


def max_stable_lr(arch: str, depth: int, width: int, *, n: int = 16, d: int = 8,
                  steps: int = 60, c_res: float = 0.5, activation: str = "softplus",
                  iters: int = 8, bracket: float = 16.0, seed: int = 0) -> dict:
    r"""Largest GD step size that trains Du et al.'s FC net / ResNet stably, by bisection.

    A step size is *stable* when :func:`ntklib.train.train` (loss ``"mse_sum"``, all layers,
    ``steps`` GD steps, random +-1 labels) raises no :class:`~ntklib.train.DivergenceError` and the
    loss never exceeds its initial value. Bisection (geometric, ``iters`` halvings) runs on
    ``[r/bracket, bracket * r]`` around the linear-model scale
    :math:`r = 2/\lambda_{\max}(\Theta)` of the empirical NTK at initialisation
    (:func:`ntklib.train.stable_learning_rate`), which is returned too so the two can be compared.

    Returns:
        dict with ``lr`` (largest stable step found), ``lr_linear`` (= r), ``lambda_max``.
    """
    from .data import sphere_data
    from .train import DivergenceError, stable_learning_rate, train

    depth = _check_arch(arch, depth)
    width, n, d = (int(_pos(k, v, integer=True)) for k, v in (("width", width), ("n", n), ("d", d)))
    steps, iters = int(_pos("steps", steps, integer=True)), int(_pos("iters", iters, integer=True))
    X, y, _ = sphere_data(n, d, labels="random", last_coord=False, seed=seed)

    def net():
        return _du_net(arch, depth, width, d, activation=activation, c_res=c_res, seed=seed)

    r = stable_learning_rate(net(), X, "mse_sum", iters=30)
    bracket = _pos("bracket", bracket)
    if bracket <= 1:
        raise ValueError(f"bracket must be > 1, got {bracket}: pass e.g. bracket=16")

    def stable(lr: float) -> bool:
        try:
            h = train(net(), X, y, lr=lr, steps=steps, progress=False)
        except DivergenceError:
            return False
        return bool(np.all(np.isfinite(h.loss)) and np.max(h.loss) <= h.loss[0] * (1 + 1e-12))

    lo, hi = math.log(r / bracket), math.log(bracket * r)
    if not stable(math.exp(lo)):
        raise RuntimeError(f"even lr = {math.exp(lo):.3g} (2/lambda_max / {bracket:g}) is unstable")
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if stable(math.exp(mid)) else (lo, mid)
    return {"lr": math.exp(lo), "lr_linear": r, "lambda_max": 2.0 / r}


def reaches_target(model: str, n: int, width: int, *, d: int = 8, depth: int = 1,
                   eps: float = 1e-2, steps: int = 400, lr_factor: float = 1.0,
                   seed: int = 0) -> dict:
    r"""Does GD bring the loss below ``eps * F(0)`` within ``steps`` steps at this width?

    ``model``: ``"two_layer"`` (Du et al.'s :class:`~ntklib.models.TwoLayerNet`, first layer
    trained), ``"mlp"`` (``MLP(..., parameterization="ntk", trainable="all")``, ReLU, ``depth``
    hidden m x m layers). Data: ``sphere_data(n, d, labels="random", last_coord=False, seed)``.
    Loss ``"mse_sum"``; step ``lr = lr_factor / lambda_max`` of the empirical NTK at
    initialisation (half the linear stability limit 2/lambda_max when ``lr_factor = 1``).

    Returns:
        dict with ``ok`` (bool), ``ratio`` (final loss / initial loss), ``steps`` (steps run).
    """
    from .data import sphere_data
    from .models import MLP, TwoLayerNet
    from .train import DivergenceError, loss_value, stable_learning_rate, train

    if model not in ("two_layer", "mlp"):
        raise ValueError(f"unknown model={model!r}: pass 'two_layer' or 'mlp'")
    n, width, d = (int(_pos(k, v, integer=True)) for k, v in (("n", n), ("width", width), ("d", d)))
    eps = _eps(eps)
    X, y, _ = sphere_data(n, d, labels="random", last_coord=False, seed=seed)
    net = (TwoLayerNet(d, width, seed=seed) if model == "two_layer" else
           MLP(d, width, depth, parameterization="ntk", trainable="all", seed=seed))
    lr = lr_factor * 0.5 * stable_learning_rate(net, X, "mse_sum", iters=20)
    f0 = loss_value(net, X, y)
    try:
        h = train(net, X, y, lr=lr, steps=steps, target_loss=eps * f0, progress=False)
    except DivergenceError:
        return {"ok": False, "ratio": float("inf"), "steps": steps}
    ratio = float(h.loss[-1] / f0)
    return {"ok": bool(ratio <= eps), "ratio": ratio, "steps": int(h.step[-1])}


def min_width_needed(model: str, n: int, *, d: int = 8, depth: int = 1, eps: float = 1e-2,
                     steps: int = 400, lr_factor: float = 1.0, seed: int = 0,
                     max_width: int = 4096) -> dict:
    r"""Smallest width (on the grid :math:`\lceil 2^{k/2}\rceil`) at which :func:`reaches_target`
    succeeds, scanning upwards from 1 (the first success is returned; later widths are not tried).

    Returns:
        dict with ``width`` (NaN if none up to ``max_width``), ``tried`` (widths) and
        ``ratios`` (final/initial loss of each try), as lists.
    """
    max_width = int(_pos("max_width", max_width, integer=True))
    tried, ratios = [], []
    k = 0
    while True:
        w = math.ceil(2 ** (k / 2))
        k += 1
        if tried and w == tried[-1]:
            continue
        if w > max_width:
            return {"width": float("nan"), "tried": tried, "ratios": ratios}
        r = reaches_target(model, n, w, d=d, depth=depth, eps=eps, steps=steps,
                           lr_factor=lr_factor, seed=seed)
        tried.append(w)
        ratios.append(r["ratio"])
        if r["ok"]:
            return {"width": float(w), "tried": tried, "ratios": ratios}


def one_wide_layer_run(N: int, wide_width: int, *, d: int = 8, width: int = 16, depth: int = 3,
                       wide_layer: int | None = None, steps: int = 400, eps: float = 1e-3,
                       seed: int = 0) -> dict:
    r"""One run of the one-wide-layer experiment (Nguyen 2021; Nguyen-Mondelli-Montufar 2021).

    Builds :class:`~ntklib.models.OneWideLayerNet` (ReLU, standard/He init, all layers trained,
    narrow layers of ``width``, one layer of ``wide_width``) on ``N`` random unit-norm points with
    random +-1 labels, measures the singular values of the wide layer's feature matrix
    :math:`F_k = [f_k(x_1), \dots, f_k(x_N)]^\top` (shape ``(N, wide_width)``) at initialisation,
    then trains by GD (loss ``"mse_sum"``, step ``1/lambda_max`` of the empirical NTK) until the
    loss is below ``eps * F(0)`` or ``steps`` steps have run.

    Returns:
        dict with ``sigma_min`` (the N-th singular value of F_k, exactly 0 when
        ``wide_width < N``), ``sigma_max``, ``rank`` (numerical rank of F_k), ``ok`` (target
        reached), ``ratio`` (final / initial loss), ``steps`` (steps run) and ``floor``: the
        smallest loss the output layer alone can reach on these frozen features,
        :math:`\min_B \lVert F_k B - y\rVert^2 / \lVert y\rVert^2` (least squares; 0 iff y lies in
        the column space of F_k, which for generic y needs rank F_k = N).
    """
    import torch

    from .data import sphere_data
    from .models import OneWideLayerNet
    from .train import DivergenceError, loss_value, stable_learning_rate, train

    N, wide_width = int(_pos("N", N, integer=True)), int(_pos("wide_width", wide_width,
                                                               integer=True))
    X, y, _ = sphere_data(N, d, labels="random", last_coord=False, seed=seed)
    net = OneWideLayerNet(d, width, depth, wide_width=wide_width, wide_layer=wide_layer,
                          seed=seed)
    with torch.no_grad():
        F_k = net.features(X).hidden[net.wide_layer - 1]  # (N, wide_width)
        sv = torch.linalg.svdvals(F_k)
    padded = torch.zeros(N, dtype=sv.dtype)
    padded[: sv.numel()] = sv[:N]
    tol = float(sv[0]) * max(F_k.shape) * torch.finfo(sv.dtype).eps
    yv = y.reshape(-1, 1).to(F_k.dtype)
    coef = torch.linalg.lstsq(F_k, yv, driver="gelsd").solution  # best output layer B^T
    floor = float((F_k @ coef - yv).square().sum() / yv.square().sum())
    f0 = loss_value(net, X, y)
    lr = 0.5 * stable_learning_rate(net, X, "mse_sum", iters=20)
    try:
        h = train(net, X, y, lr=lr, steps=steps, target_loss=_eps(eps) * f0, progress=False)
        ratio, ran = float(h.loss[-1] / f0), int(h.step[-1])
    except DivergenceError:
        ratio, ran = float("inf"), steps
    return {"sigma_min": float(padded[N - 1]), "sigma_max": float(sv[0]),
            "rank": int((sv > tol).sum()), "floor": floor, "ok": bool(ratio <= eps),
            "ratio": ratio,
            "steps": ran}
