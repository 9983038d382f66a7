"""The papers' width, step-size and iteration bounds as small functions (bounds only: the
experiments that measure widths live in ``ntklib.experiments``, the fitting in
``ntklib.analysis``).

Every bound in these papers hides constants in Omega / Theta / O / 2^{O(.)} notation. **Here every
hidden constant is set to 1** (and 2^{O(H)} is read as 2^H), so the functions give the *scaling* of
a bound, never a number a network must meet. Use them to compare exponents (e.g. with `fit_slope`),
not absolute sizes.

`BOUNDS` records, per paper: the arXiv id, the setting (trained layers, activation, loss,
parameterization), the width / iteration / learning-rate formulas as text, and the verification
status of those formulas: ``"verified"`` only when every formula of the record was checked
against a source named in ``status_detail`` (the paper's abstract, or a published restatement
such as Basri et al., arXiv 2003.04560, App. D.4); otherwise ``"unverified"`` and
``status_detail`` says which part is which. Chapters must phrase an
unverified record as the abstract does, or as a hypothesis.

Notation trap: delta is the *data separation* in Allen-Zhu, Li & Song (and Zou & Gu's phi), but the
*failure probability* in Du et al.
"""

from __future__ import annotations

import functools
import math
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
    "width_requirements",
]


# ----------------------------------------------------------------------------- validation


def _in_float_range(fn):
    """Raise a clear ValueError when a bound leaves the range of a double (about 1e-308 to
    1.8e308) instead of an OverflowError or a silent inf / 0."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            value = fn(*args, **kwargs)
        except OverflowError:
            value = math.inf
        if not (math.isfinite(value) and value > 0):
            raise ValueError(
                f"{fn.__name__}{args or ''}{kwargs or ''} is outside the range of a float "
                "(about 1e-308 to 1.8e308): pass smaller sizes, or compare exponents (e.g. with "
                "ntklib.fit_slope) instead of values"
            )
        return value

    return wrapper


def _pos(name: str, value, *, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}: pass "
                        f"{name}=... > 0")
    if not math.isfinite(value) or value <= 0 or (integer and value != int(value)):
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


@_in_float_range
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
    raise ValueError(f"azls_width: the fixed point did not converge in {max_iter} iterations: "
                     "pass a larger max_iter or tol")


@_in_float_range
def azls_learning_rate(n: int, L: int, delta: float, width: float) -> float:
    """eta = delta / (n^4 L^2 m) (Allen-Zhu, Li & Song, arXiv 1811.03962, Theta-constant 1).

    GD step size of the d = 1 theorem as restated by Basri et al. (arXiv 2003.04560, Thm 5):
    eta = Theta(delta / (n^4 L^2 m)), for the loss F = sum_i 1/2 (f(x_i) - y_i)^2 with A, B fixed.
    Compare the stability scale 2 / lambda_max(K) ~ 4 / (n m L) of the AZLS-parameterized NTK:
    the theorem's step is smaller by a factor ~ delta / (n^3 L).
    """
    n, L = _pos("n", n, integer=True), _pos("L", L, integer=True)
    return _separation(delta) / (n**4 * L**2 * _pos("width", width))


@_in_float_range
def azls_iterations(n: int, L: int, delta: float, eps: float) -> float:
    """T = n^6 L^2 / delta^2 * log(1/eps) (Allen-Zhu, Li & Song, arXiv 1811.03962, constants 1).

    Number of GD iterations to reach F <= eps (Basri et al. restatement, Thm 5, Theta-constant 1).
    Consistency: the per-step contraction eta delta m / n^2 with eta = delta / (n^4 L^2 m) is
    delta^2 / (n^6 L^2).
    """
    n, L, delta = _pos("n", n, integer=True), _pos("L", L, integer=True), _separation(delta)
    return n**6 * L**2 / delta**2 * math.log(1.0 / _eps(eps))


# ----------------------------------------------------------------------------- Zou & Gu


@_in_float_range
def zou_gu_width(n: int, L: int) -> float:
    """m = n^8 L^12 (Zou & Gu, arXiv 1906.04688, NeurIPS 2019; constants and data factors 1).

    "An Improved Analysis of Training Over-parameterized Deep Neural Networks": width
    Omega(n^8 L^12) up to data-dependent factors (the separation phi enters too; its exponent is not
    verified and is left out here).
    """
    return _pos("n", n, integer=True) ** 8 * _pos("L", L, integer=True) ** 12


# ----------------------------------------------------------------------------- Du et al. two-layer


@_in_float_range
def du_two_layer_width(n: int, lambda0: float, delta: float) -> float:
    """m = n^6 / (lambda0^4 delta^3) (Du, Zhai, Poczos & Singh, arXiv 1810.02054v3, Thm 4.1).

    "Gradient Descent Provably Optimizes Over-parameterized Neural Networks" (ICLR 2019): two-layer
    ReLU net f = m^{-1/2} sum_r a_r relu(w_r^T x), only W trained, m = Omega(n^6 / (lambda0^4
    delta^3)) with lambda0 = lambda_min(H^inf) and **delta the failure probability** (not a
    separation). Omega-constant set to 1.
    """
    return (_pos("n", n, integer=True) ** 6
            / (_pos("lambda0", lambda0) ** 4 * _probability(delta) ** 3))


@_in_float_range
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


@_in_float_range
def du_two_layer_iterations(n: int, lambda0: float, eps: float) -> float:
    """k = n^2 / lambda0^2 * log(1/eps) (arXiv 1810.02054, Thm 4.1 with eta = lambda0 / n^2).

    The paper says O(log(1/eps)) iterations; with eta = lambda0 / n^2 plugged into the contraction
    1 - eta lambda0 / 2 this is O(n^2 / lambda0^2 log(1/eps)); the O-constant is set to 1.
    """
    return _pos("n", n, integer=True) ** 2 / _pos("lambda0", lambda0) ** 2 * math.log(1 / _eps(eps))


# ----------------------------------------------------------------------------- Du et al. deep


@_in_float_range
def du_deep_fc_width(n: int, H: int) -> float:
    """m = n^4 2^H (Du, Lee, Li, Wang & Zhai, arXiv 1811.03804, deep FC, intro summary).

    "Gradient Descent Finds Global Minima of Deep Neural Networks" (ICML 2019): for fully connected
    nets with smooth activations (not ReLU), m >~ n^4 2^{O(H)} ignoring data-dependent factors
    (Theorem 5.1 has three terms involving lambda_min(K^(H)); those are not encoded here).
    2^{O(H)} is read as 2^H (constant 1).
    """
    return _pos("n", n, integer=True) ** 4 * 2.0 ** _pos("H", H, integer=True)


@_in_float_range
def du_deep_fc_learning_rate(n: int, H: int, lambda_min: float) -> float:
    """eta = lambda_min(K^(H)) / (n^2 2^H) (arXiv 1811.03804, Thm 5.1; constants 1)."""
    return (_pos("lambda_min", lambda_min)
            / (_pos("n", n, integer=True) ** 2 * 2.0 ** _pos("H", H, integer=True)))


@_in_float_range
def du_deep_fc_iterations(n: int, H: int, eps: float) -> float:
    """T = n^2 2^H log(1/eps) (arXiv 1811.03804, intro summary for deep FC; constants 1)."""
    return (_pos("n", n, integer=True) ** 2 * 2.0 ** _pos("H", H, integer=True)
            * math.log(1 / _eps(eps)))


@_in_float_range
def du_resnet_width(n: int, H: int) -> float:
    """m = n^4 H^2 (arXiv 1811.03804, ResNet, intro summary; data-dependent factors dropped).

    ResNet with x^(h) = x^(h-1) + c_res / (H sqrt(m)) sigma(W^(h) x^(h-1)), smooth activation, all
    layers trained: m >~ n^4 H^2 ("fully polynomial"). The exact four-term width of Theorem 6.1
    is not encoded. Constant set to 1.
    """
    return _pos("n", n, integer=True) ** 4 * _pos("H", H, integer=True) ** 2


@_in_float_range
def du_resnet_learning_rate(n: int, H: int, lambda_min: float) -> float:
    """eta = lambda_min(K^(H)) H^2 / n^2 (arXiv 1811.03804, Thm 6.1; constant 1)."""
    return (_pos("lambda_min", lambda_min) * _pos("H", H, integer=True) ** 2
            / _pos("n", n, integer=True) ** 2)


@_in_float_range
def du_resnet_iterations(n: int, eps: float) -> float:
    """T = n^2 log(1/eps) (arXiv 1811.03804, ResNet intro summary; data factors and constant 1)."""
    return _pos("n", n, integer=True) ** 2 * math.log(1 / _eps(eps))


# ----------------------------------------------------------------------------- practical widths


@_in_float_range
def oymak_soltanolkotabi_params(n: int) -> float:
    """#params = n^2, i.e. sqrt(#params) >~ n (Oymak & Soltanolkotabi, arXiv 1902.04674).

    "Toward moderate overparameterization" (IEEE JSAIT 2020), abstract: for shallow nets with smooth
    activations (also ReLU), (S)GD from random init converges geometrically "as soon as the square
    root of the number of network parameters exceeds the size of the training data", i.e. k d >~ n^2
    for k hidden units, input dimension d, input layer trained. Constant set to 1.
    """
    return _pos("n", n, integer=True) ** 2


@_in_float_range
def kawaguchi_huang_params(n: int) -> float:
    """#params = n (Kawaguchi & Huang, arXiv 1908.02419; log factors and constants set to 1).

    "Gradient Descent Finds Global Minima for Generalizable Deep Neural Networks of Practical
    Sizes", abstract: the number of trainable parameters only needs to grow linearly in n, which is
    optimal up to log factors.
    """
    return _pos("n", n, integer=True)


@_in_float_range
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


@_in_float_range
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


# ----------------------------------------------------------------------------- calculator


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
