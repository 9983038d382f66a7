"""Experiment protocols of the book: data + network + training + measurement, one function each.

Every function takes plain numbers/strings and returns a dict of floats and numpy arrays, so it
can be cached with :func:`ntklib.sweep` / :func:`ntklib.cached` and shared between the notebook
test run and the book build. Each one is a composition of ntklib's public API (models, data,
``train``, ``empirical_ntk``, kernels, ...); no training loop or kernel formula is written here.
A chapter calls them as ``from ntklib import experiments``. One module per theme; the
conventions (loss, step size, depth) are stated in ``practical.py``.
"""

from .azls import azls_classification, azls_run, iterations_to_eps, train_part
from .beyond import hierarchical_benchmark, hierarchical_target, lazy_rich
from .deep_gram import gram_perturbation, last_layer_gram, max_stable_lr
from .fitting import (
    fit_random_labels,
    path_and_parabola,
    permutation_midpoint,
    sum_vs_mean,
    tour_run,
)
from .ntk_limit import ntk_init_error
from .practical import fit_run, surrogate_vs_relu
from .two_layer import gram_error, lambda0_near_pair, two_layer_lazy
from .widths import min_width_needed, one_wide_layer_run, reaches_target, width_grid

__all__ = [
    "azls_classification",
    "azls_run",
    "fit_random_labels",
    "fit_run",
    "gram_error",
    "gram_perturbation",
    "hierarchical_benchmark",
    "hierarchical_target",
    "iterations_to_eps",
    "lambda0_near_pair",
    "last_layer_gram",
    "lazy_rich",
    "max_stable_lr",
    "min_width_needed",
    "ntk_init_error",
    "one_wide_layer_run",
    "path_and_parabola",
    "permutation_midpoint",
    "reaches_target",
    "sum_vs_mean",
    "surrogate_vs_relu",
    "tour_run",
    "train_part",
    "two_layer_lazy",
    "width_grid",
]
