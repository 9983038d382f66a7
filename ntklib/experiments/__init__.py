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
from .landscape import (
    ball_run,
    descent_run,
    landscape_run,
    ratio_at_init,
    semi_smoothness_run,
    straight_path,
)
from .lemmas import (
    backward_profile,
    depth_profile,
    floor_per_width,
    forward_deviation,
    gated_product_norms,
    perturbation_stability,
    perturbed,
    trained_stability,
)
from .ntk_limit import ntk_init_error
from .practical import fit_run, surrogate_vs_relu
from .real_data import (
    cifar_run,
    digits_pair,
    load_cifar_pair,
    real_data_run,
    sgd_landscape,
)
from .two_layer import two_layer_lazy
from .widths import min_width_needed, one_wide_layer_run, reaches_target

__all__ = [
    "backward_profile",
    "ball_run",
    "cifar_run",
    "depth_profile",
    "descent_run",
    "digits_pair",
    "fit_run",
    "floor_per_width",
    "forward_deviation",
    "gated_product_norms",
    "gram_perturbation",
    "hierarchical_benchmark",
    "hierarchical_target",
    "landscape_run",
    "last_layer_gram",
    "lazy_rich",
    "load_cifar_pair",
    "max_stable_lr",
    "min_width_needed",
    "ntk_init_error",
    "one_wide_layer_run",
    "perturbation_stability",
    "perturbed",
    "ratio_at_init",
    "reaches_target",
    "real_data_run",
    "semi_smoothness_run",
    "sgd_landscape",
    "straight_path",
    "surrogate_vs_relu",
    "trained_stability",
    "two_layer_lazy",
]
