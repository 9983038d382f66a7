"""Experiment protocols of the book: data + network + training + measurement, one function each.

Every function takes plain numbers/strings and returns a dict of floats and numpy arrays, so it
can be cached with :func:`ntklib.sweep` / :func:`ntklib.cached` and shared between the notebook
test run and the book build. Each one is a composition of ntklib's public API (models, data,
``train``, ``empirical_ntk``, kernels, ...); no training loop or kernel formula is written here.
A chapter calls them as ``from ntklib import experiments``. One module per theme; the
conventions (loss, step size, depth) are stated in ``practical.py``.
"""

from .beyond import hierarchical_benchmark, hierarchical_target, lazy_rich
from .deep_gram import gram_perturbation, last_layer_gram, max_stable_lr
from .equivalence import equivalence_run
from .ntk_dynamics import (
    drift_run,
    eigen_projection_run,
    frequency_run,
    kernel_regression_run,
    linearization_run,
    sum_vs_mean,
)
from .ntk_limit import (
    arccos_monte_carlo,
    azls_gradient_formula,
    depth_convention_errors,
    depth_degeneracy,
    gradient_identity,
    kernel_scale,
    nngp_monte_carlo,
    ntk_init_error,
)
from .practical import fit_run, surrogate_vs_relu
from .two_layer import two_layer_lazy
from .widths import min_width_needed, one_wide_layer_run, reaches_target

__all__ = [
    "arccos_monte_carlo",
    "azls_gradient_formula",
    "depth_convention_errors",
    "depth_degeneracy",
    "drift_run",
    "eigen_projection_run",
    "equivalence_run",
    "fit_run",
    "frequency_run",
    "gradient_identity",
    "gram_perturbation",
    "hierarchical_benchmark",
    "hierarchical_target",
    "kernel_regression_run",
    "kernel_scale",
    "last_layer_gram",
    "lazy_rich",
    "linearization_run",
    "max_stable_lr",
    "min_width_needed",
    "nngp_monte_carlo",
    "ntk_init_error",
    "one_wide_layer_run",
    "reaches_target",
    "sum_vs_mean",
    "surrogate_vs_relu",
    "two_layer_lazy",
]
