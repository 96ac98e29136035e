"""The seeded, optionally stratified train/val/test split of a dataset's examples.

:func:`split_counts` partitions ``range(n)`` into train, validation and test index arrays of exact
sizes; :func:`split_indices` does the same from fractions; :func:`split` applies it to ``(x, y)``
arrays. Same arguments and seed give identical arrays (NumPy ``default_rng(seed)``), and with
integer class ids the validation and test parts keep the class proportions. Plain NumPy.
"""

from __future__ import annotations

import numpy as np

from fnnet.data.checks import check_fraction, check_int
from fnnet.errors import DataError

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
