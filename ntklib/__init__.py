"""ntklib: the small PyTorch library behind the textbook on why over-parameterized networks train.

Each block below is owned by one part of the library; the public surface is what is re-exported
here.
"""

# --- core ---
from .data import Data as Data
from .data import circle_data as circle_data
from .data import digits as digits
from .data import min_distance as min_distance
from .data import near_duplicate_pair as near_duplicate_pair
from .data import sphere_data as sphere_data
from .layers import Conv as Conv
from .layers import Dense as Dense
from .models import CNN as CNN
from .models import MLP as MLP
from .models import Features as Features
from .models import FixedPatternNet as FixedPatternNet
from .models import ResNet as ResNet
from .models import TwoLayerNet as TwoLayerNet
from .models import activation_constant as activation_constant
from .models import linearize as linearize
from .models import scaled as scaled
from .utils import DEFAULT_DTYPE as DEFAULT_DTYPE
from .utils import check_choice as check_choice
from .utils import check_dtype as check_dtype
from .utils import check_finite as check_finite
from .utils import check_int as check_int
from .utils import check_positive as check_positive
from .utils import check_xy as check_xy
from .utils import make_generator as make_generator
from .utils import pick_device as pick_device

# --- end core ---

# --- train ---
# isort: split
from .diagnostics import activation_flips as activation_flips
from .diagnostics import backward_norms as backward_norms
from .diagnostics import forward_norms as forward_norms
from .diagnostics import gradient_ratio as gradient_ratio
from .diagnostics import interpolation_path as interpolation_path
from .diagnostics import semi_smoothness as semi_smoothness
from .diagnostics import spectral_norms as spectral_norms
from .theory import BOUNDS as BOUNDS
from .theory import fit_slope as fit_slope
from .theory import steps_to_reach as steps_to_reach
from .train import DivergenceError as DivergenceError
from .train import History as History
from .train import loss_value as loss_value
from .train import stable_learning_rate as stable_learning_rate
from .train import train as train

# --- end train ---

# --- kernels ---
# isort: split
from .kernels import analytic_nngp as analytic_nngp
from .kernels import analytic_ntk as analytic_ntk
from .kernels import du_deep_gram as du_deep_gram
from .kernels import du_two_layer_gram as du_two_layer_gram
from .kernels import limit_kernel as limit_kernel
from .kernels import relu_step as relu_step
from .ntk import empirical_ntk as empirical_ntk
from .ntk import kernel_drift as kernel_drift
from .ntk import kernel_drift_hook as kernel_drift_hook
from .ntk import lambda_max as lambda_max
from .ntk import min_eigenvalue as min_eigenvalue
from .predict import Dynamics as Dynamics
from .predict import eigen_projection_curve as eigen_projection_curve
from .predict import gd_dynamics as gd_dynamics
from .predict import kernel_regression as kernel_regression
from .predict import label_complexity as label_complexity

# --- end kernels ---

# --- book ---
# isort: split
# Plotting and sweeps are re-exported eagerly (matplotlib, joblib only). ipywidgets is NOT imported
# by `import ntklib`: `panel` below is a thin wrapper that imports ntklib.widgets on first call,
# so library users and tests without a notebook never load ipywidgets. `import ntklib.widgets`
# gives the module itself (Panel, make_control).
from .plotting import plot_bars as plot_bars
from .plotting import plot_histogram as plot_histogram
from .plotting import plot_kernel as plot_kernel
from .plotting import plot_loglog_fit as plot_loglog_fit
from .plotting import plot_loss_curves as plot_loss_curves
from .plotting import plot_path as plot_path
from .plotting import use_book_style as use_book_style
from .sweep import cached as cached
from .sweep import sweep as sweep


def panel(compute, plot, controls, **kwargs):
    """Lazy alias of :func:`ntklib.widgets.panel` (imports ipywidgets on first use)."""
    from .widgets import panel as _panel

    return _panel(compute, plot, controls, **kwargs)


# --- end book ---
