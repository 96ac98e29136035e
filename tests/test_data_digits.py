"""scikit-learn's 8x8 digits: shapes, dtypes, scaling, determinism and an exact partition."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from fnnet.data import digits
from fnnet.errors import DataError


@pytest.fixture(scope="module")
def ds():
    return digits()


@pytest.fixture(scope="module")
def original():
    bunch = load_digits()
    return bunch.data.astype(np.float32), bunch.target.astype(np.int32)


def _rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(image, label) rows sorted lexicographically: a canonical form of a multiset."""
    table = np.hstack([x.reshape(len(x), -1), y[:, None].astype(np.float32)])
    return table[np.lexsort(table.T[::-1])]


def test_shapes_dtypes_and_ranges(ds):
    assert (ds.n_train, ds.n_val, ds.n_test) == (1258, 180, 359)
    assert ds.input_shape == (64,) and ds.num_classes == 10 and ds.task == "classification"
    for x, y in ds.splits.values():
        assert x.dtype == np.float32 and y.dtype == np.int32
        assert x.min() >= 0.0 and x.max() <= 1.0
        assert set(np.unique(y)) == set(range(10))


def test_splits_are_disjoint_and_cover_all_1797(ds, original):
    x_all = np.concatenate([ds.x_train, ds.x_val, ds.x_test]) * 16
    y_all = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
    assert len(x_all) == 1797
    # The multiset of (image, label) rows equals the original: nothing lost, nothing repeated.
    np.testing.assert_array_equal(_rows(x_all, y_all), _rows(*original))


def test_same_seed_identical_other_seed_different(ds):
    again = digits(seed=0)
    for (xa, ya), (xb, yb) in zip(ds.splits.values(), again.splits.values()):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    other = digits(seed=1)
    assert not np.array_equal(ds.x_val, other.x_val)


def test_stratified(ds):
    counts = np.bincount(np.concatenate([ds.y_train, ds.y_val, ds.y_test]), minlength=10)
    for n, y in ((ds.n_val, ds.y_val), (ds.n_test, ds.y_test)):
        assert np.all(np.abs(np.bincount(y, minlength=10) - n * counts / 1797) < 2)


def test_nhwc_layout_matches_flat(ds):
    cnn = digits(flatten=False)
    assert cnn.input_shape == (8, 8, 1) and cnn.x_train.shape == (1258, 8, 8, 1)
    np.testing.assert_array_equal(cnn.x_train.reshape(1258, 64), ds.x_train)


def test_other_scales(ds):
    raw = digits(scale="raw")
    np.testing.assert_array_equal(raw.x_train, ds.x_train * 16)
    std = digits(scale="standard")
    np.testing.assert_allclose(std.x_train.mean(axis=0), 0.0, atol=1e-5)
    spread = std.x_train.std(axis=0)
    assert np.all((np.abs(spread - 1) < 1e-4) | (spread == 0))


def test_custom_fractions():
    small = digits(val_fraction=0.0, test_fraction=0.5, seed=7)
    assert (small.n_train, small.n_val, small.n_test) == (899, 0, 898)  # round(898.5) == 898


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"scale": "minmax"}, "scale must be one of"),
        ({"flatten": "yes"}, "flatten"),
        ({"val_fraction": 0.6, "test_fraction": 0.5}, "below 1"),
        ({"seed": 1.5}, "seed must be an int"),
    ],
)
def test_bad_arguments(kwargs, pattern):
    with pytest.raises(DataError, match=pattern):
        digits(**kwargs)
