"""scikit-learn's bundled 8x8 handwritten digits with a fixed, seeded train/val/test split.

``sklearn.datasets.load_digits`` ships the UCI "Optical Recognition of Handwritten Digits" test
set with scikit-learn: 1,797 images of 8x8 pixels, each an integer count 0..16, ten classes. It
needs no download, so it is the dataset the test suite and the quick experiments train on.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from fnnet.data.checks import check_choice
from fnnet.data.dataset import Dataset
from fnnet.data.splits import split
from fnnet.errors import DataError

N_DIGITS = 1797
SCALES: tuple[str, ...] = ("unit", "standard", "raw")


def digits(
    *,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
    flatten: bool = True,
    scale: Literal["unit", "standard", "raw"] = "unit",
) -> Dataset:
    """The 1,797 8x8 digits, split train/val/test by a seeded stratified split.

    Args:
      val_fraction, test_fraction: sizes ``round(fraction * 1797)``; defaults give
        1,258 / 180 / 359. Every class keeps its share in each split (within one example).
      seed: seed of the split; the same seed gives identical arrays.
      flatten: ``True`` -> ``x: (n, 64)``; ``False`` -> NHWC ``x: (n, 8, 8, 1)`` for CNNs.
      scale: ``"unit"`` divides the pixel counts 0..16 by 16 into [0, 1]; ``"standard"``
        subtracts the training split's per-pixel mean and divides by its standard deviation
        (pixels constant on the training split are only centred); ``"raw"`` keeps 0..16.

    Returns:
      A classification :class:`Dataset` named ``"digits"``: ``x`` float32, ``y`` int32 in 0..9,
      ``num_classes=10``.
    """
    where = "digits"
    scale = check_choice("scale", scale, SCALES, where=where)  # type: ignore[assignment]
    if not isinstance(flatten, bool):
        raise DataError(f"{where}: flatten must be True or False, got {flatten!r}.")
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:  # scikit-learn is a dependency, but say so clearly if absent
        raise DataError(f"digits needs scikit-learn (pip install scikit-learn): {err}.") from None
    bunch = load_digits()
    x = np.asarray(bunch.data, dtype=np.float64)  # (1797, 64), counts 0..16
    y = np.asarray(bunch.target, dtype=np.int32)  # (1797,)

    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = split(
        x, y, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed
    )
    if scale == "unit":
        x_tr, x_va, x_te = (a / 16.0 for a in (x_tr, x_va, x_te))
    elif scale == "standard":
        mean = x_tr.mean(axis=0)
        std = x_tr.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        x_tr, x_va, x_te = ((a - mean) / std for a in (x_tr, x_va, x_te))

    shape: tuple[int, ...] = (64,) if flatten else (8, 8, 1)
    x_tr, x_va, x_te = (a.reshape((-1, *shape)).astype(np.float32) for a in (x_tr, x_va, x_te))
    return Dataset(
        name="digits",
        x_train=x_tr,
        y_train=y_tr,
        x_val=x_va,
        y_val=y_va,
        x_test=x_te,
        y_test=y_te,
        num_classes=10,
        input_shape=shape,
        task="classification",
        metadata={
            "source": "sklearn.datasets.load_digits (UCI optical digits, 8x8, counts 0..16)",
            "seed": seed,
            "val_fraction": val_fraction,
            "test_fraction": test_fraction,
            "scale": scale,
        },
    )
