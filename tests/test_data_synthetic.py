"""Exact contents of the synthetic problems, and their seeds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fnnet.data import TARGETS, encoder, parity, regression_1d, two_spirals, xor
from fnnet.errors import DataError


def assert_truth_table(ds, n_inputs: int, n_targets: int) -> None:
    assert ds.task == "regression" and ds.num_classes is None
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.float32
    assert ds.x_val.shape == (0, n_inputs) and ds.y_val.shape == (0, n_targets)
    assert ds.x_test.shape == (0, n_inputs) and ds.y_test.shape == (0, n_targets)


def test_xor_truth_table():
    ds = xor()
    np.testing.assert_array_equal(ds.x_train, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(ds.y_train, [[0], [1], [1], [0]])
    assert_truth_table(ds, 2, 1)


def test_xor_bipolar():
    ds = xor(encoding="bipolar")
    np.testing.assert_array_equal(ds.x_train, [[-1, -1], [-1, 1], [1, -1], [1, 1]])
    np.testing.assert_array_equal(ds.y_train, [[-1], [1], [1], [-1]])


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_parity_counts_and_values(n):
    ds = parity(n)
    assert ds.x_train.shape == (2**n, n) and ds.y_train.shape == (2**n, 1)
    assert ds.name == f"parity{n}"
    # Every pattern once, in binary counting order (MSB first).
    weights = 2 ** np.arange(n - 1, -1, -1)
    np.testing.assert_array_equal(ds.x_train @ weights, np.arange(2**n))
    np.testing.assert_array_equal(ds.y_train[:, 0], ds.x_train.sum(axis=1) % 2)
    assert ds.y_train.sum() == 2 ** (n - 1)  # half the patterns are odd
    assert_truth_table(ds, n, 1)


def test_parity2_is_xor_and_bipolar_parity():
    np.testing.assert_array_equal(parity(2).x_train, xor().x_train)
    np.testing.assert_array_equal(parity(2).y_train, xor().y_train)
    bip = parity(3, encoding="bipolar")
    np.testing.assert_array_equal(bip.x_train, 2 * parity(3).x_train - 1)
    np.testing.assert_array_equal(bip.y_train, 2 * parity(3).y_train - 1)


@pytest.mark.parametrize(("n", "m"), [(4, 2), (8, 3), (10, 4), (64, 6)])
def test_encoder_identity_and_default_hidden(n, m):
    ds = encoder(n)
    np.testing.assert_array_equal(ds.x_train, np.eye(n))
    np.testing.assert_array_equal(ds.y_train, ds.x_train)
    assert ds.metadata["hidden"] == m and ds.name == f"encoder{n}-{m}-{n}"
    assert_truth_table(ds, n, n)
    assert encoder(n, m=2).metadata["hidden"] == 2


def test_two_spirals_points():
    ds = two_spirals()
    x, y = ds.x_train, ds.y_train
    assert x.shape == (194, 2) and y.dtype == np.int32 and ds.num_classes == 2
    assert ds.n_val == 0 and ds.n_test == 0
    np.testing.assert_array_equal(y, np.tile([1, 0], 97))
    np.testing.assert_array_equal(x[1::2], -x[0::2])  # second spiral = mirror image
    i = np.arange(97)
    angle, radius = i * math.pi / 16, 6.5 * (104 - i) / 104
    expected = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)
    np.testing.assert_allclose(x[0::2], expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(x[0], [0.0, 6.5])
    np.testing.assert_allclose(np.hypot(*x[-2]), 0.5, rtol=1e-6)  # innermost point, r = 6.5*8/104


def test_two_spirals_seeds_noise_and_radius():
    a = two_spirals(noise=0.2, seed=1)
    np.testing.assert_array_equal(a.x_train, two_spirals(noise=0.2, seed=1).x_train)
    assert not np.array_equal(a.x_train, two_spirals(noise=0.2, seed=2).x_train)
    np.testing.assert_array_equal(two_spirals(seed=1).x_train, two_spirals(seed=2).x_train)
    unit = two_spirals(radius=1.0)
    np.testing.assert_allclose(unit.x_train, two_spirals().x_train / 6.5, atol=1e-6)
    small = two_spirals(10)
    assert small.x_train.shape == (20, 2)
    np.testing.assert_allclose(np.hypot(*small.x_train[-2]), 0.5, rtol=1e-6)  # same three turns


@pytest.mark.parametrize("fn", sorted(TARGETS))
def test_regression_1d_targets(fn):
    ds = regression_1d(64, fn, n_val=16, n_test=33)
    target = TARGETS[fn]
    assert ds.x_train.shape == (64, 1) and ds.y_val.shape == (16, 1) and ds.x_test.shape == (33, 1)
    assert ds.task == "regression" and ds.name == f"regression_1d-{fn}"
    for x, y in ds.splits.values():
        assert x.min() >= target.low and x.max() <= target.high
        np.testing.assert_allclose(y, target.fn(x.astype(np.float64)), atol=1e-5)
    assert ds.x_test[0, 0] == np.float32(target.low) and ds.x_test[-1, 0] == np.float32(target.high)


def test_regression_1d_named_values():
    np.testing.assert_allclose(TARGETS["nielsen"].fn(np.array([0.0])), [0.25])  # 0.2 + 0.05
    np.testing.assert_allclose(TARGETS["step"].fn(np.array([-0.1, 0.0])), [0.0, 1.0])
    np.testing.assert_allclose(TARGETS["sinc"].fn(np.array([0.0, 0.25])), [1.0, 0.0], atol=1e-12)
    assert (TARGETS["sin"].low, TARGETS["sin"].high) == (-math.pi, math.pi)


def test_regression_1d_seed_and_noise():
    a, b = regression_1d(seed=5), regression_1d(seed=5)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, regression_1d(seed=6).x_train)
    noisy = regression_1d(seed=5, noise=0.1)
    np.testing.assert_array_equal(noisy.x_train, a.x_train)
    residual = noisy.y_train - a.y_train
    assert 0.05 < residual.std() < 0.15
    np.testing.assert_array_equal(noisy.y_test, a.y_test)  # the test curve stays exact


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (lambda: xor(encoding="ternary"), "encoding must be one of"),
        (lambda: parity(0), "n_bits must be >= 1"),
        (lambda: parity(17), "<= 16"),
        (lambda: parity(3.0), "n_bits must be an int"),
        (lambda: encoder(1), "n must be >= 2"),
        (lambda: encoder(8, m=0), "m must be >= 1"),
        (lambda: two_spirals(1), "n_per_class must be >= 2"),
        (lambda: two_spirals(noise=-1.0), "noise >= 0"),
        (lambda: two_spirals(radius=float("nan")), "finite"),
        (lambda: regression_1d(fn="tan"), "fn must be one of"),
        (lambda: regression_1d(noise=-0.1), "noise"),
        (lambda: regression_1d(0), "n must be >= 1"),
    ],
)
def test_bad_arguments(make, pattern):
    with pytest.raises(DataError, match=pattern):
        make()
