"""Training: pure steps, scan-compiled epochs, ``fit``, populations (vmap) and data parallelism.

- :func:`make_step` -- ``step(state, (x, t)) -> (state, metrics)``, manual or autodiff gradients.
- :func:`make_epochs` -- many epochs as one compiled ``lax.scan`` program; NaN/Inf guarded per
  step (``guard="step"``) or only detected (``guard="detect"``, cheaper: run again to locate).
- :func:`fit` -- stopping rules, early stopping, callbacks, NaN guard (detect, then replay);
  compiled programs are reused across calls.
- :func:`train_population` -- K networks (seeds x hyper-parameters) in one program with ``vmap``.
- :mod:`fnnet.train.sharding` -- data parallelism over a ``jax.sharding.Mesh``.
"""

from fnnet.train.epoch import evaluate, make_epochs
from fnnet.train.fit import FitResult, fit
from fnnet.train.population import PopulationResult, train_population
from fnnet.train.state import TrainState, init_state
from fnnet.train.step import GRAD_METHODS, accuracy, make_step

__all__ = [
    "GRAD_METHODS",
    "FitResult",
    "PopulationResult",
    "TrainState",
    "accuracy",
    "evaluate",
    "fit",
    "init_state",
    "make_epochs",
    "make_step",
    "train_population",
]
