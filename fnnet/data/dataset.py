"""The ``Dataset`` record every loader returns and its validation.

A dataset is plain NumPy on the host: ``x`` is float32 of shape ``(n, *input_shape)``; ``y`` is
either int32 class ids of shape ``(n,)`` (``task="classification"``) or float32 targets of shape
``(n, k)`` (``task="regression"``, which also covers autoencoding). Moving arrays to the device is
the batching code's job, so nothing here imports JAX.

The record checks itself when it is built (:meth:`Dataset.validate`): a dataset that exists is one
whose splits agree in length and shape, whose inputs are finite and whose labels are valid class
ids. The arrays it holds are read-only views, so a frozen record stays frozen. The per-split checks
and argument helpers live in :mod:`fnnet.data.checks` and the seeded train/val/test split in
:mod:`fnnet.data.splits`; both are re-exported here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from fnnet.data.checks import _check_inputs, _check_labels, _check_targets, one_hot
from fnnet.errors import DataError

__all__ = ["SPLITS", "TASKS", "Dataset", "Task"]

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
