"""The ``Dataset`` record every loader returns, its validation, and the seeded train/val/test split.

A dataset is plain NumPy on the host: ``x`` is float32 of shape ``(n, *input_shape)``; ``y`` is
either int32 class ids of shape ``(n,)`` (``task="classification"``) or float32 targets of shape
``(n, k)`` (``task="regression"``, which also covers autoencoding). Moving arrays to the device is
the batching code's job, so nothing here imports JAX.

The record checks itself when it is built (:meth:`Dataset.validate`): a dataset that exists is one
whose splits agree in length and shape, whose inputs are finite and whose labels are valid class
ids. The arrays it holds are read-only views, so a frozen record stays frozen.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from fnnet.errors import DataError

Task = Literal["classification", "regression"]
TASKS: tuple[str, ...] = ("classification", "regression")
SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """Train, validation and test splits of one dataset, validated at construction.

    Attributes:
      name: a short name for logs and results files, e.g. ``"digits"``.
      x_train, x_val, x_test: float32 (or float64, see :meth:`as_float64`) inputs of shape
        ``(n_split, *input_shape)``.
      y_train, y_val, y_test: classification: int32 class ids of shape ``(n_split,)`` in
        ``[0, num_classes)``; regression: float targets of shape ``(n_split, k)``.
      num_classes: number of classes for classification, ``None`` for regression.
      input_shape: shape of one example, e.g. ``(64,)`` flat or ``(8, 8, 1)`` NHWC.
      task: ``"classification"`` or ``"regression"``.
      metadata: free-form facts about the data (source, split seed, reference sizes); read-only.

    A split may be empty (0 rows): the small synthetic problems (XOR, parity, encoder) train on
    every pattern and leave ``val`` and ``test`` empty. The training split may not be empty.
    Equality is identity (``eq=False``): comparing arrays element-wise is not what ``==`` should do.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int | None
    input_shape: tuple[int, ...]
    task: Task
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        # Normalise to read-only views (no copy) so the frozen record cannot be mutated through
        # its arrays; the caller's own arrays keep their flags.
        for split in SPLITS:
            for prefix in ("x", "y"):
                field = f"{prefix}_{split}"
                value = getattr(self, field)
                if not isinstance(value, np.ndarray):
                    raise DataError(
                        f"Dataset {self.name!r}: {field} must be a NumPy array, got "
                        f"{type(value).__name__}; convert it with np.asarray(...)."
                    )
                view = value.view()
                view.flags.writeable = False
                object.__setattr__(self, field, view)
        if isinstance(self.input_shape, list):
            object.__setattr__(self, "input_shape", tuple(self.input_shape))
        object.__setattr__(self, "metadata", MappingProxyType(dict(self.metadata)))
        self.validate()

    # ------------------------------------------------------------------ validation

    def validate(self) -> None:
        """Check every invariant; raise :class:`DataError` naming the split, index and fix.

        Checks: ``task`` and ``num_classes`` agree; ``input_shape`` is a tuple of non-negative
        ints; each split has as many ``x`` rows as ``y`` rows; every ``x`` has shape
        ``(n, *input_shape)`` and a floating dtype and holds only finite values; labels are int32
        ids in ``[0, num_classes)``, or finite float targets of one shared width ``k``; the
        training split is not empty.
        """
        name = self.name
        if not isinstance(name, str) or not name:
            raise DataError(f"Dataset name must be a non-empty string, got {name!r}.")
        if self.task not in TASKS:
            raise DataError(f"Dataset {name!r}: task must be one of {TASKS}, got {self.task!r}.")
        shape = self.input_shape
        if not isinstance(shape, tuple) or not all(
            isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise DataError(
                f"Dataset {name!r}: input_shape must be a tuple of non-negative ints, got "
                f"{shape!r}."
            )
        if self.task == "classification":
            k = self.num_classes
            if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
                raise DataError(
                    f"Dataset {name!r}: a classification dataset needs num_classes >= 1 "
                    f"(an int), got {k!r}."
                )
        elif self.num_classes is not None:
            raise DataError(
                f"Dataset {name!r}: a regression dataset has num_classes=None, got "
                f"{self.num_classes!r}; use task='classification' for class ids."
            )

        target_width: int | None = None
        for split in SPLITS:
            x = getattr(self, f"x_{split}")
            y = getattr(self, f"y_{split}")
            _check_inputs(name, split, x, shape)
            if y.ndim == 0 or x.shape[0] != y.shape[0]:
                raise DataError(
                    f"Dataset {name!r}: split {split!r} has {x.shape[0]} inputs (x_{split} "
                    f"shape {x.shape}) but y_{split} has shape {y.shape}; x and y need the same "
                    f"number of rows."
                )
            if self.task == "classification":
                _check_labels(name, split, y, int(self.num_classes))  # type: ignore[arg-type]
            else:
                _check_targets(name, split, y)
                if target_width is None:
                    target_width = y.shape[1]
                elif y.shape[1] != target_width:
                    raise DataError(
                        f"Dataset {name!r}: y_{split} has {y.shape[1]} target columns but "
                        f"y_train has {target_width}; every split needs the same width."
                    )
        if self.x_train.shape[0] == 0:
            raise DataError(f"Dataset {name!r}: the training split is empty.")

    # ------------------------------------------------------------------ views

    @property
    def splits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{"train": (x, y), "val": (x, y), "test": (x, y)}`` in that order."""
        return {s: (getattr(self, f"x_{s}"), getattr(self, f"y_{s}")) for s in SPLITS}

    @property
    def n_train(self) -> int:
        """Number of training examples."""
        return int(self.x_train.shape[0])

    @property
    def n_val(self) -> int:
        """Number of validation examples (0 when the dataset has no validation split)."""
        return int(self.x_val.shape[0])

    @property
    def n_test(self) -> int:
        """Number of test examples (0 when the dataset has no test split)."""
        return int(self.x_test.shape[0])

    @property
    def output_dim(self) -> int:
        """Width of the network's output: ``num_classes``, or the target width ``k``."""
        if self.task == "classification":
            return int(self.num_classes)  # type: ignore[arg-type]
        return int(self.y_train.shape[1])

    @property
    def dtype(self) -> np.dtype:
        """Floating dtype of the inputs (float32 unless converted with :meth:`astype`)."""
        return self.x_train.dtype

    def one_hot(self, y: np.ndarray, dtype: Any = None) -> np.ndarray:
        """Class ids ``(n,)`` -> one-hot rows ``(n, num_classes)`` in this dataset's dtype.

        Raises :class:`DataError` for a regression dataset or ids outside ``[0, num_classes)``.
        """
        if self.task != "classification":
            raise DataError(
                f"Dataset {self.name!r} is a regression dataset; its targets are already "
                f"vectors of width {self.output_dim}, so there is nothing to one-hot encode."
            )
        k = int(self.num_classes)  # type: ignore[arg-type]
        return one_hot(y, k, dtype=self.dtype if dtype is None else dtype)

    def astype(self, dtype: Any) -> Dataset:
        """A copy with inputs (and float targets) cast to floating ``dtype``; labels stay int32."""
        dt = np.dtype(dtype)
        if dt.kind != "f":
            raise DataError(
                f"Dataset {self.name!r}: astype needs a floating dtype (float32/float64), got {dt}."
            )
        changes: dict[str, np.ndarray] = {}
        for split in SPLITS:
            changes[f"x_{split}"] = getattr(self, f"x_{split}").astype(dt)
            y = getattr(self, f"y_{split}")
            changes[f"y_{split}"] = y.astype(dt) if self.task == "regression" else y
        return dataclasses.replace(self, **changes)

    def as_float64(self) -> Dataset:
        """A float64 copy, for gradient checks and float64 reference runs."""
        return self.astype(np.float64)

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{s}={getattr(self, f'x_{s}').shape}->{getattr(self, f'y_{s}').shape}" for s in SPLITS
        )
        extra = (
            f"num_classes={self.num_classes}"
            if self.task == "classification"
            else f"targets={self.output_dim}"
        )
        return (
            f"Dataset({self.name!r}, task={self.task!r}, input_shape={self.input_shape}, "
            f"{extra}, {parts}, dtype={self.dtype})"
        )


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


# ---------------------------------------------------------------------- splitting


def split_counts(
    n: int, y: np.ndarray | None, *, n_val: int, n_test: int, seed: int, stratify: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded partition of ``range(n)`` into (train, val, test) index arrays of exact sizes.

    ``n_val`` and ``n_test`` are counts; train gets the rest. With ``stratify`` and integer class
    ids ``y: (n,)``, every prefix of the class-interleaved order holds each class within one
    example of its share, so val and test keep the class proportions. Each returned index array
    is in a seeded random order. Same arguments -> identical arrays (NumPy ``default_rng(seed)``).
    """
    where = "split"
    n = check_int("n", n, low=1, where=where)
    n_val = check_int("n_val", n_val, low=0, where=where)
    n_test = check_int("n_test", n_test, low=0, where=where)
    seed = check_int("seed", seed, low=0, where=where)
    if n_val + n_test >= n:
        raise DataError(
            f"split: n_val={n_val} + n_test={n_test} leaves no training examples out of {n}; "
            f"use smaller validation/test sizes."
        )
    rng = np.random.default_rng(seed)
    if stratify and y is not None and y.ndim == 1 and y.dtype.kind in "iu":
        # Item j of a class with n_c members (in a seeded random order) gets the key
        # (j + u_c) / n_c with u_c ~ U[0, 1): sorting by key interleaves the classes so that
        # any prefix of length m holds m * n_c / n (+-1) items of each class.
        perm = rng.permutation(n)
        keys = np.empty(n, dtype=np.float64)
        labels = y[perm]
        for c in np.unique(labels):
            members = np.flatnonzero(labels == c)
            keys[members] = (np.arange(members.size) + rng.random()) / members.size
        order = perm[np.argsort(keys, kind="stable")]
    else:
        order = rng.permutation(n)
    test = order[:n_test]
    val = order[n_test : n_test + n_val]
    train = order[n_test + n_val :]
    # A final seeded shuffle of each part, so no split is ordered by class.
    return rng.permutation(train), rng.permutation(val), rng.permutation(test)


def split_indices(
    n: int,
    y: np.ndarray | None = None,
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    stratify: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Like :func:`split_counts`, with sizes ``round(fraction * n)``."""
    where = "split"
    val_fraction = check_fraction("val_fraction", val_fraction, where=where)
    test_fraction = check_fraction("test_fraction", test_fraction, where=where)
    if val_fraction + test_fraction >= 1.0:
        raise DataError(
            f"split: val_fraction={val_fraction} + test_fraction={test_fraction} >= 1 leaves no "
            f"training data; their sum must be below 1."
        )
    return split_counts(
        n,
        y,
        n_val=round(val_fraction * n),
        n_test=round(test_fraction * n),
        seed=seed,
        stratify=stratify,
    )


def split(
    x: np.ndarray,
    y: np.ndarray,
    *,
    val_fraction: float,
    test_fraction: float,
    seed: int,
    stratify: bool = True,
) -> tuple[
    tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]
]:
    """Deterministic seeded split of ``(x: (n, ...), y: (n, ...))`` into train, val and test.

    Returns ``((x_train, y_train), (x_val, y_val), (x_test, y_test))``. Sizes are
    ``round(val_fraction * n)`` and ``round(test_fraction * n)``; train holds the rest. Stratified
    by class when ``stratify`` and ``y`` is 1-D integer class ids. The splits are disjoint and
    together cover every example exactly once; same seed -> identical arrays.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim < 1 or y.ndim < 1 or x.shape[0] != y.shape[0]:
        raise DataError(
            f"split: x has shape {x.shape} and y has shape {y.shape}; they need the same number "
            f"of rows (first axis)."
        )
    train, val, test = split_indices(
        x.shape[0],
        y,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        seed=seed,
        stratify=stratify,
    )
    return (x[train], y[train]), (x[val], y[val]), (x[test], y[test])
