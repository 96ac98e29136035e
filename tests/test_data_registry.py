"""The ``load(name, **kwargs)`` registry, and the optional MNIST-1D loader."""

from __future__ import annotations

import random
import sys

import numpy as np
import pytest

from fnnet import data
from fnnet.errors import DataError


def test_names():
    assert set(data.names()) == {
        "digits",
        "mnist",
        "mnist1d",
        "xor",
        "parity",
        "encoder",
        "two_spirals",
        "regression_1d",
    }


@pytest.mark.parametrize(
    ("name", "kwargs", "direct"),
    [
        ("xor", {}, lambda: data.xor()),
        ("parity", {"n_bits": 3}, lambda: data.parity(3)),
        ("encoder", {"n": 4}, lambda: data.encoder(4)),
        ("two_spirals", {"noise": 0.1, "seed": 2}, lambda: data.two_spirals(noise=0.1, seed=2)),
        ("regression_1d", {"fn": "abs", "n": 9}, lambda: data.regression_1d(9, "abs")),
    ],
)
def test_load_equals_direct_call(name, kwargs, direct):
    a, b = data.load(name, **kwargs), direct()
    assert a.name == b.name
    for (xa, ya), (xb, yb) in zip(a.splits.values(), b.splits.values()):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_unknown_name_lists_names_and_closest_match():
    with pytest.raises(DataError, match="Did you mean 'two_spirals'") as err:
        data.load("two_spiral")
    assert "digits, mnist, mnist1d" in str(err.value)
    with pytest.raises(DataError, match="Unknown dataset 'cifar10'. Valid names"):
        data.load("cifar10")


def test_unknown_keyword_names_dataset_and_accepted_keywords():
    with pytest.raises(DataError, match="'digits' does not accept") as err:
        data.load("digits", val_frac=0.1)
    msg = str(err.value)
    assert "did you mean 'val_fraction'" in msg
    assert "val_fraction, test_fraction, seed, flatten, scale" in msg
    with pytest.raises(DataError, match="accepts: encoding"):
        data.load("xor", n_bits=2)


def test_required_keyword(tmp_path):
    with pytest.raises(DataError, match="needs the keyword.*data_dir"):
        data.load("mnist")
    with pytest.raises(DataError, match="does not exist"):
        data.load("mnist", data_dir=tmp_path / "none")


def test_keywords():
    assert data.keywords("mnist") == ("data_dir", "val_size", "seed", "flatten")


def test_loader_errors_pass_through():
    with pytest.raises(DataError, match="n_bits"):
        data.load("parity", n_bits=0)


# ---------------------------------------------------------------------- MNIST-1D (optional)


def test_mnist1d_missing_package_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "mnist1d", None)  # makes `import mnist1d` raise ImportError
    monkeypatch.setitem(sys.modules, "mnist1d.data", None)
    with pytest.raises(DataError, match="pip install mnist1d"):
        data.mnist1d()


def test_mnist1d_generates_locally_and_deterministically():
    pytest.importorskip("mnist1d")
    np.random.seed(123)
    random.seed(123)
    before = (np.random.random(), random.random())
    np.random.seed(123)
    random.seed(123)
    ds = data.load("mnist1d", num_samples=200, val_fraction=0.25)
    assert (np.random.random(), random.random()) == before  # global RNGs untouched
    assert (ds.n_train, ds.n_val, ds.n_test) == (120, 40, 40)
    assert ds.input_shape == (40,) and ds.num_classes == 10
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    again = data.mnist1d(num_samples=200, val_fraction=0.25)
    np.testing.assert_array_equal(ds.x_train, again.x_train)
    np.testing.assert_array_equal(ds.y_test, again.y_test)
    other = data.mnist1d(num_samples=200, val_fraction=0.25, seed=7)
    assert not np.array_equal(ds.x_test, other.x_test)
    assert data.mnist1d(num_samples=200, flatten=False).x_val.shape[1:] == (40, 1)
