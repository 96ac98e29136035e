"""The Dataset record's validation and helpers, and the seeded (stratified) split."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fnnet.data import Dataset, one_hot, split, split_counts, split_indices
from fnnet.errors import DataError


def make(**changes) -> Dataset:
    """A valid 3-class dataset with 6/4/5 examples of shape (2, 3); ``changes`` override fields."""
    rng = np.random.default_rng(0)
    fields = {
        "name": "toy",
        "x_train": rng.random((6, 2, 3), dtype=np.float32),
        "y_train": np.array([0, 1, 2, 0, 1, 2], dtype=np.int32),
        "x_val": rng.random((4, 2, 3), dtype=np.float32),
        "y_val": np.array([2, 1, 0, 0], dtype=np.int32),
        "x_test": rng.random((5, 2, 3), dtype=np.float32),
        "y_test": np.array([1, 1, 0, 2, 2], dtype=np.int32),
        "num_classes": 3,
        "input_shape": (2, 3),
        "task": "classification",
    }
    fields.update(changes)
    return Dataset(**fields)


def make_regression(**changes) -> Dataset:
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(-1, 1)
    fields = {
        "name": "reg",
        "x_train": x,
        "y_train": np.hstack([x, x**2]),
        "x_val": x[:0],
        "y_val": np.zeros((0, 2), np.float32),
        "x_test": x[:3],
        "y_test": np.zeros((3, 2), np.float32),
        "num_classes": None,
        "input_shape": (1,),
        "task": "regression",
    }
    fields.update(changes)
    return Dataset(**fields)


# ---------------------------------------------------------------------- valid records


def test_properties_and_splits():
    ds = make()
    assert (ds.n_train, ds.n_val, ds.n_test) == (6, 4, 5)
    assert list(ds.splits) == ["train", "val", "test"]
    assert ds.splits["val"][0] is ds.x_val and ds.splits["val"][1] is ds.y_val
    assert ds.output_dim == 3 and ds.dtype == np.float32
    assert make_regression().output_dim == 2


def test_arrays_are_read_only_views_and_record_frozen():
    x = np.zeros((6, 2, 3), np.float32)
    ds = make(x_train=x)
    with pytest.raises(ValueError):
        ds.x_train[0, 0, 0] = 1.0
    x[0, 0, 0] = 2.0  # the caller's array keeps its flags (a view, not a copy)
    assert ds.x_train[0, 0, 0] == 2.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ds.metadata["k"] = 1  # type: ignore[index]


def test_repr_shows_shapes_not_values():
    text = repr(make())
    assert "train=(6, 2, 3)->(6,)" in text and "num_classes=3" in text
    assert len(text) < 300


def test_one_hot():
    ds = make()
    oh = ds.one_hot(ds.y_val)
    np.testing.assert_array_equal(oh, np.eye(3, dtype=np.float32)[[2, 1, 0, 0]])
    assert oh.dtype == np.float32
    assert one_hot(np.array([1, 0]), 2, dtype=np.float64).dtype == np.float64
    with pytest.raises(DataError, match=r"y\[1\] = 3"):
        one_hot(np.array([0, 3]), 3)
    with pytest.raises(DataError, match="regression"):
        make_regression().one_hot(np.array([0]))


def test_as_float64_and_astype():
    ds = make().as_float64()
    assert ds.x_train.dtype == np.float64 and ds.y_train.dtype == np.int32
    np.testing.assert_array_equal(ds.x_val, make().x_val.astype(np.float64))
    reg = make_regression().as_float64()
    assert reg.y_train.dtype == np.float64
    assert reg.astype(np.float32).x_train.dtype == np.float32
    with pytest.raises(DataError, match="floating"):
        make().astype(np.int32)


def test_empty_val_and_test_allowed_but_not_empty_train():
    x, y = make().x_train, make().y_train
    ds = make(x_val=x[:0], y_val=y[:0], x_test=x[:0], y_test=y[:0])
    assert ds.n_val == 0 and ds.n_test == 0
    with pytest.raises(DataError, match="training split is empty"):
        make(x_train=x[:0], y_train=y[:0])


# ---------------------------------------------------------------------- invalid records


def test_length_mismatch_names_the_split():
    with pytest.raises(DataError, match="'val' has 4 inputs") as err:
        make(y_val=np.array([0, 1, 2], np.int32))
    assert "(3,)" in str(err.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_names_split_and_first_index(bad):
    x = np.zeros((4, 2, 3), np.float32)
    x[3, 1, 2] = bad
    x[2, 0, 0] = bad  # the first bad example is 2
    with pytest.raises(DataError, match="x_val") as err:
        make(x_val=x)
    msg = str(err.value)
    assert "example 2" in msg and "(2, 0, 0)" in msg and "2 non-finite" in msg


@pytest.mark.parametrize("label", [3, -1, 100])
def test_label_out_of_range_names_value_index_and_range(label):
    y = np.array([1, 1, 0, 2, 2], np.int32)
    y[4] = label
    with pytest.raises(DataError, match=rf"y_test\[4\] = {label} .*\[0, 3\)"):
        make(y_test=y)


def test_inconsistent_input_shapes():
    with pytest.raises(DataError, match="x_test has shape"):
        make(x_test=np.zeros((5, 3, 2), np.float32))
    with pytest.raises(DataError, match="x_train has shape"):
        make(input_shape=(6,))


@pytest.mark.parametrize(
    ("changes", "pattern"),
    [
        ({"x_train": np.zeros((6, 2, 3), np.int32)}, "floating point"),
        ({"y_train": np.zeros(6, np.int64)}, "int32"),
        ({"y_train": np.zeros((6, 3), np.int32)}, "1-D"),
        ({"num_classes": 0}, "num_classes >= 1"),
        ({"num_classes": None}, "num_classes >= 1"),
        ({"task": "clustering"}, "task must be one of"),
        ({"name": ""}, "non-empty"),
        ({"input_shape": (2, -3)}, "non-negative"),
        ({"x_val": [[0.0]]}, "NumPy array"),
    ],
)
def test_invalid_fields(changes, pattern):
    with pytest.raises(DataError, match=pattern):
        make(**changes)


def test_invalid_regression_fields():
    with pytest.raises(DataError, match="2-D"):
        make_regression(y_train=np.zeros(8, np.float32))
    with pytest.raises(DataError, match="num_classes=None"):
        make_regression(num_classes=2)
    with pytest.raises(DataError, match="same width"):
        make_regression(y_test=np.zeros((3, 1), np.float32))
    y = np.zeros((8, 2), np.float32)
    y[5, 1] = np.nan
    with pytest.raises(DataError, match="non-finite target"):
        make_regression(y_train=y)


def test_validate_is_rerunnable():
    make().validate()  # no error on a valid record


# ---------------------------------------------------------------------- split


@given(
    n=st.integers(3, 400),
    num_classes=st.integers(1, 6),
    val_fraction=st.floats(0.0, 0.45),
    test_fraction=st.floats(0.0, 0.45),
    seed=st.integers(0, 2**32 - 1),
    stratify=st.booleans(),
)
def test_split_partitions_exactly_and_deterministically(
    n, num_classes, val_fraction, test_fraction, seed, stratify
):
    y = np.random.default_rng(seed).integers(0, num_classes, n).astype(np.int32)
    n_val, n_test = round(val_fraction * n), round(test_fraction * n)
    if n_val + n_test >= n:
        with pytest.raises(DataError, match="no training"):
            split_indices(n, y, val_fraction=val_fraction, test_fraction=test_fraction, seed=seed)
        return
    kw = {
        "val_fraction": val_fraction,
        "test_fraction": test_fraction,
        "seed": seed,
        "stratify": stratify,
    }
    train, val, test = split_indices(n, y, **kw)
    assert (len(val), len(test)) == (n_val, n_test)
    np.testing.assert_array_equal(np.sort(np.concatenate([train, val, test])), np.arange(n))
    for a, b in zip((train, val, test), split_indices(n, y, **kw)):
        np.testing.assert_array_equal(a, b)
    if stratify:  # each class keeps its share of every split (within the interleaving bound)
        counts = np.bincount(y, minlength=num_classes)
        for part in (val, test):
            got = np.bincount(y[part], minlength=num_classes)
            assert np.all(np.abs(got - len(part) * counts / n) < 4)


def test_split_is_stratified_in_practice():
    y = np.repeat(np.arange(10, dtype=np.int32), 100)  # 1000 balanced labels
    _, val, test = split_counts(1000, y, n_val=100, n_test=200, seed=3)
    assert np.all(np.abs(np.bincount(y[val], minlength=10) - 10) <= 1)
    assert np.all(np.abs(np.bincount(y[test], minlength=10) - 20) <= 1)


def test_split_arrays_and_seeds():
    x = np.arange(50, dtype=np.float32).reshape(25, 2)
    y = (np.arange(25) % 3).astype(np.int32)
    (xa, ya), (xv, yv), (xt, yt) = split(x, y, val_fraction=0.2, test_fraction=0.2, seed=1)
    assert (len(xa), len(xv), len(xt)) == (15, 5, 5)
    rows = np.concatenate([xa, xv, xt])[:, 0].astype(int) // 2  # x row r is (2r, 2r + 1)
    np.testing.assert_array_equal(np.sort(rows), np.arange(25))
    np.testing.assert_array_equal(np.concatenate([ya, yv, yt]), y[rows])  # pairs kept
    (_, _), (xv2, _), (_, _) = split(x, y, val_fraction=0.2, test_fraction=0.2, seed=2)
    assert not np.array_equal(xv, xv2)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"val_fraction": 1.0, "test_fraction": 0.0, "seed": 0}, r"\[0, 1\)"),
        ({"val_fraction": -0.1, "test_fraction": 0.0, "seed": 0}, r"\[0, 1\)"),
        ({"val_fraction": 0.5, "test_fraction": 0.5, "seed": 0}, "sum must be below 1"),
        ({"val_fraction": 0.1, "test_fraction": 0.1, "seed": -1}, "seed must be >= 0"),
        ({"val_fraction": "a", "test_fraction": 0.1, "seed": 0}, "number"),
    ],
)
def test_split_rejects_bad_arguments(kwargs, pattern):
    with pytest.raises(DataError, match=pattern):
        split(np.zeros((10, 1)), np.zeros(10, np.int32), **kwargs)


def test_split_rejects_mismatched_rows():
    with pytest.raises(DataError, match="same number of rows"):
        split(np.zeros((10, 1)), np.zeros(9), val_fraction=0.1, test_fraction=0.1, seed=0)
