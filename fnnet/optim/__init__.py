"""Update rules, each an optax ``GradientTransformation`` (updates are *added* to the params).

- :func:`sgd`, :func:`momentum`, :func:`nesterov`: the lecture notes' Δw(t) = -η ∂E/∂w + α Δw(t-1).
- :func:`rprop`: Rprop+, Rprop-, iRprop+, iRprop- (Igel & Hüsken 2000), see :data:`RPROP_VARIANTS`.
- :func:`quickprop`: Fahlman (1988).
- :func:`levenberg_marquardt`, :func:`lm_step`: full-batch Levenberg-Marquardt on residuals.
- :func:`lbfgs` (optax's), :func:`minimize_lbfgs`, :func:`bfgs` (jax.scipy's).
- :func:`get`: build any of these, or an optax optimizer, by name.
"""

from fnnet.optim.quickprop import QuickpropState, quickprop
from fnnet.optim.registry import NAMES, get
from fnnet.optim.rprop import RPROP_VARIANTS, RpropState, rprop
from fnnet.optim.second_order import (
    LM_STOP_REASONS,
    LMResult,
    bfgs,
    lbfgs,
    levenberg_marquardt,
    lm_step,
    minimize_lbfgs,
)
from fnnet.optim.sgd import MomentumState, momentum, nesterov, sgd

__all__ = [
    "LM_STOP_REASONS",
    "NAMES",
    "RPROP_VARIANTS",
    "LMResult",
    "MomentumState",
    "QuickpropState",
    "RpropState",
    "bfgs",
    "get",
    "lbfgs",
    "levenberg_marquardt",
    "lm_step",
    "minimize_lbfgs",
    "momentum",
    "nesterov",
    "quickprop",
    "rprop",
    "sgd",
]
