"""fnnet's exception types.

Every error a user can cause is one of these, and each is a ``ValueError`` so that code written
against plain Python conventions still catches it. Messages name the problem, show the values,
and say the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


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


def closest_name(name: object, valid: Iterable[str], *, ignore_case: bool = False, cutoff: float = 0.6) -> str | None:
    """The entry of ``valid`` nearest to ``name`` by difflib's ratio (at least ``cutoff``), or None.
    Every "did you mean ...?" in fnnet's error messages comes from here."""
    valid = list(valid)
    if not ignore_case:
        match = difflib.get_close_matches(str(name), valid, n=1, cutoff=cutoff)
        return match[0] if match else None
    by_lower = {v.lower(): v for v in valid}
    match = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1, cutoff=cutoff)
    return by_lower[match[0]] if match else None


def did_you_mean(name: object, valid: Iterable[str], *, ignore_case: bool = True) -> str:
    """' (did you mean 'x'?)' for the nearest valid name (cutoff 0.5), or '' when none is close."""
    match = closest_name(name, valid, ignore_case=ignore_case, cutoff=0.5)
    return f" (did you mean {match!r}?)" if match else ""
