"""Experiment protocols of the book: data + network + training + measurement, one function each.

Every function takes plain numbers/strings and returns a dict of floats and numpy arrays, so it
can be cached with :func:`ntklib.sweep` / :func:`ntklib.cached` and shared between the notebook
test run and the book build. Each one is a composition of ntklib's public API (models, data,
``train``, ``empirical_ntk``, kernels, ...); no training loop or kernel formula is written here.
A chapter calls them as ``from ntklib import experiments``. One module per theme; the
conventions (loss, step size, depth) are stated in ``practical.py``.
"""

from .beyond import hierarchical_target, lazy_rich, ntk_equivalence, rich_vs_kernel
from .deep_gram import (
    conv_resnet_run,
    gram_perturbation,
    gram_stability,
    last_layer_gram,
    max_stable_lr,
)
from .ntk_limit import ntk_init_error
from .practical import fit_run, surrogate_vs_relu
from .two_layer import two_layer_lazy
from .wide_layer import one_wide_layer_init, output_std
from .widths import min_width_needed, one_wide_layer_run, reaches_target

__all__ = [
    "conv_resnet_run",
    "fit_run",
    "gram_perturbation",
    "gram_stability",
    "hierarchical_target",
    "last_layer_gram",
    "lazy_rich",
    "max_stable_lr",
    "min_width_needed",
    "ntk_equivalence",
    "ntk_init_error",
    "one_wide_layer_init",
    "one_wide_layer_run",
    "output_std",
    "reaches_target",
    "rich_vs_kernel",
    "surrogate_vs_relu",
    "two_layer_lazy",
]
