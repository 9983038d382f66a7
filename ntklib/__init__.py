"""ntklib: the small PyTorch library behind the textbook on why over-parameterized networks train.

The public surface is what is re-exported here. Modules, dependencies pointing downward:
``utils`` -> ``spec`` -> ``layers`` -> ``models`` -> ``wrappers``; ``losses``; ``diagnostics``
-> ``train``; ``kernels`` (folds a ``spec``), ``ntk`` (empirical kernels), ``predict``;
``theory`` (the papers' bounds), ``analysis``; ``experiments`` (protocols, a package);
``sweep``, ``plotting``, ``widgets`` (the only module importing ipywidgets, loaded lazily).
"""

from . import exercises as exercises
from . import experiments as experiments
from . import spec as spec
from . import theory as theory
from .analysis import fit_slope as fit_slope
from .analysis import steps_to_reach as steps_to_reach
from .data import Data as Data
from .data import circle_data as circle_data
from .data import digits as digits
from .data import min_distance as min_distance
from .data import near_duplicate_pair as near_duplicate_pair
from .data import sphere_data as sphere_data
from .diagnostics import activation_flips as activation_flips
from .diagnostics import backward_norms as backward_norms
from .diagnostics import forward_norms as forward_norms
from .diagnostics import gradient_ratio as gradient_ratio
from .diagnostics import interpolation_path as interpolation_path
from .diagnostics import semi_smoothness as semi_smoothness
from .diagnostics import spectral_norms as spectral_norms
from .exercises import check_answer as check_answer
from .kernels import LimitKernels as LimitKernels
from .kernels import analytic_nngp as analytic_nngp
from .kernels import analytic_ntk as analytic_ntk
from .kernels import du_deep_gram as du_deep_gram
from .kernels import du_two_layer_gram as du_two_layer_gram
from .kernels import limit_kernel as limit_kernel
from .kernels import limit_kernels as limit_kernels
from .kernels import relu_step as relu_step
from .layers import Conv as Conv
from .layers import Dense as Dense
from .losses import loss_value as loss_value
from .models import CNN as CNN
from .models import MLP as MLP
from .models import Features as Features
from .models import OneWideLayerNet as OneWideLayerNet
from .models import ResNet as ResNet
from .models import TwoLayerNet as TwoLayerNet
from .ntk import cross_ntk as cross_ntk
from .ntk import empirical_ntk as empirical_ntk
from .ntk import kernel_drift as kernel_drift
from .ntk import kernel_drift_hook as kernel_drift_hook
from .ntk import lambda_max as lambda_max
from .ntk import min_eigenvalue as min_eigenvalue
from .ntk import ntk_learning_rate as ntk_learning_rate
from .plotting import plot_bars as plot_bars
from .plotting import plot_histogram as plot_histogram
from .plotting import plot_kernel as plot_kernel
from .plotting import plot_loglog_fit as plot_loglog_fit
from .plotting import plot_loss_curves as plot_loss_curves
from .plotting import plot_path as plot_path
from .plotting import use_book_style as use_book_style
from .predict import Dynamics as Dynamics
from .predict import eigen_projection_curve as eigen_projection_curve
from .predict import gd_dynamics as gd_dynamics
from .predict import kernel_regression as kernel_regression
from .predict import label_complexity as label_complexity
from .spec import NetSpec as NetSpec
from .spec import activation_constant as activation_constant
from .sweep import cached as cached
from .sweep import sweep as sweep
from .theory import BOUNDS as BOUNDS
from .train import DivergenceError as DivergenceError
from .train import History as History
from .train import stable_learning_rate as stable_learning_rate
from .train import train as train
from .utils import DEFAULT_DTYPE as DEFAULT_DTYPE
from .utils import check_choice as check_choice
from .utils import check_dtype as check_dtype
from .utils import check_finite as check_finite
from .utils import check_int as check_int
from .utils import check_positive as check_positive
from .utils import check_tensor as check_tensor
from .utils import check_xy as check_xy
from .utils import make_generator as make_generator
from .utils import pick_device as pick_device
from .wrappers import FixedPatternNet as FixedPatternNet
from .wrappers import linearize as linearize
from .wrappers import scaled as scaled


def panel(compute, plot, controls, **kwargs):
    """Lazy alias of :func:`ntklib.widgets.panel` (imports ipywidgets on first use, so
    ``import ntklib`` never loads it)."""
    from .widgets import panel as _panel

    return _panel(compute, plot, controls, **kwargs)
