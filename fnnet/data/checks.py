"""Data validation: the per-split checks ``Dataset`` runs, ``one_hot``, and loader-argument checks.

``_check_inputs``, ``_check_labels`` and ``_check_targets`` enforce the invariants of one split of a
:class:`~fnnet.data.dataset.Dataset` (input shape, dtype and finiteness; class ids in range; float
target shape); :func:`one_hot` encodes class ids; :func:`check_int`, :func:`check_fraction` and
:func:`check_choice` validate a loader's arguments. Every failure raises :class:`DataError` naming
the field, the offending value and the fix. Plain NumPy: nothing here imports JAX or ``Dataset``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fnnet.errors import DataError

# ---------------------------------------------------------------------- checks


def _check_inputs(name: str, split: str, x: np.ndarray, shape: tuple[int, ...]) -> None:
    field = f"x_{split}"
    if x.ndim < 1 or tuple(x.shape[1:]) != tuple(shape):
        raise DataError(
            f"Dataset {name!r}: {field} has shape {x.shape}, expected (n, *input_shape) = "
            f"(n, {', '.join(map(str, shape))}{',' if len(shape) == 1 else ''}); every split must "
            f"hold examples of input_shape {shape}."
        )
    if x.dtype.kind != "f":
        raise DataError(
            f"Dataset {name!r}: {field} has dtype {x.dtype}; inputs must be floating point "
            f"(float32). Cast with x.astype(np.float32), scaling integer pixels first."
        )
    finite = np.isfinite(x)
    if not finite.all():
        position = tuple(int(i) for i in np.argwhere(~finite)[0])
        value = x[position]
        n_bad = int(x.size - np.count_nonzero(finite))
        raise DataError(
            f"Dataset {name!r}: {field} holds {n_bad} non-finite value(s); the first is {value} "
            f"in example {position[0]} (position {position}). Drop or repair those examples "
            f"before building the Dataset."
        )


def _check_labels(name: str, split: str, y: np.ndarray, num_classes: int) -> None:
    field = f"y_{split}"
    if y.ndim != 1:
        raise DataError(
            f"Dataset {name!r}: {field} has shape {y.shape}; class labels must be a 1-D array "
            f"of ids (n,). For one-hot rows use y.argmax(axis=1); for vector targets use "
            f"task='regression'."
        )
    if y.dtype != np.int32:
        raise DataError(
            f"Dataset {name!r}: {field} has dtype {y.dtype}; class labels must be int32 ids. "
            f"Cast with y.astype(np.int32)."
        )
    bad = (y < 0) | (y >= num_classes)
    if bad.any():
        index = int(np.argmax(bad))
        raise DataError(
            f"Dataset {name!r}: {field}[{index}] = {int(y[index])} is outside the valid class "
            f"range [0, {num_classes}) (num_classes={num_classes}); {int(bad.sum())} label(s) "
            f"are out of range. Fix the labels or pass the right num_classes."
        )


def _check_targets(name: str, split: str, y: np.ndarray) -> None:
    field = f"y_{split}"
    if y.ndim != 2:
        raise DataError(
            f"Dataset {name!r}: {field} has shape {y.shape}; regression targets must be 2-D "
            f"(n, k). Reshape a vector with y.reshape(-1, 1)."
        )
    if y.dtype.kind != "f":
        raise DataError(
            f"Dataset {name!r}: {field} has dtype {y.dtype}; regression targets must be "
            f"floating point (float32)."
        )
    finite = np.isfinite(y)
    if not finite.all():
        position = tuple(int(i) for i in np.argwhere(~finite)[0])
        raise DataError(
            f"Dataset {name!r}: {field} holds a non-finite target {y[position]} in example "
            f"{position[0]} (position {position}). Drop or repair it."
        )


# ---------------------------------------------------------------------- helpers


def one_hot(y: np.ndarray, num_classes: int, *, dtype: Any = np.float32) -> np.ndarray:
    """Class ids ``y: (n,)`` -> one-hot rows ``(n, num_classes)`` of ``dtype`` (float32 default)."""
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise DataError(
            f"one_hot needs a 1-D integer array of class ids, got shape {y.shape} dtype {y.dtype}."
        )
    bad = (y < 0) | (y >= num_classes)
    if bad.any():
        index = int(np.argmax(bad))
        raise DataError(f"one_hot: y[{index}] = {int(y[index])} is outside [0, {num_classes}).")
    out = np.zeros((y.shape[0], num_classes), dtype=dtype)
    out[np.arange(y.shape[0]), y] = 1
    return out


def check_int(name: str, value: Any, *, low: int, high: int | None = None, where: str) -> int:
    """Validate an integer argument in ``[low, high]``; raise :class:`DataError` otherwise."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise DataError(f"{where}: {name} must be an int, got {value!r} ({type(value).__name__}).")
    if value < low or (high is not None and value > high):
        upper = "" if high is None else f" and <= {high}"
        raise DataError(f"{where}: {name} must be >= {low}{upper}, got {value}.")
    return int(value)


def check_fraction(name: str, value: Any, *, where: str) -> float:
    """Validate a fraction in ``[0, 1)``; raise :class:`DataError` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise DataError(f"{where}: {name} must be a number in [0, 1), got {value!r}.")
    value = float(value)
    if not 0.0 <= value < 1.0:
        raise DataError(f"{where}: {name} must be in [0, 1), got {value}.")
    return value


def check_choice(name: str, value: Any, choices: tuple[str, ...], *, where: str) -> str:
    """Validate that ``value`` is one of ``choices``; the error lists them."""
    if value not in choices:
        raise DataError(f"{where}: {name} must be one of {choices}, got {value!r}.")
    return value
