"""Each loss's hand-derived gradient equals jax.grad of its value; values match NumPy references."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fnnet import losses
from fnnet.errors import ConfigError, ShapeError
from registry import LOSSES, dtypes, random_target
from tolerances import rel_err, rtol


@given(name=st.sampled_from(sorted(LOSSES)), dtype=dtypes, n=st.integers(1, 64), k=st.integers(2, 9),
       seed=st.integers(0, 2**16), integer_labels=st.booleans())
def test_grad_equals_autodiff(name, dtype, n, k, seed, integer_labels):
    loss = LOSSES[name]
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    y = jax.random.normal(k1, (n, k), dtype)
    if name == "categorical_cross_entropy":
        y = jax.nn.softmax(y, axis=-1)
    t = random_target(loss, k2, (n, k), dtype, integer_labels=integer_labels)
    g = loss.grad(y, t)
    ref = jax.grad(loss)(y, t)
    assert g.shape == y.shape and g.dtype == y.dtype
    assert rel_err(g, ref) <= rtol(dtype)


def test_values_match_numpy_definitions():
    rng = np.random.default_rng(0)
    y, t = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    assert float(losses.sse(jnp.asarray(y), jnp.asarray(t))) == pytest.approx(0.5 * np.sum((y - t) ** 2))
    assert float(losses.mse(jnp.asarray(y), jnp.asarray(t))) == pytest.approx(np.mean((y - t) ** 2))
    assert float(losses.quadratic(jnp.asarray(y), jnp.asarray(t))) == pytest.approx(np.sum((y - t) ** 2) / 10)
    labels = np.array([0, 2, 1, 1, 0])
    logp = y - np.log(np.sum(np.exp(y), axis=1, keepdims=True))
    ce = -np.mean(logp[np.arange(5), labels])
    assert float(losses.softmax_cross_entropy(jnp.asarray(y), jnp.asarray(labels))) == pytest.approx(ce)
    p = np.exp(logp)
    assert float(losses.categorical_cross_entropy(jnp.asarray(p), jnp.asarray(labels))) == pytest.approx(ce)
    tb = rng.uniform(size=(5, 3))
    s = 1 / (1 + np.exp(-y))
    bce = -np.sum(tb * np.log(s) + (1 - tb) * np.log(1 - s)) / 5
    assert float(losses.sigmoid_binary_cross_entropy(jnp.asarray(y), jnp.asarray(tb))) == pytest.approx(bce)


def test_integer_labels_equal_one_hot():
    z = jax.random.normal(jax.random.PRNGKey(0), (6, 4), jnp.float64)
    ids = jnp.array([0, 3, 2, 1, 1, 0])
    onehot = jax.nn.one_hot(ids, 4, dtype=jnp.float64)
    for loss in (losses.softmax_cross_entropy, losses.categorical_cross_entropy):
        zz = z if loss is losses.softmax_cross_entropy else jax.nn.softmax(z)
        assert float(loss(zz, ids)) == pytest.approx(float(loss(zz, onehot)), rel=1e-14)
        np.testing.assert_allclose(loss.grad(zz, ids), loss.grad(zz, onehot), rtol=1e-14)


@given(lead=st.lists(st.integers(1, 5), min_size=0, max_size=3), k=st.integers(2, 7),
       seed=st.integers(0, 2**16))
def test_softmax_ce_class_ids_any_leading_shape(lead, k, seed):
    """Class ids of shape z.shape[:-1] (a single pattern: rank-0 ids) give the one-hot path's
    value and gradient, and the gradient equals jax.grad (float64: rounding only)."""
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    z = 4 * jax.random.normal(k1, (*lead, k), jnp.float64)
    ids = jax.random.randint(k2, tuple(lead), 0, k)
    onehot = jax.nn.one_hot(ids, k, dtype=jnp.float64)
    ce = losses.softmax_cross_entropy
    assert float(ce(z, ids)) == pytest.approx(float(ce(z, onehot)), rel=1e-12, abs=1e-14)
    g = ce.grad(z, ids)
    assert g.shape == z.shape and g.dtype == z.dtype
    np.testing.assert_allclose(g, ce.grad(z, onehot), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g, jax.grad(ce)(z, ids), rtol=1e-12, atol=1e-15)


def test_softmax_ce_class_id_out_of_range_is_nan():
    """An id outside [0, k) (negative ones too) makes the loss NaN, so training stops and says
    so, instead of counting the pattern as 0."""
    z = jnp.zeros((3, 4), jnp.float32)
    for bad in (4, -1):
        ids = jnp.array([0, bad, 2])
        assert np.isnan(float(losses.softmax_cross_entropy(z, ids)))
    assert np.isfinite(float(losses.softmax_cross_entropy(z, jnp.array([0, 3, 2]))))


def test_cross_entropies_are_stable_for_huge_logits():
    z = jnp.array([[1e4, -1e4, 0.0], [-3e4, 3e4, 1.0]], jnp.float32)
    t = jnp.array([1, 1])
    assert np.isfinite(float(losses.softmax_cross_entropy(z, t)))
    assert float(losses.softmax_cross_entropy(z, t)) == pytest.approx(2e4 / 2, rel=1e-6)
    assert np.all(np.isfinite(losses.softmax_cross_entropy.grad(z, t)))
    tb = jnp.array([[0.0, 1.0, 0.5], [1.0, 0.0, 0.5]], jnp.float32)
    assert np.isfinite(float(losses.sigmoid_binary_cross_entropy(z, tb)))
    assert np.all(np.isfinite(losses.sigmoid_binary_cross_entropy.grad(z, tb)))


def test_sse_is_the_notes_total_error():
    """E_TOTAL = sum_p E_p, E_p = 1/2 sum_i (d_i - y_i)^2: additive over patterns."""
    y = jax.random.normal(jax.random.PRNGKey(0), (7, 2), jnp.float64)
    t = jax.random.normal(jax.random.PRNGKey(1), (7, 2), jnp.float64)
    per_pattern = sum(float(losses.sse(y[p : p + 1], t[p : p + 1])) for p in range(7))
    assert float(losses.sse(y, t)) == pytest.approx(per_pattern, rel=1e-14)


def test_shape_mismatch_and_unknown_name_errors():
    with pytest.raises(ShapeError, match=r"sse: output y has shape \(3, 2\) but target t has shape \(3, 1\)"):
        losses.sse(jnp.zeros((3, 2)), jnp.zeros((3, 1)))
    with pytest.raises(ShapeError, match=r"integer labels must have shape \(3,\)"):
        losses.softmax_cross_entropy(jnp.zeros((3, 2)), jnp.zeros((3, 1), jnp.int32))
    with pytest.raises(ConfigError, match="Did you mean 'mse'"):
        losses.get("mes")
