"""MNIST-1D (Greydanus & Kobak 2020), generated locally with the optional ``mnist1d`` package.

MNIST-1D turns ten hand-drawn 1-D templates into 40-sample signals by random padding, scaling,
translation, correlated and i.i.d. noise and shear. It is small (5,000 examples by default) yet
separates MLPs from CNNs far better than 8x8 digits, which makes it a good CPU benchmark.

``pip install mnist1d`` (0.0.2.post1 tested). Only its generator, ``mnist1d.data.make_dataset``,
is called: it needs no network and writes no files. Its ``get_dataset`` is *not* used, because it
downloads and unpickles a file from GitHub and caches a pickle in the working directory. The
generator seeds NumPy's and Python's *global* random state; this wrapper saves and restores both,
so calling it leaves the caller's global RNGs untouched.

With the default arguments (5,000 samples, seed 42) this is the generator and the settings of
the published ``mnist1d_data.pkl``; whether the regenerated arrays equal that file was not checked
(it would need a download), so results quoted against the paper should say the data was
regenerated.
"""

from __future__ import annotations

import random

import numpy as np

from fnnet.data.checks import check_fraction, check_int
from fnnet.data.dataset import Dataset
from fnnet.data.splits import split_indices
from fnnet.errors import DataError


def mnist1d(
    *,
    num_samples: int = 5000,
    seed: int = 42,
    val_fraction: float = 0.1,
    flatten: bool = True,
) -> Dataset:
    """MNIST-1D: 40-sample signals in 10 classes; the package's 80/20 train/test split.

    Args:
      num_samples: examples generated (``num_samples // 10`` per class); the package's first
        80% are training data and the last 20% the test split, as in the paper.
      seed: the generator's seed (42 is the package default and the paper's dataset).
      val_fraction: share of the training part held out, stratified and seeded with ``seed``.
      flatten: ``True`` -> ``x: (n, 40)``; ``False`` -> NWC ``x: (n, 40, 1)`` for 1-D convolutions.

    Returns:
      A classification :class:`Dataset` named ``"mnist1d"``; ``x`` float32 (standardised by the
      generator to mean 0, std 1 over the whole set), ``y`` int32 in 0..9.

    Raises:
      DataError: the ``mnist1d`` package is not installed (the message says how to install it).
    """
    where = "mnist1d"
    num_samples = check_int("num_samples", num_samples, low=20, where=where)
    seed = check_int("seed", seed, low=0, high=2**32 - 1, where=where)
    val_fraction = check_fraction("val_fraction", val_fraction, where=where)
    if not isinstance(flatten, bool):
        raise DataError(f"{where}: flatten must be True or False, got {flatten!r}.")
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as err:
        raise DataError(
            f"The MNIST-1D dataset needs the optional package 'mnist1d', which is not importable "
            f"({err}). Install it with `pip install mnist1d`; it generates the data locally, "
            f"without a download."
        ) from None

    args = get_dataset_args()
    args.num_samples = num_samples
    args.seed = seed
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        raw = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)

    x_all = np.asarray(raw["x"], dtype=np.float32)
    y_all = np.asarray(raw["y"], dtype=np.int32)
    x_test = np.asarray(raw["x_test"], dtype=np.float32)
    y_test = np.asarray(raw["y_test"], dtype=np.int32)
    train_idx, val_idx, _ = split_indices(
        x_all.shape[0], y_all, val_fraction=val_fraction, test_fraction=0.0, seed=seed
    )
    length = x_all.shape[1]
    shape: tuple[int, ...] = (length,) if flatten else (length, 1)
    return Dataset(
        name="mnist1d",
        x_train=x_all[train_idx].reshape((-1, *shape)),
        y_train=y_all[train_idx],
        x_val=x_all[val_idx].reshape((-1, *shape)),
        y_val=y_all[val_idx],
        x_test=x_test.reshape((-1, *shape)),
        y_test=y_test,
        num_classes=10,
        input_shape=shape,
        task="classification",
        metadata={
            "source": "mnist1d.data.make_dataset (regenerated locally)",
            "num_samples": num_samples,
            "seed": seed,
            "val_fraction": val_fraction,
        },
    )
