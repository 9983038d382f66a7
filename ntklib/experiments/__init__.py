"""Experiment protocols of the book: data + network + training + measurement, one function each.

Every function takes plain numbers/strings and returns a dict of floats and numpy arrays, so it
can be cached with :func:`ntklib.sweep` / :func:`ntklib.cached` and shared between the notebook
test run and the book build. Each one is a composition of ntklib's public API (models, data,
``train``, ``empirical_ntk``, kernels, ...); no training loop or kernel formula is written here.
A chapter calls them as ``from ntklib import experiments``. One module per theme; the
conventions (loss, step size, depth) are stated in ``practical.py``.
"""

from .azls import azls_classification as azls_classification
from .azls import azls_run as azls_run
from .azls import iterations_to_eps as iterations_to_eps
from .azls import train_part as train_part
from .beyond import hierarchical_target as hierarchical_target
from .beyond import lazy_rich as lazy_rich
from .beyond import rich_vs_kernel as rich_vs_kernel
from .deep_gram import conv_resnet_run as conv_resnet_run
from .deep_gram import gram_perturbation as gram_perturbation
from .deep_gram import gram_stability as gram_stability
from .deep_gram import last_layer_gram as last_layer_gram
from .deep_gram import max_stable_lr as max_stable_lr
from .equivalence import equivalence_run as equivalence_run
from .fitting import fit_random_labels as fit_random_labels
from .fitting import path_and_parabola as path_and_parabola
from .fitting import permutation_midpoint as permutation_midpoint
from .fitting import sum_vs_mean as sum_vs_mean
from .fitting import tour_run as tour_run
from .landscape import ball_run as ball_run
from .landscape import descent_run as descent_run
from .landscape import landscape_run as landscape_run
from .landscape import ratio_at_init as ratio_at_init
from .landscape import semi_smoothness_run as semi_smoothness_run
from .landscape import straight_path as straight_path
from .lemmas import backward_profile as backward_profile
from .lemmas import depth_profile as depth_profile
from .lemmas import floor_per_width as floor_per_width
from .lemmas import forward_deviation as forward_deviation
from .lemmas import gated_product_norms as gated_product_norms
from .lemmas import perturbation_stability as perturbation_stability
from .lemmas import perturbed as perturbed
from .lemmas import trained_stability as trained_stability
from .ntk_dynamics import drift_run as drift_run
from .ntk_dynamics import eigen_projection_run as eigen_projection_run
from .ntk_dynamics import frequency_run as frequency_run
from .ntk_dynamics import kernel_regression_run as kernel_regression_run
from .ntk_dynamics import linearization_run as linearization_run
from .ntk_limit import arccos_monte_carlo as arccos_monte_carlo
from .ntk_limit import azls_gradient_formula as azls_gradient_formula
from .ntk_limit import depth_convention_errors as depth_convention_errors
from .ntk_limit import depth_degeneracy as depth_degeneracy
from .ntk_limit import gradient_identity as gradient_identity
from .ntk_limit import kernel_scale as kernel_scale
from .ntk_limit import nngp_monte_carlo as nngp_monte_carlo
from .ntk_limit import ntk_init_error as ntk_init_error
from .practical import fit_run as fit_run
from .practical import surrogate_vs_relu as surrogate_vs_relu
from .real_data import cifar_run as cifar_run
from .real_data import digits_pair as digits_pair
from .real_data import load_cifar_pair as load_cifar_pair
from .real_data import real_data_run as real_data_run
from .real_data import sgd_landscape as sgd_landscape
from .two_layer import gram_error as gram_error
from .two_layer import lambda0_near_pair as lambda0_near_pair
from .two_layer import two_layer_lazy as two_layer_lazy
from .wide_layer import INITS as INITS
from .wide_layer import one_wide_layer_init as one_wide_layer_init
from .wide_layer import output_std as output_std
from .widths import min_width_needed as min_width_needed
from .widths import one_wide_layer_run as one_wide_layer_run
from .widths import reaches_target as reaches_target
from .widths import width_grid as width_grid

__all__ = [
    "INITS",
    "arccos_monte_carlo",
    "azls_classification",
    "azls_gradient_formula",
    "azls_run",
    "backward_profile",
    "ball_run",
    "cifar_run",
    "conv_resnet_run",
    "depth_convention_errors",
    "depth_degeneracy",
    "depth_profile",
    "descent_run",
    "digits_pair",
    "drift_run",
    "eigen_projection_run",
    "equivalence_run",
    "fit_random_labels",
    "fit_run",
    "floor_per_width",
    "forward_deviation",
    "frequency_run",
    "gated_product_norms",
    "gradient_identity",
    "gram_error",
    "gram_perturbation",
    "gram_stability",
    "hierarchical_target",
    "iterations_to_eps",
    "kernel_regression_run",
    "kernel_scale",
    "lambda0_near_pair",
    "landscape_run",
    "last_layer_gram",
    "lazy_rich",
    "linearization_run",
    "load_cifar_pair",
    "max_stable_lr",
    "min_width_needed",
    "nngp_monte_carlo",
    "ntk_init_error",
    "one_wide_layer_init",
    "one_wide_layer_run",
    "output_std",
    "path_and_parabola",
    "permutation_midpoint",
    "perturbation_stability",
    "perturbed",
    "ratio_at_init",
    "reaches_target",
    "real_data_run",
    "rich_vs_kernel",
    "semi_smoothness_run",
    "sgd_landscape",
    "straight_path",
    "sum_vs_mean",
    "surrogate_vs_relu",
    "tour_run",
    "train_part",
    "trained_stability",
    "two_layer_lazy",
    "width_grid",
]
