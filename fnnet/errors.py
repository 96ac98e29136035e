"""fnnet's exception types.

Every error a user can cause is one of these, and each is a ``ValueError`` so that code written
against plain Python conventions still catches it. Messages name the problem, show the values,
and say the fix.
"""

from __future__ import annotations


class FnnetError(ValueError):
    """Base class of every error fnnet raises on bad input."""


class ShapeError(FnnetError):
    """An array's shape does not fit a layer, a loss or a dataset."""


class ConfigError(FnnetError):
    """A configuration file or value is invalid."""


class DataError(FnnetError):
    """A dataset file is missing, corrupt, or holds invalid values."""


class CheckpointError(FnnetError):
    """A checkpoint file is missing, corrupt, or belongs to another model."""


class NonFiniteError(FnnetError):
    """Training produced a NaN or Inf loss or gradient.

    ``state`` holds the last good training state and ``history`` the epochs completed before it.
    """

    def __init__(self, message: str, *, state=None, history=None):
        super().__init__(message)
        self.state = state
        self.history = history


class ParamsError(FnnetError):
    """A params pytree does not have the structure a layer expects."""
